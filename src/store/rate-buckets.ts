import { FLOAT_SLACK, retryAfterMs, type Charge, type Limiter } from '../core/ratelimit.js';
import { SetupError } from '../core/target.js';
import type { Db } from './db.js';

/**
 * The token buckets of core/ratelimit.ts kept in PostgreSQL, so that replicas behind one bot
 * share them: an operator whose requests are spread over three replicas gets the limit once,
 * not three times. One statement refills, charges and counts the refusals under the row's
 * lock, with the same arithmetic in the same double precision as the bucket in memory, so the
 * two answer alike for the same times. The time is the server's, one clock for every replica: a
 * replica's clock set a day ahead would otherwise stop every refill for a day. A bucket's time
 * never goes back, so a server clock set back refills nothing.
 */
const TAKE = `
  INSERT INTO rate_buckets AS b (key, tokens, at, refused)
  VALUES (@key, @cap::float8 - 1, coalesce(@now::bigint, (extract(epoch FROM clock_timestamp()) * 1000)::bigint), 0)
  ON CONFLICT (key) DO UPDATE SET (tokens, refused, at) = (
    SELECT CASE WHEN r.tokens >= @need::float8 THEN r.tokens - 1 ELSE r.tokens END,
           CASE WHEN r.tokens >= @need::float8 THEN 0 ELSE b.refused + 1 END,
           greatest(b.at, excluded.at)
    FROM (SELECT least(@cap::float8, b.tokens + greatest(0, excluded.at - b.at) * @perMs::float8) AS tokens) r
  )
  RETURNING tokens, refused`;

export class SharedRateLimiter implements Limiter {
  private readonly take1;
  private readonly perMs: number;

  /**
   * `scope` keeps apart the buckets of different limits (commands, LLM calls) for the same key;
   * `now`, in ms, replaces the server's clock (tests).
   */
  constructor(
    db: Db,
    private readonly perMinute: number,
    private readonly scope: string,
    private readonly now?: () => number,
  ) {
    // Asked at start: a table added by an upgrade may lack the replicas' role's rights, and every request would fail.
    // has_table_privilege with several rights answers whether any one is held: each is asked.
    const role = db
      .prepare(
        `SELECT current_user AS name, has_table_privilege('rate_buckets', 'SELECT')
           AND has_table_privilege('rate_buckets', 'INSERT') AND has_table_privilege('rate_buckets', 'UPDATE') AS can`,
      )
      .get() as { name: string; can: boolean };
    if (!role.can)
      throw new SetupError(
        `the role in DATABASE_URL may not write rate_buckets, where replicas share their rate limits: ` +
          `GRANT SELECT, INSERT, UPDATE ON rate_buckets TO ${role.name}`,
      );
    this.take1 = db.prepare<[Record<string, number | string | null>], { tokens: number; refused: number }>(TAKE);
    this.perMs = perMinute / 60_000;
  }

  take(key: string): Charge {
    const b = this.take1.get({
      key: `${this.scope}:${key}`,
      cap: this.perMinute,
      now: this.now?.() ?? null,
      need: 1 - FLOAT_SLACK,
      perMs: this.perMs,
    })!;
    if (b.refused === 0) return { ok: true };
    return { ok: false, retryAfterMs: retryAfterMs(b.tokens, this.perMs), first: b.refused === 1 };
  }
}
