/**
 * `teleops backup FILE` and the restore procedure of the README ("Backup"), through the real
 * CLI process, against a state directory that another process keeps writing to.
 */
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditEntryInput } from '../src/core/audit.js';
import { openDb } from '../src/store/db.js';
import { tempDir } from './support/app.js';
import { runTeleops } from './support/process.js';

const KEY = 'backup-test-hmac-key-5c1f';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function teleops(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const p = runTeleops(args, { AUDIT_HMAC_KEY: KEY, ...env });
  const code = await p.exited;
  return { code, out: p.output() };
}

const entry = (i: number): AuditEntryInput => ({
  operator: `tg:${100 + (i % 3)}`,
  chat: null,
  origin: 'command',
  action: 'docker.restart',
  target: 'docker',
  params: { container: `web-${i}` },
  outcome: 'ok',
});

function state(): { dir: string; log: AuditLog; db: ReturnType<typeof openDb> } {
  const t = tempDir();
  const db = openDb(t.path);
  const log = new AuditLog(db, { anchorPath: join(t.path, 'audit.anchor'), hmacKey: KEY });
  cleanups.push(
    () => t.remove(),
    () => db.close(),
    () => log.close(),
  );
  return { dir: t.path, log, db };
}

describe('teleops backup', () => {
  it('copies the state while another process keeps appending; the restored copy verifies and goes on', async () => {
    const s = state();
    // Hundreds of pages, so that a copy taken page by page (SQLite's online backup) would be
    // restarted by every write below and never end.
    for (let i = 0; i < 3000; i++) s.log.append(entry(i));
    const out = tempDir();
    cleanups.push(() => out.remove());
    const file = join(out.path, 'teleops-backup.db');
    // The bot keeps writing: entries and anchor lines land while the copy is taken.
    let writing = true;
    let written = 3000;
    cleanups.push(() => {
      writing = false;
    });
    const writer = (async () => {
      while (writing) {
        for (let i = 0; i < 20; i++) s.log.append(entry(written++));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const r = await teleops(['backup', file], { STATE_DIR: s.dir });
    writing = false;
    await writer;
    expect(r.out).toMatch(
      /^backup .*teleops-backup\.db: \d+ audit entries, head #\d+, verified; anchor .*teleops-backup\.db\.anchor\n$/,
    );
    expect(r.code).toBe(0);
    const copied = Number(/: (\d+) audit entries/.exec(r.out)![1]);
    expect(copied).toBeGreaterThanOrEqual(3000);
    expect(written).toBeGreaterThan(3000);
    for (const f of [file, `${file}.anchor`]) expect(statSync(f).mode & 0o777).toBe(0o600);

    // The README's restore: stop teleops, put both files in place, drop the WAL files, verify.
    const restored = tempDir();
    cleanups.push(() => restored.remove());
    copyFileSync(file, join(restored.path, 'teleops.db'));
    copyFileSync(`${file}.anchor`, join(restored.path, 'audit.anchor'));
    for (const f of ['teleops.db-wal', 'teleops.db-shm']) rmSync(join(restored.path, f), { force: true });
    const v = await teleops(['audit', 'verify'], { STATE_DIR: restored.path });
    expect(v.out).toBe(`audit log intact: ${copied} entries, head #${copied}\n`);
    expect(v.code).toBe(0);
    // …and it runs on: a command writes its entries after the restored head.
    const c = await teleops(['console', '-c', '/whoami'], {
      STATE_DIR: restored.path,
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
    });
    expect(c.code).toBe(0);
    const after = await teleops(['audit', 'verify'], { STATE_DIR: restored.path });
    expect(after.code).toBe(0);
    expect(Number(/intact: (\d+) entries/.exec(after.out)![1])).toBeGreaterThan(copied);
  }, 60_000);

  it('keeps the proof: a row edited in the copy, or rows cut from its end, fails verification', async () => {
    const s = state();
    for (let i = 0; i < 50; i++) s.log.append(entry(i));
    const out = tempDir();
    cleanups.push(() => out.remove());
    const file = join(out.path, 'b.db');
    expect((await teleops(['backup', file], { STATE_DIR: s.dir })).code).toBe(0);

    const restored = tempDir();
    cleanups.push(() => restored.remove());
    copyFileSync(file, join(restored.path, 'teleops.db'));
    copyFileSync(`${file}.anchor`, join(restored.path, 'audit.anchor'));
    const db = new Database(join(restored.path, 'teleops.db'));
    db.prepare("UPDATE audit SET entry = replace(entry, 'web-7', 'web-8') WHERE seq = 8").run();
    db.close();
    const v = await teleops(['audit', 'verify'], { STATE_DIR: restored.path });
    expect(v.out).toMatch(/^audit log BROKEN at #8 \(modified\)/);
    expect(v.code).toBe(1);

    // Rows cut from the end of the copy, the anchor kept: truncation shows.
    copyFileSync(file, join(restored.path, 'teleops.db'));
    const cut = new Database(join(restored.path, 'teleops.db'));
    cut.prepare('DELETE FROM audit WHERE seq > 40').run();
    cut.close();
    const t = await teleops(['audit', 'verify'], { STATE_DIR: restored.path });
    expect(t.out).toMatch(/^audit log BROKEN at #4[01] \(truncated\)/);
    expect(t.code).toBe(1);
  }, 60_000);

  it('never overwrites, refuses a broken log, and says what is wrong in one line', async () => {
    const s = state();
    for (let i = 0; i < 10; i++) s.log.append(entry(i));
    const out = tempDir();
    cleanups.push(() => out.remove());
    const file = join(out.path, 'b.db');
    writeFileSync(file, 'precious');
    const r = await teleops(['backup', file], { STATE_DIR: s.dir });
    expect(r.out).toBe(`teleops backup: ${file} exists; a backup never overwrites\n`);
    expect(r.code).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('precious');

    // A log broken at the source: no backup that looks good is left behind.
    s.db.prepare("UPDATE audit SET entry = replace(entry, 'web-3', 'web-4') WHERE seq = 4").run();
    const broken = join(out.path, 'c.db');
    const b = await teleops(['backup', broken], { STATE_DIR: s.dir });
    expect(b.out).toMatch(/^teleops backup: the copy does not verify at #4 \(modified\): /);
    expect(b.out.trim().split('\n')).toHaveLength(1);
    expect(b.code).toBe(1);
    expect(existsSync(broken) || existsSync(`${broken}.anchor`)).toBe(false);

    const missing = await teleops(['backup'], { STATE_DIR: s.dir });
    expect(missing.out).toMatch(/^teleops backup: FILE is missing\n\nUsage:\n {2}teleops backup FILE/);
    expect(missing.code).toBe(2);
    const noDir = await teleops(['backup', join(out.path, 'nope', 'x.db')], { STATE_DIR: s.dir });
    expect(noDir.out).toBe(`teleops backup: ${join(out.path, 'nope')} does not exist\n`);
    expect(noDir.code).toBe(1);
  }, 60_000);
});
