import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { KEY_ID_LEN, KEY_PREFIX } from './audit.js';
import { CACHE_SIZE } from './sqlite.js';

/*
 * Checks one seq range of the audit chain in a helper process, so that a verification uses
 * every core and the caller's event loop stays free. A process and not a worker thread: the
 * threads of one process share OpenSSL's digest object, and the cache line they bounce between
 * cores cost a fifth of each digest. The helper reads its rows through its own read-only
 * connection, in chunks of one round trip each, and checks, row by row, that the range is
 * complete and in seq order, that each row links to the one before, that its hash is
 * H(prev_hash ‖ entry) over the stored bytes (SHA-256, or HMAC-SHA-256 under the key its entry
 * names, as audit.ts's chainHasher), and that the anchor file holds `<seq> <hash>\n` for it at
 * the place the caller computed. It answers with what only the caller can judge: the range's
 * first prev_hash and last hash (links across ranges), the rows where the key id changes (and
 * the range's first row), and the keys it lacked. Any doubt is a "no": the caller then names
 * the break on one thread, so this pass only has to be right when it says yes.
 *
 * A chunk is one string per row, prev_hash ‖ entry ‖ hash, joined by newlines, which canonical
 * JSON never contains: the count of well-formed rows comes with it, and a stray newline makes
 * one piece too many. The helper is plain JavaScript kept in a string: run from the TypeScript
 * sources, a .ts entry would need a TypeScript loader in the helper. Its first message is its
 * setup (keys never go on a command line or into an environment), each next one a range.
 */
