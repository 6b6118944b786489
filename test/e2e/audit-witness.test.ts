import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/store/db.js';
import { FakeBotApi } from '../fakes/botapi.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';
import { tempDir } from '../support/app.js';

/*
 * Issue 12, item 6: the audit's proof survives whoever owns the host. The owner of the host
 * can cut the end of both the table and the anchor file, HMAC key or not; what a witness
 * (here a Telegram chat, through the fake Bot API) saw shows it.
 */

const OP = 10;
const WITNESS = -1009000;
const KEY = 'e2e-witness-key-0123456789';

let fake: FakeBotApi;
let dir: { path: string; remove(): void };
let proc: Proc | undefined;
let httpPort: number;

beforeEach(async () => {
  fake = new FakeBotApi({ username: 'teleops_test_bot' });
  await fake.start();
  fake.createUser({ id: OP, username: `u${OP}` });
  fake.createChat({ id: WITNESS, type: 'supergroup', title: 'audit witness' });
  dir = tempDir();
  httpPort = await freePort();
});

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
  await fake.stop();
  dir.remove();
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  TELEGRAM_BOT_TOKEN: fake.token,
  TELEGRAM_API_ROOT: fake.apiRoot,
  AUTHORIZED_USER_IDS: String(OP),
  STATE_DIR: dir.path,
  HTTP_PORT: String(httpPort),
  DOCKER_ENABLED: 'false',
  TMUX_ENABLED: 'false',
  TEST_RUNS_FILE: join(dir.path, 'runs.txt'),
  AUDIT_HMAC_KEY: KEY,
  AUDIT_WITNESS: `telegram:${WITNESS}`,
  AUDIT_WITNESS_EVERY: '1',
  AUDIT_VERIFY_EVERY: 'off',
  ...extra,
});

async function start(extra: Record<string, string> = {}): Promise<Proc> {
  const before = fake.calls.length;
  proc = runTeleops(['start'], env(extra));
  await untilPolling(fake, proc, { from: before });
  return proc;
}

const HEAD = /^teleops audit head #(\d+) ([0-9a-f]{64}) keyed key_id=([0-9a-f]{16}) at /;

/** The newest head the witness chat holds. */
function witnessed(): { seq: number; hash: string } | undefined {
  const heads = fake.messages(WITNESS).flatMap((m) => {
    const h = HEAD.exec(m.text ?? '');
    return h ? [{ seq: Number(h[1]), hash: h[2]! }] : [];
  });
  return heads.sort((a, b) => b.seq - a.seq)[0];
}

/** As the owner of the host would: drop the newest entries from the table and the anchor. */
function cutBoth(keep: number): void {
  const db = openDb(dir.path);
  db.prepare('DELETE FROM audit WHERE seq > ?').run(keep);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const anchor = join(dir.path, 'audit.anchor');
  const lines = readFileSync(anchor, 'latin1')
    .split('\n')
    .filter((l) => l !== '' && Number(l.split(' ')[0]) <= keep);
  writeFileSync(anchor, lines.map((l) => `${l}\n`).join(''));
}

describe('audit witnesses through the Bot API', () => {
  it('posts the keyed head to the witness chat', async () => {
    await start();
    fake.sendText({ from: OP, text: '/whoami' });
    const m = await fake.waitForMessage({ chat: WITNESS, match: HEAD });
    expect(m.text).toMatch(HEAD);
  });

  it('a cut of both table and anchor verifies intact alone, but not against the witnessed head (CLI and /audit verify)', async () => {
    await start();
    for (let i = 0; i < 6; i++) {
      fake.sendText({ from: OP, text: `/test echo ${i}` });
      await fake.waitForMessage({ chat: OP, match: new RegExp(`echo: ${i}`) });
    }
    await fake.waitFor(() => (witnessed()?.seq ?? 0) >= 6, 90_000, 'the witness to see the head');
    await proc!.stop();
    proc = undefined;
    const head = witnessed()!;
    cutBoth(head.seq - 4);

    const alone = runTeleops(['audit', 'verify', '--state-dir', dir.path], { AUDIT_HMAC_KEY: KEY });
    expect(await alone.exited).toBe(0);
    const against = runTeleops(['audit', 'verify', '--state-dir', dir.path, '--head', `${head.seq}:${head.hash}`], {
      AUDIT_HMAC_KEY: KEY,
    });
    expect(await against.exited).toBe(1);
    expect(against.output()).toContain(
      `(truncated): audit entry ${head.seq - 3}: truncated: the witnessed head ${head.seq}:${head.hash} saw entry ${head.seq}, the table ends at entry ${head.seq - 4}`,
    );

    await start();
    const after = fake.messages(OP).at(-1)?.message_id ?? 0;
    fake.sendText({ from: OP, text: '/audit verify' });
    const reply = await fake.waitForMessage({ chat: OP, after, match: /Audit log/ });
    expect(reply.text).toMatch(
      /^❌ Audit log broken at #\d+ \((truncated|replaced)\): .*the head posted to telegram:-1009000/,
    );
  }, 180_000);

  it('the scheduled verification raises an alert in the chat and turns /status and /health to down', async () => {
    await start({ AUDIT_VERIFY_EVERY: '1s', AUDIT_WITNESS: '' });
    // The first verification runs at start; /status shows its result once there is one.
    for (let i = 0; ; i++) {
      const after = fake.messages(OP).at(-1)?.message_id ?? 0;
      fake.sendText({ from: OP, text: '/status' });
      const m = await fake.waitForMessage({ chat: OP, after, match: /audit: / });
      if (/🟢 audit: up — .*intact, \d+ entr(?:y|ies) verified/.test(m.text ?? '')) break;
      if (i > 50) throw new Error(`no verification result in /status: ${m.text}`);
    }
    const db = openDb(dir.path);
    db.prepare(
      `UPDATE audit SET entry = replace(entry, 'core.status', 'core.statuz') WHERE seq = (SELECT min(seq) FROM audit WHERE entry LIKE '%core.status%')`,
    ).run();
    db.close();
    const alert = await fake.waitForMessage({
      chat: OP,
      match: /🚨 Audit log broken at #\d+ \(modified\)/,
      timeoutMs: 30_000,
    });
    expect(alert.text).toContain('Investigate before trusting the log');
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
    // Reported, not fatal: the bot still works, and a liveness probe must not restart it in a loop.
    expect(res.status).toBe(200);
    const health = (await res.json()) as {
      status: string;
      checks: Record<string, string>;
      details: Record<string, string>;
    };
    expect(health.status).toBe('degraded');
    expect(health.checks.audit).toBe('down');
    expect(health.details.audit).toMatch(/^BROKEN \(verified .* UTC\): audit entry \d+: modified/);
    const after = fake.messages(OP).at(-1)!.message_id;
    fake.sendText({ from: OP, text: '/status' });
    await fake.waitForMessage({ chat: OP, after, match: /🔴 audit: down — BROKEN/ });
  }, 180_000);
});
