import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

/**
 * Schema versions, applied in order; `PRAGMA user_version` records how many have run.
 * Append only: a released migration is never edited.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    entry     TEXT NOT NULL,          -- canonical JSON of the entry; what the hash covers
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
  );
  CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    action       TEXT NOT NULL,
    params       TEXT NOT NULL,       -- JSON, validated
    subject      TEXT NOT NULL,
    origin       TEXT NOT NULL,
    requester_id INTEGER NOT NULL,
    requester    TEXT NOT NULL,
    chat_id      INTEGER NOT NULL,
    min_role     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,    -- ms since epoch
    expires_at   INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending','approved','denied','expired','cancelled')),
    decided_by   TEXT,
    decided_at   INTEGER,
    preview      TEXT NOT NULL,       -- JSON blocks shown on the card (state, dry-run)
    card         TEXT                 -- transport's reference to the card message, JSON
  );
  CREATE INDEX approvals_pending ON approvals (state, expires_at);
  CREATE TABLE buttons (
    id         TEXT PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    action     TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX buttons_age ON buttons (created_at);
  CREATE TABLE processed_updates (
    update_id  INTEGER PRIMARY KEY,
    seen_at    INTEGER NOT NULL
  );
  CREATE TABLE chat_state (
    chat_id INTEGER NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (chat_id, key)
  );
  `,
  `
  CREATE TABLE tmux_watched (
    target  TEXT PRIMARY KEY,      -- 'session' or 'session:window.pane'
    since   INTEGER NOT NULL,      -- ms since epoch
    chat_id INTEGER,
    state   TEXT CHECK (state IN ('running','waiting','error','done','idle','stuck','gone'))
  );
  `,
];

export interface OpenOptions {
  /** fsync every commit (synchronous=FULL). Default: durable across a process crash (NORMAL). */
  readonly fsync?: boolean;
  readonly readonly?: boolean;
}

export const dbPath = (stateDir: string): string => join(stateDir, 'teleops.db');

export function openDb(stateDir: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const db = new Database(dbPath(stateDir), {
    readonly: opts.readonly ?? false,
    fileMustExist: opts.readonly ?? false,
  });
  db.pragma('busy_timeout = 5000');
  if (opts.readonly) return db;
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.fsync ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** A throwaway database with the full schema, for code that needs one but must not touch the state dir. */
export function openMemoryDb(): Db {
  const db = new Database(':memory:');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `the database was written by a newer teleops (schema ${current}, this one knows ${MIGRATIONS.length})`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
