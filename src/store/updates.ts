import type { Db } from './db.js';

/**
 * Telegram re-delivers updates it did not see confirmed (e.g. after a crash). Recording an
 * update before handling it makes every update run at most once.
 */
export class ProcessedUpdates {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      mark: db.prepare('INSERT INTO processed_updates (update_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      prune: db.prepare('DELETE FROM processed_updates WHERE seen_at < ?'),
    };
  }

  /** True the first time an update id is seen. */
  firstSeen(updateId: number, now = Date.now()): boolean {
    return this.q.mark.run(updateId, now).changes === 1;
  }

  prune(olderThan: number): void {
    this.q.prune.run(olderThan);
  }
}
