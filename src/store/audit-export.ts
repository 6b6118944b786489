import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { chainHasher, entryKeyId, keyIdOf, keyRing, rekeyProof, type ChainHasher } from '../core/audit.js';
import { AnchorReadError, parseRekey, verifyAudit, type Break, type VerifyReport } from '../core/audit-verify.js';
import type { Db } from '../core/sqlite.js';
import { oneLine } from '../core/text.js';
import { openMemoryDb } from './db.js';

/*
 * `teleops audit export`: the audit table as JSON lines, each row as stored — the canonical
 * entry text the hash covers, unchanged, with its prev_hash and hash — so that a copy can be
 * checked offline against the anchor file. A whole export (from entry 1) is loaded into an
 * in-memory database and checked by the one verifier; a partial one (--since) by the same
 * rules as far as its rows reach, tied to the entries before it by the anchor alone.
 */

const HASH = z.string().regex(/^[0-9a-f]{64}$/);
const exportLine = z.strictObject({ seq: z.number().int().positive(), prev_hash: HASH, hash: HASH, entry: z.string() });
export type ExportLine = z.infer<typeof exportLine>;

/** The rows from `since` on, one JSON line each, read in one snapshot. */
export function* exportAudit(db: Db, since = 1): Generator<string> {
  const rows = db
    .prepare<[number], ExportLine>('SELECT seq, prev_hash, hash, entry FROM audit WHERE seq >= ? ORDER BY seq')
    .iterate(since);
  for (const r of rows) {
    yield `${JSON.stringify({ seq: r.seq, prev_hash: r.prev_hash, hash: r.hash, entry: r.entry })}\n`;
  }
}

/** An export file that cannot be read as one; the message is one line, whatever the file's name. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(message: string) {
    super(oneLine(message));
  }
}

export function readExport(file: string): ExportLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ExportError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = text.split('\n').filter((l) => l !== '');
  if (lines.length === 0) throw new ExportError(`${file} holds no entries`);
  return lines.map((l, i) => {
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      v = undefined;
    }
    const p = exportLine.safeParse(v);
    if (!p.success) throw new ExportError(`${file} line ${i + 1} is not an audit export line`);
    return p.data;
  });
}

export interface ExportVerifyOptions {
  readonly anchorPath: string;
  readonly hmacKey?: string;
  readonly previousKeys?: readonly string[];
}

export type ExportReport = VerifyReport & { readonly from: number; readonly to: number };

/** Checks an export against the anchor; see the module comment for what a partial one proves. */
export function verifyExport(rows: readonly ExportLine[], opts: ExportVerifyOptions): ExportReport {
  const from = rows[0]!.seq;
  const to = rows.at(-1)!.seq;
  const anchor = readAnchor(opts.anchorPath);
  const report =
    from === 1 ? verifyWhole(rows, anchor && linesUpTo(anchor, to), opts) : verifySlice(rows, anchor, opts);
  return { ...report, from, to };
}

