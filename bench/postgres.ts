import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { AuditLog } from '../src/core/audit.js';
import { verifyAudit } from '../src/core/audit-verify.js';
import { checkpointInBackground } from '../src/store/checkpoints.js';
import { openDb } from '../src/store/db.js';
import { openPostgres } from '../src/store/postgres-schema.js';
import { PgError } from '../src/store/postgres.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../test/support/postgres.js';
import { entry, loadNow } from './audit.js';
import { printReport, sortNumbers, percentile, type Report } from './report.js';

/** Each figure stops at whichever comes first: this many entries or this long. */
const MAX_APPENDS = 5_000;
const BUDGET_MS = 4_000;
const WARMUP = 50;
const WRITERS = 3;
const ROOT = join(import.meta.dirname, '..');
const WRITER = join(import.meta.dirname, 'postgres-writer.ts');

const NORMAL = 'SQLite WAL, synchronous=NORMAL: no fsync per commit, nor of the anchor';
const FULL = 'SQLite synchronous=FULL: fsync per commit, and of the anchor';
const PG = 'PostgreSQL fsync=on, synchronous_commit=on, over TCP; the anchor fsynced too';

interface Rate {
  entries: number;
  rate: number;
  p50us: number;
}

/** Appends through `log` until MAX_APPENDS or BUDGET_MS, after a warm-up; the rate and the median latency. */
function appendRate(log: AuditLog): Rate {
  for (let i = 0; i < WARMUP; i++) log.append(entry(i));
  const lat: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + BUDGET_MS;
  let now = t0;
  while (lat.length < MAX_APPENDS && now < deadline) {
    log.append(entry(lat.length));
    const after = performance.now();
    lat.push((after - now) * 1e3);
    now = after;
  }
  return { entries: lat.length, rate: lat.length / ((now - t0) / 1e3), p50us: percentile(sortNumbers(lat), 50) };
}

/** As teleops runs SQLite: WAL checkpoints on a thread of their own. */
async function sqliteRate(dir: string, fsync: boolean): Promise<Rate> {
  const db = openDb(dir, { fsync });
  const stopCheckpoints = checkpointInBackground(db);
  const log = new AuditLog(db, { anchorPath: join(dir, 'audit.anchor') });
  try {
    return appendRate(log);
  } finally {
    log.close();
    await stopCheckpoints();
    db.close();
  }
}

/** Starts the server and connects once; why PostgreSQL cannot be measured here, if it cannot. */
async function startServer(): Promise<Postgres | string> {
  const why = postgresPrerequisites();
  if (why) return why;
  let pg: Postgres;
  try {
    pg = await startPostgres({ durable: true });
  } catch (e) {
    return `the server did not start: ${(e as Error).message.split('\n')[0]}`;
  }
  try {
    openPostgres(await pg.database()).close();
    return pg;
  } catch (e) {
    await pg.stop();
    if (e instanceof PgError) return e.message;
    throw e;
  }
}

