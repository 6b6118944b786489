import Database from 'better-sqlite3';
import { DirError, makeDirs, unwritableDir } from '../core/dirs.js';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statfsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CACHE_SIZE, readOnlyConnection, type Db } from '../core/sqlite.js';

export type { Db };

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
  // Was a target's table, created since by that target's module (see migrateModules); the
  // step stays, empty, so that the versions of existing databases keep their meaning.
  '',
  `
  CREATE TABLE telegram_cards (
    chat_id    INTEGER NOT NULL,
    card_key   TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    thread_id  INTEGER,            -- forum topic the message is in
    keyboard   TEXT,               -- JSON: the buttons and the inline keyboard sent for them, reused across edits
    sent_hash  TEXT,               -- hash of the last content sent, to skip edits that change nothing
    updated_at INTEGER NOT NULL,   -- ms since epoch
    PRIMARY KEY (chat_id, card_key)
  );
  CREATE TABLE telegram_replies (
    chat_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    action     TEXT NOT NULL,      -- what a reply to this message runs, with the reply's text as "text"
    params     TEXT NOT NULL,      -- JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id)
  );
  CREATE INDEX telegram_replies_age ON telegram_replies (created_at);
  CREATE TABLE telegram_forums (
    chat_id       INTEGER PRIMARY KEY,
    index_thread  INTEGER NOT NULL,
    alerts_thread INTEGER NOT NULL
  );
  CREATE TABLE telegram_topics (
    chat_id   INTEGER NOT NULL,
    card_key  TEXT NOT NULL,
    thread_id INTEGER NOT NULL,
    name      TEXT NOT NULL,
    closed    INTEGER NOT NULL DEFAULT 0,
    reply     TEXT,                -- JSON ReplyTarget: plain text in the topic runs it
    PRIMARY KEY (chat_id, card_key)
  );
  `,
  `
  CREATE TABLE ai_usage (
    operator TEXT NOT NULL,        -- audit id of the operator: tg:<id> or console:<name>
    day      TEXT NOT NULL,        -- UTC date, YYYY-MM-DD
    input    INTEGER NOT NULL DEFAULT 0,
    output   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (operator, day)
  );
  CREATE TABLE ai_memory (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('user','assistant')),
    content    TEXT NOT NULL,      -- redacted
    created_at INTEGER NOT NULL    -- ms since epoch
  );
  CREATE INDEX ai_memory_chat ON ai_memory (chat_id, id);
  `,
  // One row per keyboard instead of one per button: a page of containers is one insert.
  // A button stored before this is a keyboard of one, and its old callback data means index 0.
  `
  CREATE TABLE keyboards (
    id         TEXT PRIMARY KEY,   -- random; with a button's index, its callback data
    chat_id    INTEGER NOT NULL,
    buttons    TEXT NOT NULL,      -- JSON array of {action, params}, in keyboard order
    created_at INTEGER NOT NULL    -- ms since epoch
  );
  CREATE INDEX keyboards_age ON keyboards (created_at);
  INSERT INTO keyboards (id, chat_id, buttons, created_at)
    SELECT id, chat_id, json_array(json_object('action', action, 'params', json(params))), created_at FROM buttons;
  DROP TABLE buttons;
  `,
  // Memory becomes per person: a request replays only its author's own exchanges. Rows from
  // private chats (and the console, chat 0) were written by that chat's one user, so they keep
  // it as their author, role unknown; a group's rows have no known author and are dropped.
  `
  CREATE TABLE ai_memory_v2 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id     INTEGER NOT NULL,
    author_id   INTEGER NOT NULL,   -- Telegram user id of who asked; 0 for the console
    -- their role then; NULL: kept from before attribution
    author_role TEXT CHECK (author_role IN ('viewer','operator','admin')),
    role        TEXT NOT NULL CHECK (role IN ('user','assistant')),
    content     TEXT NOT NULL,      -- redacted
    created_at  INTEGER NOT NULL    -- ms since epoch
  );
  INSERT INTO ai_memory_v2 (id, chat_id, author_id, author_role, role, content, created_at)
    SELECT id, chat_id, chat_id, NULL, role, content, created_at FROM ai_memory WHERE chat_id >= 0;
  DROP TABLE ai_memory;
  ALTER TABLE ai_memory_v2 RENAME TO ai_memory;
  CREATE INDEX ai_memory_author ON ai_memory (chat_id, author_id, id);
  `,
  // Each module's migrations count apart from the core's: how many of them have run.
  `
  CREATE TABLE module_versions (
    module  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  );
  `,
  // Two-person approval (APPROVAL_QUORUM): how many must approve, and the first approval while
  // the second is awaited. Approvals from before need one, as they did.
  `
  ALTER TABLE approvals ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1 CHECK (quorum IN (1, 2));
  ALTER TABLE approvals ADD COLUMN first_by_id INTEGER;  -- Telegram user id of the first approver
  ALTER TABLE approvals ADD COLUMN first_by TEXT;
  ALTER TABLE approvals ADD COLUMN first_at INTEGER;     -- ms since epoch
  `,
  // Which replica runs the background work, on a database replicas share (core/leader.ts).
  `
  CREATE TABLE leader_lease (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL        -- ms since epoch
  );
  `,
  // An update is kept until it is handled, so that one whose process died is not lost (store/updates.ts).
  `
  ALTER TABLE processed_updates ADD COLUMN state TEXT NOT NULL DEFAULT 'done'
    CHECK (state IN ('queued','started','done'));
  ALTER TABLE processed_updates ADD COLUMN body TEXT;    -- the update, JSON, until it is done
  ALTER TABLE processed_updates ADD COLUMN owner TEXT;   -- the process handling it
  ALTER TABLE processed_updates ADD COLUMN until INTEGER; -- ms since epoch: its owner renews it until then
  CREATE INDEX processed_updates_open ON processed_updates (state, until);
  `,
  // How an approved request's run ended, for a requester waiting on another replica (core/approval-service.ts).
  `
  ALTER TABLE approvals ADD COLUMN ran TEXT;  -- JSON {ok, summary}, written once the run ended
  `,
];

