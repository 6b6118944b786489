import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isPostgres, readOnlyConnection, type Db } from './sqlite.js';
import {
  chainHasher,
  GENESIS_HASH,
  KEY_ID_LEN,
  KEY_PREFIX,
  keyIdOf,
  keyRing,
  REKEY_ACTION,
  rekeyParams,
  rekeyProof,
  type ChainHasher,
} from './audit.js';
import { checkRange, type KeyChange, type RangeAnswer, type RangeJob, type RangeSetup } from './audit-verify-worker.js';
import { counted, oneLine } from './text.js';

/*
 * Verification of the audit chain (see audit.ts): one streaming pass in seq order, merged
 * with a streaming read of the anchor file; only when something is wrong, a few lookups
 * classify the first break. The anchor may lag behind the table (a crash between a commit
 * and its anchor line) but never run ahead of it.
 * verifyAudit does it all on the caller's thread, in the caller's connection. verifyAuditAsync,
 * what `/audit verify` and `teleops audit verify` run, makes the streaming pass in two helper
 * processes (reading the table takes about as long as hashing it) and, when that finds something wrong,
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
  | 'anchor_corrupt'
  /** Entries after keyed ones carry no key: written by someone without it. */
  | 'unkeyed'
  /** The key changes without a valid rekey entry. */
  | 'rekey';

export type VerifyReport =
  | { ok: true; entries: number; headSeq: number }
  | {
      /** Links and anchor hold, but some entries are keyed with a key not given: not checked. */
      ok: false;
      unverifiable: true;
      entries: number;
      headSeq: number;
      /** Ids of the keys that were missing. */
      missingKeyIds: string[];
      message: string;
    }
  | {
      ok: false;
      unverifiable?: undefined;
      /** Entries the streaming pass read as intact before it stopped. */
      entries: number;
      firstBadSeq: number;
      kind: Break;
      /** One line; names the seq and the kind. */
      message: string;
    };

export interface VerifyOptions {
  readonly hmacKey?: string;
  /** Keys of earlier segments (AUDIT_HMAC_KEY_PREVIOUS). */
  readonly previousKeys?: readonly string[];
  readonly anchorPath: string;
  /** Heads seen by witnesses: each entry must still be there with that hash. */
  readonly heads?: readonly WitnessedHead[];
}

export interface WitnessedHead {
  readonly seq: number;
  readonly hash: string;
  /** Who saw it, for the message ("syslog://…", "--head"). */
  readonly by: string;
}