/** `count` writer processes on one chain, started together once all are connected: entries and seconds. */
async function writers(url: string, runDir: string, count: number): Promise<{ entries: number; seconds: number }> {
  const children: ChildProcess[] = [];
  try {
    const lines = Array.from({ length: count }, (_, k) => {
      const args = [join(runDir, `w${k}.anchor`), `${WARMUP}`, `${BUDGET_MS}`, `${MAX_APPENDS}`, `w${k}`];
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, url, ...args], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    });
    const next = async (k: number, expected: RegExp): Promise<RegExpExecArray> => {
      const line = await lines[k]!.next();
      const m = line.done ? null : expected.exec(line.value as string);
      if (!m) throw new Error(`writer ${k}: expected ${expected}, got ${line.done ? 'its exit' : line.value}`);
      return m;
    };
    await Promise.all(lines.map((_, k) => next(k, /^ready$/)));
    const t0 = performance.now();
    for (const c of children) c.stdin!.write('go\n');
    const done = await Promise.all(lines.map((_, k) => next(k, /^done (\d+)$/)));
    const seconds = (performance.now() - t0) / 1e3;
    return { entries: done.reduce((n, m) => n + Number(m[1]), 0), seconds };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

/**
 * The chain the writers left: seq 1..n, each entry linked to the one before, every hash right
 * (verified against one writer's anchor, which has every writer's lines), and the writers' turns.
 */
function checkChain(url: string, anchorPath: string, expected: number): string {
  const db = openPostgres(url);
  try {
    const rows = db.prepare('SELECT seq, prev_hash, hash, entry FROM audit ORDER BY seq').all() as {
      seq: number;
      prev_hash: string;
      hash: string;
      entry: string;
    }[];
    const gap = rows.findIndex((r, i) => r.seq !== i + 1);
    if (gap >= 0 || rows.length !== expected) {
      throw new Error(`chain BROKEN: ${rows.length} rows of ${expected}, seq ${rows[gap]?.seq} at row ${gap + 1}`);
    }
    const fork = rows.findIndex((r, i) => i > 0 && r.prev_hash !== rows[i - 1]!.hash);
    if (fork >= 0) throw new Error(`chain FORKED at #${rows[fork]!.seq}`);
    const v = verifyAudit(db.asDb(), { anchorPath });
    if (!v.ok) throw new Error(`chain BROKEN: ${JSON.stringify(v)}`);
    const writer = rows.map((r) => (JSON.parse(r.entry) as { target: string }).target);
    const turns = writer.filter((w, i) => i > 0 && w !== writer[i - 1]).length;
    return `chain ok: seq 1..${rows.length}, each entry linked to the one before, anchor verified; writers took turns ${turns} times`;
  } finally {
    db.close();
  }
}

/**
 * Audit append on SQLite and on PostgreSQL in the same run, each with the durability it states:
 * SQLite as teleops runs it (synchronous=NORMAL, checkpoints on their own thread) and with an
 * fsync per commit; PostgreSQL with fsync and synchronous_commit on (the test server runs with
 * fsync off), one writer in this process, then one and three writer processes on one shared
 * chain, which must come out whole.
 */
export async function benchPostgres(report: Report): Promise<void> {
  const pg = await startServer();
  if (typeof pg === 'string') {
    process.stdout.write(`skipped: ${pg}\n`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'teleops-bench-pg-'));
  try {
    const normal = await sqliteRate(join(dir, 'normal'), false);
    report('audit append, SQLite NORMAL, as teleops runs', normal.rate, 'entries/s', `${summary(normal)}; ${NORMAL}`);

    const full = await sqliteRate(join(dir, 'full'), true);
    report('audit append, SQLite fsync every commit', full.rate, 'entries/s', `${summary(full)}; ${FULL}`);

    const url = await pg.database();
    const db = openPostgres(url);
    const log = new AuditLog(db.asDb(), { anchorPath: join(dir, 'pg.anchor'), shared: true });
    const one = appendRate(log);
    log.close();
    db.close();
    report('audit append, PostgreSQL, shared chain', one.rate, 'entries/s', `${summary(one)}; ${PG}`);
    report('audit append, PostgreSQL / SQLite NORMAL', one.rate / normal.rate, 'ratio', `load ${loadNow()}`);
    report('audit append, PostgreSQL / SQLite fsync', one.rate / full.rate, 'ratio', 'both fsync every commit');

    // The schema first: writers starting together would race to create it.
    const soloUrl = await pg.database();
    openPostgres(soloUrl).close();
    const solo = await writers(soloUrl, join(dir, 'solo'), 1);
    const soloRate = solo.entries / solo.seconds;
    report('audit append, PostgreSQL, 1 writer process', soloRate, 'entries/s', `${solo.entries} entries`);

    const sharedUrl = await pg.database();
    openPostgres(sharedUrl).close();
    const many = await writers(sharedUrl, join(dir, 'shared'), WRITERS);
    const manyRate = many.entries / many.seconds;
    const note = `${many.entries} entries, in total; load ${loadNow()}`;
    report(`audit append, PostgreSQL, ${WRITERS} writer processes at once`, manyRate, 'entries/s', note);
    report(`audit append, PostgreSQL, ${WRITERS} writers / 1`, manyRate / soloRate, 'ratio');
    process.stdout.write(
      `${checkChain(sharedUrl, join(dir, 'shared', 'w0.anchor'), WRITERS * WARMUP + many.entries)}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pg.stop();
  }
}

const summary = (r: Rate): string => `${r.entries} entries, median ${r.p50us.toFixed(0)} µs`;

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await benchPostgres(printReport());
}