/** A part of teleops with tables of its own (a target module): its migrations, recorded under its name. */
export interface ModuleSchema {
  readonly name: string;
  readonly migrations?: readonly string[];
  /** The same steps for PostgreSQL (DATABASE_URL); a module with SQLite steps and none here cannot run there. */
  readonly postgres?: readonly string[];
}

export interface OpenOptions {
  /** fsync every commit (synchronous=FULL). Default: durable across a process crash (NORMAL). */
  readonly fsync?: boolean;
  readonly readonly?: boolean;
  /** Modules whose migrations run after the core's. */
  readonly modules?: readonly ModuleSchema[];
}

export const dbPath = (stateDir: string): string => join(stateDir, 'teleops.db');

/** SQLite's answers when the state directory is full or cannot be written. */
const UNWRITABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/;
/** …and when the file in it is no database, or a damaged one. */
const UNREADABLE = /^SQLITE_(NOTADB|CORRUPT)/;

/** A database file that cannot be read: `damaged` when what is in it is the cause (not a database, no audit table). */
export class DbUnreadable extends Error {
  override readonly name = 'DbUnreadable';
  constructor(
    message: string,
    readonly damaged: boolean,
  ) {
    super(message);
  }
}

export function openDb(stateDir: string, opts: OpenOptions = {}): Db {
  try {
    return opts.readonly ? openReadOnly(stateDir) : open(stateDir, opts);
  } catch (e) {
    if (!(e instanceof Database.SqliteError)) throw e;
    const damaged = UNREADABLE.test(e.code);
    if (opts.readonly || damaged) throw new DbUnreadable(`${dbPath(stateDir)}: ${e.message}`, damaged);
    if (!UNWRITABLE.test(e.code)) throw e;
    const why = unwritableDir(stateDir) ?? 'is the disk full?';
    throw new DirError(`the database in ${stateDir} cannot be opened for writing (${e.message}): ${why}`);
  }
}

/**
 * The state as it is on disk, for reading. In a directory that cannot be written (a backup mounted
 * read-only, a copy kept as evidence) SQLite cannot make the `-shm` file that reading a WAL
 * database needs: the database and its WAL are then read from a copy in a private (0700)
 * temporary directory, removed when the process exits.
 */
function openReadOnly(stateDir: string): Db {
  const path = dbPath(stateDir);
  try {
    return readOnly(path);
  } catch (e) {
    // Asked, not tried with a probe file: a reader writes nothing there, not even through a planted symlink.
    if (!(e instanceof Database.SqliteError) || !UNWRITABLE.test(e.code) || canWrite(stateDir)) throw e;
    return readOnly(privateCopy(path), path);
  }
}

