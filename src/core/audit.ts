import { createHmac, hash as digestOnce } from 'node:crypto';
import { closeSync, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { DirError, makeDirs } from './dirs.js';
import { dirname } from 'node:path';
import { z } from 'zod';
import { isPostgres, type Db } from './sqlite.js';
import { ActionError } from './action.js';

/*
 * The tamper-evident audit log (DESIGN.md §2). Each row holds the canonical JSON of one entry
 * and `hash = H(prev_hash ‖ entry)`: SHA-256, or HMAC-SHA-256 when a key is configured, in hex;
 * the first entry's prev_hash is 64 zeros. The entry JSON includes its own `seq`, so a row
 * carries its position: renumbering rows cannot be hidden, and the verifier can tell a
 * deletion (a row whose written seq is larger than its place) from a rewritten link.
 * After each commit, `<seq> <hash>` is appended to the anchor file outside the database, so
 * cutting the table's tail or swapping in a freshly computed chain is detected too.
 *
 * Keys. An entry written under a key starts with its key id, `{"_key":"<16 hex>",…` (the key
 * sorts first), so the chain itself says whether it is keyed and by which key, and a verifier
 * without the key can say so instead of "intact". The key changes only through a rekey entry
 * (action audit.rekey): written under the new key, naming the old and new key ids, with a proof
 * made with the old key, so nobody without the old key can start a segment under a key of
 * their own, and a keyed log never turns unkeyed. Entries of a log that was never keyed (or
 * written before key ids existed) carry no `_key`; such a "legacy" part can only come first.
 */

export const AUDIT_OUTCOMES = [
  'requested',
  'ok',
  'failed',
  'denied',
  'forbidden',
  'invalid',
  'rate_limited',
  'unauthorized',
  'approval_requested',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'started',
  'timeout',
  'info',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntryInput {
  /** Who asked, e.g. "tg:123" or "console:alice". */
  operator: string;
  chat: number | null;
  origin: string;
  action: string;
  target: string;
  /** Already redacted by the caller. */
  params: unknown;
  outcome: AuditOutcome;
  detail?: string;
}

export interface AuditEntry extends AuditEntryInput {
  seq: number;
  /** ISO 8601. */
  ts: string;
}

export interface AuditLogOptions {
  /** HMAC key; when empty or absent the chain uses plain SHA-256. */
  readonly hmacKey?: string;
  /** Keys the log may have been keyed with before: the proof of a rotation needs the old one. */
  readonly previousKeys?: readonly string[];
  readonly anchorPath: string;
  readonly clock?: () => Date;
  /**
   * Why the state cannot be written (it started full or read-only): no anchor is opened and
   * every append throws this, until `reopen()`.
   */
  readonly unwritable?: string;
  /**
   * Other processes append to the same chain (replicas on one PostgreSQL): this anchor also
   * takes, in order, the lines of their entries, read from the table under the writers' lock.
   */
  readonly shared?: boolean;
}

/** prev_hash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hex digest of `prev_hash ‖ entry` (strings are hashed as UTF-8). */
export type ChainHasher = (data: string | NodeJS.ArrayBufferView) => string;

export function chainHasher(hmacKey?: string): ChainHasher {
  if (!hmacKey) return (data) => digestOnce('sha256', data, 'hex');
  return (data) => createHmac('sha256', hmacKey).update(data).digest('hex');
}

export const REKEY_ACTION = 'audit.rekey';
/** How a keyed entry's canonical JSON starts; the key id and a closing quote follow. */
export const KEY_PREFIX = '{"_key":"';
export const KEY_ID_LEN = 16;

/** Names a key without revealing it: the first 16 hex digits of an HMAC of a fixed label. */
export function keyIdOf(key: string): string {
  return createHmac('sha256', key).update('teleops audit key id').digest('hex').slice(0, KEY_ID_LEN);
}

/** The key id a stored entry was written under, or null for an unkeyed (legacy) entry. */
export function entryKeyId(json: string): string | null {
  if (!json.startsWith(KEY_PREFIX) || json[KEY_PREFIX.length + KEY_ID_LEN] !== '"') return null;
  return json.slice(KEY_PREFIX.length, KEY_PREFIX.length + KEY_ID_LEN);
}

/** A rotation's proof that the old key's holder made it, bound to the place in the chain. */
export function rekeyProof(oldKey: string, prevHash: string, toKeyId: string): string {
  return createHmac('sha256', oldKey).update(`teleops audit rekey ${prevHash} ${toKeyId}`).digest('hex');
}

export const rekeyParams = z.object({
  from: z.string().length(KEY_ID_LEN).nullable(),
  to: z.string().length(KEY_ID_LEN),
  proof: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});

/** Keys by id: the current key and previous ones. */
export function keyRing(keys: readonly (string | undefined)[]): Map<string, string> {
  return new Map(keys.filter((k): k is string => Boolean(k)).map((k) => [keyIdOf(k), k]));
}

/** The log cannot be written with the configured keys without breaking it; says what to set. */
export class AuditKeyError extends Error {
  override readonly name = 'AuditKeyError';
}

/** One anchor line: `<seq> <hash>`; seq without leading zeros, at most 15 digits. */
const ANCHOR_LINE = /^([1-9][0-9]{0,14}) ([0-9a-f]{64})$/;
const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * JSON with object keys sorted (by UTF-16 code unit) and no whitespace; otherwise the same
 * data model as JSON.stringify (toJSON honoured, undefined/functions dropped from objects and
 * null in arrays, non-finite numbers null), except that a bigint becomes its decimal string.
 */
export function canonicalJson(v: unknown): string {
  return encode(v, new Set()) ?? 'null';
}

function encode(v: unknown, seen: Set<object>): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(v.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (v === null) return 'null';
  const o = v as { toJSON?: unknown };
  if (typeof o.toJSON === 'function') return encode((o.toJSON as () => unknown)(), seen);
  if (o instanceof String || o instanceof Number || o instanceof Boolean) return encode(o.valueOf(), seen);
  if (seen.has(o)) throw new TypeError('canonicalJson: circular structure');
  seen.add(o);
  try {
    if (Array.isArray(o)) return `[${o.map((x: unknown) => encode(x, seen) ?? 'null').join(',')}]`;
    const parts: string[] = [];
    for (const k of Object.keys(o).sort()) {
      const s = encode((o as Record<string, unknown>)[k], seen);
      if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    seen.delete(o);
  }
}

/**
 * canonicalJson of an entry (under `keyId` when not null), written field by field in the
 * sorted order of its keys: the same text, at half the cost of sorting them on every append.
 */
export function entryJson(keyId: string | null, e: AuditEntry): string {
  const str = JSON.stringify;
  const seen = new Set<object>();
  let out = keyId === null ? '{' : `{"_key":${str(keyId)},`;
  out += `"action":${str(e.action)},"chat":${encode(e.chat, seen) ?? 'null'}`;
  if (e.detail !== undefined) out += `,"detail":${str(e.detail)}`;
  out += `,"operator":${str(e.operator)},"origin":${str(e.origin)},"outcome":${str(e.outcome)}`;
  const params = encode(e.params, seen);
  if (params !== undefined) out += `,"params":${params}`;
  return `${out},"seq":${encode(e.seq, seen)},"target":${str(e.target)},"ts":${str(e.ts)}}`;
}

const storedEntry = z.object({
  seq: z.number().int(),
  ts: z.string(),
  operator: z.string(),
  chat: z.number().nullable(),
  origin: z.string(),
  action: z.string(),
  target: z.string(),
  params: z.unknown(),
  outcome: z.enum(AUDIT_OUTCOMES),
  detail: z.string().optional(),
});

interface HeadRow {
  seq: number;
  hash: string;
}

export class AuditLog {
  private readonly hasher: ChainHasher;
  private readonly clock: () => Date;
  /** The database fsyncs every commit, so the anchor does too. */
  private durable = false;
  private fd: number | null;
  /** Where a group's anchor lines are kept while it commits (keepLines); opened at the first group. */
  private kept: number | null = null;
  private readonly selectHead;
  private readonly insertRow;
  private readonly selectRecent;
  private readonly countRows;
  private readonly commit;
  private readonly selectSince;
  /** The last entry this anchor has a line for (shared logs: entries of others come in between). */
  private anchored = 0;
  /** The id of the key entries are written under; null: unkeyed (a log that never had a key). */
  private keyId: string | null;
  private readonly listeners: ((entry: AuditEntry) => void)[] = [];
  private unwritable: string | undefined;

  constructor(
    private readonly db: Db,
    private readonly opts: AuditLogOptions,
  ) {
    this.hasher = chainHasher(opts.hmacKey);
    this.keyId = opts.hmacKey ? keyIdOf(opts.hmacKey) : null;
    this.clock = opts.clock ?? (() => new Date());
    this.selectHead = db.prepare<[], HeadRow>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    this.insertRow = db.prepare<[number, string, string, string]>(
      'INSERT INTO audit (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)',
    );
    this.selectRecent = db.prepare<[number], { seq: number; entry: unknown }>(
      'SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT ?',
    );
    this.countRows = db.prepare<[], number>('SELECT count(*) FROM audit').pluck();
    // PostgreSQL keeps each hash in a table of its own too (store/postgres-schema.ts).
    const anchorRow = isPostgres(db) ? db.prepare('INSERT INTO audit_anchor (seq, hash) VALUES (?, ?)') : undefined;
    this.selectSince = db.prepare<[number, number], HeadRow>(
      'SELECT seq, hash FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq',
    );
    this.commit = db.transaction((entries: AuditEntry[], rekey?: (prev: string) => unknown): HeadRow[] => {
      const head = this.selectHead.get();
      // Under the writers' lock, so no entry can come between these and the new ones.
      const lines =
        opts.shared && head && head.seq > this.anchored ? this.selectSince.all(this.anchored, head.seq) : [];
      let seq = head?.seq ?? 0;
      let prev = head?.hash ?? GENESIS_HASH;
      for (const entry of entries) {
        entry.seq = ++seq;
        if (rekey) entry.params = rekey(prev);
        const json = entryJson(this.keyId, entry);
        const hash = this.hasher(prev + json);
        this.insertRow.run(seq, json, prev, hash);
        anchorRow?.run(seq, hash);
        lines.push({ seq, hash });
        prev = hash;
      }
      if (entries.length > 1 && !opts.shared) this.keepLines(lines);
      return lines;
    });
    this.fd = null;
    this.unwritable = opts.unwritable;
    // Even unwritable, a key that does not fit the log stops start-up now.
    if (this.unwritable === undefined) this.reopen();
    else this.keyChange();
  }

  /**
   * Opens the anchor and brings it and the key up to date: at start, or once the state can be
   * written again after a start on a state that could not be (appends then work again).
   */
  reopen(): void {
    if (this.fd !== null) return;
    this.durable = (this.db.pragma('synchronous', { simple: true }) as number) >= 2;
    makeDirs(dirname(this.opts.anchorPath));
    try {
      this.fd = openSync(this.opts.anchorPath, 'a+', 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new DirError(`cannot open the audit anchor ${this.opts.anchorPath} (${code ?? (e as Error).message})`, {
        cause: e,
      });
    }
    this.unwritable = undefined;
    this.catchUpAnchor();
    this.adoptKey();
  }

  /** Called after each entry is committed and anchored (witnesses watch the head this way). */
  onAppend(listener: (entry: AuditEntry) => void): void {
    this.listeners.push(listener);
  }

  /** The id of the key new entries are written under; null when the log is unkeyed. */
  get currentKeyId(): string | null {
    return this.keyId;
  }

  /**
   * Writes one entry (one immediate transaction), then its anchor line. Not inside a caller's
   * transaction: a rollback would leave the anchor ahead of the table, which reads as tampering.
   */
  append(input: AuditEntryInput): AuditEntry {
    return this.write([input])[0]!;
  }

  /**
   * Writes entries that one call has at once, in their order, as one group: one immediate
   * transaction (all of them or none), then their anchor lines in one write, before it returns,
   * as `append` does for one. Cheaper per entry than appending them one by one.
   */
  appendAll(inputs: readonly AuditEntryInput[]): AuditEntry[] {
    return this.write(inputs);
  }

  private write(inputs: readonly AuditEntryInput[], rekey?: (prev: string) => unknown): AuditEntry[] {
    const fd = this.fd;
    if (fd === null) throw new Error(this.unwritable ?? 'the audit log is closed');
    if (this.db.inTransaction) throw new Error('AuditLog.append must not run inside a transaction');
    if (inputs.length === 0) return [];
    const ts = this.clock().toISOString();
    const entries = inputs.map((input) => entryOf(input, ts));
    const lines = this.commit.immediate(entries, rekey);
    try {
      this.anchor(fd, lines);
    } catch (err) {
      const why = (err as Error).message;
      throw new Error(
        entries.length === 1
          ? `audit entry ${entries[0]!.seq} was written but its anchor line was not: ${why}`
          : `audit entries ${seqRange(entries)} were written but their anchor lines were not: ${why}`,
      );
    }
    for (const entry of entries) for (const l of this.listeners) l(entry);
    return entries;
  }

  /** Newest first; n is clamped to 1..100. */
  recent(n: number): AuditEntry[] {
    const limit = Number.isNaN(n) ? 1 : Math.min(100, Math.max(1, Math.floor(n)));
    return this.selectRecent.all(limit).map((r) => readEntry(r.seq, r.entry));
  }

  head(): { seq: number; hash: string } | null {
    const h = this.selectHead.get();
    return h ? { seq: h.seq, hash: h.hash } : null;
  }

  count(): number {
    return this.countRows.get() ?? 0;
  }

  /** Closes the anchor file; the database stays open (it is not ours). */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    if (this.kept !== null) closeSync(this.kept);
    this.fd = this.kept = null;
  }

  /**
   * Brings the chain under the configured key: nothing when it already is (or stays unkeyed);
   * otherwise a rekey entry, linked like any other, from the head's key (none for a log that
   * never had one) to the configured key, proven with the old key.
   */
  private adoptKey(): void {
    const change = this.keyChange();
    if (!change) return;
    const { from, oldKey } = change;
    const to = this.keyId!;
    this.write(
      [
        {
          operator: 'teleops',
          chat: null,
          origin: 'system',
          action: REKEY_ACTION,
          target: '',
          params: {},
          outcome: 'info',
          detail: `audit key ${from ?? 'none'} → ${to}`,
        },
      ],
      (prev) => ({ from, to, proof: oldKey === undefined ? null : rekeyProof(oldKey, prev, to) }),
    );
  }

  /**
   * The key change the configured key needs (undefined: none). Refuses what would break the
   * log: dropping the key of a keyed log, or rotating without the old key.
   */
  private keyChange(): { from: string | null; oldKey: string | undefined } | undefined {
    const key = this.opts.hmacKey;
    const previous = keyRing(this.opts.previousKeys ?? []);
    const head = this.db
      .prepare<[], { seq: number; entry: string; prev_hash: string; hash: string }>(
        'SELECT seq, entry, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1',
      )
      .get();
    if (!head) return undefined;
    const headKey = entryKeyId(head.entry);
    const to = this.keyId;
    if (to === null) {
      if (headKey !== null) {
        throw new AuditKeyError(
          `the audit log is keyed (key id ${headKey}) but AUDIT_HMAC_KEY is not set: set it again; a keyed log ` +
            `cannot go back to unkeyed`,
        );
      }
      return undefined;
    }
    if (headKey === to) return undefined;
    let from: string | null;
    let oldKey: string | undefined;
    if (headKey !== null) {
      from = headKey;
      oldKey = previous.get(headKey);
      if (oldKey === undefined) {
        throw new AuditKeyError(
          `the audit log is keyed with key id ${headKey}, AUDIT_HMAC_KEY has key id ${to}: to rotate, put the old ` +
            `key in AUDIT_HMAC_KEY_PREVIOUS`,
        );
      }
    } else {
      // An entry from before key ids: which key (if any) wrote it shows in its hash.
      const input = head.prev_hash + head.entry;
      const candidates: [string | null, string | undefined][] = [
        [null, undefined],
        [to, key],
        ...[...previous].map(([id, k]): [string, string] => [id, k]),
      ];
      const match = candidates.find(([, k]) => chainHasher(k)(input) === head.hash);
      if (!match) {
        throw new AuditKeyError(
          `audit entry ${head.seq} matches neither AUDIT_HMAC_KEY, AUDIT_HMAC_KEY_PREVIOUS nor plain SHA-256: run ` +
            `teleops audit verify`,
        );
      }
      [from, oldKey] = match;
    }
    return { from, oldKey };
  }

  /** Appends the lines of `rows` to the anchor, in one write. */
  private anchor(fd: number, rows: readonly HeadRow[]): void {
    if (rows.length === 0) return;
    writeSync(fd, anchorLines(rows));
    if (this.durable) fdatasyncSync(fd);
    this.anchored = rows[rows.length - 1]!.seq;
  }

  private get keptPath(): string {
    return `${this.opts.anchorPath}.group`;
  }

  /**
   * A group's anchor lines, ended by an empty line, written over the last group's before it
   * commits: a crash between its commit and its anchor write leaves the anchor several lines
   * behind, which from the table alone could as well be rows someone added; these say they are
   * the group's (catchUpAnchor). The file is the anchor's kin: whoever can write it can write that.
   */
  private keepLines(rows: readonly HeadRow[]): void {
    // Opened (emptied) once catchUpAnchor has read what the last run kept.
    this.kept ??= openSync(this.keptPath, 'w', 0o600);
    writeSync(this.kept, `${anchorLines(rows)}\n`, 0);
    if (this.durable) fdatasyncSync(this.kept);
  }

  /** The rows after `lastSeq` up to `headSeq`, when they are the group whose lines were kept last. */
  private keptGroup(lastSeq: number, headSeq: number): HeadRow[] | undefined {
    let kept: string;
    try {
      kept = readFileSync(this.keptPath, 'latin1');
    } catch {
      return undefined;
    }
    const end = kept.indexOf('\n\n');
    if (end === -1 || kept.slice(0, end + 1).split('\n').length - 1 !== headSeq - lastSeq) return undefined;
    const rows = this.selectSince.all(lastSeq, headSeq);
    return anchorLines(rows) === kept.slice(0, end + 1) ? rows : undefined;
  }

  /**
   * After a crash between a commit and its anchor line the anchor is one line behind: write the
   * head's line; a group's lines, when they are the rows missing (keepLines). When it is
   * further behind otherwise (or was deleted and is being created afresh), the head's line
   * still goes in, leaving a gap that verification reports instead of hiding it.
   * A torn last line is terminated so that it stays one corrupt line, not two.
   */
  private catchUpAnchor(): void {
    const fd = this.fd!;
    const head = this.selectHead.get();
    const tail = readTail(fd);
    if (tail.length > 0 && !tail.endsWith('\n')) {
      writeSync(fd, '\n');
      return;
    }
    if (!head || !HEX_HASH.test(head.hash)) return;
    let lastSeq = 0;
    if (tail.length > 0) {
      const last = ANCHOR_LINE.exec(tail.slice(tail.lastIndexOf('\n', tail.length - 2) + 1, -1));
      if (!last) return;
      lastSeq = Number(last[1]);
    }
    this.anchored = lastSeq;
    if (lastSeq >= head.seq) return;
    // A replica's anchor is its own file beside a chain others write too: it takes their lines.
    if (this.opts.shared) this.anchor(fd, this.selectSince.all(lastSeq, head.seq));
    else if (head.seq - lastSeq === 1) this.anchor(fd, [head]);
    else this.anchor(fd, this.keptGroup(lastSeq, head.seq) ?? [head]);
  }

  /** Entries from rows (seq, entry) a query elsewhere selected (audit-query.ts); unreadable ones throw. */
  decode(rows: readonly { seq: number; entry: unknown }[]): AuditEntry[] {
    return rows.map((r) => readEntry(r.seq, r.entry));
  }
}

/** The entry to write for `input` at `ts`; its seq comes once the head is known. */
function entryOf(input: AuditEntryInput, ts: string): AuditEntry {
  const entry: AuditEntry = {
    seq: 0,
    ts,
    operator: input.operator,
    chat: input.chat,
    origin: input.origin,
    action: input.action,
    target: input.target,
    params: input.params,
    outcome: input.outcome,
    ...(input.detail === undefined ? {} : { detail: input.detail }),
  };
  // What goes in must read back: a caller's bad outcome or chat would otherwise break /audit.
  const bad = storedEntry.safeParse(entry).error?.issues[0];
  if (bad) throw new TypeError(`audit entry field ${bad.path.join('.')}: ${bad.message}`);
  return entry;
}

const anchorLines = (rows: readonly HeadRow[]): string => {
  let text = '';
  for (const r of rows) text += `${r.seq} ${r.hash}\n`;
  return text;
};

const seqRange = (entries: readonly AuditEntry[]): string => `${entries[0]!.seq}–${entries[entries.length - 1]!.seq}`;

/** The last bytes of the anchor: enough for its last line. */
function readTail(fd: number): string {
  const size = fstatSync(fd).size;
  const len = Math.min(size, 256);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  return buf.toString('latin1');
}

function readEntry(seq: number, raw: unknown): AuditEntry {
  let parsed: z.infer<typeof storedEntry> | undefined;
  try {
    if (typeof raw === 'string') parsed = storedEntry.parse(JSON.parse(raw));
  } catch {
    // Unreadable: refused just below, as a row of another seq is.
  }
  if (parsed?.seq !== seq) throw new ActionError(`audit entry ${seq} is unreadable; run /audit verify`);
  const { detail, ...rest } = parsed;
  return { ...rest, params: rest.params, ...(detail === undefined ? {} : { detail }) };
}
