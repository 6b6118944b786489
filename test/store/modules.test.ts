import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { TargetModule } from '../../src/core/target.js';
import { ApprovalRepo } from '../../src/store/approvals.js';
import { dbPath, openDb, type Db } from '../../src/store/db.js';
import { MODULES } from '../../src/targets/modules.js';
import { tmux } from '../../src/targets/tmux/module.js';
import { TmuxWatchedRepo } from '../../src/targets/tmux/watched.js';
import { tempDir } from '../support/app.js';

const V6 = readFileSync(new URL('./fixtures/schema-v6.sql', import.meta.url), 'utf8');

/** Tables and indexes with their SQL, comments and spacing aside: what two schemas are compared by. */
function schema(db: Db): Record<string, string> {
  const rows = db
    .prepare(
      "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT IN ('sqlite_sequence', 'module_versions')",
    )
    .all() as { name: string; sql: string }[];
  return Object.fromEntries(
    rows.map((r) => [
      r.name,
      r.sql
        .replace(/--[^\n]*/g, '')
        .replace(/\s+/g, ' ')
        .replace(/ IF NOT EXISTS/, '')
        .replace(/"/g, ''),
    ]),
  );
}

const dirs: { remove(): void }[] = [];
const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) db.close();
  for (const d of dirs.splice(0)) d.remove();
});

function stateDir(): string {
  const d = tempDir('teleops-schema-');
  dirs.push(d);
  return d.path;
}

function open(dir: string, modules: readonly TargetModule[] = MODULES): Db {
  const db = openDb(dir, { modules });
  dbs.push(db);
  return db;
}

/** A database as teleops wrote it at schema version 6, watching one tmux pane. */
function oldDatabase(): string {
  const dir = stateDir();
  const old = new Database(dbPath(dir));
  old.exec(V6);
  old
    .prepare(
      "INSERT INTO tmux_watched (target, since, chat_id, state) VALUES ('build:0.1', 1700000000000, -100, 'waiting')",
    )
    .run();
  old
    .prepare(
      `INSERT INTO approvals (id, request_hash, action, params, subject, origin, requester_id, requester, chat_id,
         min_role, created_at, expires_at, state, preview) VALUES ('AAAAAAAAAAAAAAAA', 'h', 'docker.stop', '{}', 'web',
         'command', 1, '@a', -100, 'operator', 1, 2, 'pending', '[]')`,
    )
    .run();
  old.close();
  return dir;
}

describe('module migrations', () => {
  it('upgrade a database of schema version 6 in place: its watched sessions are kept', () => {
    const dir = oldDatabase();
    const db = open(dir);
    expect(db.pragma('user_version', { simple: true })).toBe(11);
    // An approval from before two-person approval needs one, as it did.
    expect(new ApprovalRepo(db).get('AAAAAAAAAAAAAAAA')).toMatchObject({ quorum: 1, firstVote: null, ran: null });
    expect(db.prepare('SELECT module, version FROM module_versions WHERE module = ?').get('tmux')).toEqual({
      module: 'tmux',
      version: 1,
    });
    expect(new TmuxWatchedRepo(db).load()).toEqual([
      { target: 'build:0.1', since: 1700000000000, chatId: -100, state: 'waiting' },
    ]);
  });

  it('give a fresh database the same tables as an upgraded one', () => {
    const upgraded = schema(open(oldDatabase()));
    const fresh = schema(open(stateDir()));
    expect(fresh).toEqual(upgraded);
    expect(Object.keys(fresh)).toContain('tmux_watched');
  });

  it('run once each, recorded per module, and a module added later gets its tables then', () => {
    const dir = stateDir();
    const before = open(dir, []);
    expect(schema(before)).not.toHaveProperty('tmux_watched');
    before.close();
    dbs.pop();
    const db = open(dir, [tmux]);
    new TmuxWatchedRepo(db).save({ target: 'a', since: 1 });
    db.close();
    dbs.pop();
    expect(new TmuxWatchedRepo(open(dir, [tmux])).load()).toEqual([{ target: 'a', since: 1 }]);
  });

  it('refuse a database written by a newer version of a module', () => {
    const dir = stateDir();
    const db = open(dir, [tmux]);
    db.prepare("UPDATE module_versions SET version = 9 WHERE module = 'tmux'").run();
    db.close();
    dbs.pop();
    expect(() => openDb(dir, { modules: [tmux] })).toThrow(
      'the database was written by a newer teleops (tmux schema 9, this one knows 1)',
    );
  });
});
