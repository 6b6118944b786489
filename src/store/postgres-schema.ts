import { SetupError } from '../core/target.js';
import type { ModuleSchema } from './db.js';
import { PgDb, PgError } from './postgres.js';

/**
 * The core's tables in PostgreSQL: the SQLite schema as its migrations leave it (store/db.ts),
 * with the same names and columns, so that every repository's SQL runs on both. Integers are
 * bigint (times in ms, Telegram ids). Append only, as there.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit (
    seq       bigint PRIMARY KEY,
    entry     text NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL
  );
  CREATE TABLE approvals (
    id           text PRIMARY KEY,
    request_hash text NOT NULL,
    action       text NOT NULL,
    params       text NOT NULL,
    subject      text NOT NULL,
    origin       text NOT NULL,
    requester_id bigint NOT NULL,
    requester    text NOT NULL,
    chat_id      bigint NOT NULL,
    min_role     text NOT NULL,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending','approved','denied','expired','cancelled')),
    decided_by   text,
    decided_at   bigint,
    preview      text NOT NULL,
    card         text,
    quorum       bigint NOT NULL DEFAULT 1 CHECK (quorum IN (1, 2)),
    first_by_id  bigint,
    first_by     text,
    first_at     bigint
  );
  CREATE INDEX approvals_pending ON approvals (state, expires_at);
  CREATE TABLE keyboards (
    id         text PRIMARY KEY,
    chat_id    bigint NOT NULL,
    buttons    text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE INDEX keyboards_age ON keyboards (created_at);
  CREATE TABLE processed_updates (
    update_id bigint PRIMARY KEY,
    seen_at   bigint NOT NULL
  );
  CREATE TABLE chat_state (
    chat_id bigint NOT NULL,
    key     text NOT NULL,
    value   text NOT NULL,
    PRIMARY KEY (chat_id, key)
  );
  CREATE TABLE telegram_cards (
    chat_id    bigint NOT NULL,
    card_key   text NOT NULL,
    message_id bigint NOT NULL,
    thread_id  bigint,
    keyboard   text,
    sent_hash  text,
    updated_at bigint NOT NULL,
    PRIMARY KEY (chat_id, card_key)
  );
  CREATE TABLE telegram_replies (
    chat_id    bigint NOT NULL,
    message_id bigint NOT NULL,
    action     text NOT NULL,
    params     text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (chat_id, message_id)
  );
  CREATE INDEX telegram_replies_age ON telegram_replies (created_at);
  CREATE TABLE telegram_forums (
    chat_id       bigint PRIMARY KEY,
    index_thread  bigint NOT NULL,
    alerts_thread bigint NOT NULL
  );
  CREATE TABLE telegram_topics (
    chat_id   bigint NOT NULL,
    card_key  text NOT NULL,
    thread_id bigint NOT NULL,
    name      text NOT NULL,
    closed    bigint NOT NULL DEFAULT 0,
    reply     text,
    PRIMARY KEY (chat_id, card_key)
  );
  CREATE TABLE ai_usage (
    operator text NOT NULL,
    day      text NOT NULL,
    input    bigint NOT NULL DEFAULT 0,
    output   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (operator, day)
  );
  CREATE TABLE ai_memory (
    id          bigserial PRIMARY KEY,
    chat_id     bigint NOT NULL,
    author_id   bigint NOT NULL,
    author_role text CHECK (author_role IN ('viewer','operator','admin')),
    role        text NOT NULL CHECK (role IN ('user','assistant')),
    content     text NOT NULL,
    created_at  bigint NOT NULL
  );
  CREATE INDEX ai_memory_author ON ai_memory (chat_id, author_id, id);
  `,
  `
  CREATE TABLE leader_lease (
    name   text PRIMARY KEY,
    holder text NOT NULL,
    until  bigint NOT NULL
  );
  `,
  `
  ALTER TABLE processed_updates ADD COLUMN state text NOT NULL DEFAULT 'done'
    CHECK (state IN ('queued','started','done'));
  ALTER TABLE processed_updates ADD COLUMN body text;
  ALTER TABLE processed_updates ADD COLUMN owner text;
  ALTER TABLE processed_updates ADD COLUMN until bigint;
  CREATE INDEX processed_updates_open ON processed_updates (state, until);
  `,
  // Each entry's hash, as it was appended: give the replicas' role only INSERT and SELECT on it
  // (and keep it from whoever may change audit), and a rewritten chain no longer matches it.
  `
  CREATE TABLE audit_anchor (
    seq  bigint PRIMARY KEY,
    hash text NOT NULL
  );
  INSERT INTO audit_anchor (seq, hash) SELECT seq, hash FROM audit;
  `,
  // Rate limits that replicas share (store/rate-buckets.ts); SQLite's one process keeps them in
  // memory. Unlogged: a charge commits without waiting for the disk, and a crash of the server
  // (or a failover to a standby) only fills the buckets again.
  `
  CREATE UNLOGGED TABLE rate_buckets (
    key     text PRIMARY KEY,
    tokens  double precision NOT NULL,
    at      bigint NOT NULL,
    refused bigint NOT NULL
  );
  `,
  `
  ALTER TABLE approvals ADD COLUMN ran text;
  `,
];

/** Serializes schema changes of replicas that start at once. */
const MIGRATION_LOCK = 0x7465_6c6d;

/** Opens DATABASE_URL and brings the core's and the modules' tables up to date. */
export function openPostgres(url: string, modules: readonly ModuleSchema[] = []): PgDb {
  const db = new PgDb(url);
  try {
    for (const m of modules) {
      if ((m.migrations?.length ?? 0) > 0 && m.postgres === undefined)
        throw new SetupError(`${m.name} keeps its state only in SQLite: unset DATABASE_URL, or turn ${m.name} off`);
    }
    db.transaction(() => {
      db.exec(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      // Asked before made: a role without the right to create tables runs an up-to-date schema.
      if (db.prepare(`SELECT to_regclass('schema_versions') IS NULL`).pluck().get())
        ddl(db, 'CREATE TABLE schema_versions (module text PRIMARY KEY, version bigint NOT NULL)');
      step(db, 'core', MIGRATIONS);
      for (const m of modules) step(db, m.name, m.postgres ?? []);
    })();
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** A schema change; refused for want of rights, it says who may make it. */
function ddl(db: PgDb, sql: string): void {
  try {
    db.exec(sql);
  } catch (e) {
    if (!(e instanceof PgError) || e.code !== '42501') throw e;
    throw new SetupError(
      `the database's schema must be brought up to date, and the role in DATABASE_URL may not (${e.message}): ` +
        `start this version once with the owner's role`,
    );
  }
}

function step(db: PgDb, module: string, steps: readonly string[]): void {
  const current = (db.prepare('SELECT version FROM schema_versions WHERE module = ?').pluck().get(module) ??
    0) as number;
  if (current > steps.length) {
    throw new SetupError(
      `the database was written by a newer teleops (${module} schema ${current}, this one knows ${steps.length})`,
    );
  }
  for (let v = current; v < steps.length; v++) ddl(db, steps[v]!);
  if (steps.length > current) {
    db.prepare(
      'INSERT INTO schema_versions (module, version) VALUES (?, ?) ' +
        'ON CONFLICT (module) DO UPDATE SET version = excluded.version',
    ).run(module, steps.length);
  }
}
