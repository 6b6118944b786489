/**
 * WAL checkpoints on their own thread: the writer's automatic checkpoint is only a backstop,
 * yet the database file takes in what was written (so the WAL does not grow without bound),
 * and the thread ends when asked.
 */
import { statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/core/audit.js';
import { checkpointInBackground } from '../../src/store/checkpoints.js';
import { dbPath, openDb } from '../../src/store/db.js';
import { tempDir } from '../support/app.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('checkpointInBackground', () => {
  it('moves the WAL into the database file from its own thread, and stops', async () => {
    const t = tempDir('teleops-ckpt-');
    const db = openDb(t.path);
    cleanups.push(
      () => t.remove(),
      () => db.close(),
    );
    const stop = checkpointInBackground(db, 50);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBeGreaterThan(10_000);
    const log = new AuditLog(db, { anchorPath: `${t.path}/audit.anchor` });
    const before = statSync(dbPath(t.path)).size;
    for (let i = 0; i < 3000; i++)
      log.append({
        operator: 'tg:1',
        chat: null,
        origin: 'command',
        action: 'docker.restart',
        target: 'docker',
        params: { container: `web-${i}` },
        outcome: 'ok',
      });
    log.close();
    // The writer alone never checkpoints this little (the backstop is far higher): the thread did.
    const deadline = Date.now() + 20_000;
    while (statSync(dbPath(t.path)).size <= before + 100 * 4096 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(statSync(dbPath(t.path)).size).toBeGreaterThan(before + 100 * 4096);
    await stop();
  });
});
