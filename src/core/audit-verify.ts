import Database from 'better-sqlite3';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Db } from '../store/db.js';
import { chainHasher, GENESIS_HASH, type ChainHasher } from './audit.js';
import { ChunkHashWorker } from './audit-verify-worker.js';

/*
 * Verification of the audit chain (see audit.ts): one streaming pass in seq order, merged
 * with a streaming read of the anchor file; only when something is wrong, a few lookups
 * classify the first break. The anchor may lag behind the table (a crash between a commit
 * and its anchor line) but never run ahead of it.
 * verifyAudit does it all on the caller's thread, in the caller's connection. verifyAuditAsync,
 * what `/audit verify` and `teleops audit verify` run, makes the streaming pass on two threads
 * (reading the table takes about as long as hashing it) and, when that finds something wrong,
 * repeats verifyAudit's pass in steps on a connection of its own to name the first break.
 */

export type Break =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'replaced'
  | 'anchor_missing'
  | 'anchor_corrupt';

export type VerifyReport =
  | { ok: true; entries: number; headSeq: number }
  | {
      ok: false;
      /** Entries the streaming pass read as intact before it stopped. */
      entries: number;
      firstBadSeq: number;
      kind: Break;
      /** One line; names the seq and the kind. */
      message: string;
    };

export interface VerifyOptions {
  readonly hmacKey?: string;
  readonly anchorPath: string;
}

const HASH_LEN = 64;

/*
 * A chunk of rows in one round trip: the bytes of prev_hash ‖ entry ‖ hash of every row back
 * to back, and "seq,len" pairs where len is the entry's byte length, or -1 when the row is
 * malformed (a hash that is not 64 bytes, a NULL; such a row's bytes may be missing, but the
 * scan stops there). Fetching rows one by one costs about twice as much.
 * The subquery yields rows in seq order and group_concat keeps the order it is fed; the seq
 * list is checked for contiguity, so an out-of-order chunk could never pass unnoticed.
 */
const ROW_BYTES = `CAST(group_concat(prev_hash || entry || hash, '') AS BLOB)`;
const ENTRY_LEN = `CASE WHEN octet_length(prev_hash) = ${HASH_LEN} AND octet_length(hash) = ${HASH_LEN}
                        THEN coalesce(octet_length(entry), -1) ELSE -1 END`;
const CHUNK_ROWS = 2048;
const CHUNK_SQL = `SELECT ${ROW_BYTES}, group_concat(seq || ',' || ${ENTRY_LEN}, ',')
  FROM (SELECT seq, prev_hash, entry, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ${CHUNK_ROWS})`;

/*
 * verifyAuditAsync reads seq ranges instead, with the lengths but not the seqs: about a fifth
 * cheaper. Every row has a length, so their number shows whether a range is complete; that
 * its rows come in seq order rests on the plan, a search on the rowid, which seq is (checked).
 */
const HEAD_SQL = 'SELECT coalesce(max(seq), 0) FROM audit';
const RANGE_SQL = `SELECT ${ROW_BYTES}, group_concat(${ENTRY_LEN}, ',') FROM audit WHERE seq > ? AND seq <= ?`;
const RANGE_PLAN = 'SEARCH audit USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)';

/** Both NULL when there are no more rows (or none in the range). */
type ChunkRow = [Buffer | null, string | null];

type Intact = Extract<VerifyReport, { ok: true }>;

/** Why the streaming pass stopped at `seq`. */
type Stop =
  | { reason: 'row'; seq: number; entries: number; anchored: string | undefined }
  | { reason: 'anchor_mismatch'; seq: number; entries: number; anchored: string }
  | {
      reason: 'anchor_gap' | 'anchor_corrupt' | 'anchor_goes_back' | 'anchor_ahead' | 'anchor_file_missing';
      seq: number;
      entries: number;
    };

interface Ctx {
  readonly db: Db;
  readonly hasher: ChainHasher;
  readonly keyed: boolean;
  readonly anchorPath: string;
  readonly anchorSize: number;
}

export function verifyAudit(db: Db, opts: VerifyOptions): VerifyReport {
  const anchor = AnchorReader.open(opts.anchorPath);
  try {
    // The anchor's size is taken before the database snapshot: every line within it belongs
    // to a row already committed, so a concurrent append cannot look like a truncation.
    const ctx = contextOf(db, opts, anchor);
    return db.transaction(() => {
      const steps = scan(ctx, anchor);
      let step = steps.next();
      while (!step.done) step = steps.next();
      return 'ok' in step.value ? step.value : classify(ctx, step.value);
    })();
  } finally {
    anchor?.close();
  }
}

