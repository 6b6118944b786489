import type { Db } from './db.js';

/** What became of an update whose process stopped before it was handled. */
export interface Orphan {
  readonly updateId: number;
  /** queued: nothing of it ran, it can run now; started: it may have run in part. */
  readonly state: 'queued' | 'started';
  readonly body: string;
}

/**
 * Telegram re-delivers updates it did not see confirmed (e.g. after a crash). Recording an
 * update before handling it makes every update run at most once. Kept with its owner until it
 * is handled: the owner renews its claim while it works, and when a process dies (kill -9, a
 * lost node) another adopts what it left, so that no update is lost either.
 */
export class ProcessedUpdates {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      claim: db.prepare(
        `INSERT INTO processed_updates (update_id, seen_at, state, body, owner, until)
         VALUES (?, ?, 'queued', ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      start: db.prepare(
        `UPDATE processed_updates SET state = 'started' WHERE update_id = ? AND state = 'queued' AND owner = ?`,
      ),
      known: db.prepare<[number], number>(`SELECT 1 FROM processed_updates WHERE update_id = ?`).pluck(),
      finish: db.prepare(`UPDATE processed_updates SET state = 'done', body = NULL WHERE update_id = ?`),
      renew: db.prepare(`UPDATE processed_updates SET until = ? WHERE owner = ? AND state != 'done'`),
      due: db.prepare<[number], { update_id: number; state: 'queued' | 'started'; body: string | null }>(
        `SELECT update_id, state, body FROM processed_updates WHERE state != 'done' AND until < ? ORDER BY update_id
         LIMIT 100`,
      ),
      adopt: db.prepare(
        `UPDATE processed_updates SET owner = ?, until = ? WHERE update_id = ? AND state != 'done' AND until < ?`,
      ),
      prune: db.prepare(`DELETE FROM processed_updates WHERE seen_at < ? AND state = 'done'`),
    };
  }

  /** True the first time an update id is seen: it is then this owner's until `until`, unless renewed. */
  claim(updateId: number, body: string, owner: string, until: number, now = Date.now()): boolean {
    return this.q.claim.run(updateId, now, body, owner, until).changes === 1;
  }

  /**
   * Its handling begins (it left the chat's queue): from here a rerun could repeat what it did.
   * False only when its record says another handler has it: adopted meanwhile (this owner had
   * stopped renewing, or its clock ran behind) or begun already. With no record of it (its
   * claim could not be written, or was made on a copy of the state since replaced), it begins.
   */
  start(updateId: number, owner: string): boolean {
    return this.q.start.run(updateId, owner).changes === 1 || this.q.known.get(updateId) === undefined;
  }

  finish(updateId: number): void {
    this.q.finish.run(updateId);
  }

  /** The owner is alive: what it holds stays its own until `until`. */
  renew(owner: string, until: number): void {
    this.q.renew.run(until, owner);
  }

  /** Takes over the updates whose owners stopped renewing before `now`; each is adopted by one process. */
  adoptOrphans(owner: string, until: number, now = Date.now()): Orphan[] {
    return this.q.due
      .all(now)
      .filter((r) => this.q.adopt.run(owner, until, r.update_id, now).changes === 1)
      .map((r) => ({ updateId: r.update_id, state: r.state, body: r.body ?? '{}' }));
  }

  prune(olderThan: number): void {
    this.q.prune.run(olderThan);
  }
}