const WORKER_SOURCE = `'use strict';
const { hash } = require('node:crypto');
const { closeSync, openSync, readFileSync, readSync, statSync } = require('node:fs');
function start(workerData) {
const Database = require(workerData.sqlite);
const { file, sql, plan, chunkRows, prefix, idLen, legacy, cacheSize } = workerData;
// HMAC-SHA-256 (RFC 2104) from two one-shot digests: a createHmac per row costs 2.5 times as much.
const hmacOf = (key) => {
  let k = Buffer.from(key, 'utf8');
  if (k.length > 64) k = hash('sha256', k, 'buffer');
  const ipad = Buffer.alloc(64, 0x36);
  const outer = Buffer.alloc(64 + 32, 0x5c);
  for (let i = 0; i < k.length; i++) {
    ipad[i] ^= k[i];
    outer[i] ^= k[i];
  }
  let inner = Buffer.alloc(0);
  return (d) => {
    if (inner.length < 64 + d.length) {
      inner = Buffer.alloc(2 * (64 + d.length));
      ipad.copy(inner);
    }
    inner.set(d, 64);
    outer.write(hash('sha256', inner.subarray(0, 64 + d.length), 'latin1'), 64, 32, 'latin1');
    return hash('sha256', outer, 'hex');
  };
};
const hasherOf = (key) => (key ? hmacOf(key) : (d) => hash('sha256', d, 'hex'));
const ring = new Map(workerData.keys.map(([id, key]) => [id, hasherOf(key)]));
const legacyHasher = legacy.missing === null ? hasherOf(legacy.key) : null;
const KEY_END = prefix.length + idLen;
const digits = (n) => {
  let d = 1;
  for (let p = 10; p <= n; p *= 10) d++;
  return d;
};
// Byte comparisons through DataViews: word loads, several times cheaper than Buffer.compare's calls.
const same = (a, pa, b, pb, len) => {
  let i = 0;
  for (; i + 4 <= len; i += 4) if (a.getInt32(pa + i) !== b.getInt32(pb + i)) return false;
  for (; i < len; i++) if (a.getUint8(pa + i) !== b.getUint8(pb + i)) return false;
  return true;
};
const viewOf = (b) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const PREFIX_VIEW = viewOf(Buffer.from(prefix, 'latin1'));
// The anchor's lines of a chunk, read into the same memory each time.
let anc = Buffer.alloc(0);
let av = viewOf(anc);

function check(db, range, job) {
  const p0 = db.prepare('EXPLAIN QUERY PLAN ' + sql).all(0, 0);
  if (p0.length !== 1 || p0[0].detail !== plan) return { ok: false };
  const changes = [];
  const missing = [];
  const seen = new Set();
  let firstPrev = null;
  let lastBuf = null;
  let lastView = null;
  let lastAt = 0;
  let idView = null;
  let started = false;
  let hasher = null;
  let missingId = null;
  let afd = -1;
  let anchorPos = job.anchorAt;
  const anchorEnd = job.from + job.anchored;
  try {
    if (job.anchored > 0) afd = openSync(job.anchorPath, 'r');
    for (let a = job.from; a < job.to; a += chunkRows) {
      const n = Math.min(chunkRows, job.to - a);
      const [b, wellFormed] = range.get(a, a + n);
      if (b === null || wellFormed !== n) return { ok: false };
      const view = viewOf(b);
      const mem = b.buffer;
      const base = b.byteOffset;
      const lines = Math.max(0, Math.min(a + n, anchorEnd) - a);
      let ap = 0;
      if (lines > 0) {
        let len = 0;
        for (let s = a + 1; s <= a + lines; s++) len += digits(s) + 66;
        if (anc.length < len) {
          anc = Buffer.allocUnsafe(len);
          av = viewOf(anc);
        }
        if (readSync(afd, anc, 0, len, anchorPos) !== len) return { ok: false };
        anchorPos += len;
      }
      let p = 0;
      for (let s = a + 1; s <= a + n; s++) {
        const nl = b.indexOf(10, p);
        const end = s === a + n ? b.length : nl;
        if ((s === a + n) !== (nl < 0) || end - p < 128) return { ok: false };
        const entryAt = p + 64;
        const hashAt = end - 64;
        const len = hashAt - entryAt;
        if (lastBuf === null) firstPrev = b.toString('latin1', p, entryAt);
        else if (!same(view, p, lastView, lastAt, 64)) return { ok: false };
        const keyed = len > KEY_END && same(view, entryAt, PREFIX_VIEW, 0, prefix.length) &&
          b[entryAt + KEY_END] === 0x22;
        const sameKey = keyed
          ? idView !== null && same(view, entryAt + prefix.length, idView, 0, idLen)
          : idView === null;
        if (!sameKey || !started) {
          started = true;
          const id = keyed ? b.toString('latin1', entryAt + prefix.length, entryAt + KEY_END) : null;
          const entry = keyed ? b.toString('utf8', entryAt, hashAt) : null;
          changes.push({ seq: s, id, prev: b.toString('latin1', p, entryAt), entry });
          idView = keyed ? viewOf(Buffer.from(id, 'latin1')) : null;
          hasher = keyed ? ring.get(id) ?? null : legacyHasher;
          missingId = keyed ? id : legacy.missing;
        }
        if (hasher === null) {
          if (!seen.has(missingId)) {
            seen.add(missingId);
            missing.push([missingId, s]);
          }
        } else if (hasher(new Uint8Array(mem, base + p, hashAt - p)) !== b.toString('latin1', hashAt, end)) {
          // The stored hash made a string and compared whole: cheaper than comparing its 64 chars one by one.
          return { ok: false };
        }
        if (s <= anchorEnd) {
          const d = digits(s);
          let v = 0;
          for (let i = 0; i < d; i++) {
            const c = anc[ap + i] - 0x30;
            if (c < 0 || c > 9) return { ok: false };
            v = v * 10 + c;
          }
          if (v !== s || anc[ap + d] !== 0x20 || anc[ap + d + 65] !== 0x0a) return { ok: false };
          if (!same(av, ap + d + 1, view, hashAt, 64)) return { ok: false };
          ap += d + 66;
        }
        lastBuf = b;
        lastView = view;
        lastAt = hashAt;
        p = end + 1;
      }
    }
  } finally {
    if (afd >= 0) closeSync(afd);
  }
  return { ok: true, firstPrev, lastHash: lastBuf.toString('latin1', lastAt, lastAt + 64), changes, missing };
}

// One connection while the file stays the same one (a file moved into its place is opened
// anew): mapping the file again for each range costs more than the range.
let db = null;
let range = null;
let touch = null;
let shrink = null;
let ino = null;
return (job) => {
  let answer = { ok: false };
  try {
    const now = statSync(file, { bigint: true });
    if (db !== null && (now.ino !== ino.ino || now.dev !== ino.dev)) {
      db.close();
      db = null;
      range = null;
      touch = null;
    }
    if (db === null) {
      ino = now;
      db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = ' + cacheSize);
      // Pages read in place instead of copied into SQLite's cache: reading costs half as much.
      db.pragma('mmap_size = 1073741824');
      // Prepared once, as the checkpoint thread's: db.pragma() prepares a statement at every call.
      shrink = db.prepare('PRAGMA shrink_memory');
    }
    db.exec('BEGIN');
    try {
      // Reading the schema table starts the read transaction and reads a schema changed since the
      // last range (in place, in the same file) anew; the range's statement is then prepared again
      // when run. An EXPLAIN reads no table and does not notice: prepared after that read, each
      // time, it shows the plan the range runs with.
      touch ??= db.prepare('SELECT 1 FROM sqlite_schema LIMIT 1');
      touch.get();
      range ??= db.prepare(sql).raw();
      answer = check(db, range, job);
    } finally {
      db.exec('COMMIT');
      // The pages read from the WAL stay in the connection's cache, which the next job refills from
      // the OS's cache at little cost: released, a kept helper holds no more memory than a new one.
      shrink.run();
    }
  } catch {
    answer = { ok: false };
  }
  return answer;
};
}
// Resident memory less what maps files (the database, the code): what fragments over many ranges.
const anonymous = () => {
  try {
    const [, resident, shared] = readFileSync('/proc/self/statm', 'latin1').split(' ');
    return (resident - shared) * 4096;
  } catch {
    return process.memoryUsage.rss();
  }
};
let onJob = null;
process.on('message', (m) => {
  if (onJob === null) onJob = start(m);
  else process.send({ answer: onJob(m), anon: anonymous() });
});
process.on('disconnect', () => process.exit(0));
`;

