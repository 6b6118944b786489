import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ButtonRepo } from '../../src/store/buttons.js';
import { dbPath, openDb, openMemoryDb } from '../../src/store/db.js';

const CHAT = 42;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('ButtonRepo', () => {
  it('stores a keyboard as one row; each button comes back by its reference, in its chat only', () => {
    const db = openMemoryDb();
    const repo = new ButtonRepo(db);
    const bs = [
      { action: 'docker.logs', params: { container: 'api' } },
      { action: 'docker.restart', params: { container: 'api' } },
      { action: 'docker.stop', params: { container: 'web' } },
    ];
    const refs = repo.putAll(CHAT, bs);
    expect(refs).toHaveLength(3);
    expect(db.prepare('SELECT count(*) AS n FROM keyboards').get()).toEqual({ n: 1 });
    refs.forEach((r, i) => {
      expect(r).toEqual({ keyboard: refs[0]!.keyboard, index: i });
      expect(r.keyboard).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(repo.get(r, CHAT)).toEqual(bs[i]);
      expect(repo.get(r, CHAT + 1)).toBeUndefined();
    });
    expect(repo.putAll(CHAT, bs)[0]!.keyboard).not.toBe(refs[0]!.keyboard);
  });

  it('ages buttons out, and prunes them', () => {
    const db = openMemoryDb();
    const repo = new ButtonRepo(db, 1000);
    const [ref] = repo.putAll(CHAT, [{ action: 'docker.ps', params: {} }], 10_000);
    expect(repo.get(ref!, CHAT, 10_500)).toBeDefined();
    expect(repo.get(ref!, CHAT, 11_001)).toBeUndefined();
    repo.prune(11_001);
    expect(db.prepare('SELECT count(*) AS n FROM keyboards').get()).toEqual({ n: 0 });
  });

  it('finds nothing for a forged or altered reference', () => {
    const repo = new ButtonRepo(openMemoryDb());
    const [ref] = repo.putAll(CHAT, [{ action: 'docker.restart', params: { container: 'api' } }]);
    const keyboard = ref!.keyboard;
    const forged = [1, 999, -1, 0.5, NaN].map((index) => ({ keyboard, index }));
    for (const k of [`${keyboard}x`, `${keyboard.slice(1)}A`, `${keyboard}'; DROP TABLE keyboards`, ''])
      forged.push({ keyboard: k, index: 0 });
    for (const f of forged) expect(repo.get(f, CHAT)).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer(), (k, index) => {
        expect(repo.get({ keyboard: k, index }, CHAT)).toBeUndefined();
      }),
    );
  });

  it('keeps the buttons stored before keyboards were: their old callback data still works', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teleops-buttons-'));
    dirs.push(dir);
    // A database as the previous schema left it (only the tables this and later migrations touch).
    const old = new Database(dbPath(dir));
    old.exec(
      'CREATE TABLE buttons (id TEXT PRIMARY KEY, chat_id INTEGER NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL)',
    );
    old.exec(
      'CREATE TABLE ai_memory (id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL)',
    );
    old.exec('CREATE TABLE approvals (id TEXT PRIMARY KEY)');
    old.exec('CREATE TABLE processed_updates (update_id INTEGER PRIMARY KEY, seen_at INTEGER NOT NULL)');
    old
      .prepare('INSERT INTO buttons VALUES (?, ?, ?, ?, ?)')
      .run('AAAAAAAAAAAAAAAA', CHAT, 'docker.logs', '{"container":"api","lines":50}', Date.now());
    old.pragma('user_version = 4');
    old.close();
    const db = openDb(dir);
    const repo = new ButtonRepo(db);
    // Their callback data "b:AAAAAAAAAAAAAAAA" decodes to the keyboard's first button.
    const ref = { keyboard: 'AAAAAAAAAAAAAAAA', index: 0 };
    expect(repo.get(ref, CHAT)).toEqual({ action: 'docker.logs', params: { container: 'api', lines: 50 } });
    expect(repo.get(ref, CHAT + 1)).toBeUndefined();
    db.close();
  });
});
