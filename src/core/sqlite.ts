import type Database from 'better-sqlite3';

/** The database handle core code and targets take; the store opens and migrates it. */
export type Db = Database.Database;
