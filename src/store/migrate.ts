import { readFileSync, writeFileSync } from 'node:fs';
import { verifyAudit, type VerifyOptions, type VerifyReport } from '../core/audit-verify.js';
import type { Db } from './db.js';
import type { PgDb } from './postgres.js';

export class MigrateError extends Error {
  override readonly name = 'MigrateError';
}

export interface MigrateReport {
  /** Audit entries copied now (a second run copies only those after the first run's head). */
  readonly copied: number;
  /** Rows of the other tables, which are replaced whole. */
  readonly rows: number;
  readonly verify: VerifyReport;
}

/**
 * Copies the SQLite state into PostgreSQL in one transaction of each: the audit chain as stored
 * (same entries, hashes and links, so the same anchor verifies it), and every other table whole.
 * It may run while teleops runs on SQLite: the copy is one snapshot. Run again after stopping
 * it, it adds only the entries written since, once PostgreSQL's head is found in SQLite's chain.
 */
export function copySqliteToPostgres(
  src: Db,
  dst: PgDb,
  verify: Omit<VerifyOptions, 'heads'> & { scratchAnchor: string },
): MigrateReport {
  const tables = dst
    .prepare(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
       AND table_name NOT IN ('schema_versions', 'audit_anchor') ORDER BY table_name`,
    )
    .pluck()
    .all() as string[];
  let copied = 0;
  let rows = 0;
  let head = 0;
  src.transaction(() => {
    dst.transaction(() => {
      for (const t of tables) {
        const cols = columns(src, dst, t);
        if (cols.length === 0) continue;
        if (t === 'audit') {
          head = auditHead(src, dst);
          const from = auditHeadOf(dst);
          copied = copy(src, dst, t, cols, `WHERE seq > ${from} ORDER BY seq`);
          dst.prepare('INSERT INTO audit_anchor (seq, hash) SELECT seq, hash FROM audit WHERE seq > ?').run(from);
        } else {
          dst.exec(`DELETE FROM ${t}`);
          rows += copy(src, dst, t, cols, '');
        }
      }
      resetSequences(dst);
    })();
  })();
  // The anchor as it was when the snapshot was taken: teleops may have appended since.
  const lines = readFileSync(verify.anchorPath, 'latin1').split('\n');
  const upTo = lines.filter((l) => Number(/^(\d+) /.exec(l)?.[1] ?? Infinity) <= head);
  writeFileSync(verify.scratchAnchor, upTo.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  const report = verifyAudit(dst.asDb(), { ...verify, anchorPath: verify.scratchAnchor });
  return { copied, rows, verify: report };
}

/** Columns of `table` both databases have; none when SQLite has no such table (a module never on). */
function columns(src: Db, dst: PgDb, table: string): string[] {
  const have = new Set(src.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(table) as string[]);
  const want = dst
    .prepare(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?
       ORDER BY ordinal_position`,
    )
    .pluck()
    .all(table) as string[];
  return want.filter((c) => have.has(c));
}

function copy(src: Db, dst: PgDb, table: string, cols: string[], tail: string): number {
  const list = cols.join(', ');
  const insert = dst.prepare(`INSERT INTO ${table} (${list}) VALUES (${cols.map(() => '?').join(', ')})`);
  let n = 0;
  for (const r of src.prepare(`SELECT ${list} FROM ${table} ${tail}`).raw().iterate() as Iterable<unknown[]>) {
    insert.run(...r);
    n++;
  }
  return n;
}

const auditHeadOf = (dst: PgDb): number =>
  dst.prepare('SELECT coalesce(max(seq), 0) FROM audit').pluck().get() as number;

/** SQLite's head; PostgreSQL's chain must be a beginning of SQLite's, or nothing is copied. */
function auditHead(src: Db, dst: PgDb): number {
  const mine = dst.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
    { seq: number; hash: string } | undefined;
  if (mine) {
    const theirs = src.prepare<[number], string>('SELECT hash FROM audit WHERE seq = ?').pluck().get(mine.seq);
    if (theirs !== mine.hash) {
      throw new MigrateError(
        `DATABASE_URL already holds an audit chain that is not this one (entry ${mine.seq} differs): ` +
          `migrate into an empty database`,
      );
    }
  }
  return src.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM audit').pluck().get()!;
}

/** Identity columns continue after the copied ids. */
function resetSequences(dst: PgDb): void {
  const serials = dst
    .prepare(
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`,
    )
    .all() as { t: string; c: string }[];
  for (const { t, c } of serials) {
    dst.exec(
      `SELECT setval(pg_get_serial_sequence('${t}', '${c}'), coalesce((SELECT max(${c}) FROM ${t}), 0) + 1, false)`,
    );
  }
}
