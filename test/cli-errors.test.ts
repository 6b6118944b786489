import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './support/app.js';
import { freePort, runTeleops } from './support/process.js';

let dir: ReturnType<typeof tempDir> | undefined;
let server: Server | undefined;
afterEach(async () => {
  dir?.remove();
  dir = undefined;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const QUIET = { DOCKER_ENABLED: 'false', TMUX_ENABLED: 'false', KUBECONFIG: '' };

describe('the CLI answers environment problems in one line, never with a stack trace', () => {
  it('HTTP_PORT already in use: teleops start exits 2 naming the setting', async () => {
    dir = tempDir();
    const port = await freePort();
    server = createServer();
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    const p = runTeleops(['start'], {
      ...QUIET,
      STATE_DIR: dir.path,
      TELEGRAM_BOT_TOKEN: '123:AAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      TELEGRAM_API_ROOT: `http://127.0.0.1:${await freePort()}`,
      AUTHORIZED_USER_IDS: '1',
      HTTP_PORT: String(port),
    });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain(
      `teleops: cannot start — HTTP_PORT ${port} is in use on 127.0.0.1 (set HTTP_PORT to a free port, or 0 to disable /health and /metrics)\n`,
    );
    expect(p.output()).not.toMatch(/EADDRINUSE|^\s+at /m);
  });

  it('teleops console | head: when stdout closes, the console stops quietly', async () => {
    dir = tempDir();
    const p = runTeleops(
      ['console'],
      { ...QUIET, STATE_DIR: dir.path, LOG_LEVEL: 'error' },
      { input: '/help\n'.repeat(200) },
    );
    let stderr = '';
    p.child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    p.child.stdout!.once('data', () => p.child.stdout!.destroy());
    expect(await p.exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('an anchor file that cannot be read: audit verify says so in one line and exits 2, not "missing"', async () => {
    dir = tempDir();
    const made = runTeleops(['console', '-c', '/whoami'], { ...QUIET, STATE_DIR: dir.path, LOG_LEVEL: 'error' });
    expect(await made.exited).toBe(0);
    const anchor = join(dir.path, 'audit.anchor');
    rmSync(anchor);
    symlinkSync(anchor, anchor);
    const p = runTeleops(['audit', 'verify', '--state-dir', dir.path], QUIET);
    expect(await p.exited).toBe(2);
    expect(p.output()).toBe(
      `teleops audit verify: cannot read the audit anchor ${JSON.stringify(anchor)}: ELOOP: too many symbolic links encountered, open ${JSON.stringify(anchor).replaceAll('"', "'")}\n`,
    );
  });

  it('a teleops.db that is no database: start, doctor and audit verify each say so in one line', async () => {
    dir = tempDir();
    const db = join(dir.path, 'teleops.db');
    writeFileSync(db, 'garbage, not SQLite '.repeat(300));
    const start = runTeleops(['console', '-c', '/whoami'], { ...QUIET, STATE_DIR: dir.path });
    expect(await start.exited).toBe(2);
    expect(start.output()).toContain(
      `teleops: cannot start — ${db}: file is not a database — check STATE_DIR and AUDIT_ANCHOR_PATH\n`,
    );
    const doctor = runTeleops(['doctor'], { ...QUIET, STATE_DIR: dir.path });
    expect(await doctor.exited).toBe(1);
    expect(doctor.output()).toContain(
      `✗ audit: cannot read it: ${db}: file is not a database — restore the state directory from a backup`,
    );
    // Exit 3, "cannot be verified": a crash would exit 1, which reads as "broken".
    const verify = runTeleops(['audit', 'verify', '--state-dir', dir.path], QUIET);
    expect(await verify.exited).toBe(3);
    expect(verify.output()).toBe(`teleops audit verify: cannot read the audit log: ${db}: file is not a database\n`);
    // SQLite, but not teleops's: no audit table to verify.
    rmSync(db);
    const foreignDb = new Database(db);
    foreignDb.exec('CREATE TABLE notes (x)');
    foreignDb.close();
    const foreign = runTeleops(['audit', 'verify', '--state-dir', dir.path], QUIET);
    expect(await foreign.exited).toBe(3);
    expect(foreign.output()).toBe(`teleops audit verify: cannot read the audit log: ${db} holds no audit table\n`);
    // With an anchor that records entries, a log gone is a broken one (exit 1), as a replaced log is.
    writeFileSync(join(dir.path, 'audit.anchor'), `1 ${'0'.repeat(64)}\n`);
    const gone = runTeleops(['audit', 'verify', '--state-dir', dir.path], QUIET);
    expect(await gone.exited).toBe(1);
    expect(gone.output()).toBe(
      `audit log BROKEN (unreadable): ${db} holds no audit table, while the anchor records entries\n`,
    );
    for (const p of [start, doctor, verify, foreign, gone]) expect(p.output()).not.toMatch(/^\s+at /m);
  });

  it('a STATE_DIR with a line break and a terminal escape in its name: start says so in one line, escaped', async () => {
    const parent = tempDir();
    dir = parent;
    const evil = join(parent.path, 'evil\nline\u001b[31m');
    mkdirSync(evil);
    writeFileSync(join(evil, 'teleops.db'), 'garbage, not SQLite '.repeat(300));
    const start = runTeleops(['console', '-c', '/whoami'], { ...QUIET, STATE_DIR: evil });
    expect(await start.exited).toBe(2);
    expect(start.output()).toBe(
      `teleops: cannot start — ${parent.path}/evil\\nline\\u001b[31m/teleops.db: file is not a database — check STATE_DIR and AUDIT_ANCHOR_PATH\n`,
    );
  });

  it('a DATABASE_URL that cannot be reached: audit verify and export say so in one line', async () => {
    const url = `postgres://teleops@127.0.0.1:${await freePort()}/teleops`;
    const verify = runTeleops(['audit', 'verify'], { ...QUIET, DATABASE_URL: url });
    expect(await verify.exited).toBe(3);
    expect(verify.output()).toMatch(
      new RegExp(`^teleops audit verify: cannot read the audit log: cannot connect to ${url}: .*refused\\n$`),
    );
    const exported = runTeleops(['audit', 'export'], { ...QUIET, DATABASE_URL: url });
    expect(await exported.exited).toBe(2);
    expect(exported.output()).toMatch(/^teleops audit export: cannot read the audit log: cannot connect to .*\n$/);
  });

  it('an anchor file that cannot be opened: start-up says so in one line, naming the setting, and exits 2', async () => {
    dir = tempDir();
    const anchor = join(dir.path, 'audit.anchor');
    symlinkSync(anchor, anchor);
    const p = runTeleops(['console', '-c', '/whoami'], { ...QUIET, STATE_DIR: dir.path });
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain(
      `teleops: cannot start — cannot open the audit anchor ${anchor} (ELOOP) — check STATE_DIR and AUDIT_ANCHOR_PATH\n`,
    );
    expect(p.output()).not.toMatch(/^\s+at /m);
  });

  it.each([['doctor'], ['start']])(
    'STATE_DIR under /proc: %s says it cannot create the directory, and ends',
    async (verb) => {
      const p = runTeleops([verb], {
        ...QUIET,
        STATE_DIR: '/proc/teleops-state',
        TELEGRAM_BOT_TOKEN: '123:AAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
        AUTHORIZED_USER_IDS: '1',
        HTTP_PORT: '0',
      });
      const code = await Promise.race([p.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
      if (code === 'hung') await p.stop('SIGKILL');
      expect(code).not.toBe('hung');
      expect(p.output()).toMatch(/cannot create the directory \/proc\/teleops-state \(ENOENT\)/);
      expect(p.output()).not.toMatch(/^\s+at /m);
      expect(code).toBe(verb === 'doctor' ? 1 : 2);
    },
  );
});
