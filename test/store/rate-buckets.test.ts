/**
 * Rate limits that replicas share in PostgreSQL (a real server, test/support/postgres.ts): each
 * connection here stands for a replica. The bucket in SQL must answer as the one in memory does.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter, type Charge } from '../../src/core/ratelimit.js';
import { openPostgres } from '../../src/store/postgres-schema.js';
import { SharedRateLimiter } from '../../src/store/rate-buckets.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../support/postgres.js';

const noPostgres = process.env.CI === 'true' ? undefined : postgresPrerequisites();
let pg: Postgres;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  if (!noPostgres) pg = await startPostgres();
}, 60_000);
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
afterAll(async () => {
  await pg?.stop();
});

/** A connection to the test's database, as one replica holds it. */
async function replicas(n: number): Promise<ReturnType<ReturnType<typeof openPostgres>['asDb']>[]> {
  const url = await pg.database();
  return Array.from({ length: n }, () => {
    const db = openPostgres(url);
    cleanups.push(() => db.close());
    return db.asDb();
  });
}

describe.skipIf(noPostgres)('rate limits shared by replicas in PostgreSQL', () => {
  it('answers exactly as the bucket in memory, for any times and keys', async () => {
    const [db] = await replicas(1);
    let run = 0;
    const step = fc.record({
      key: fc.constantFrom('a', 'b'),
      // Bursts, pauses, and a clock set back (NTP, or the other replica's clock behind).
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: -5_000, max: -1 })),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.array(step, { maxLength: 60 }), (perMinute, steps) => {
        let now = 1_700_000_000_000;
        const mem = new RateLimiter(perMinute, () => now);
        const shared = new SharedRateLimiter(db!, perMinute, `run${run++}`, () => now);
        const got: [Charge, Charge][] = [];
        for (const s of steps) {
          now += s.gap;
          got.push([shared.take(s.key), mem.take(s.key)]);
        }
        for (const [a, b] of got) expect(a).toEqual(b);
      }),
      { numRuns: 60 },
    );
  });

  it('one bucket across replicas: the limit holds once, and only the first refusal is told', async () => {
    const [a, b] = await replicas(2);
    const now = 1_700_000_000_000;
    const limits = [a!, b!].map((db) => new SharedRateLimiter(db, 4, 'requests', () => now));
    // Alternating replicas, as a load balancer spreads one operator's updates.
    const charges = Array.from({ length: 8 }, (_, i) => limits[i % 2]!.take('10'));
    expect(charges.filter((c) => c.ok)).toHaveLength(4);
    expect(charges.slice(4)).toEqual([
      { ok: false, retryAfterMs: 15_000, first: true },
      ...Array(3).fill({ ok: false, retryAfterMs: 15_000, first: false }),
    ]);
    // Another operator, and the same operator's LLM calls, have buckets of their own.
    expect(limits[1]!.take('11').ok).toBe(true);
    expect(new SharedRateLimiter(a!, 4, 'llm', () => now).take('10').ok).toBe(true);
  });

  it("keeps time by the server's clock, the same for every replica", async () => {
    const [a, b] = await replicas(2);
    // 60 a minute: one back each second of the server's time.
    const limits = [a!, b!].map((db) => new SharedRateLimiter(db, 60, 'requests'));
    for (let i = 0; i < 60; i++) expect(limits[i % 2]!.take('10').ok).toBe(true);
    const refused = limits[0]!.take('10');
    expect(refused).toMatchObject({ ok: false, first: true });
    const wait = (refused as { retryAfterMs: number }).retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1000);
    await new Promise((r) => setTimeout(r, wait + 50));
    expect(limits[1]!.take('10').ok).toBe(true);
    expect(limits[0]!.take('10').ok).toBe(false);
  });

  it("a bucket's time never goes back: a clock set back refills nothing from its past", async () => {
    const [a, b] = await replicas(2);
    const t = 1_700_000_000_000;
    const ahead = new SharedRateLimiter(a!, 1, 'requests', () => t);
    const behind = new SharedRateLimiter(b!, 1, 'requests', () => t - 60_000);
    expect(ahead.take('10').ok).toBe(true);
    // Were the bucket's time set back to the laggard's, the leader's next call would see a minute's refill.
    expect(behind.take('10')).toEqual({ ok: false, retryAfterMs: 60_000, first: true });
    expect(ahead.take('10')).toEqual({ ok: false, retryAfterMs: 60_000, first: false });
  });
});