const HASH_LEN = 64;
const WELL_FORMED = `octet_length(prev_hash) = ${HASH_LEN} AND octet_length(hash) = ${HASH_LEN} AND entry NOT NULL`;
/**
 * Rows (after, upto]: joined, and the count of well-formed ones (both hashes 64 bytes and an
 * entry; a row with a NULL counts for nothing), about half as costly as a length per row. A
 * range of n seqs holds at most n rows, so n well-formed ones say it is complete too, and that
 * no row was left out of the join: a NULL entry would be, and the bytes of that row, hidden in
 * the next one with a newline, would read back as the rows they were. That its rows come in seq
 * order rests on the plan, a search on the rowid, which seq is (checked).
 */
export const RANGE_SQL = `SELECT CAST(group_concat(prev_hash || entry || hash, char(10)) AS BLOB), sum(${WELL_FORMED})
  FROM audit WHERE seq > ? AND seq <= ?`;
const RANGE_PLAN = 'SEARCH audit USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)';
/**
 * Rows per round trip: small enough (about 100 kB) that each result's memory comes from the
 * heap; a larger one is mapped afresh each time, and its page faults cost as much as reading it.
 */
export const CHUNK_ROWS = 256;

/** What a range helper needs to know besides its range; the same for every range of one verification. */
export interface RangeSetup {
  /** The database file. */
  readonly file: string;
  /** The keys given, by id. */
  readonly keys: readonly (readonly [string, string])[];
  /** Rows without a key id: hashed with `key` (undefined: SHA-256), or, when `missing` is set, not at all. */
  readonly legacy: { readonly key: string | undefined; readonly missing: string | null };
}

/** Rows (from, to] of the chain; the anchor's lines for the first `anchored` of them start at byte `anchorAt`. */
export interface RangeJob {
  readonly from: number;
  readonly to: number;
  readonly anchorPath: string;
  readonly anchorAt: number;
  readonly anchored: number;
}

/** A row whose key id differs from the row before it in the range (or the range's first row). */
export interface KeyChange {
  readonly seq: number;
  /** null: no key id (a legacy row). */
  readonly id: string | null;
  /** The row's prev_hash. */
  readonly prev: string;
  /** The entry's JSON when keyed (it may be a rekey entry). */
  readonly entry: string | null;
}

export type RangeAnswer =
  | { readonly ok: false }
  | {
      readonly ok: true;
      readonly firstPrev: string;
      readonly lastHash: string;
      readonly changes: readonly KeyChange[];
      /** Key ids whose rows could not be hashed, with the first such seq. */
      readonly missing: readonly (readonly [string, number])[];
    };

const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Helpers are kept for a while after a verification: starting one (and loading SQLite in it)
 * costs about as much as checking 100,000 rows. Idle helpers do not keep the process alive.
 */