function contextOf(db: Db, opts: VerifyOptions, anchor: AnchorReader | null): Ctx {
  return { db, hasher: chainHasher(opts.hmacKey), keyed: Boolean(opts.hmacKey), anchorPath: opts.anchorPath, anchorSize: anchor?.size ?? 0 };
}

/** Chunks handed to the hashing thread and not answered yet, at most; beyond, this thread hashes. */
const HASH_QUEUE = 8;

/**
 * The same verdict as verifyAudit, without holding the event loop for more than a chunk at a
 * time: from two threads while the log reads as intact; when it does not, a second pass on
 * one thread, through a connection of its own, names the first break. A database in memory
 * has no other connection: verifyAudit runs on it directly.
 */
export async function verifyAuditAsync(db: Db, opts: VerifyOptions): Promise<VerifyReport> {
  if (db.memory) return verifyAudit(db, opts);
  const anchor = AnchorReader.open(opts.anchorPath);
  try {
    // A failure here (a worker that cannot start, say) costs speed, not the verdict.
    const intact = await fastPass(db.name, opts, anchor).catch(() => undefined);
    if (intact) return intact;
  } finally {
    anchor?.close();
  }
  return slowPass(db.name, opts);
}

/** verifyAudit through a read-only connection of its own, letting the event loop run between chunks. */
async function slowPass(file: string, opts: VerifyOptions): Promise<VerifyReport> {
  const anchor = AnchorReader.open(opts.anchorPath);
  const conn = new Database(file, { readonly: true, fileMustExist: true });
  try {
    conn.pragma('busy_timeout = 5000');
    const ctx = contextOf(conn, opts, anchor);
    conn.exec('BEGIN');
    try {
      const steps = scan(ctx, anchor);
      let step = steps.next();
      while (!step.done) {
        await nextTurn();
        step = steps.next();
      }
      return 'ok' in step.value ? step.value : classify(ctx, step.value);
    } finally {
      conn.exec('COMMIT');
    }
  } finally {
    conn.close();
    anchor?.close();
  }
}

/**
 * Reads the table through a connection of its own, in one read transaction whose snapshot is
 * taken after the anchor's size (as in verifyAudit), checks seqs, links and the anchor, and
 * hands most chunks to a worker thread to hash, hashing the others itself while the worker is
 * busy or still starting. Intact, or undefined when anything did not check out.
 */
async function fastPass(file: string, opts: VerifyOptions, anchor: AnchorReader | null): Promise<Intact | undefined> {
  const conn = new Database(file, { readonly: true, fileMustExist: true });
  try {
    conn.pragma('busy_timeout = 5000');
    const range = conn.prepare<[number, number], ChunkRow>(RANGE_SQL).raw();
    const hashing = new ChunkHashWorker(opts.hmacKey);
    try {
      conn.exec('BEGIN');
      const head = conn.prepare<[], unknown>(HEAD_SQL).pluck().get();
      // Both within the snapshot, so that the schema cannot change under the plan.
      const plan = conn.prepare<[number, number], { detail: string }>(`EXPLAIN QUERY PLAN ${RANGE_SQL}`).all(0, 0);
      if (!Number.isSafeInteger(head) || plan.length !== 1 || plan[0]!.detail !== RANGE_PLAN) return undefined;
      const s = new ChainScan(chainHasher(opts.hmacKey), anchor);
      for (let after = 0; after < (head as number); after += CHUNK_ROWS) {
        const rows = Math.min(CHUNK_ROWS, (head as number) - after);
        const [bytes, lensText] = range.get(after, after + rows)!;
        const lens = lensText === null ? [] : (JSON.parse(`[${lensText}]`) as number[]);
        // Fewer rows than seqs in the range: one is missing.
        if (lens.length !== rows) return undefined;
        const meta = new Float64Array(2 * rows);
        lens.forEach((len, i) => {
          meta[2 * i] = after + 1 + i;
          meta[2 * i + 1] = len;
        });
        const b = bytes ?? Buffer.alloc(0);
        const offload = hashing.queued < HASH_QUEUE;
        if (s.chunk(b, meta, !offload) || !hashing.ok) return undefined;
        if (offload) hashing.submit(b, meta);
        await nextTurn();
      }
      const end = s.end();
      return 'ok' in end && (await hashing.allMatch()) ? end : undefined;
    } finally {
      await hashing.close();
    }
  } finally {
    conn.close();
  }
}

