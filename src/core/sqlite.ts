import Database from 'better-sqlite3';

/**
 * The database handle core code and targets take; the store opens and migrates it. SQLite's
 * connection, or a PostgreSQL one behind the same calls (store/postgres.ts).
 */
export type Db = Database.Database;

/** Whether `db` is PostgreSQL: the few queries whose dialects differ ask this. */
export const isPostgres = (db: Db): boolean => (db as { dialect?: string }).dialect === 'postgres';

/**
 * SQLite's page cache for each connection, as the pragma takes it (negative: KiB), SQLite's own
 * default. better-sqlite3 raises it to 16 MB, which a growing audit table fills page by page, so
 * the process grew with every command for its first tens of thousands; the pages that matter
 * (the table's last leaf, the upper levels of its indexes) fit many times over.
 */
export const CACHE_SIZE = -2000;

/** A read-only connection to a database file, with the settings every connection of teleops has. */
export function readOnlyConnection(file: string): Db {
  const conn = new Database(file, { readonly: true, fileMustExist: true });
  conn.pragma('busy_timeout = 5000');
  conn.pragma(`cache_size = ${CACHE_SIZE}`);
  return conn;
}