const IDLE_MS = 5_000;
/**
 * A helper whose own memory (not mapped from files) has grown past this, twice what a new one
 * holds after a range (malloc's arenas fragment over many ranges), is ended after its answer
 * rather than kept: its memory goes back to the system whole, which a thread's would not.
 */
export const HELPER_MAX_ANON = 24 * 1024 * 1024;
/**
 * Ranges a helper checks before it is ended after its answer, whatever its memory. malloc's
 * heap settles only after a few thousand ranges, creeping up meanwhile (2.5 MB over the first
 * 2,000); where verifications keep coming, helpers would otherwise creep for an hour before the
 * bound above ends them. A new helper costs about as much as 100,000 rows, a few percent of
 * this many ranges of at least RANGE_MIN_ROWS.
 */
export const HELPER_MAX_RANGES = 128;

interface Helper {
  readonly child: ChildProcess;
  /** The setup it was started with, as JSON: a helper serves only verifications that share it. */
  readonly setup: string;
  answer?: (a: RangeAnswer) => void;
  /** Ranges answered so far. */
  ranges: number;
}

const idle: Helper[] = [];
let idleTimer: NodeJS.Timeout | undefined;

/** Held while it works, so that a process waiting for the answer does not end first; not while idle. */
function hold(c: ChildProcess, on: boolean): void {
  if (on) {
    c.ref();
    c.channel?.ref();
  } else {
    c.unref();
    c.channel?.unref();
  }
}

function end(h: Helper): Promise<void> {
  const c = h.child;
  return new Promise<void>((done) => {
    if (c.exitCode !== null || c.signalCode !== null) return done();
    c.once('exit', () => done());
    hold(c, true);
    c.kill();
  });
}

function startHelper(setup: string): Helper {
  // Semi-spaces of 1 MB, not up to 16: what a helper allocates lives for one chunk.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', '-e', WORKER_SOURCE], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
    // Nothing of this process's environment (tokens, NODE_OPTIONS) or command line is needed there.
    // One malloc arena: with glibc's default (eight a core) a helper's own memory grew 2.7 MB/min
    // over back-to-back verifications, with one it stays flat at no cost to verify.
    env: { MALLOC_ARENA_MAX: '1' },
  });
  const h: Helper = { child, setup, ranges: 0 };
  const fail = (): void => {
    const i = idle.indexOf(h);
    if (i >= 0) idle.splice(i, 1);
    h.answer?.({ ok: false });
    h.answer = undefined;
  };
  child.on('message', (m: { answer: RangeAnswer; anon: number }) => {
    const answer = h.answer;
    h.answer = undefined;
    if (m.anon > HELPER_MAX_ANON || ++h.ranges >= HELPER_MAX_RANGES) void end(h);
    else {
      hold(child, false);
      idle.push(h);
      clearTimeout(idleTimer);
      idleTimer = setTimeout(closeIdleHelpers, IDLE_MS).unref();
    }
    answer?.(m.answer);
  });
  child.on('error', fail);
  child.on('exit', fail);
  child.send({
    ...(JSON.parse(setup) as RangeSetup),
    sqlite: sqlitePath,
    sql: RANGE_SQL,
    plan: RANGE_PLAN,
    chunkRows: CHUNK_ROWS,
    prefix: KEY_PREFIX,
    idLen: KEY_ID_LEN,
    cacheSize: CACHE_SIZE,
  });
  return h;
}

/** Ends the helpers kept for reuse (they end by themselves after a few idle seconds). */
export async function closeIdleHelpers(): Promise<void> {
  clearTimeout(idleTimer);
  await Promise.all(idle.splice(0).map(end));
}

/**
 * Checks one range in a helper (a kept one when it has the same setup). Never rejects: a helper
 * that cannot start or dies answers "no", which costs speed (the caller's one-thread pass), not the verdict.
 */
export function checkRange(setup: RangeSetup, job: RangeJob): Promise<RangeAnswer> {
  return new Promise((resolve) => {
    const key = JSON.stringify(setup);
    const i = idle.findIndex((h) => h.setup === key);
    let h: Helper;
    try {
      h = i >= 0 ? idle.splice(i, 1)[0]! : startHelper(key);
      h.answer = resolve;
      hold(h.child, true);
      h.child.send(job);
    } catch {
      resolve({ ok: false });
    }
  });
}