/** The streaming pass, a chunk per step (the caller decides whether to yield in between). */
function* scan(ctx: Ctx, anchor: AnchorReader | null): Generator<void, Stop | Intact> {
  const chunk = ctx.db.prepare<[number], ChunkRow>(CHUNK_SQL).raw();
  const s = new ChainScan(ctx.hasher, anchor);
  for (;;) {
    const [bytes, metaText] = chunk.get(s.lastSeq)!;
    if (metaText === null) return s.end();
    const stop = s.chunk(bytes ?? Buffer.alloc(0), JSON.parse(`[${metaText}]`) as number[], true);
    if (stop) return stop;
    yield;
  }
}

/** Checks the chain and the anchor over the rows in seq order, fed one chunk at a time. */
class ChainScan {
  private state: AnchorState | typeof NONE;
  // The hash the next row must link to: 64 bytes at lastAt in lastView; between chunks, a copy.
  private readonly last = Buffer.alloc(HASH_LEN, GENESIS_HASH, 'latin1');
  private readonly lastCopy = viewOf(this.last);
  private lastView = this.lastCopy;
  private lastAt = 0;
  private expected = 1;

  constructor(
    private readonly hasher: ChainHasher,
    private readonly anchor: AnchorReader | null,
  ) {
    this.state = anchor ? anchor.next() : NONE;
  }

  /** The last seq checked; the next chunk starts after it. */
  get lastSeq(): number {
    return this.expected - 1;
  }

  /**
   * The next chunk as CHUNK_SQL reads it, with its "seq,len" pairs; a Stop where it breaks.
   * Without `hash`, the hashes are left to the caller to check; `b` is not used afterwards.
   */
  chunk(b: Buffer, meta: ArrayLike<number>, hash: boolean): Stop | undefined {
    const { hasher, anchor } = this;
    const view = viewOf(b);
    let p = 0;
    for (let i = 0; i < meta.length; i += 2) {
      const seq = meta[i]!;
      const len = meta[i + 1]!;
      const hashAt = p + HASH_LEN + len;
      if (seq !== this.expected || len < 0 || hashAt + HASH_LEN > b.length) return this.rowStop(this.expected);
      if (!same64(view, p, this.lastView, this.lastAt)) return this.rowStop(seq);
      if (hash && b.toString('latin1', hashAt, hashAt + HASH_LEN) !== hasher(new Uint8Array(b.buffer, b.byteOffset + p, HASH_LEN + len))) {
        return this.rowStop(seq);
      }
      if (this.state === LINE) {
        if (anchor!.seq !== seq) {
          return { reason: anchor!.seq > seq ? 'anchor_gap' : 'anchor_goes_back', seq, entries: seq - 1 };
        }
        if (!same64(anchor!.view, anchor!.hashAt, view, hashAt)) {
          return { reason: 'anchor_mismatch', seq, entries: seq - 1, anchored: anchor!.hashText() };
        }
        this.state = anchor!.next();
      } else if (this.state === CORRUPT) {
        return { reason: 'anchor_corrupt', seq, entries: seq - 1 };
      }
      this.lastView = view;
      this.lastAt = hashAt;
      p = hashAt + HASH_LEN;
      this.expected++;
    }
    this.last.set(b.subarray(this.lastAt, this.lastAt + HASH_LEN));
    this.lastView = this.lastCopy;
    this.lastAt = 0;
    return undefined;
  }

  /** After the last row. */
  end(): Stop | Intact {
    const { anchor, expected } = this;
    const entries = expected - 1;
    if (anchor === null && entries > 0) return { reason: 'anchor_file_missing', seq: 1, entries };
    if (this.state === LINE) {
      return { reason: anchor!.seq >= expected ? 'anchor_ahead' : 'anchor_goes_back', seq: expected, entries };
    }
    if (this.state === CORRUPT) return { reason: 'anchor_corrupt', seq: expected, entries };
    return { ok: true, entries, headSeq: entries };
  }

  private rowStop(seq: number): Stop {
    const anchor = this.anchor;
    return {
      reason: 'row',
      seq,
      entries: this.expected - 1,
      anchored: this.state === LINE && anchor!.seq === seq ? anchor!.hashText() : undefined,
    };
  }
}

interface Row {
  seq: number;
  entry: unknown;
  prev: unknown;
  hash: unknown;
  /** prev_hash ‖ entry as stored, the bytes the hash covers. */
  input: Buffer | null;
}

