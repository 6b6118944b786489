/**
 * The state directory turns read-only, before or while the real `teleops start` runs. While
 * running it is what the kernel does to a filesystem after an error (ext4 errors=remount-ro):
 * every write fails at once, open files included — a plain remount is refused while SQLite
 * holds its files open. An action that cannot be audited does not run (one line), reads still
 * answer, /health says degraded, one alert goes out, and an Approve pressed meanwhile changes
 * nothing: after the filesystem is repaired and teleops restarted, the same button decides it.
 * With only the anchor file there, the decision is stored but its audit entry is not whole: it
 * is undone, so that no decision holds that the audit log cannot prove. Read-only before start,
 * it comes up answering reads on a copy of the state, and resumes once remounted read-write.
 * The state lives on an ext4 image of its own (loop-mounted here, as root); nothing else is touched.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/core/audit.js';
import { openDb } from '../../src/store/db.js';
import { FakeBotApi, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';

const OP = 10;

/** Whether this machine lets the test loop-mount an ext4 image and make it fail (root, loop, ext4). */
function canMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'loop-mounting an image needs root';
  const probe = mkdtempSync('/tmp/tro-probe-');
  const image = `${probe}.img`;
  try {
    execFileSync('truncate', ['-s', '4M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image], { stdio: 'ignore' });
    execFileSync('mount', ['-o', 'loop', image, probe], { stdio: 'ignore' });
    const trigger = triggerOf(probe);
    const found = existsSync(trigger);
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return found ? undefined : `no ${trigger} in this kernel`;
  } catch (e) {
    return `cannot loop-mount an ext4 image here (${(e as Error).message.split('\n')[0]})`;
  } finally {
    rmSync(image, { force: true });
    rmSync(probe, { recursive: true, force: true });
  }
}

/** ext4's own switch for "an error happened": with errors=remount-ro it turns the filesystem read-only. */
function triggerOf(mountpoint: string): string {
  const dev = execFileSync('findmnt', ['-n', '-o', 'SOURCE', mountpoint], { encoding: 'utf8' }).trim();
  return `/sys/fs/ext4/${basename(dev)}/trigger_fs_error`;
}

const missing = canMount();
if (missing && process.env.CI === 'true')
  throw new Error(`the read-only test needs a loop mount under CI=true: ${missing}`);
if (missing) console.warn(`[read-only state tests skipped] ${missing}`);

const approveData = (m: StoredMessage): string | undefined =>
  (m.reply_markup?.inline_keyboard ?? [])
    .flat()
    .map((b) => ('callback_data' in b ? b.callback_data : undefined))
    .find((d) => d?.startsWith('a:') && d.endsWith(':y'));

describe.skipIf(missing !== undefined)('a read-only state directory', { timeout: 120_000 }, () => {
  let fake: FakeBotApi;
  let image: string;
  let state: string;
  let outside: { path: string; remove(): void };
  let proc: Proc | undefined;
  let httpPort: number;

  const mount = (...opts: string[]) =>
    execFileSync('mount', ['-o', ['loop', 'errors=remount-ro', ...opts].join(','), image, state]);

  beforeEach(async () => {
    fake = new FakeBotApi();
    await fake.start();
    fake.createUser({ id: OP, username: 'op' });
    outside = tempDir();
    state = mkdtempSync('/tmp/tro-');
    image = `${state}.img`;
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', image], { stdio: 'ignore' });
    mount();
  });

  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
    await fake.stop();
    execFileSync('umount', ['-l', state], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
    rmSync(image, { force: true });
    outside.remove();
  });

  async function start(extra: Record<string, string> = {}): Promise<Proc> {
    httpPort = await freePort();
    const from = fake.calls.length;
    const p = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      STATE_DIR: state,
      HTTP_PORT: String(httpPort),
      DOCKER_ENABLED: 'false',
      TMUX_SOCKET: join(outside.path, 'tmux.sock'),
      // What the test target ran is counted outside the state directory.
      TEST_RUNS_FILE: join(outside.path, 'runs.txt'),
      CONFIRM_TTL_SECONDS: '3600',
      ALERT_COOLDOWN_SECONDS: '0',
      TELEGRAM_POLL_SECONDS: '1',
      // A failing filesystem drops what is not on disk yet: without an fsync per commit, one run
      // found the whole database of its few seconds gone after the repair (README, Reliability).
      AUDIT_FSYNC: 'true',
      ...extra,
    });
    proc = p;
    await untilPolling(fake, p, { from });
    return p;
  }

  const ran = (what: string): number =>
    existsSync(join(outside.path, 'runs.txt'))
      ? readFileSync(join(outside.path, 'runs.txt'), 'utf8')
          .split('\n')
          .filter((l) => l === what).length
      : 0;

  /** Stops teleops, repairs the filesystem the way an operator would, and mounts it again. */
  async function repair(): Promise<void> {
    expect(await proc!.stop()).toBe(0);
    proc = undefined;
    execFileSync('umount', [state]);
    try {
      execFileSync('e2fsck', ['-f', '-y', image], { stdio: 'ignore' });
    } catch (e) {
      // 1: errors were corrected, which is what this test expects.
      if ((e as { status?: number }).status !== 1) throw e;
    }
    mount();
  }

  /** ext4 fails, as after an I/O error. */
  function fail(): void {
    writeFileSync(triggerOf(state), 'teleops test: the state filesystem fails\n');
  }

  /** Presses a button and waits for Telegram's answer to the press. */
  async function press(messageId: number, data: string): Promise<string | undefined> {
    const answers = fake.callbackAnswers.length;
    fake.pressButton({ from: OP, messageId, data });
    await fake.waitFor(() => fake.callbackAnswers.length > answers, 30_000, 'the answer to the press');
    return fake.callbackAnswers.at(-1)!.text;
  }

  /** Sends a line and waits for the bot's next message that matches. */
  async function ask(text: string, match: RegExp): Promise<StoredMessage> {
    const after = fake.lastMessage(OP)?.message_id ?? 0;
    fake.sendText({ from: OP, text });
    return fake.waitForMessage({ chat: OP, after, match, timeoutMs: 30_000 });
  }

  async function health(): Promise<{
    status: string;
    checks: Record<string, string>;
    details: Record<string, string>;
  }> {
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
    return (await res.json()) as never;
  }

  it('turns read-only while running: refuses mutations, answers reads, degraded + alert; a pressed Approve waits', async () => {
    await start();
    await ask('/test touch before', /^touched before$/);
    const withButtons = await ask('/test menu', /^menu$/);
    expect(withButtons.reply_markup?.inline_keyboard.flat().map((b) => b.text)).toEqual(['Echo']);
    const card = await ask('/test destroy later', /test\.destroy/);
    const data = approveData(card);
    expect(data).toBeDefined();

    fail();
    const refused = await ask('/test touch during', /was not run/);
    expect(refused.text).toMatch(
      /^⚠️ test\.touch was not run: the audit log cannot be written \(.+: \S+ is on a read-only filesystem\), and nothing runs/,
    );
    expect(refused.text).not.toContain('\n');
    await ask('/test echo still here', /^echo: still here$/);
    // A read whose answer carries buttons (kept in the database) still answers, without them.
    const menu = await ask('/test menu', /^menu$/);
    expect(menu.reply_markup?.inline_keyboard ?? []).toEqual([]);
    const alert = await fake.waitForMessage({ chat: OP, match: /The audit log cannot be written/, timeoutMs: 30_000 });
    expect(alert.text).toContain('Mutating actions are refused until it can');
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.checks.audit).toBe('down');
    expect(h.details.audit).toMatch(/^cannot write: .+; mutating actions are refused$/);

    // Approve, pressed while nothing can be recorded: refused in one line, the card keeps its buttons.
    expect(await press(card.message_id, data!)).toMatch(
      /^Not decided: the audit log cannot be written .*the approval stays open/,
    );
    expect(approveData(fake.message(OP, card.message_id)!)).toBe(data);
    expect(ran('destroy later')).toBe(0);
    expect(ran('touch during')).toBe(0);
    expect(proc!.child.exitCode).toBeNull();
    const alerts = fake.messages(OP).filter((m) => /The audit log cannot be written/.test(m.text ?? '')).length;
    expect(alerts).toBe(1);

    // An operator repairs the filesystem and restarts teleops: the same button decides it, once.
    await repair();
    await start();
    fake.pressButton({ from: OP, messageId: card.message_id, data: data! });
    await fake.waitFor(() => ran('destroy later') === 1, 30_000, 'the approved request to run');
    await fake.waitFor(
      () => /approved by/i.test(fake.message(OP, card.message_id)?.text ?? ''),
      30_000,
      'the card to say who approved it',
    );
    await ask('/test touch after', /^touched after$/);
    const h2 = await health();
    expect(h2.checks.audit).toBe('up');
    await proc!.stop();
    proc = undefined;
    const verify = runTeleops(['audit', 'verify', '--state-dir', state], {});
    expect(await verify.exited, verify.output()).toBe(0);
    expect(ran('destroy later')).toBe(1);
    console.log(
      `read-only state (ext4 errors=remount-ro, triggered while running): 1 mutation refused, reads answered, ` +
        `${alerts} alert, /health ${h.status}; Approve pressed meanwhile: refused, 0 runs; after repair and restart: ` +
        `ran once, audit verify exit 0`,
    );
  });

  it('only the anchor file read-only: a decision stored but not audited is undone, and the button decides it later', async () => {
    // The database on a disk that works, the anchor file on the one that fails.
    const db = tempDir();
    const anchor = join(state, 'audit.anchor');
    const on = { STATE_DIR: db.path, AUDIT_ANCHOR_PATH: anchor };
    try {
      await start(on);
      const card = await ask('/test destroy undone', /test\.destroy/);
      const data = approveData(card)!;
      fail();
      // The approvals table takes the decision; its audit entry's anchor line cannot be written.
      expect(await press(card.message_id, data)).toMatch(
        /^Not decided: the audit log cannot be written \(audit entry \d+ was written but its anchor line was not/,
      );
      const pending = () => {
        const d = new Database(join(db.path, 'teleops.db'), { readonly: true });
        try {
          return d.prepare('SELECT state FROM approvals').pluck().all();
        } finally {
          d.close();
        }
      };
      expect(pending()).toEqual(['pending']);
      expect(ran('destroy undone')).toBe(0);
      await repair();
      await start(on);
      await press(card.message_id, data);
      await fake.waitFor(() => ran('destroy undone') === 1, 30_000, 'the approved request to run');
      await proc!.stop();
      proc = undefined;
      const verify = runTeleops(['audit', 'verify'], on);
      const code = await verify.exited;
      console.log(
        `anchor read-only, Approve undone then decided after repair: audit verify exit ${code}: ${verify.output().trim()}`,
      );
      expect(code).toBe(0);
      expect(pending()).toEqual(['approved']);
    } finally {
      await proc?.stop();
      proc = undefined;
      db.remove();
    }
  });

  it('read-only at start: answers reads, refuses mutations, degraded + alert; remounted rw: resumes, no restart', async () => {
    await start();
    await ask('/test touch first', /^touched first$/);
    const card = await ask('/test destroy waiting', /test\.destroy/);
    const data = approveData(card)!;
    await proc!.stop();
    proc = undefined;
    // A plain remount, while nothing holds the state's files open: ext4's own read-only after an
    // error (the first test) cannot be undone without an unmount, and a running bot's open files
    // keep the kernel from a plain read-only remount.
    execFileSync('mount', ['-o', 'remount,ro', state]);
    const p = await start();
    await ask('/whoami', /operator/);
    await ask('/help', /\/test/);
    await ask('/status', /audit: down — cannot write: \S+ is on a read-only filesystem/);
    await ask('/test echo read-only', /^echo: read-only$/);
    const refused = await ask('/test touch ro', /was not run/);
    expect(refused.text).toMatch(
      /^⚠️ test\.touch was not run: the audit log cannot be written \(\S+ is on a read-only filesystem\), and nothing runs/,
    );
    expect(refused.text).not.toContain('\n');
    expect(await press(card.message_id, data)).toMatch(/^Not decided: the audit log cannot be written/);
    await fake.waitForMessage({
      chat: OP,
      match: /The audit log cannot be written: \S+ is on a read-only/,
      timeoutMs: 30_000,
    });
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.checks.audit).toBe('down');
    expect(h.details.audit).toMatch(/^cannot write: \S+ is on a read-only filesystem; mutating actions are refused$/);

    execFileSync('mount', ['-o', 'remount,rw', state]);
    await fake.waitForMessage({ chat: OP, match: /The audit log can be written again/, timeoutMs: 30_000 });
    const h2 = await health();
    expect(h2.checks.audit, JSON.stringify(h2)).toBe('up');
    expect(h2.status, JSON.stringify(h2)).toBe('ok');
    await ask('/test touch back', /^touched back$/);
    await press(card.message_id, data);
    await fake.waitFor(() => ran('destroy waiting') === 1, 30_000, 'the approved request to run');
    expect(p.child.exitCode).toBeNull();
    const said = (re: RegExp) => fake.messages(OP).filter((m) => re.test(m.text ?? '')).length;
    expect(said(/The audit log cannot be written/)).toBe(1);
    expect(said(/The audit log can be written again/)).toBe(1);
    await proc!.stop();
    proc = undefined;
    const verify = runTeleops(['audit', 'verify', '--state-dir', state], {});
    expect(await verify.exited, verify.output()).toBe(0);
    expect(ran('touch ro')).toBe(0);
    expect(ran('touch back')).toBe(1);
    expect(ran('destroy waiting')).toBe(1);
    console.log(
      `read-only at start (remount,ro): came up, reads answered, 1 mutation and 1 Approve refused, 1 alert, /health ` +
        `${h.status}; remount,rw while running: 1 "writable again" alert, /health ${h2.status}, the same process ran ` +
        `the next action and the approval once, audit verify exit 0`,
    );
  });

  it('teleops audit verify and export read a state directory mounted read-only, its WAL too; hostile files there are one line', async () => {
    // Evidence as an operator keeps it: the files of a live state copied aside, the last entries
    // still in the WAL, then mounted read-only, where SQLite cannot make the -shm file it reads a WAL with.
    const live = join(outside.path, 'live');
    const db = openDb(live);
    const log = new AuditLog(db, { anchorPath: join(live, 'audit.anchor') });
    for (let i = 0; i < 5; i++)
      log.append({
        operator: 'tg:10',
        chat: 10,
        origin: 'command',
        action: 'test.touch',
        target: 'test',
        params: { i },
        outcome: 'ok',
      });
    for (const f of ['teleops.db', 'teleops.db-wal', 'audit.anchor']) copyFileSync(join(live, f), join(state, f));
    log.close();
    db.close();
    copyFileSync(join(state, 'teleops.db'), join(outside.path, 'main-only.db'));
    const inMainFile = new Database(join(outside.path, 'main-only.db'));
    // Not checkpointed yet: the main file alone does not even hold the audit table.
    expect(inMainFile.prepare(`SELECT count(*) FROM sqlite_schema WHERE name = 'audit'`).pluck().get()).toBe(0);
    inMainFile.close();
    execFileSync('mount', ['-o', 'remount,ro', state]);
    // The copy they read goes to TMPDIR, only this user's, and is gone when they exit.
    const tmp = join(outside.path, 'tmp');
    mkdirSync(tmp);
    const cli = (args: string[]) => runTeleops(args, { TMPDIR: tmp });

    const verify = cli(['audit', 'verify', '--state-dir', state]);
    expect(await verify.exited, verify.output()).toBe(0);
    expect(verify.output()).toBe('audit log intact: 5 entries, head #5\n');
    const exported = cli(['audit', 'export', '--state-dir', state]);
    expect(await exported.exited, exported.output()).toBe(0);
    expect(
      exported
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{"seq":')),
    ).toHaveLength(5);
    expect(readdirSync(tmp)).toEqual([]);

    // What a hostile directory may hold instead: each is one line, never a stack trace, never "intact".
    const tryWith = async (plant: () => void): Promise<{ code: number | null; output: string }> => {
      execFileSync('mount', ['-o', 'remount,rw', state]);
      plant();
      execFileSync('mount', ['-o', 'remount,ro', state]);
      const p = cli(['audit', 'verify', '--state-dir', state]);
      const code = await p.exited;
      expect(readdirSync(tmp)).toEqual([]);
      return { code, output: p.output() };
    };
    // A WAL that is a symlink (to a file of any size, or a FIFO that would hang a copy): not followed.
    const wal = join(state, 'teleops.db-wal');
    expect(
      await tryWith(() => {
        rmSync(wal);
        symlinkSync('/dev/zero', wal);
      }),
    ).toEqual({
      code: 3,
      output: `teleops audit verify: cannot read the audit log: ${wal} is not a regular file\n`,
    });
    // The database destroyed while the anchor says there were entries: broken, as a replaced log is.
    expect(
      await tryWith(() => {
        rmSync(wal);
        writeFileSync(join(state, 'teleops.db'), 'not a database '.repeat(400));
      }),
    ).toEqual({
      code: 1,
      output: `audit log BROKEN (unreadable): ${join(state, 'teleops.db')}: file is not a database, while the anchor records entries\n`,
    });
  });

  it('a fresh state directory, read-only at start: answers reads from an empty store; remounted rw: the store is made', async () => {
    execFileSync('mount', ['-o', 'remount,ro', state]);
    await start();
    await ask('/test echo fresh', /^echo: fresh$/);
    await ask('/test touch fresh', /was not run: the audit log cannot be written/);
    expect(existsSync(join(state, 'teleops.db'))).toBe(false);
    execFileSync('mount', ['-o', 'remount,rw', state]);
    await fake.waitForMessage({ chat: OP, match: /The audit log can be written again/, timeoutMs: 30_000 });
    await ask('/test touch made', /^touched made$/);
    await proc!.stop();
    proc = undefined;
    const verify = runTeleops(['audit', 'verify', '--state-dir', state], {});
    expect(await verify.exited, verify.output()).toBe(0);
    expect(ran('touch fresh')).toBe(0);
    expect(ran('touch made')).toBe(1);
  });
});
