/**
 * PostgreSQL as several replicas use it: concurrent writers of one audit chain, each with an
 * anchor of its own, and `teleops migrate sqlite-to-postgres` / `teleops audit verify` through
 * the real CLI; and the rate limits replicas share. A real server (test/support/postgres.ts); in CI
 * it must run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, chainHasher, type AuditEntryInput } from '../../src/core/audit.js';
import { verifyAudit } from '../../src/core/audit-verify.js';
import { RateLimiter, type Charge } from '../../src/core/ratelimit.js';
import { AiMemoryRepo } from '../../src/store/ai-memory.js';
import { ApprovalRepo } from '../../src/store/approvals.js';
import { openDb } from '../../src/store/db.js';
import { openPostgres } from '../../src/store/postgres-schema.js';
import { SharedRateLimiter } from '../../src/store/rate-buckets.js';
import { approvalRow } from '../support/approvals.js';
import { MODULES } from '../../src/targets/modules.js';
import { tempDir } from '../support/app.js';
import { waitFor } from '../support/dockerd.js';
import { runTeleops } from '../support/process.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../support/postgres.js';

const KEY = 'replica-test-key-0123456789';
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

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Replicas' audit writers, a process each (fixtures/append.ts), one per anchor: each opens its
 * log, says it is ready, and waits for the others before appending, so that their entries really
 * interleave (a process takes longer to start than to append).
 */
async function appendAtOnce(url: string, anchors: readonly string[], n: number, group = 1): Promise<(number | null)[]> {
  const go = `${anchors[0]}.go`;
  let exited = 0;
  const exits = anchors.map((anchor, i) => {
    const args = ['--import', 'tsx', 'test/store/fixtures/append.ts', url, anchor, `${n}`, 'abc'[i]!, `${group}`, go];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    return new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        exited++;
        resolve(code);
      }),
    );
  });
  // A writer that exits before it is ready fails its exit code below; the others then wait no more.
  await waitFor(
    () => (exited > 0 || anchors.every((a) => existsSync(`${a}.ready`)) ? true : undefined),
    'the writers to be ready',
    60_000,
    20,
  );
  writeFileSync(go, '');
  return Promise.all(exits);
}

const entry = (i: number): AuditEntryInput => ({
  operator: 'tg:7',
  chat: -100,
  origin: 'command',
  action: 'docker.restart',
  target: `web-${i}`,
  params: { container: `web-${i}` },
  outcome: 'ok',
});