/** The anchor's lines; undefined when there is no anchor file; one that cannot be read says nothing either way. */
function readAnchor(path: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AnchorReadError(path, e);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** One anchor line: `<seq> <hash>`, as audit.ts writes it. */
const ANCHOR_LINE = /^([1-9][0-9]{0,14}) ([0-9a-f]{64})$/;

/** The seq a line starts with, however the rest of it looks; 0 when none. */
const anchoredSeq = (line: string): number => Number(/^([1-9][0-9]*) /.exec(line)?.[1] ?? 0);

/**
 * The lines up to the export's last entry (the log may have grown since the export), and any
 * further on that go back to its entries: the anchor is only appended to, so those are rewrites.
 */
function linesUpTo(lines: string[], to: number): string[] {
  const past = lines.findIndex((l) => anchoredSeq(l) > to);
  if (past < 0) return lines;
  const back = lines.slice(past).filter((l) => anchoredSeq(l) > 0 && anchoredSeq(l) <= to);
  return [...lines.slice(0, past), ...back];
}

function verifyWhole(rows: readonly ExportLine[], anchor: string[] | undefined, opts: ExportVerifyOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-export-'));
  const db = openMemoryDb();
  try {
    const insert = db.prepare('INSERT INTO audit (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)');
    db.transaction(() => {
      for (const r of rows) insert.run(r.seq, r.entry, r.prev_hash, r.hash);
    })();
    const anchorPath = join(dir, 'audit.anchor');
    if (anchor) writeFileSync(anchorPath, anchor.map((l) => `${l}\n`).join(''));
    const report = verifyAudit(db, { ...opts, anchorPath });
    // The copy's place is this function's own: a message names the anchor the operator gave.
    return report.ok
      ? report
      : { ...report, message: report.message.replace(JSON.stringify(anchorPath), JSON.stringify(opts.anchorPath)) };
  } catch (e) {
    // Two lines with one seq: the export was edited.
    if ((e as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw e;
    const seq = rows.find((r, i) => rows.findIndex((o) => o.seq === r.seq) !== i)!.seq;
    return broken(seq, 'inserted', 'the export has two lines for this entry', seq - 1);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Broken = Extract<VerifyReport, { unverifiable?: undefined }>;

const broken = (seq: number, kind: Break, why: string, entries: number): Broken => ({
  ok: false,
  entries,
  firstBadSeq: seq,
  kind,
  message: `audit entry ${seq}: ${kind}: ${why}`,
});

/** A run of rows under one key, as verifyAudit's segments. */
interface Segment {
  /** The key id its rows carry; null: legacy rows, which carry none. */
  readonly id: string | null;
  /** The id of the key they are hashed with; null: plain SHA-256. */
  readonly hashKey: string | null;
  /** null when that key was not given. */
  readonly hasher: ChainHasher | null;
}

/**
 * A partial export under verifyAudit's rules, as far as its rows reach: the anchor is the lines
 * of entries 1..m, each once and in order; links and hashes; the key changes only at a valid
 * rekey entry and a keyed run never turns unkeyed. The rows before the slice are known only by
 * the anchor's line for the entry before it: without that line the slice cannot be checked.
 */
function verifySlice(rows: readonly ExportLine[], anchor: string[] | undefined, opts: ExportVerifyOptions) {
  const from = rows[0]!.seq;
  const to = rows.at(-1)!.seq;
  const { hashes, fault } = anchorHashes(anchor ?? [], to);
  const ring = keyRing([opts.hmacKey, ...(opts.previousKeys ?? [])]);
  const missing = new Set<string>();
  let seg = startSegment(rows, opts, ring);
  for (const [i, r] of rows.entries()) {
    const done = r.seq - from;
    // As in verifyAudit's pass, an anchor fault stops the check where it is met, in seq order.
    if (fault && r.seq >= fault.at) return fault.report(done);
    if (r.seq !== from + i) return broken(from + i, 'deleted', `the export goes on with entry ${r.seq}`, done);
    const prev = i === 0 ? hashes.get(from - 1) : rows[i - 1]!.hash;
    if (prev !== undefined && r.prev_hash !== prev) return broken(r.seq, 'modified', 'its link was rewritten', done);
    if (entryKeyId(r.entry) !== seg.id) {
      const next = switchKey(seg, r, ring, missing, done);
      if ('kind' in next) return next;
      seg = next;
    }
    if (seg.hasher === null) missing.add(seg.hashKey ?? '');
    else if (seg.hasher(r.prev_hash + r.entry) !== r.hash) return hashBreak(seg, r, done);
    const a = hashes.get(r.seq);
    if (a !== undefined && a !== r.hash) return broken(r.seq, 'replaced', 'the anchor recorded another hash', done);
  }
  if (fault) return fault.report(rows.length);
  if (!hashes.has(from - 1)) {
    const why = !anchor ? 'is missing' : hashes.size === 0 ? 'is empty' : `ends at entry ${hashes.size}`;
    const message =
      `partial export: cannot check entries #${from}–#${to} without the anchor's line for entry ${from - 1}: ` +
      `the anchor file ${JSON.stringify(opts.anchorPath)} ${why}`;
    return unverifiable(rows.length, to, missing, oneLine(message));
  }
  if (missing.size === 0) return { ok: true, entries: rows.length, headSeq: to } as const;
  const ids = [...missing].join(', ');
  return unverifiable(
    rows.length,
    to,
    missing,
    `keyed log: cannot check the entries under key id ${ids} without that key`,
  );
}

const unverifiable = (
  entries: number,
  headSeq: number,
  missing: ReadonlySet<string>,
  message: string,
): Extract<VerifyReport, { unverifiable: true }> => ({
  ok: false,
  unverifiable: true,
  entries,
  headSeq,
  missingKeyIds: [...missing],
  message,
});

/**
 * The anchor's hashes of entries 1..m (m <= to), and its first fault, if any: up to the export's
 * last entry, a line that is not the next one; further on, one that goes back to its entries.
 */
function anchorHashes(lines: readonly string[], to: number): { hashes: Map<number, string>; fault?: AnchorFault } {
  const hashes = new Map<number, string>();
  const fault = (at: number, seq: number, kind: Break, why: string) => ({
    hashes,
    fault: { at, report: (entries: number) => broken(seq, kind, why, entries) },
  });
  for (const [i, l] of lines.entries()) {
    const at = i + 1;
    const seq = anchoredSeq(l);
    // Lines are only ever appended: a second line for an entry is a rewrite, whatever it says.
    if (seq > 0 && seq < at && seq <= to) {
      return fault(at, seq, 'replaced', 'the anchor has a second line for this entry');
    }
    if (at > to) continue;
    const m = ANCHOR_LINE.exec(l);
    if (!m) return fault(at, at, 'anchor_corrupt', 'the anchor line for this entry is not "<seq> <hash>"');
    if (seq !== at) return fault(at, at, 'anchor_missing', 'the anchor has no line for this entry');
    hashes.set(at, m[2]!);
  }
  return { hashes };
}

/** Where in seq order the anchor goes wrong, and the break to report there. */
interface AnchorFault {
  readonly at: number;
  readonly report: (entries: number) => Broken;
}

/**
 * The segment the slice starts in. Legacy rows come first in a log, so a slice starting with
 * one holds the log's first keyed row if there is one yet: its legacy rows are hashed as
 * verifyAudit's keysOf says. A slice starting keyed is taken to go on from that key (at a rekey
 * entry, from the key it names): of the rows before, only the anchor's hash vouches for anything.
 */
function startSegment(rows: readonly ExportLine[], opts: ExportVerifyOptions, ring: Map<string, string>): Segment {
  const id = entryKeyId(rows[0]!.entry);
  if (id !== null) {
    const rekey = parseRekey(rows[0]!.entry);
    return rekey ? { id: null, hashKey: rekey.from, hasher: null } : segmentOf(id, ring);
  }
  const given: Segment = {
    id: null,
    hashKey: opts.hmacKey ? keyIdOf(opts.hmacKey) : null,
    hasher: chainHasher(opts.hmacKey),
  };
  const keyed = rows.find((r) => entryKeyId(r.entry) !== null);
  const rekey = opts.hmacKey && keyed ? parseRekey(keyed.entry) : undefined;
  if (!rekey) return given;
  if (rekey.from === null) return { id: null, hashKey: null, hasher: chainHasher() };
  return { ...segmentOf(rekey.from, ring), id: null };
}

function segmentOf(id: string, ring: Map<string, string>): Segment {
  const key = ring.get(id);
  return { id, hashKey: id, hasher: key === undefined ? null : chainHasher(key) };
}

/** A row whose key id is not its segment's: a valid rekey entry starts a segment; else a break. */
function switchKey(
  seg: Segment,
  r: ExportLine,
  ring: Map<string, string>,
  missing: Set<string>,
  done: number,
): Segment | Broken {
  const id = entryKeyId(r.entry);
  const rekey = id === null ? undefined : parseRekey(r.entry);
  if (rekey && id !== null) {
    const from = seg.hashKey;
    if (rekey.from !== from) {
      const why = `the rekey entry says the log was under key ${rekey.from ?? 'none'}, but it was under`;
      return broken(r.seq, 'rekey', `${why} ${from ?? 'none'}`, done);
    }
    const oldKey = from === null ? undefined : ring.get(from);
    const proven =
      oldKey !== undefined
        ? rekey.proof === rekeyProof(oldKey, r.prev_hash, id)
        : from !== null || rekey.proof === null;
    if (!proven) return broken(r.seq, 'rekey', 'the rekey entry is not proven with the old key', done);
    if (oldKey === undefined && from !== null) missing.add(from);
    return segmentOf(id, ring);
  }
  if (seg.hasher !== null && seg.hasher(r.prev_hash + r.entry) !== r.hash) return hashBreak(seg, r, done);
  if (id === null) {
    return broken(r.seq, 'unkeyed', `the entries before were keyed (key id ${seg.id}), this one is not`, done);
  }
  return broken(r.seq, 'rekey', `the key changes from ${seg.hashKey ?? 'none'} to ${id} without a rekey entry`, done);
}

/** As verifyAudit names it: under a key, a row that plain SHA-256 hashes was written without the key. */
function hashBreak(seg: Segment, r: ExportLine, done: number): Broken {
  return seg.hashKey !== null && chainHasher()(r.prev_hash + r.entry) === r.hash
    ? broken(r.seq, 'replaced', 'a chain computed without the key starts here', done)
    : broken(r.seq, 'modified', 'its hash does not match its content', done);
}
