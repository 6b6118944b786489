import type { Db } from '../../core/sqlite.js';
import type { WatchedRecord, WatchStore } from './watcher.js';
import type { TmuxState } from './classify.js';

/**
 * The tmux module's migrations. `IF NOT EXISTS`: a database of core schema 6 or older has the
 * table already (a core migration made it then), with the watched panes in it.
 */
export const WATCHED_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS tmux_watched (
    target  TEXT PRIMARY KEY,      -- 'session' or 'session:window.pane'
    since   INTEGER NOT NULL,      -- ms since epoch
    chat_id INTEGER,
    state   TEXT CHECK (state IN ('running','waiting','error','done','idle','stuck','gone'))
  );
  `,
];

export const WATCHED_POSTGRES: readonly string[] = [
  `
  CREATE TABLE tmux_watched (
    target  text PRIMARY KEY,
    since   bigint NOT NULL,
    chat_id bigint,
    state   text CHECK (state IN ('running','waiting','error','done','idle','stuck','gone'))
  );
  `,
];

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
    return (
      this.q.all.all() as { target: string; since: number; chat_id: number | null; state: TmuxState | null }[]
    ).map((r) => ({
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