describe.skipIf(noPostgres)('PostgreSQL shared by replicas', () => {
  it('a server that cannot be reached stops the start in one line, without the password', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const p = runTeleops(['console', '-c', '/status'], {
      DATABASE_URL: 'postgres://teleops:hunter2@127.0.0.1:1/teleops',
      STATE_DIR: dir.path,
    });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(
      /^teleops: cannot start — cannot connect to postgres:\/\/teleops:\*\*\*@127\.0\.0\.1:1\/teleops: .* — check DATABASE_URL\n$/,
    );
    expect(p.output()).not.toContain('hunter2');
  });

  it('three processes appending at once leave one chain, unforked, that each replica’s anchor verifies', async () => {
    const url = await pg.database();
    openPostgres(url).close();
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const anchors = ['a', 'b', 'c'].map((n) => join(dir.path, `${n}.anchor`));
    const codes = await appendAtOnce(url, anchors, 150);
    expect(codes).toEqual([0, 0, 0]);

    const db = openPostgres(url);
    cleanups.push(() => db.close());
    const rows = db.prepare('SELECT seq, prev_hash, hash, entry FROM audit ORDER BY seq').all() as {
      seq: number;
      prev_hash: string;
      hash: string;
      entry: string;
    }[];
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    // One chain: each entry links to the one before it, whoever wrote either.
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    // The writers really did interleave (else this proves nothing about concurrency).
    const writers = rows.map((r) => (JSON.parse(r.entry) as { target: string }).target);
    const switches = writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length;
    expect(switches).toBeGreaterThan(2);
    for (const anchorPath of anchors) {
      const lines = readFileSync(anchorPath, 'latin1').trim().split('\n');
      // Contiguous from entry 1: the other replicas' entries are in each anchor too.
      expect(lines.map((l) => Number(l.split(' ')[0]))).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
      expect(verifyAudit(db.asDb(), { hmacKey: KEY, anchorPath })).toEqual({ ok: true, entries: 450, headSeq: 450 });
    }

    const v = runTeleops(['audit', 'verify'], {
      DATABASE_URL: url,
      AUDIT_HMAC_KEY: KEY,
      AUDIT_ANCHOR_PATH: anchors[0]!,
    });
    expect(await v.exited).toBe(0);
    expect(v.output()).toBe('audit log intact: 450 entries, head #450\n');

    // A row changed in the database is found, through the same CLI.
    await pg.psql(
      url.split('/').pop()!,
      `UPDATE audit SET entry = replace(entry, 'docker.ps', 'docker.rm') WHERE seq = 200`,
    );
    const broken = runTeleops(['audit', 'verify'], {
      DATABASE_URL: url,
      AUDIT_HMAC_KEY: KEY,
      AUDIT_ANCHOR_PATH: anchors[1]!,
    });
    expect(await broken.exited).toBe(1);
    expect(broken.output()).toMatch(/^audit log BROKEN at #200 /);
  }, 120_000);

  it('three processes appending groups at once: each group whole and in order, one chain every anchor verifies', async () => {
    const url = await pg.database();
    openPostgres(url).close();
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const anchors = ['a', 'b', 'c'].map((n) => join(dir.path, `${n}.anchor`));
    const codes = await appendAtOnce(url, anchors, 150, 5);
    expect(codes).toEqual([0, 0, 0]);

    const db = openPostgres(url);
    cleanups.push(() => db.close());
    const rows = db.prepare('SELECT seq, prev_hash, hash, entry FROM audit ORDER BY seq').all() as {
      seq: number;
      prev_hash: string;
      hash: string;
      entry: string;
    }[];
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 450 }, (_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    const written = rows.map((r) => JSON.parse(r.entry) as { target: string; params: { i: number } });
    // Groups of five, each one commit under the writers' lock: nobody's entry comes inside one.
    for (let g = 0; g < written.length; g += 5) {
      const group = written.slice(g, g + 5);
      const first = group[0]!.params.i;
      expect(group.map((e) => [e.target, e.params.i])).toEqual(
        [0, 1, 2, 3, 4].map((j) => [group[0]!.target, first + j]),
      );
    }
    const writers = written.map((e) => e.target);
    expect(writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length).toBeGreaterThan(2);
    for (const anchorPath of anchors) {
      expect(verifyAudit(db.asDb(), { hmacKey: KEY, anchorPath })).toEqual({ ok: true, entries: 450, headSeq: 450 });
    }
  }, 120_000);

  it('a closed connection collected before the event loop turns does not abort the process', async () => {
    const url = await pg.database();
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'test/store/fixtures/close-collected.ts', url],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    // Before PgDb.close kept it: libuv's "uv__finish_close: Assertion ... failed", SIGABRT.
    expect({ code, signal, output }).toEqual({ code: 0, signal: null, output: 'alive after 200000 allocations\n' });
  });

  it('the role the README gives the replicas appends and verifies, but cannot rewrite history', async () => {
    const url = await pg.database();
    const name = url.split('/').pop()!;
    openPostgres(url, MODULES).close();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const grants = /The role's rights[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)![1]!.replace(/^ +/gm, '');
    await pg.psql(name, `CREATE ROLE teleops_bot LOGIN; ${grants}`);
    const botUrl = url.replace('teleops@', 'teleops_bot@');

    const db = openPostgres(botUrl, MODULES);
    cleanups.push(() => db.close());
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const anchorPath = join(dir.path, 'audit.anchor');
    const log = new AuditLog(db.asDb(), { anchorPath, hmacKey: KEY, shared: true });
    for (let i = 0; i < 5; i++) log.append(entry(i));
    log.close();
    new ApprovalRepo(db.asDb()).insert(approvalRow({ keys: 'ls' }));
    expect(new ApprovalRepo(db.asDb()).decide('AAAAAAAAAAAAAAAA', 'approved', '@ops', 1)).toBe(true);
    expect(verifyAudit(db.asDb(), { hmacKey: KEY, anchorPath })).toEqual({ ok: true, entries: 5, headSeq: 5 });
    for (const sql of [
      "UPDATE audit SET entry = '{}' WHERE seq = 1",
      'DELETE FROM audit WHERE seq = 5',
      'TRUNCATE audit',
      "UPDATE audit_anchor SET hash = '' WHERE seq = 1",
      'DELETE FROM audit_anchor',
    ])
      expect(() => db.exec(sql)).toThrow(/permission denied for table audit/);

    // Rate limits shared by replicas: charged under this role. Granted before the version that
    // added their table (the owner makes it anew here), a start stops in one line, and the
    // README's grant for it is what it takes.
    expect(new SharedRateLimiter(db.asDb(), 1, 'requests').take('10')).toEqual({ ok: true });
    await pg.psql(
      name,
      'CREATE TABLE made_later (LIKE rate_buckets INCLUDING ALL); DROP TABLE rate_buckets; ' +
        'ALTER TABLE made_later RENAME TO rate_buckets',
    );
    expect(() => new SharedRateLimiter(db.asDb(), 1, 'requests')).toThrow(
      /^the role in DATABASE_URL may not write rate_buckets, where replicas share their rate limits: GRANT SELECT, INSERT, UPDATE ON rate_buckets TO teleops_bot$/,
    );
    await pg.psql(name, /`(GRANT [^`]* ON rate_buckets TO teleops_bot)`/.exec(readme)![1]!);
    expect(new SharedRateLimiter(db.asDb(), 1, 'requests').take('10')).toEqual({ ok: true });

    // A schema behind this version: this role may not bring it up to date, and says who may.
    await pg.psql(name, `DELETE FROM schema_versions WHERE module = 'docker'; DROP TABLE docker_events`);
    expect(() => openPostgres(botUrl, MODULES)).toThrow(
      /^the database's schema must be brought up to date, and the role in DATABASE_URL may not \(.*permission denied.*\): start this version once with the owner's role$/,
    );
  });

  it('a chain rewritten whole, and the anchor file with it, does not match the anchor table', async () => {
    const url = await pg.database();
    const db = openPostgres(url);
    cleanups.push(() => db.close());
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const anchorPath = join(dir.path, 'audit.anchor');
    // Unkeyed: whoever can write the audit table can compute a whole new chain.
    const log = new AuditLog(db.asDb(), { anchorPath, shared: true });
    for (let i = 0; i < 6; i++) log.append(entry(i));
    log.close();
    expect(verifyAudit(db.asDb(), { anchorPath })).toEqual({ ok: true, entries: 6, headSeq: 6 });
    // Entry 3 changed, every hash from there on recomputed, and the replica's anchor file rewritten.
    const rows = db.prepare('SELECT seq, entry, hash FROM audit ORDER BY seq').all() as {
      seq: number;
      entry: string;
      hash: string;
    }[];
    const hash = chainHasher();
    let prev = rows[1]!.hash;
    const lines = rows.slice(0, 2).map((r) => `${r.seq} ${r.hash}\n`);
    const rewrite = db.prepare('UPDATE audit SET entry = ?, prev_hash = ?, hash = ? WHERE seq = ?');
    for (const r of rows.slice(2)) {
      const json = r.seq === 3 ? r.entry.replace('web-2', 'web-9') : r.entry;
      const h = hash(prev + json);
      rewrite.run(json, prev, h, r.seq);
      lines.push(`${r.seq} ${h}\n`);
      prev = h;
    }
    writeFileSync(anchorPath, lines.join(''));
    expect(verifyAudit(db.asDb(), { anchorPath })).toMatchObject({
      ok: false,
      firstBadSeq: 3,
      kind: 'replaced',
      message: 'audit entry 3: replaced: its hash is not the one the anchor table recorded',
    });
  });

  it('teleops migrate sqlite-to-postgres copies the state with the chain intact, then only what was added', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    const sqlite = openDb(dir.path);
    const anchorPath = join(dir.path, 'audit.anchor');
    const log = new AuditLog(sqlite, { anchorPath, hmacKey: KEY });
    cleanups.push(
      () => sqlite.close(),
      () => log.close(),
    );
    for (let i = 0; i < 300; i++) log.append(entry(i));
    new ApprovalRepo(sqlite).insert(approvalRow({ keys: 'ls' }));
    const memory = new AiMemoryRepo(sqlite);
    memory.append(-100, { id: 7, role: 'operator' }, 'why is web down?', 'OOM-killed', 10, 1);

    const url = await pg.database();
    const env = { STATE_DIR: dir.path, DATABASE_URL: url, AUDIT_HMAC_KEY: KEY };
    const first = runTeleops(['migrate', 'sqlite-to-postgres'], env);
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(
      /^migrated to postgres:\/\/teleops@127\.0\.0\.1:\d+\/\w+: 300 audit entries added \(head #300, verified against .*audit\.anchor\), 3 rows of state\n$/,
    );

    // teleops kept running on SQLite meanwhile; after it stops, a second run adds the rest.
    for (let i = 300; i < 320; i++) log.append(entry(i));
    const second = runTeleops(['migrate', 'sqlite-to-postgres'], env);
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/: 20 audit entries added \(head #320, /);

    const db = openPostgres(url);
    cleanups.push(() => db.close());
    expect(verifyAudit(db.asDb(), { hmacKey: KEY, anchorPath })).toEqual({ ok: true, entries: 320, headSeq: 320 });
    expect(new ApprovalRepo(db.asDb()).get('AAAAAAAAAAAAAAAA')?.state).toBe('pending');
    const pgMemory = new AiMemoryRepo(db.asDb());
    expect(pgMemory.recent(-100, { id: 7, role: 'operator' }, 5).map((t) => t.content)).toEqual([
      'why is web down?',
      'OOM-killed',
    ]);
    // Ids go on after the copied ones.
    pgMemory.append(-100, { id: 7, role: 'operator' }, 'and now?', 'fine', 10, 2);
    expect(pgMemory.recent(-100, { id: 7, role: 'operator' }, 5)).toHaveLength(4);

    // Into a database holding another chain: refused in one line, nothing copied.
    await pg.psql(url.split('/').pop()!, `UPDATE audit SET hash = repeat('0', 64) WHERE seq = 320`);
    const refused = runTeleops(['migrate', 'sqlite-to-postgres'], env);
    expect(await refused.exited).toBe(2);
    expect(refused.output()).toMatch(
      /^teleops migrate: DATABASE_URL already holds an audit chain that is not this one \(entry 320 differs\): migrate into an empty database\n$/,
    );
  }, 120_000);
});

// Rate limits that replicas share: each connection here stands for a replica; the bucket in SQL
// must answer as the one in memory does.
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
