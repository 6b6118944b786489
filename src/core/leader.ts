import { hostname } from 'node:os';
import type { Health } from './health.js';
import type { Logger } from './log.js';
import type { Db } from './sqlite.js';

/** This process among replicas on one database: the leader lease and update claims name it. */
export const thisReplica = (): string => `${hostname()}:${process.pid}`;

export interface LeaderOptions {
  readonly db: Db;
  /** This replica's name in the lease (host and pid): /status and /health show who leads. */
  readonly id: string;
  readonly leaseMs: number;
  readonly log: Logger;
  /** Called once, when this replica becomes the leader. */
  readonly onLead: () => void;
  /** Called once, when it stops being the leader (another took the lease, or it could not renew in time). */
  readonly onLose: (why: string) => void;
  readonly now?: () => number;
}

/**
 * One leader among replicas for the background work (watchers, pollers, live cards): a lease
 * row in the shared database, taken when free or expired, renewed every third of its length.
 * A leader that cannot renew before its lease ends gives up at once, before another may take
 * it, so two never work at the same time (given clocks within a fraction of the lease).
 */
export class LeaderLease {
  private readonly take;
  private readonly read;
  private readonly release;
  private timer: NodeJS.Timeout | undefined;
  /** Until when this replica's lease is known to hold; undefined: not leading. */
  private heldUntil: number | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: LeaderOptions) {
    this.now = o.now ?? Date.now;
    // Taken when nobody holds it, when its holder's time is up, or when it is ours already.
    this.take = o.db.prepare(
      `INSERT INTO leader_lease (name, holder, until) VALUES ('background', @id, @until)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE leader_lease.holder = excluded.holder OR leader_lease.until <= @now`,
    );
    this.read = o.db.prepare(`SELECT holder, until FROM leader_lease WHERE name = 'background'`);
    this.release = o.db.prepare(`UPDATE leader_lease SET until = 0 WHERE name = 'background' AND holder = ?`);
  }

  get leading(): boolean {
    return this.heldUntil !== undefined;
  }

  /** Tries now, then every third of the lease. */
  start(): void {
    this.tick();
  }

  /** Stops trying; a leader hands the lease back so that another takes over at once. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.heldUntil === undefined) return;
    this.heldUntil = undefined;
    try {
      this.release.run(this.o.id);
    } catch (err) {
      this.o.log.warn({ err }, 'could not hand back the leader lease; it ends on its own');
    }
  }

  /** Who leads, for /status and /health. */
  health(): Health {
    if (this.leading) return { state: 'up', detail: `this replica (${this.o.id}) leads the background work` };
    try {
      const row = this.read.get() as { holder: string; until: number } | undefined;
      if (row && row.until > this.now()) return { state: 'up', detail: `follower; ${row.holder} leads` };
    } catch (err) {
      return { state: 'down', detail: `cannot read the leader lease: ${(err as Error).message}` };
    }
    return { state: 'down', detail: 'no replica leads the background work now (a new leader comes within the lease)' };
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.now();
    let ours = false;
    let answered = true;
    try {
      ours = this.take.run({ id: this.o.id, until: now + this.o.leaseMs, now }).changes === 1;
    } catch (err) {
      answered = false;
      this.o.log.warn({ err }, 'leader lease: the database did not answer');
    }
    if (ours) {
      const first = this.heldUntil === undefined;
      this.heldUntil = now + this.o.leaseMs;
      if (first) {
        this.o.log.info({ id: this.o.id }, 'leading the background work');
        this.o.onLead();
      }
    } else if (this.heldUntil !== undefined) {
      // Refused: another holds it. Unanswered: ours until it ends, but the next try would be too late.
      if (answered) this.lose(this.holderNow() ?? 'another replica');
      else if (this.heldUntil - this.now() <= this.o.leaseMs / 3) this.lose(undefined);
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => this.tick(), this.o.leaseMs / 3);
      this.timer.unref();
    }
  }

  private holderNow(): string | undefined {
    try {
      return (this.read.get() as { holder: string } | undefined)?.holder;
    } catch {
      return undefined;
    }
  }

  private lose(holder: string | undefined): void {
    this.heldUntil = undefined;
    const why = holder === undefined ? 'its lease could not be renewed in time' : `${holder} holds the lease now`;
    this.o.log.error({ id: this.o.id, why }, 'no longer leading the background work');
    this.o.onLose(why);
  }
}
