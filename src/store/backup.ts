import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { verifyAuditAsync, type VerifyReport } from '../core/audit-verify.js';
import { dbPath } from './db.js';

export interface BackupOptions {
  readonly stateDir: string;
  readonly anchorPath: string;
  /** The copy of the database; its anchor goes beside it as `<file>.anchor`. */
  readonly file: string;
  readonly hmacKey?: string;
  readonly previousKeys: readonly string[];
}

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export const anchorOf = (file: string): string => `${file}.anchor`;

/**
 * A consistent copy of a running deployment's state that still proves its audit log:
 * `VACUUM INTO` writes one read snapshot of the database while the bot keeps writing (SQLite's
 * online backup API restarts whenever another process writes, so under a busy bot it never
 * ends). Then the anchor's lines up to the copy's head are taken from the live anchor file
 * (each commit's line follows it there, so they are all written by then but perhaps the last,
 * which a restored teleops writes as after a crash). Lines for later entries are left out: an
 * anchor ahead of its table reads as truncation. Both files are created new (never
 * overwritten) and readable by their owner only; the copy is verified before this returns,
 * and removed if it does not.
 */
export async function backupState(o: BackupOptions): Promise<Extract<VerifyReport, { ok: true }>> {
  const source = dbPath(o.stateDir);
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  if (!existsSync(dirname(o.file))) throw new BackupError(`${dirname(o.file)} does not exist`);
  const created: string[] = [];
  const createNew = (path: string, bytes: Buffer | string) => {
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (e) {
      throw new BackupError(
        (e as NodeJS.ErrnoException).code === 'EEXIST'
          ? `${path} exists; a backup never overwrites`
          : (e as Error).message,
      );
    }
    created.push(path);
    writeFileSync(path, bytes);
  };
  try {
    createNew(o.file, '');
    const db = new Database(source, { readonly: true, fileMustExist: true });
    try {
      db.prepare('VACUUM INTO ?').run(o.file);
    } finally {
      db.close();
    }
    const copy = new Database(o.file, { readonly: true, fileMustExist: true });
    let v: VerifyReport;
    try {
      const head = copy.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM audit').pluck().get()!;
      if (existsSync(o.anchorPath)) createNew(anchorOf(o.file), anchorUpTo(readFileSync(o.anchorPath), head));
      v = await verifyAuditAsync(copy, {
        anchorPath: anchorOf(o.file),
        previousKeys: o.previousKeys,
        ...(o.hmacKey ? { hmacKey: o.hmacKey } : {}),
      });
    } finally {
      copy.close();
    }
    if (!v.ok)
      throw new BackupError(
        v.unverifiable ? v.message : `the copy does not verify at #${v.firstBadSeq} (${v.kind}): ${v.message}`,
      );
    return v;
  } catch (e) {
    for (const p of created) rmSync(p, { force: true });
    throw e;
  }
}

/** The anchor's lines up to entry `seq`: later lines are cut from its end. */
export function anchorUpTo(anchor: Buffer, seq: number): Buffer {
  let end = anchor.length;
  while (end > 0) {
    const start = anchor.lastIndexOf(0x0a, end - 2) + 1;
    const line = /^(\d{1,15}) /.exec(anchor.toString('latin1', start, Math.min(end, start + 16)));
    if (!line || Number(line[1]) <= seq) break;
    end = start;
  }
  return anchor.subarray(0, end);
}
