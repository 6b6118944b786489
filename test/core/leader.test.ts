/**
 * The leader lease between replicas: two LeaderLease objects, each on its own connection to one
 * real database file, as two processes would be; time is faked so that a lease runs out on cue.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaderLease } from '../../src/core/leader.js';
import { openDb, type Db } from '../../src/store/db.js';
import { createLogger } from '../../src/core/log.js';
import { tempDir } from '../support/app.js';

const LEASE = 15_000;
const cleanups: (() => void)[] = [];

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) c();
});

function replicas(n: number): { db: Db; lease: LeaderLease; events: string[] }[] {
  const dir = tempDir();
  cleanups.push(() => dir.remove());
  return Array.from({ length: n }, (_, i) => {
    const db = openDb(dir.path);
    const events: string[] = [];
    const lease = new LeaderLease({
      db,
      id: `replica-${i}`,
      leaseMs: LEASE,
      log: createLogger('silent', (s) => s),
      onLead: () => events.push(`lead@${Date.now()}`),
      onLose: (why) => events.push(`lose@${Date.now()}: ${why}`),
    });
    cleanups.push(() => {
      lease.stop();
      if (db.open) db.close();
    });
    return { db, lease, events };
  });
}

/** Advances time in small steps, checking at each that at most one replica leads. */
async function run(ms: number, all: { lease: LeaderLease }[]): Promise<void> {
  for (let t = 0; t < ms; t += 250) {
    await vi.advanceTimersByTimeAsync(250);
    expect(all.filter((r) => r.lease.leading).length).toBeLessThanOrEqual(1);
  }
}

describe('LeaderLease', () => {
  it('one replica leads; the others follow and say who leads', async () => {
    const all = replicas(3);
    for (const r of all) r.lease.start();
    await run(60_000, all);
    expect(all.map((r) => r.lease.leading)).toEqual([true, false, false]);
    expect(all[0]!.events).toEqual(['lead@1000000']);
    expect(all[1]!.lease.health()).toEqual({ state: 'up', detail: 'follower; replica-0 leads' });
    expect(all[0]!.lease.health().detail).toBe('this replica (replica-0) leads the background work');
  });

  it('a leader that stops hands the lease over: the next replica leads within a third of the lease', async () => {
    const [a, b] = replicas(2);
    a!.lease.start();
    b!.lease.start();
    await run(1000, [a!, b!]);
    const stoppedAt = Date.now();
    a!.lease.stop();
    await run(LEASE / 3 + 250, [a!, b!]);
    expect(b!.lease.leading).toBe(true);
    expect(Number(b!.events[0]!.split('@')[1]) - stoppedAt).toBeLessThanOrEqual(LEASE / 3 + 250);
  });

  it('a leader whose database stops answering gives up before its lease ends; another leads only after', async () => {
    const [a, b] = replicas(2);
    a!.lease.start();
    b!.lease.start();
    await run(1000, [a!, b!]);
    // What a replica cut off from the database sees: every statement fails.
    a!.db.close();
    const cutAt = Date.now();
    await run(2 * LEASE, [a!, b!]);
    expect(a!.lease.leading).toBe(false);
    const lostAt = Number(/^lose@(\d+): its lease could not be renewed in time$/.exec(a!.events[1]!)![1]);
    const ledAt = Number(b!.events[0]!.split('@')[1]);
    expect(lostAt - cutAt).toBeLessThan(LEASE);
    // Not at the first missed renewal: with two thirds of its lease left, it keeps leading.
    expect(lostAt - cutAt).toBeGreaterThanOrEqual(LEASE / 3);
    expect(a!.lease.health()).toEqual({
      state: 'down',
      detail: 'cannot read the leader lease: The database connection is not open',
    });
    expect(ledAt).toBeGreaterThan(lostAt);
    expect(b!.lease.leading).toBe(true);
  });

  it('a leader that finds another holding the lease (its own was let run out) stops at once', async () => {
    const [a, b] = replicas(2);
    a!.lease.start();
    await run(1000, [a!]);
    // Another replica writes itself in, as it would once a's lease had run out unseen.
    b!.db
      .prepare(`UPDATE leader_lease SET holder = 'replica-1', until = ? WHERE name = 'background'`)
      .run(Date.now() + LEASE);
    await run(LEASE / 3 + 250, [a!]);
    expect(a!.lease.leading).toBe(false);
    expect(a!.events[1]).toMatch(/^lose@\d+: replica-1 holds the lease now$/);
  });

  it('says when nobody leads, and a stop that cannot reach the database leaves the lease to run out', async () => {
    const [a] = replicas(1);
    a!.lease.start();
    await run(1000, [a!]);
    a!.lease.stop();
    expect(a!.lease.health()).toEqual({
      state: 'down',
      detail: 'no replica leads the background work now (a new leader comes within the lease)',
    });
    const [b] = replicas(1);
    b!.lease.start();
    await run(1000, [b!]);
    b!.db.close();
    expect(() => b!.lease.stop()).not.toThrow();
    expect(b!.lease.leading).toBe(false);
  });
});
