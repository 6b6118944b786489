import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { chainHasher, entryKeyId, keyRing } from '../core/audit.js';
import { AnchorReadError, verifyAudit, type VerifyReport } from '../core/audit-verify.js';
import type { Db } from '../core/sqlite.js';
import { oneLine } from '../core/text.js';
import { openMemoryDb } from './db.js';

/*
 * `teleops audit export`: the audit table as JSON lines, each row as stored — the canonical
 * entry text the hash covers, unchanged, with its prev_hash and hash — so that a copy can be
 * checked offline against the anchor file. A whole export (from entry 1) is loaded into an
 * in-memory database and checked by the one verifier; a partial one (--since) can only be
 * checked within itself: its links, its hashes and the anchor lines for its entries.
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
  const anchor = anchorLines(opts.anchorPath, to);
  const report = from === 1 ? verifyWhole(rows, anchor, opts) : verifySlice(rows, anchor, opts);
  return { ...report, from, to };
}

/**
 * The anchor's lines up to the export's last entry: the log may have grown since the export.
 * Undefined when there is no anchor file; one that cannot be read says nothing either way.
 */
function anchorLines(path: string, to: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AnchorReadError(path, e);
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const past = lines.findIndex((l) => Number(/^([1-9][0-9]*) /.exec(l)?.[1] ?? 0) > to);
  return past < 0 ? lines : lines.slice(0, past);
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

const broken = (seq: number, kind: 'modified' | 'inserted' | 'deleted' | 'replaced', why: string, entries: number) =>
  ({ ok: false, entries, firstBadSeq: seq, kind, message: `audit entry ${seq}: ${kind}: ${why}` }) as const;

/** Links, hashes and anchor lines within a partial export. */
function verifySlice(rows: readonly ExportLine[], anchor: string[] | undefined, opts: ExportVerifyOptions) {
  const ring = keyRing([opts.hmacKey, ...(opts.previousKeys ?? [])]);
  const missing = new Set<string>();
  const anchored = new Map<number, string>();
  for (const l of anchor ?? []) {
    const m = /^([1-9][0-9]*) ([0-9a-f]{64})$/.exec(l);
    if (m) anchored.set(Number(m[1]), m[2]!);
  }
  const from = rows[0]!.seq;
  for (const [i, r] of rows.entries()) {
    const done = r.seq - from;
    if (r.seq !== from + i) return broken(from + i, 'deleted', `the export goes on with entry ${r.seq}`, done);
    const prev = i === 0 ? anchored.get(from - 1) : rows[i - 1]!.hash;
    if (prev !== undefined && r.prev_hash !== prev) return broken(r.seq, 'modified', 'its link was rewritten', done);
    const id = entryKeyId(r.entry);
    const key = id === null ? undefined : ring.get(id);
    if (id !== null && key === undefined) missing.add(id);
    else if (
      chainHasher(key)(r.prev_hash + r.entry) !== r.hash &&
      !(id === null && opts.hmacKey && chainHasher(opts.hmacKey)(r.prev_hash + r.entry) === r.hash)
    ) {
      return broken(r.seq, 'modified', 'its hash does not match its content', done);
    }
    const a = anchored.get(r.seq);
    if (a !== undefined && a !== r.hash) return broken(r.seq, 'replaced', 'the anchor recorded another hash', done);
  }
  const entries = rows.length;
  if (missing.size > 0) {
    const ids = [...missing];
    return {
      ok: false,
      unverifiable: true,
      entries,
      headSeq: rows.at(-1)!.seq,
      missingKeyIds: ids,
      message: `keyed log: cannot check the entries under key id ${ids.join(', ')} without that key`,
    } as const;
  }
  return { ok: true, entries, headSeq: rows.at(-1)!.seq } as const;
}