function classify(ctx: Ctx, stop: Stop): VerifyReport {
  const { seq: c, entries } = stop;
  const fail = (firstBadSeq: number, kind: Break, why: string): VerifyReport => ({
    ok: false,
    entries,
    firstBadSeq,
    kind,
    message: `audit entry ${firstBadSeq}: ${kind}: ${why}`,
  });
  switch (stop.reason) {
    case 'anchor_file_missing':
      return fail(c, 'anchor_missing', `the anchor file ${JSON.stringify(ctx.anchorPath)} is missing`);
    case 'anchor_gap':
      return fail(c, 'anchor_missing', 'the anchor has no line for this entry');
    case 'anchor_corrupt':
      return fail(c, 'anchor_corrupt', 'the anchor line for this entry is not "<seq> <hash>"');
    case 'anchor_goes_back':
      return fail(c, 'anchor_corrupt', 'where this line should be, the anchor goes back to an earlier entry');
    case 'anchor_ahead':
      return fail(c, 'truncated', `the anchor records entries after ${entryName(c - 1)}, where the table ends`);
  }
  const lookup = ctx.db
    .prepare<[number], [number, unknown, unknown, unknown, Buffer | null]>(
      `SELECT seq, entry, prev_hash, hash, CAST(prev_hash || entry AS BLOB) FROM audit WHERE seq = ?`,
    )
    .raw();
  const rowAt = (seq: number): Row | undefined => {
    const r = lookup.get(seq);
    return r && { seq: r[0], entry: r[1], prev: r[2], hash: r[3], input: r[4] };
  };
  const prevHash = c === 1 ? GENESIS_HASH : rowAt(c - 1)!.hash;
  const r = rowAt(c);
  if (!r) return fail(c, 'deleted', `the table has no entry ${c}`);
  if (typeof r.entry !== 'string' || !isHash(r.prev) || !isHash(r.hash) || r.input === null) {
    return fail(c, 'modified', 'the row is malformed');
  }
  const next = rowAt(c + 1);
  if (ctx.hasher(r.input) !== r.hash) {
    if (next?.prev === prevHash) return fail(c, 'inserted', `entry ${c + 1} still links to ${entryName(c - 1)}`);
    // Without the key, a forger writes plain SHA-256 (or HMAC under another key, which
    // the anchor exposes); a run of such rows linked together is a replaced chain.
    if (ctx.keyed && (next === undefined || next.prev === r.hash)) {
      const rewritten = isHash(stop.anchored) && stop.anchored !== r.hash && next !== undefined;
      if (rewritten || chainHasher()(r.input) === r.hash) {
        return fail(c, 'replaced', 'a chain computed without the key starts here');
      }
    }
    return fail(c, 'modified', 'its hash does not match its content');
  }
  if (r.prev !== prevHash) {
    const from = seqOfHash(ctx, r.prev);
    if (from !== undefined && from < c) {
      return fail(from + 1, 'inserted', `entry ${c} still links to ${entryName(from)}`);
    }
    if (from !== undefined) return fail(c, 'reordered', `it links to entry ${from}, not to ${entryName(c - 1)}`);
    const written = writtenSeq(r.entry);
    if (written !== undefined && written > c) {
      return fail(c, 'deleted', `the entry now numbered ${c} was written as entry ${written}`);
    }
    return fail(c, 'modified', `its link to ${entryName(c - 1)} was rewritten`);
  }
  // Only a row stored in a shape the scan could not read gets here without an anchor mismatch.
  if (stop.reason === 'row') return fail(c, 'modified', 'the row is malformed');
  // The chain holds here; the anchor recorded a different hash for this entry.
  if (!isHash(stop.anchored)) return fail(c, 'anchor_corrupt', 'the anchor line for this entry has no valid hash');
  if (next?.prev === r.prev) return fail(c, 'inserted', `entry ${c + 1} still links to ${entryName(c - 1)}`);
  const lines = anchoredHashes(ctx, [c, c + 1]);
  const here = lines.get(c) ?? [];
  if (here.length > 1 && here.includes(r.hash)) {
    return fail(c, 'truncated', 'the table was cut back to the previous entry and the log continued from there');
  }
  if (next !== undefined && next.prev !== r.hash) {
    return fail(c, 'modified', 'its content and hash were rewritten');
  }
  const authentic = ctx.keyed || (next !== undefined && (lines.get(c + 1) ?? []).includes(next.hash as string));
  if (authentic) {
    return fail(c, 'anchor_corrupt', 'the anchor line for this entry disagrees with an intact chain');
  }
  return fail(c, 'replaced', 'the chain from here on is not the one the anchor recorded');
}