/** `SEQ:HASH`, as a witness posts it; undefined when malformed. */
export function parseHead(s: string, by: string): WitnessedHead | undefined {
  const m = /^([1-9][0-9]{0,14}):([0-9a-f]{64})$/.exec(s.trim());
  return m ? { seq: Number(m[1]), hash: m[2]!, by } : undefined;
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
const ENTRY_LEN = `CASE WHEN octet_length(prev_hash) = ${HASH_LEN} AND octet_length(hash) = ${HASH_LEN}
                        THEN coalesce(octet_length(entry), -1) ELSE -1 END`;
const CHUNK_ROWS = 2048;
const CHUNK_OF = `FROM (SELECT seq, prev_hash, entry, hash FROM audit WHERE seq > ? ORDER BY seq
  LIMIT ${CHUNK_ROWS}) AS c`;
const CHUNK_SQL = `SELECT CAST(group_concat(prev_hash || entry || hash, '') AS BLOB),
  group_concat(seq || ',' || ${ENTRY_LEN}, ',') ${CHUNK_OF}`;
/** CHUNK_SQL in PostgreSQL's words: its string_agg takes the order itself. */
const CHUNK_SQL_PG = `SELECT convert_to(string_agg(prev_hash || entry || hash, '' ORDER BY seq), 'UTF8'),
  string_agg(seq::text || ',' || (${ENTRY_LEN})::text, ',' ORDER BY seq) ${CHUNK_OF}`;

const HEAD_SQL = 'SELECT coalesce(max(seq), 0) FROM audit';

/** Both NULL when there are no more rows (or none in the range). */
type ChunkRow = [Buffer | null, string | null];

type Intact = Extract<VerifyReport, { ok: true }>;
type Done = Intact | Extract<VerifyReport, { unverifiable: true }>;

/** Why the streaming pass stopped at `seq`. */
type Stop =
  | {
      reason: 'row';
      seq: number;
      entries: number;
      anchored: string | undefined;
      hasher: ChainHasher | null;
      keyed: boolean;
    }
  | {
      reason: 'anchor_mismatch';
      seq: number;
      entries: number;
      anchored: string;
      hasher: ChainHasher | null;
      keyed: boolean;
    }
  | { reason: 'key'; seq: number; entries: number; kind: 'unkeyed' | 'rekey'; why: string }
  | {
      reason: 'anchor_gap' | 'anchor_corrupt' | 'anchor_goes_back' | 'anchor_ahead' | 'anchor_file_missing';
      seq: number;
      entries: number;
    };

interface Ctx {
  readonly db: Db;
  readonly keys: Keys;
  readonly anchorPath: string;
  readonly anchorSize: number;
}

/** The keys given, by id, the current key's id, and how the chain's legacy part is hashed. */
interface Keys {
  readonly ring: Map<string, string>;
  readonly current: string | null;
  readonly legacy: Segment;
}

/** A run of entries under one key. */
interface Segment {
  /** Entries carry this key id (`_key`); null for legacy entries, which carry none. */
  readonly id: string | null;
  /** The id of the key they are hashed with; null: plain SHA-256. */
  readonly hashKey: string | null;
  /** null when that key was not given. */
  readonly hasher: ChainHasher | null;
}

export function verifyAudit(db: Db, opts: VerifyOptions): VerifyReport {
  const anchor = AnchorReader.open(opts.anchorPath);
  try {
    // The anchor's size is taken before the database snapshot: every line within it belongs
    // to a row already committed, so a concurrent append cannot look like a truncation.
    return db.transaction(() => {
      // One snapshot for the whole scan, as SQLite's read transaction gives.
      if (isPostgres(db)) db.exec('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const ctx = contextOf(db, opts, anchor);
      const steps = scan(ctx, anchor);
      let step = steps.next();
      while (!step.done) step = steps.next();
      return 'ok' in step.value ? againstHeads(db, opts, step.value) : classify(ctx, step.value);
    })();
  } finally {
    anchor?.close();
  }
}

function contextOf(db: Db, opts: VerifyOptions, anchor: AnchorReader | null): Ctx {
  return { db, keys: keysOf(db, opts), anchorPath: opts.anchorPath, anchorSize: anchor?.size ?? 0 };
}

/**
 * Entries without a key id (from before key ids, or of a log never keyed) come first. They are
 * hashed as the first rekey entry says (its `from`), else, as before key ids, with the key given.
 * Read within the caller's snapshot.
 */
function keysOf(db: Db, opts: VerifyOptions): Keys {
  const ring = keyRing([opts.hmacKey, ...(opts.previousKeys ?? [])]);
  const current = opts.hmacKey ? keyIdOf(opts.hmacKey) : null;
  const given: Segment = { id: null, hashKey: current, hasher: chainHasher(opts.hmacKey) };
  if (!opts.hmacKey) return { ring, current, legacy: given };
  const first = db
    .prepare<[string], string>(
      `SELECT entry FROM audit WHERE substr(entry, 1, ${KEY_PREFIX.length}) = ? ORDER BY seq LIMIT 1`,
    )
    .pluck()
    .get(KEY_PREFIX);
  const rekey = first === undefined ? undefined : parseRekey(first);
  if (!rekey) return { ring, current, legacy: given };
  if (rekey.from === null) return { ring, current, legacy: { id: null, hashKey: null, hasher: chainHasher() } };
  const key = ring.get(rekey.from);
  return {
    ring,
    current,
    legacy: { id: null, hashKey: rekey.from, hasher: key === undefined ? null : chainHasher(key) },
  };
}

/** Whether any entry carries a key id (a log ever under a key, since key ids exist). */
export function hasKeyedEntry(db: Db): boolean {
  return (
    db.prepare(`SELECT 1 FROM audit WHERE substr(entry, 1, ${KEY_PREFIX.length}) = ? LIMIT 1`).get(KEY_PREFIX) !==
    undefined
  );
}

/** The parameters of a rekey entry, or undefined when the JSON is not one. */
export function parseRekey(json: string): { from: string | null; to: string; proof: string | null } | undefined {
  try {
    const e = JSON.parse(json) as { action?: unknown; _key?: unknown; params?: unknown };
    if (e.action !== REKEY_ACTION) return undefined;
    const p = rekeyParams.safeParse(e.params);
    return p.success && p.data.to === e._key ? p.data : undefined;
  } catch {
    return undefined;
  }
}

/** Rows per range, at least: below that, a range costs more than it saves. */
export const RANGE_MIN_ROWS = 4096;
const RANGES_PER_HELPER = 4;

/**
 * The same verdict as verifyAudit, without holding the event loop: ranges of the chain are
 * checked in helper processes, one per core, while the log reads as intact; when it does
 * not, a second pass on one thread, through a connection of its own, names the first break.
 * A database in memory has no other connection: verifyAudit runs on it directly.
 */
export async function verifyAuditAsync(db: Db, opts: VerifyOptions): Promise<VerifyReport> {
  if (db.memory) return verifyAudit(db, opts);
  // The helpers read SQLite's file; PostgreSQL is read through a connection of the pass's own.
  if (isPostgres(db)) return slowPass(() => secondConnection(db), opts);
  const intact = await verifyOnHelpers(db.name, opts);
  return intact ? againstHeads(db, opts, intact) : slowPass(() => readOnlyConnection(db.name), opts);
}

/**
 * The helpers' pass alone over the SQLite file: intact (or unverifiable for want of a key), or
 * undefined when anything did not check out, which verifyAuditAsync then hands to the one-thread
 * pass. It never says more than verifyAudit would; an intact log it gives up on costs speed.
 */
export async function verifyOnHelpers(file: string, opts: VerifyOptions): Promise<Done | undefined> {
  const anchor = AnchorReader.open(opts.anchorPath);
  try {
    // A failure here (a helper that cannot start, say) costs speed, not the verdict.
    return await fastPass(file, opts, anchor).catch(() => undefined);
  } finally {
    anchor?.close();
  }
}

/** A second connection to a PostgreSQL database, for a scan that yields between chunks. */
function secondConnection(db: Db): Db {
  return (db as unknown as { connectAgain(): Db }).connectAgain();
}

/** SQL for the UTF-8 bytes of a text expression. */
const bytesOf = (db: Db, expr: string): string =>
  isPostgres(db) ? `convert_to(${expr}, 'UTF8')` : `CAST(${expr} AS BLOB)`;

/**
 * A chain that holds together may still have lost its end (table and anchor cut back together)
 * or been replaced as a whole: a witnessed head must still be in it, with the same hash.
 */
function againstHeads(db: Db, opts: VerifyOptions, done: Done): VerifyReport {
  const at = db.prepare<[number], string>('SELECT hash FROM audit WHERE seq = ?').pluck();
  for (const h of [...(opts.heads ?? [])].sort((a, b) => a.seq - b.seq)) {
    const hash = at.get(h.seq);
    if (hash === undefined) {
      const last = done.headSeq;
      const firstBadSeq = Math.min(last + 1, h.seq);
      return {
        ok: false,
        entries: last,
        firstBadSeq,
        kind: 'truncated',
        message:
          `audit entry ${firstBadSeq}: truncated: ${h.by} saw entry ${h.seq}, the table ends ` +
          `at ${entryName(last)}`,
      };
    }
    if (hash !== h.hash) {
      return {
        ok: false,
        entries: h.seq - 1,
        firstBadSeq: h.seq,
        kind: 'replaced',
        message: `audit entry ${h.seq}: replaced: its hash is not the one ${h.by} saw`,
      };
    }
  }
  return isPostgres(db) ? againstAnchorTable(db, done) : done;
}

/** PostgreSQL's anchor table must hold exactly each entry's hash: a chain rewritten whole does not. */
function againstAnchorTable(db: Db, done: Done): VerifyReport {
  const off = db
    .prepare<[], { seq: number; missing: boolean }>(
      `SELECT coalesce(a.seq, x.seq) AS seq, a.seq IS NULL AS missing FROM audit a
       FULL JOIN audit_anchor x ON x.seq = a.seq WHERE a.hash IS DISTINCT FROM x.hash ORDER BY 1 LIMIT 1`,
    )
    .get();
  if (!off) return done;
  const why = off.missing
    ? { kind: 'truncated' as const, what: 'the anchor table records it, the audit table has no such entry' }
    : { kind: 'replaced' as const, what: 'its hash is not the one the anchor table recorded' };
  return {
    ok: false,
    entries: off.seq - 1,
    firstBadSeq: off.seq,
    kind: why.kind,
    message: `audit entry ${off.seq}: ${why.kind}: ${why.what}`,
  };
}

/** verifyAudit through a read-only connection of its own, letting the event loop run between chunks. */
async function slowPass(connect: () => Db, opts: VerifyOptions): Promise<VerifyReport> {
  const anchor = AnchorReader.open(opts.anchorPath);
  const conn = connect();
  try {
    conn.exec(isPostgres(conn) ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN');
    try {
      const ctx = contextOf(conn, opts, anchor);
      const steps = scan(ctx, anchor);
      let step = steps.next();
      while (!step.done) {
        await nextTurn();
        step = steps.next();
      }
      return 'ok' in step.value ? againstHeads(conn, opts, step.value) : classify(ctx, step.value);
    } finally {
      conn.exec('COMMIT');
    }
  } finally {
    conn.close();
    anchor?.close();
  }
}

/**
 * Reads the head and the keys through a connection of its own, after the anchor's size (as in
 * verifyAudit), and has the ranges of rows up to that head checked in helper processes
 * (see audit-verify-worker.ts); here, only what joins the ranges: their links, the key changes,
 * the anchor's length. Rows at or below the head never change in a log that is only appended
 * to, so the helpers' own snapshots hold the same rows. Intact, or undefined when anything did
 * not check out.
 */
async function fastPass(file: string, opts: VerifyOptions, anchor: AnchorReader | null): Promise<Done | undefined> {
  const conn = readOnlyConnection(file);
  let head: unknown;
  let keys: Keys;
  try {
    conn.exec('BEGIN');
    head = conn.prepare<[], unknown>(HEAD_SQL).pluck().get();
    keys = keysOf(conn, opts);
    conn.exec('COMMIT');
  } finally {
    conn.close();
  }
  if (!Number.isSafeInteger(head)) return undefined;
  const n = head as number;
  // The anchor must be exactly the lines of entries 1..m, for some m <= n.
  const anchored = anchor === null ? 0 : anchoredCount(anchor.size);
  if ((anchor === null && n > 0) || anchored === undefined || anchored > n) return undefined;
  const setup: RangeSetup = {
    file,
    keys: [...keys.ring],
    legacy: {
      key: keys.legacy.hashKey === null ? undefined : keys.ring.get(keys.legacy.hashKey),
      missing: keys.legacy.hasher === null ? (keys.legacy.hashKey ?? '') : null,
    },
  };
  // A few ranges per helper, taken in turn, so that a helper slowed by other work does not hold up the rest.
  const ranges = Math.max(1, Math.min(RANGES_PER_HELPER * availableParallelism(), Math.ceil(n / RANGE_MIN_ROWS)));
  const helpers = Math.min(availableParallelism(), ranges);
  const jobs: RangeJob[] = [];
  for (let r = 0; r < ranges && n > 0; r++) {
    const from = Math.floor((n * r) / ranges);
    const to = Math.floor((n * (r + 1)) / ranges);
    const lines = Math.max(0, Math.min(to, anchored) - from);
    jobs.push({ from, to, anchorPath: opts.anchorPath, anchorAt: anchorBytes(from), anchored: lines });
  }
  // Left undefined when an earlier "no" made the rest pointless.
  const answers: (RangeAnswer | undefined)[] = jobs.map(() => undefined);
  let taken = 0;
  const helper = async (): Promise<void> => {
    for (let i = taken++; i < jobs.length; i = taken++) {
      const a = (answers[i] = await checkRange(setup, jobs[i]!));
      if (!a.ok) taken = jobs.length;
    }
  };
  await Promise.all(Array.from({ length: helpers }, helper));
  let last = GENESIS_HASH;
  const changes: KeyChange[] = [];
  const missing: [number, number, string][] = [];
  for (const a of answers) {
    if (!a?.ok || a.firstPrev !== last) return undefined;
    last = a.lastHash;
    changes.push(...a.changes);
    for (const [id, seq] of a.missing) missing.push([seq, 1, id]);
  }
  let seg = keys.legacy;
  for (const c of changes) {
    if (c.id === seg.id) continue;
    if (c.id !== null && c.seq !== 1) {
      const rekey = c.entry === null ? undefined : parseRekey(c.entry);
      const from = seg.hashKey;
      const oldKey = from === null ? undefined : keys.ring.get(from);
      if (!rekey || rekey.from !== from) return undefined;
      const proven =
        oldKey !== undefined ? rekey.proof === rekeyProof(oldKey, c.prev, c.id) : from !== null || rekey.proof === null;
      if (!proven) return undefined;
      if (oldKey === undefined && from !== null) missing.push([c.seq, 0, from]);
    } else if (c.id === null) {
      return undefined;
    }
    seg = { id: c.id, hashKey: c.id, hasher: null };
  }
  // In the order the one-thread pass meets them: by seq, an old key before the row's own.
  missing.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return intactOrUnverifiable(keys, n, new Set(missing.map((m) => m[2])));
}

/** Bytes of the anchor lines of entries 1..m: `<seq> <64 hex>\n` each. */
function anchorBytes(m: number): number {
  let bytes = 0;
  for (let d = 1, lo = 1; lo <= m; d++, lo *= 10) bytes += (Math.min(m, lo * 10 - 1) - lo + 1) * (d + 2 + HASH_LEN);
  return bytes;
}

/** The m whose anchor lines take exactly `size` bytes; undefined when there is none. */
function anchoredCount(size: number): number | undefined {
  let at = 0;
  for (let d = 1, lo = 1; d <= 15; d++, lo *= 10) {
    const line = d + 2 + HASH_LEN;
    const band = (lo * 10 - lo) * line;
    if (size - at <= band) return (size - at) % line === 0 ? lo - 1 + (size - at) / line : undefined;
    at += band;
  }
  return undefined;
}

/** The streaming pass, a chunk per step (the caller decides whether to yield in between). */
function* scan(ctx: Ctx, anchor: AnchorReader | null): Generator<void, Stop | Done> {
  const chunk = ctx.db.prepare<[number], ChunkRow>(isPostgres(ctx.db) ? CHUNK_SQL_PG : CHUNK_SQL).raw();
  const s = new ChainScan(ctx.keys, anchor);
  for (;;) {
    const [bytes, metaText] = chunk.get(s.lastSeq)!;
    if (metaText === null) return s.end();
    const stop = s.chunk(bytes ?? Buffer.alloc(0), JSON.parse(`[${metaText}]`) as number[]);
    if (stop) return stop;
    yield;
  }
}

const KEY_PREFIX_BYTES = Buffer.from(KEY_PREFIX, 'latin1');
const KEY_END = KEY_PREFIX.length + KEY_ID_LEN;

/**
 * Checks the chain and the anchor over the rows in seq order, fed one chunk at a time, and
 * which key each row is under: rows carry their key id; it may change only at a valid rekey
 * entry, and a keyed run never ends in unkeyed rows. Rows under a key not given are not hashed.
 */
class ChainScan {
  private state: AnchorState | typeof NONE;
  // The hash the next row must link to: 64 bytes at lastAt in lastView; between chunks, a copy.
  private readonly last = Buffer.alloc(HASH_LEN, GENESIS_HASH, 'latin1');
  private readonly lastCopy = viewOf(this.last);
  private lastView = this.lastCopy;
  private lastAt = 0;
  private expected = 1;
  private seg: Segment;
  /** The current segment's key id as bytes, when its rows carry one. */
  private segIdBytes: Buffer | null = null;
  private readonly missing = new Set<string>();

  constructor(
    private readonly keys: Keys,
    private readonly anchor: AnchorReader | null,
  ) {
    this.state = anchor ? anchor.next() : NONE;
    this.seg = keys.legacy;
  }

  /** The last seq checked; the next chunk starts after it. */
  get lastSeq(): number {
    return this.expected - 1;
  }

  /** The next chunk as CHUNK_SQL reads it, with its "seq,len" pairs; a Stop where it breaks. */
  chunk(b: Buffer, meta: readonly number[]): Stop | undefined {
    const anchor = this.anchor;
    const view = viewOf(b);
    let p = 0;
    for (let i = 0; i < meta.length; i += 2) {
      const seq = meta[i]!;
      const len = meta[i + 1]!;
      const hashAt = p + HASH_LEN + len;
      if (seq !== this.expected || len < 0 || hashAt + HASH_LEN > b.length) return this.rowStop(this.expected);
      if (!same64(view, p, this.lastView, this.lastAt)) return this.rowStop(seq);
      const at = p + HASH_LEN;
      const keyed =
        len > KEY_END && KEY_PREFIX_BYTES.compare(b, at, at + KEY_PREFIX.length) === 0 && b[at + KEY_END] === 0x22;
      const sameKey = keyed
        ? this.segIdBytes !== null && this.segIdBytes.compare(b, at + KEY_PREFIX.length, at + KEY_END) === 0
        : this.segIdBytes === null;
      if (!sameKey) {
        const stop = this.switchKey(b, at, len, keyed, p, hashAt);
        if (stop) return stop;
      }
      const hasher = this.seg.hasher;
      if (hasher === null) {
        this.missing.add(this.seg.hashKey ?? '');
      } else {
        const digest = hasher(new Uint8Array(b.buffer, b.byteOffset + p, HASH_LEN + len));
        if (b.toString('latin1', hashAt, hashAt + HASH_LEN) !== digest) return this.rowStop(seq);
      }
      if (this.state === LINE) {
        if (anchor!.seq !== seq) {
          return { reason: anchor!.seq > seq ? 'anchor_gap' : 'anchor_goes_back', seq, entries: seq - 1 };
        }
        if (!same64(anchor!.view, anchor!.hashAt, view, hashAt)) {
          return {
            reason: 'anchor_mismatch',
            seq,
            entries: seq - 1,
            anchored: anchor!.hashText(),
            hasher: this.seg.hasher,
            keyed: this.seg.hashKey !== null,
          };
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

  /**
   * A row whose key id differs from its segment's: the first row of a log keyed from its start,
   * a valid rekey entry (which starts a segment), or a break. A row its segment's key hashes
   * correctly is left to the hash check and the classifier, which name the break precisely.
   */
  private switchKey(b: Buffer, at: number, len: number, keyed: boolean, p: number, hashAt: number): Stop | undefined {
    const seq = this.expected;
    const entries = seq - 1;
    const id = keyed ? b.toString('latin1', at + KEY_PREFIX.length, at + KEY_END) : null;
    if (id !== null && seq === 1) return void this.enter(id);
    const rekey = id === null ? undefined : parseRekey(b.toString('utf8', at, at + len));
    if (rekey && id !== null) {
      const from = this.seg.hashKey;
      if (rekey.from !== from) {
        return {
          reason: 'key',
          seq,
          entries,
          kind: 'rekey',
          why: `the rekey entry says the log was under key ${rekey.from ?? 'none'}, but it was under ${from ?? 'none'}`,
        };
      }
      const oldKey = from === null ? undefined : this.keys.ring.get(from);
      const prev = b.toString('latin1', p, p + HASH_LEN);
      if (
        oldKey !== undefined
          ? rekey.proof !== rekeyProof(oldKey, prev, id)
          : from !== null
            ? false
            : rekey.proof !== null
      ) {
        return { reason: 'key', seq, entries, kind: 'rekey', why: 'the rekey entry is not proven with the old key' };
      }
      if (oldKey === undefined && from !== null) this.missing.add(from);
      this.enter(id);
      return undefined;
    }
    const hasher = this.seg.hasher;
    const own =
      hasher !== null &&
      b.toString('latin1', hashAt, hashAt + HASH_LEN) ===
        hasher(new Uint8Array(b.buffer, b.byteOffset + p, HASH_LEN + len));
    if (hasher !== null && !own) return this.rowStop(seq);
    if (id === null) {
      return {
        reason: 'key',
        seq,
        entries,
        kind: 'unkeyed',
        why: `the entries before were keyed (key id ${this.seg.id}), this one is not`,
      };
    }
    return {
      reason: 'key',
      seq,
      entries,
      kind: 'rekey',
      why: `the key changes from ${this.seg.hashKey ?? 'none'} to ${id} without a rekey entry`,
    };
  }

  private enter(id: string): void {
    const key = this.keys.ring.get(id);
    this.seg = { id, hashKey: id, hasher: key === undefined ? null : chainHasher(key) };
    this.segIdBytes = Buffer.from(id, 'latin1');
  }

  /** After the last row. */
  end(): Stop | Done {
    const { anchor, expected } = this;
    const entries = expected - 1;
    if (anchor === null && entries > 0) return { reason: 'anchor_file_missing', seq: 1, entries };
    if (this.state === LINE) {
      return { reason: anchor!.seq >= expected ? 'anchor_ahead' : 'anchor_goes_back', seq: expected, entries };
    }
    if (this.state === CORRUPT) return { reason: 'anchor_corrupt', seq: expected, entries };
    return intactOrUnverifiable(this.keys, entries, this.missing);
  }

  private rowStop(seq: number): Stop {
    const anchor = this.anchor;
    return {
      reason: 'row',
      seq,
      entries: this.expected - 1,
      anchored: this.state === LINE && anchor!.seq === seq ? anchor!.hashText() : undefined,
      hasher: this.seg.hasher,
      keyed: this.seg.hashKey !== null,
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
    case 'key':
      return fail(c, stop.kind, stop.why);
  }
  const { hasher, keyed } = stop;
  const lookup = ctx.db
    .prepare<[number], [number, unknown, unknown, unknown, Buffer | null]>(
      `SELECT seq, entry, prev_hash, hash, ${bytesOf(ctx.db, 'prev_hash || entry')} FROM audit WHERE seq = ?`,
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
  if (hasher !== null && hasher(r.input) !== r.hash) {
    if (next?.prev === prevHash) return fail(c, 'inserted', `entry ${c + 1} still links to ${entryName(c - 1)}`);
    // Without the key, a forger writes plain SHA-256 (or HMAC under another key, which
    // the anchor exposes); a run of such rows linked together is a replaced chain.
    if (keyed && (next === undefined || next.prev === r.hash)) {
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
  const authentic =
    (keyed && hasher !== null) || (next !== undefined && (lines.get(c + 1) ?? []).includes(next.hash as string));
  if (authentic) {
    return fail(c, 'anchor_corrupt', 'the anchor line for this entry disagrees with an intact chain');
  }
  return fail(c, 'replaced', 'the chain from here on is not the one the anchor recorded');
}

/** A chain whose links, hashes and anchor hold, but for the rows under the keys `missing`. */
function intactOrUnverifiable(keys: Keys, entries: number, missing: ReadonlySet<string>): Done {
  if (missing.size === 0) return { ok: true, entries, headSeq: entries };
  const ids = [...missing];
  const message =
    keys.current === null
      ? `keyed log: cannot check without AUDIT_HMAC_KEY (key id ${ids.join(', ')}); links and anchor hold ` +
        `for ${counted(entries, 'entry', 'entries')}`
      : `keyed log: cannot check the entries under key id ${ids.join(', ')} without that key ` +
        `(AUDIT_HMAC_KEY_PREVIOUS); links and anchor hold for ${counted(entries, 'entry', 'entries')}`;
  return { ok: false, unverifiable: true, entries, headSeq: entries, missingKeyIds: ids, message };
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

/** The anchor file exists but cannot be read: nothing can be said of the log until it can. */
export class AnchorReadError extends Error {
  override readonly name = 'AnchorReadError';
  constructor(path: string, cause: unknown) {
    // One line whatever the path: the system's message repeats it as given.
    super(`cannot read the audit anchor ${JSON.stringify(path)}: ${oneLine((cause as Error).message)}`, { cause });
  }
}

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
      throw new AnchorReadError(path, err);
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
