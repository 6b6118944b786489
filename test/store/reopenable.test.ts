/**
 * A start on a state directory that cannot be written runs on a copy of the database in memory;
 * once the directory can be written, the database on disk takes the copy's place under
 * everything that holds the handle: statements (with their settings) and transactions made
 * before work on the new connection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openCopy, openDb } from '../../src/store/db.js';
import { Reopenable } from '../../src/store/reopenable.js';
import { tempDir } from '../support/app.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function stateDir(): string {
  const t = tempDir('teleops-reopen-');
  cleanups.push(() => t.remove());
  return t.path;
}

describe('openCopy', () => {
  it('copies what is committed, the WAL included, and what is written to the copy stays in memory', () => {
    const dir = stateDir();
    const disk = openDb(dir);
    cleanups.push(() => disk.close());
    disk.prepare("INSERT INTO chat_state (chat_id, key, value) VALUES (1, 'k', 'on disk')").run();
    // Still open: the row is in the WAL, not yet in the database file.
    expect(disk.pragma('journal_mode', { simple: true })).toBe('wal');
    const copy = openCopy(dir);
    cleanups.push(() => copy.close());
    expect(copy.prepare('SELECT value FROM chat_state WHERE chat_id = 1').pluck().get()).toBe('on disk');
    copy.prepare("INSERT INTO chat_state (chat_id, key, value) VALUES (2, 'k', 'in memory')").run();
    expect(disk.prepare('SELECT count(*) FROM chat_state').pluck().get()).toBe(1);
  });

  it('gives an empty store, with every table, when there is no database yet', () => {
    const copy = openCopy(stateDir());
    cleanups.push(() => copy.close());
    expect(copy.prepare('SELECT count(*) FROM processed_updates').pluck().get()).toBe(0);
  });
});

describe('Reopenable', () => {
  it('statements and transactions made on the copy run on the database that replaces it', () => {
    const dir = stateDir();
    const disk = openDb(dir);
    disk.prepare("INSERT INTO chat_state (chat_id, key, value) VALUES (1, 'a', 'disk')").run();
    disk.close();
    const copy = openCopy(dir);
    const handle = new Reopenable(copy);
    const db = handle.db;
    cleanups.push(() => db.close());
    const value = db.prepare<[number, string], string>('SELECT value FROM chat_state WHERE chat_id = ? AND key = ?');
    const plucked = value.pluck();
    const put = db.prepare('INSERT INTO chat_state (chat_id, key, value) VALUES (?, ?, ?)');
    const putTwo = db.transaction((v: string) => {
      put.run(2, 'x', v);
      put.run(2, 'y', v);
    });
    putTwo.immediate('copy');
    expect(plucked.get(2, 'x')).toBe('copy');

    handle.replace(openDb(dir));
    expect(copy.open).toBe(false);
    expect(db.memory).toBe(false);
    // The copy's writes are gone with it; the statement is still plucked.
    expect(plucked.get(2, 'x')).toBeUndefined();
    expect(plucked.get(1, 'a')).toBe('disk');
    putTwo.immediate('disk');
    expect(db.inTransaction).toBe(false);
    const reread = openDb(dir, { readonly: true });
    cleanups.push(() => reread.close());
    expect(reread.prepare("SELECT value FROM chat_state WHERE chat_id = 2 AND key = 'y'").pluck().get()).toBe('disk');
  });
});
