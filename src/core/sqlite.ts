import type Database from 'better-sqlite3';

/**
 * The database handle core code and targets take; the store opens and migrates it. SQLite's
 * connection, or a PostgreSQL one behind the same calls (store/postgres.ts).
 */
export type Db = Database.Database;

/** Whether `db` is PostgreSQL: the few queries whose dialects differ ask this. */
export const isPostgres = (db: Db): boolean => (db as { dialect?: string }).dialect === 'postgres';
