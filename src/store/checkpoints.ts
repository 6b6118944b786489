import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { CACHE_SIZE, type Db } from '../core/sqlite.js';

/** Pages of WAL after which a writer still checkpoints by itself: only if the thread is gone. */
const BACKSTOP_PAGES = 20_000;

const SOURCE = `'use strict';
const { workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('cache_size = ' + workerData.cacheSize);
// Prepared once: db.pragma() prepares a statement on every call, which holds 2 kB of SQLite's
// memory until this thread's garbage collector finalizes it, and this thread allocates so little
// that its collector ran only every 16 minutes or so: 0.14 MB/min of a bot's memory.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
setInterval(() => {
  try {
    checkpoint.get();
  } catch {
    // busy or gone: the next round, or the writer's backstop, does it
  }
}, workerData.everyMs);
`;

/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the
 * commit that crosses its threshold and syncs the database file there, so about one audited
 * action in a few hundred waited milliseconds for it. Here a thread checkpoints every
 * `everyMs` (PASSIVE: it never blocks a writer, and a crash mid-way loses nothing, as with any
 * checkpoint); the writer's own automatic checkpoint stays as a backstop, far higher, in case
 * the thread dies. Returns what ends the thread (a checkpoint cut short by it is harmless).
 */
export function checkpointInBackground(db: Db, everyMs = 1_000): () => Promise<void> {
  db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  const worker = new Worker(SOURCE, {
    eval: true,
    execArgv: [],
    workerData: {
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: db.name,
      everyMs,
      cacheSize: CACHE_SIZE,
    },
  });
  worker.unref();
  // A thread that cannot run leaves the backstop doing the work, as before.
  worker.on('error', () => db.open && db.pragma('wal_autocheckpoint = 1000'));
  return async () => {
    // Held while it ends: an unreferenced thread would let the process exit mid-await.
    worker.ref();
    await worker.terminate();
  };
}
