import Database from 'better-sqlite3';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BUTTON_REF, ButtonRepo } from '../../src/store/buttons.js';
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
      expect(r).toMatch(BUTTON_REF);
      expect(`b:${r}`.length).toBeLessThanOrEqual(64);
      expect(repo.get(r, CHAT)).toEqual(bs[i]);
      expect(repo.get(r, CHAT + 1)).toBeUndefined();
    });
    expect(new Set(repo.putAll(CHAT, bs).map((r) => r.split(':')[0])).has(refs[0]!.split(':')[0]!)).toBe(false);
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
    const id = ref!.split(':')[0]!;
    for (const forged of [`${id}:1`, `${id}:999`, `${id}:-1`, `${id}x:0`, `${id.slice(1)}A:0`, `${id}:0:0`, `${id}; DROP TABLE keyboards`, '']) {
      expect(repo.get(forged, CHAT)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(repo.get(s, CHAT)).toBeUndefined();
      }),
    );
  });

  it('keeps the buttons stored before keyboards were: their old callback data still works', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teleops-buttons-'));
    dirs.push(dir);
    // A database as the previous schema left it (only the tables this and later migrations touch).
    const old = new Database(dbPath(dir));
    old.exec('CREATE TABLE buttons (id TEXT PRIMARY KEY, chat_id INTEGER NOT NULL, action TEXT NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL)');
    old.exec('CREATE TABLE ai_memory (id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL)');
    old.prepare('INSERT INTO buttons VALUES (?, ?, ?, ?, ?)').run('AAAAAAAAAAAAAAAA', CHAT, 'docker.logs', '{"container":"api","lines":50}', Date.now());
    old.pragma('user_version = 4');
    old.close();
    const db = openDb(dir);
    const repo = new ButtonRepo(db);
    expect(repo.get('AAAAAAAAAAAAAAAA', CHAT)).toEqual({ action: 'docker.logs', params: { container: 'api', lines: 50 } });
    expect(repo.get('AAAAAAAAAAAAAAAA:0', CHAT)).toEqual({ action: 'docker.logs', params: { container: 'api', lines: 50 } });
    expect(repo.get('AAAAAAAAAAAAAAAA', CHAT + 1)).toBeUndefined();
    db.close();
  });
});
