import { hash as digestOnce } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AuditLog, type AuditEntryInput } from '../src/core/audit.js';
import { verifyAudit, verifyAuditAsync, type VerifyReport } from '../src/core/audit-verify.js';
import { CHUNK_ROWS, closeIdleHelpers, RANGE_SQL } from '../src/core/audit-verify-worker.js';
import { checkpointInBackground } from '../src/store/checkpoints.js';
import { openDb, type Db } from '../src/store/db.js';
import { childPids } from '../test/support/procs.js';

export type Report = (name: string, value: number, unit: string, note?: string) => void;

const APPENDS = 20_000;
const FSYNC_APPENDS = 2_000;
/** Entries per appendAll call in the grouped figure: what one call site with several at once writes. */
const GROUP = 8;
const VERIFY_ENTRIES = 200_000;
const ROUNDS = 5;
/** Append passes of APPENDS entries per kind, interleaved: the best of each is reported. */
const APPEND_ROUNDS = 3;

/** A typical entry (about 300 bytes of JSON); bench/postgres.ts appends the same. */
export const entry = (i: number): AuditEntryInput => ({
  operator: 'tg:123456789',
  chat: -1001234567890,
  origin: i % 3 === 0 ? 'button' : 'command',
  action: 'docker.restart',
  target: 'docker',
  params: { container: `api-${i}`, timeoutSeconds: 10, reason: 'deploy ünïcode ✓' },
  outcome: i % 2 === 0 ? 'requested' : 'ok',
  ...(i % 2 === 0 ? {} : { detail: 'restarted in 1.2 s' }),
});

/** The 1-minute load average: these figures are only comparable on a quiet machine. */
export const loadNow = (): string => loadavg()[0]!.toFixed(2);

const seconds = (fn: () => void): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

const secondsAsync = async (fn: () => Promise<void>): Promise<number> => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/** CPU seconds of the whole process (every thread) since `from`: what the work cost, whatever the load. */
const cpuSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};

