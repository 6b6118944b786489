/**
 * Every connection keeps SQLite's own page cache (2 MB), not better-sqlite3's 16 MB: a growing
 * audit table fills the cache page by page, so with the larger one the process grew with every
 * command for its first tens of thousands (measured by `npm run bench -- slope`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CACHE_SIZE } from '../../src/core/sqlite.js';
import { openDb } from '../../src/store/db.js';
import { tempDir } from '../support/app.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('page cache', () => {
  it('is 2 MB on the writer and on a read-only connection', () => {
    const dir = tempDir('teleops-cache-');
    cleanups.push(() => dir.remove());
    const writer = openDb(dir.path);
    cleanups.push(() => writer.close());
    const reader = openDb(dir.path, { readonly: true });
    cleanups.push(() => reader.close());
    expect(CACHE_SIZE).toBe(-2000);
    for (const db of [writer, reader]) expect(db.pragma('cache_size', { simple: true })).toBe(-2000);
  });
});
