import type { Db } from './db.js';
import type { WatchedRecord, WatchStore } from '../targets/tmux/watcher.js';
import type { TmuxState } from '../targets/tmux/classify.js';

/** The watched tmux panes, so watching survives a restart. */
export class TmuxWatchedRepo implements WatchStore {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      all: db.prepare('SELECT target, since, chat_id, state FROM tmux_watched'),
      save: db.prepare(
        `INSERT INTO tmux_watched (target, since, chat_id, state) VALUES (@target, @since, @chatId, @state)
         ON CONFLICT (target) DO UPDATE SET since = excluded.since, chat_id = excluded.chat_id, state = excluded.state`,
      ),
      remove: db.prepare('DELETE FROM tmux_watched WHERE target = ?'),
    };
  }

  load(): WatchedRecord[] {
    return (this.q.all.all() as { target: string; since: number; chat_id: number | null; state: TmuxState | null }[]).map((r) => ({
      target: r.target,
      since: r.since,
      ...(r.chat_id !== null ? { chatId: r.chat_id } : {}),
      ...(r.state !== null ? { state: r.state } : {}),
    }));
  }

  save(r: WatchedRecord): void {
    this.q.save.run({ target: r.target, since: r.since, chatId: r.chatId ?? null, state: r.state ?? null });
  }

  remove(target: string): void {
    this.q.remove.run(target);
  }
}
