import { accessSync, constants, existsSync } from 'node:fs';
import { DirError, unwritableDir } from '../core/dirs.js';
import { openCopy, openDb, type Db, type OpenOptions } from './db.js';
import { openPostgres } from './postgres-schema.js';
import { Reopenable } from './reopenable.js';

/** The state teleops runs on: its database, writable or (at a start where it could not be) a copy. */
export interface StateStore {
  readonly db: Db;
  /** Which engine holds it: SQLite's file in the state directory, or DATABASE_URL's PostgreSQL. */
  readonly engine: 'sqlite' | 'postgres';
  /** Why the state directory could not be written at start; `db` is then a copy in memory. */
  readonly unwritable: string | undefined;
  /** Puts the database on disk, opened for writing, in the place of the copy; throws while it cannot be. */
  reopen(): void;
}

/**
 * Opens the state. A state directory that exists and can be read but not written (full,
 * read-only) gives a copy in memory instead of stopping start-up, so reads answer while nothing
 * that must be audited runs; one that cannot even be read, or does not exist, still stops it.
 */
export function openState(stateDir: string, opts: OpenOptions & { databaseUrl?: string } = {}): StateStore {
  if (opts.databaseUrl) {
    const db = openPostgres(opts.databaseUrl, opts.modules).asDb();
    return { db, engine: 'postgres', unwritable: undefined, reopen: () => {} };
  }
  // Asked first: on a read-only filesystem SQLite may open an existing database read-only
  // without a word, and the first write would fail later instead.
  let why = existsSync(stateDir) ? unwritableDir(stateDir) : undefined;
  if (why === undefined) {
    try {
      return { db: openDb(stateDir, opts), engine: 'sqlite', unwritable: undefined, reopen: () => {} };
    } catch (e) {
      if (!(e instanceof DirError) || !existsSync(stateDir)) throw e;
      why = e.message;
    }
  }
  if (!readable(stateDir)) throw new DirError(`${stateDir} can be neither written (${why}) nor read`);
  let copy: Db;
  try {
    copy = openCopy(stateDir, opts.modules);
  } catch (e) {
    throw new DirError(`${why}, and the database in it cannot be read (${(e as Error).message})`, { cause: e });
  }
  const handle = new Reopenable(copy);
  let reopened = false;
  return {
    db: handle.db,
    engine: 'sqlite',
    unwritable: why,
    reopen: () => {
      if (reopened) return;
      handle.replace(openDb(stateDir, opts));
      reopened = true;
    },
  };
}

function readable(dir: string): boolean {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