const entryName = (seq: number): string => (seq === 0 ? 'the start of the chain' : `entry ${seq}`);

const isHash = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);

function seqOfHash(ctx: Ctx, hash: string): number | undefined {
  return ctx.db
    .prepare<[string], number>('SELECT seq FROM audit WHERE hash = ? ORDER BY seq LIMIT 1')
    .pluck()
    .get(hash);
}

/** The seq an entry was written with (it is part of the hashed JSON). */
function writtenSeq(entry: string): number | undefined {
  try {
    const seq = (JSON.parse(entry) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : undefined;
  } catch {
    return undefined;
  }
}

/** Every well-formed anchor line for the given seqs, in file order (a second streaming pass). */
function anchoredHashes(ctx: Ctx, seqs: readonly number[]): Map<number, string[]> {
  const found = new Map<number, string[]>();
  const reader = AnchorReader.open(ctx.anchorPath, ctx.anchorSize);
  if (!reader) return found;
  try {
    for (let s = reader.next(); s !== END; s = reader.next()) {
      if (s === CORRUPT) {
        if (!reader.skipLine()) break;
        continue;
      }
      const hash = reader.hashText();
      if (seqs.includes(reader.seq) && isHash(hash)) {
        found.set(reader.seq, [...(found.get(reader.seq) ?? []), hash]);
      }
    }
  } finally {
    reader.close();
  }
  return found;
}

const viewOf = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Whether 64 bytes are equal; DataView reads compile to word loads, several times faster than byte by byte. */
function same64(a: DataView, pa: number, b: DataView, pb: number): boolean {
  for (let i = 0; i < HASH_LEN; i += 4) if (a.getInt32(pa + i) !== b.getInt32(pb + i)) return false;
  return true;
}

const LINE = 0;
const END = 1;
const CORRUPT = 2;
const NONE = 3;
type AnchorState = typeof LINE | typeof END | typeof CORRUPT;

/** Reads `<seq> <hash>\n` lines in buffered chunks; the current line stays in `buf` until `next()`. */
class AnchorReader {
  readonly buf = Buffer.allocUnsafe(1 << 16);
  readonly view = viewOf(this.buf);
  /** The current line: its seq and where its hash starts in `buf`. */
  seq = 0;
  hashAt = 0;
  private start = 0;
  private end = 0;
  private pos = 0;

  private constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  /** null when the file does not exist; reads at most `limit` bytes. */
  static open(path: string, limit?: number): AnchorReader | null {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`cannot read the audit anchor ${JSON.stringify(path)}: ${(err as Error).message}`);
    }
    return new AnchorReader(fd, limit ?? fstatSync(fd).size);
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * Moves to the next line; a line not shaped `<seq> <64 chars>` is CORRUPT. The hash is not
   * checked for hex digits here: it is compared with a row's hash, and looked at only if it differs.
   */
  next(): AnchorState {
    if (this.end - this.start < 128) this.fill();
    if (this.start === this.end) return END;
    const b = this.buf;
    let p = this.start;
    let seq = 0;
    while (p < this.end && p - this.start < 16 && b[p]! >= 0x30 && b[p]! <= 0x39) seq = seq * 10 + b[p++]! - 0x30;
    const digits = p - this.start;
    if (digits === 0 || digits > 15 || b[this.start] === 0x30 || b[p] !== 0x20) return CORRUPT;
    const hashAt = p + 1;
    const nl = hashAt + HASH_LEN;
    if (nl >= this.end || b[nl] !== 0x0a) return CORRUPT;
    this.seq = seq;
    this.hashAt = hashAt;
    this.start = nl + 1;
    return LINE;
  }

  /** After CORRUPT: drops the rest of that line; false when there is no newline left. */
  skipLine(): boolean {
    for (;;) {
      const nl = this.buf.indexOf(0x0a, this.start);
      if (nl >= 0 && nl < this.end) {
        this.start = nl + 1;
        return true;
      }
      this.start = this.end;
      if (!this.fill()) return false;
    }
  }

  hashText(): string {
    return this.buf.toString('latin1', this.hashAt, this.hashAt + HASH_LEN);
  }

  /** Moves unread bytes to the front and reads more; false at the limit. */
  private fill(): boolean {
    this.buf.copy(this.buf, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
    const want = Math.min(this.buf.length - this.end, this.size - this.pos);
    if (want <= 0) return false;
    const n = readSync(this.fd, this.buf, this.end, want, this.pos);
    this.pos += n;
    this.end += n;
    return n > 0;
  }
}