/** CPU seconds so far of this process's child processes (verify's helpers), every thread, from the scheduler's ns. */
function childrenCpu(): number {
  let ns = 0;
  for (const pid of childPids(process.pid)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`))
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    } catch {
      // ended meanwhile
    }
  }
  return ns / 1e9;
}

/**
 * Entries a second appended one call at a time (`group` 1: append; more: appendAll of that
 * many), the median latency of a call, and the CPU per entry.
 */
interface AppendRate {
  rate: number;
  p50us: number;
  cpuUs: number;
}

function appendRate(db: Db, anchorPath: string, n: number, group = 1): AppendRate {
  const log = new AuditLog(db, { anchorPath });
  try {
    for (let i = 0; i < 200; i++) log.append(entry(i));
    const calls = Math.ceil(n / group);
    const groups = Array.from({ length: calls }, (_, c) => Array.from({ length: group }, (_, j) => c * group + j));
    const lat = new Float64Array(calls);
    const cpu = process.cpuUsage();
    const total = seconds(() => {
      for (let c = 0; c < calls; c++) {
        const t0 = process.hrtime.bigint();
        if (group === 1) log.append(entry(c));
        else log.appendAll(groups[c]!.map(entry));
        lat[c] = Number(process.hrtime.bigint() - t0) / 1e3;
      }
    });
    const written = calls * group;
    const cpuUs = (cpuSince(cpu) / written) * 1e6;
    lat.sort();
    return { rate: written / total, p50us: lat[calls >> 1]!, cpuUs };
  } finally {
    log.close();
  }
}

/*
 * Reads rows 1..n of a database as a verification's helpers read them (audit-verify-worker.ts:
 * the same query, in chunks of the same size, the file mapped), once per message, on a thread of
 * its own: on the bench's thread, the garbage collector would walk the 200,000 buffers of the
 * raw figure each time the chunks' memory grew.
 */
const READER = `const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const conn = new Database(workerData.file, { readonly: true, fileMustExist: true });
conn.pragma('mmap_size = 1073741824');
const range = conn.prepare(workerData.sql).raw();
parentPort.on('message', (n) => {
  for (let a = 0; a < n; a += workerData.chunk) range.get(a, Math.min(n, a + workerData.chunk));
  parentPort.postMessage(n);
});`;

/** A thread that reads rows 1..n as the verification's helpers do; each call, the CPU seconds it took. */
function rowReader(file: string): { read: (n: number) => Promise<number>; close: () => Promise<number> } {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(READER, {
    eval: true,
    execArgv: [],
    workerData: { sqlite, file, sql: RANGE_SQL, chunk: CHUNK_ROWS },
  });
  return {
    read: (n) =>
      new Promise((done, fail) => {
        // This thread only waits meanwhile: the process's CPU time is the reader's.
        const cpu = process.cpuUsage();
        worker.once('error', fail);
        worker.once('message', () => {
          worker.off('error', fail);
          done(cpuSince(cpu));
        });
        worker.postMessage(n);
      }),
    close: () => worker.terminate(),
  };
}

/**
 * Append rates (synchronous=NORMAL, best of three interleaved passes, one entry or a group of
 * eight a call; then fsync per commit) and the verify rate over 200,000
 * entries against SHA-256 of exactly the bytes the verifier hashes (prev_hash ‖ entry of every
 * row, one digest per row, from memory, on one thread), best of five interleaved rounds each.
 * The verify figure is verifyAuditAsync, what `/audit verify` and `teleops audit verify` run:
 * it reads through connections of its own, in one helper process per core; those helpers are kept
 * a few seconds for the next verification, so the first call (which starts them) is reported apart.
 */
export async function benchAudit(report: Report): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-bench-audit-'));
  try {
    // SQLite checkpointing inside commits; as teleops runs (WAL checkpoints on a thread of their
    // own); and entries one call has at once (appendAll: one commit and one anchor write a group).
    const kinds = [
      { name: 'inline', group: 1, apart: false },
      { name: 'normal', group: 1, apart: true },
      { name: 'grouped', group: GROUP, apart: true },
    ].map((k) => {
      const db = openDb(join(dir, k.name));
      const stop = k.apart ? checkpointInBackground(db) : undefined;
      return { ...k, db, stop, best: undefined as AppendRate | undefined };
    });
    for (let r = 0; r < APPEND_ROUNDS; r++) {
      for (const k of kinds) {
        const run = appendRate(k.db, join(dir, k.name, 'audit.anchor'), APPENDS, k.group);
        if (!k.best || run.rate > k.best.rate) k.best = run;
      }
    }
    for (const k of kinds) {
      await k.stop?.();
      k.db.close();
    }
    const [i, a, g] = kinds.map((k) => k.best!) as [AppendRate, AppendRate, AppendRate];
    report('audit append, NORMAL, SQLite checkpointing inline', i.rate, 'entries/s', `median ${i.p50us.toFixed(1)} µs`);
    const note = `goal ≥ 20000; median ${a.p50us.toFixed(1)} µs; load ${loadNow()}`;
    report('audit append, synchronous=NORMAL, as teleops runs', a.rate, 'entries/s', note);
    report('audit append, CPU per entry (every thread)', a.cpuUs, 'µs', 'as teleops runs');
    report('audit append, checkpoints apart / inline', a.rate / i.rate, 'ratio');
    const groupNote = `median ${g.p50us.toFixed(1)} µs a call; CPU ${g.cpuUs.toFixed(1)} µs an entry`;
    report(`audit append, groups of ${GROUP} (appendAll), as teleops runs`, g.rate, 'entries/s', groupNote);
    report('audit append, grouped / one at a time', g.rate / a.rate, 'ratio');

    const durable = openDb(join(dir, 'fsync'), { fsync: true });
    const f = appendRate(durable, join(dir, 'fsync', 'audit.anchor'), FSYNC_APPENDS);
    report('audit append, fsync every commit', f.rate, 'entries/s', `median ${f.p50us.toFixed(1)} µs`);
    report('audit append fsync / NORMAL', f.rate / a.rate, 'ratio');
    durable.close();

    const db = openDb(join(dir, 'verify'));
    const anchorPath = join(dir, 'verify', 'audit.anchor');
    const log = new AuditLog(db, { anchorPath });
    const build = seconds(() => {
      for (let i = 0; i < VERIFY_ENTRIES; i++) log.append(entry(i));
    });
    log.close();
    report('audit append, synchronous=NORMAL, long run', VERIFY_ENTRIES / build, 'entries/s', 'the verify log');
    const inputs = db
      .prepare<[], Buffer>('SELECT CAST(prev_hash || entry AS BLOB) FROM audit ORDER BY seq')
      .pluck()
      .all();
    const bytes = inputs.reduce((n, b) => n + b.length, 0);
    const check = (rep: VerifyReport): void => {
      if (!rep.ok || rep.entries !== VERIFY_ENTRIES) throw new Error(`verify failed: ${JSON.stringify(rep)}`);
    };
    const opts = { anchorPath };
    const first = await secondsAsync(async () => check(await verifyAuditAsync(db, opts)));
    let verifyBest = Infinity;
    let oneThreadBest = Infinity;
    let rawBest = Infinity;
    let verifyCpuBest = Infinity;
    let rawCpuBest = Infinity;
    let readCpuBest = Infinity;
    const reader = rowReader(db.name);
    for (let r = 0; r < ROUNDS; r++) {
      let cpu = process.cpuUsage();
      rawBest = Math.min(
        rawBest,
        seconds(() => {
          for (const b of inputs) digestOnce('sha256', b, 'hex');
        }),
      );
      rawCpuBest = Math.min(rawCpuBest, cpuSince(cpu));
      cpu = process.cpuUsage();
      const helpersCpu = childrenCpu();
      verifyBest = Math.min(verifyBest, await secondsAsync(async () => check(await verifyAuditAsync(db, opts))));
      verifyCpuBest = Math.min(verifyCpuBest, cpuSince(cpu) + childrenCpu() - helpersCpu);
      oneThreadBest = Math.min(
        oneThreadBest,
        seconds(() => check(verifyAudit(db, opts))),
      );
      readCpuBest = Math.min(readCpuBest, await reader.read(VERIFY_ENTRIES));
    }
    await reader.close();
    db.close();
    await closeIdleHelpers();
    const mb = bytes / 1e6;
    const cores = availableParallelism();
    const threads = `${VERIFY_ENTRIES} entries, ${cores} helper processes`;
    report('bytes hashed (prev_hash ‖ entry of every row)', bytes, 'bytes', `${mb.toFixed(1)} MB`);
    report('audit verify', VERIFY_ENTRIES / verifyBest, 'entries/s', threads);
    report('audit verify', mb / verifyBest, 'MB/s');
    report('audit verify, first call', VERIFY_ENTRIES / first, 'entries/s', 'cold: JIT, helpers start');
    report('audit verify, one thread (verifyAudit)', VERIFY_ENTRIES / oneThreadBest, 'entries/s');
    report('sha256 of the same bytes, one digest per entry', VERIFY_ENTRIES / rawBest, 'entries/s', 'one thread');
    report('sha256 of the same bytes, one digest per entry', mb / rawBest, 'MB/s');
    report('audit verify / raw sha256', rawBest / verifyBest, 'ratio', `goal ≥ 0.8; load ${loadNow()}`);
    report('audit verify, one thread / raw sha256', rawBest / oneThreadBest, 'ratio');
    // What the load cannot move: the CPU a verification costs against hashing alone. On idle
    // cores the ratio above approaches this times the helpers, less the time they wait on each other.
    report('audit verify / raw sha256, in CPU time (every process)', rawCpuBest / verifyCpuBest, 'ratio');
    report('  times the helpers: the most on idle cores', (cores * rawCpuBest) / verifyCpuBest, 'ratio');
    // Where a verification's CPU goes, per entry: reading, the digest itself, and the rest (the
    // checks of links, anchor and keys, a view per row, the helpers' messages).
    const us = (s: number): number => (s / VERIFY_ENTRIES) * 1e6;
    report('audit verify, CPU per entry (every process)', us(verifyCpuBest), 'µs');
    report('  reading the rows (one thread, as the helpers do)', us(readCpuBest), 'µs');
    report('  sha256 of prev_hash ‖ entry (the raw figure)', us(rawCpuBest), 'µs');
    report('  the rest: checks, views, messages', us(verifyCpuBest - readCpuBest - rawCpuBest), 'µs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await benchAudit((name, value, unit, note) => {
    const v = value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
    console.log(`${name.padEnd(50)} ${v.padStart(12)} ${unit}${note ? `  (${note})` : ''}`);
  });
}