function canWrite(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The database and its WAL, copied into a directory only this user can read: regular files only
 * (a FIFO would hang the copy, a symlink could point anywhere), and only when TMPDIR has room.
 */
function privateCopy(path: string): string {
  const parts = ['', '-wal'].flatMap((part) => {
    let st;
    try {
      st = lstatSync(path + part);
    } catch {
      return [];
    }
    if (!st.isFile()) throw new DbUnreadable(`${path + part} is not a regular file`, false);
    return [{ part, size: st.size }];
  });
  const need = parts.reduce((n, p) => n + p.size, 0);
  const fs = statfsSync(tmpdir());
  if (fs.bavail * fs.bsize < need)
    throw new DbUnreadable(
      `${path} is in a directory that cannot be written, and its copy (${need} bytes) does not fit in ` +
        `${tmpdir()} (${fs.bavail * fs.bsize} free): set TMPDIR to a larger directory`,
      false,
    );
  const dir = mkdtempSync(join(tmpdir(), 'teleops-state-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  // Interrupted, the copy goes too; the signal is then raised again for what it would have done.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      remove();
      process.kill(process.pid, sig);
    });
  }
  try {
    for (const { part } of parts) copyFileSync(path + part, dbPath(dir) + part);
  } catch (e) {
    remove();
    throw new DbUnreadable(`${path} cannot be copied to read it: ${(e as Error).message}`, false);
  }
  return dbPath(dir);
}

/** `shown`: the path to name in errors (the original, when `path` is its copy). */
function readOnly(path: string, shown = path): Db {
  const db = readOnlyConnection(path);
  try {
    // The first read opens the WAL (and its -shm): one that cannot fails here, not at the caller's first query.
    if (!db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'audit'`).get())
      throw new DbUnreadable(`${shown} holds no audit table`, true);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

function open(stateDir: string, opts: OpenOptions): Db {
  makeDirs(stateDir);
  const db = new Database(dbPath(stateDir));
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = ${CACHE_SIZE}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.fsync ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  migrate(db);
  migrateModules(db, opts.modules ?? []);
  return db;
}

/** A throwaway database with the full schema, for code that needs one but must not touch the state dir. */
export function openMemoryDb(modules: readonly ModuleSchema[] = []): Db {
  const db = new Database(':memory:');
  migrate(db);
  migrateModules(db, modules);
  return db;
}

/**
 * The state as it is on disk, copied into memory, for a start on a state directory that cannot
 * be written (full, read-only): reads see everything, and what they write (buttons, updates
 * seen) stays in memory. Through a read-only connection, so that the WAL's last commits are in
 * the copy; where that connection cannot read (a WAL database closed cleanly, whose `-shm` file
 * cannot be made there), the file alone holds everything. No database yet: an empty one.
 */
export function openCopy(stateDir: string, modules: readonly ModuleSchema[] = []): Db {
  const path = dbPath(stateDir);
  if (!existsSync(path)) return openMemoryDb(modules);
  const image = throughSqlite(path) ?? readFileSync(path);
  // The header's file format bytes say WAL (2); a database in memory has no WAL (1: rollback).
  image[18] = image[19] = 1;
  const db = new Database(image);
  migrate(db);
  migrateModules(db, modules);
  return db;
}

function throughSqlite(path: string): Buffer | undefined {
  try {
    const disk = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return disk.serialize();
    } finally {
      disk.close();
    }
  } catch {
    return undefined;
  }
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

function migrateModules(db: Db, modules: readonly ModuleSchema[]): void {
  const get = db.prepare<[string], { version: number }>('SELECT version FROM module_versions WHERE module = ?');
  const set = db.prepare(
    'INSERT INTO module_versions (module, version) VALUES (?, ?) ON CONFLICT (module) DO UPDATE SET version = ' +
      'excluded.version',
  );
  for (const m of modules) {
    const steps = m.migrations ?? [];
    const current = get.get(m.name)?.version ?? 0;
    if (current > steps.length) {
      throw new Error(
        `the database was written by a newer teleops (${m.name} schema ${current}, this one knows ${steps.length})`,
      );
    }
    for (let v = current; v < steps.length; v++) {
      db.transaction(() => {
        db.exec(steps[v]!);
        set.run(m.name, v + 1);
      })();
    }
  }
}
