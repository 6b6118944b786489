import { describe, it, type TestContext } from 'vitest';
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dbPath } from '../../src/store/db.js';
import { FakeBotApi, type PostAnswer } from '../fakes/botapi.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { runs } from '../support/test-target.js';
import { tempDir } from '../support/app.js';

const OP = 10;
const STRANGER = 999;
const SECRET = 'hook_Secret-0123456789abcdefABCDEF';
const URL_ = 'https://bot.example.test/tg/hook';
const KEY = 'e2e-audit-key-0123456789';

interface Replica {
  readonly proc: Proc;
  /** Where the TLS-terminating proxy forwards the webhook URL to. */
  readonly to: string;
  readonly httpPort: number;
}

/**
 * A fake Bot API and a state directory of the test's own, closed when it ends: the tests run at
 * once (each waits mostly on its own processes), each with its bot.
 */
async function setup({ onTestFinished }: TestContext) {
  const fake = new FakeBotApi({ username: 'teleops_test_bot' });
  await fake.start();
  for (const id of [OP, STRANGER]) fake.createUser({ id, username: `u${id}` });
  const dir = tempDir();
  const procs: Proc[] = [];
  onTestFinished(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await fake.stop();
    dir.remove();
  });

  const env = async (extra: Record<string, string> = {}): Promise<Record<string, string>> => ({
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    STATE_DIR: dir.path,
    HTTP_PORT: String(await freePort()),
    DOCKER_ENABLED: 'false',
    TEST_RUNS_FILE: join(dir.path, 'runs.txt'),
    AUDIT_HMAC_KEY: KEY,
    TELEGRAM_WEBHOOK_URL: URL_,
    TELEGRAM_WEBHOOK_SECRET: SECRET,
    TELEGRAM_WEBHOOK_PORT: String(await freePort()),
    ...extra,
  });

  /** The rows of the audit table, or one column of them. */
  const audit = <T>(sql: string): T[] => {
    const db = new Database(dbPath(dir.path), { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };

  /** `teleops ARGS`, stopped when the test ends. */
  const run = (args: string[], e: Record<string, string>): Proc => {
    const proc = runTeleops(args, e);
    procs.push(proc);
    return proc;
  };

  return {
    fake,
    env,
    run,
    /** `teleops start` in webhook mode, once it has told Telegram its webhook. */
    async replica(extra: Record<string, string> = {}): Promise<Replica> {
      const e = await env(extra);
      const before = fake.webhookCalls.length;
      const proc = run(['start'], e);
      await fake.waitFor(
        () => fake.webhookCalls.slice(before).some((c) => c.method === 'setWebhook'),
        30_000,
        'the bot to set its webhook',
      );
      await proc.waitForOutput(/serving the Telegram webhook/);
      return { proc, to: `http://127.0.0.1:${e.TELEGRAM_WEBHOOK_PORT}`, httpPort: Number(e.HTTP_PORT) };
    },
    runsFile: () => join(dir.path, 'runs.txt'),
    auditRows: () =>
      audit<{ seq: number; prev_hash: string; hash: string }>('SELECT seq, prev_hash, hash FROM audit ORDER BY seq'),
    auditedActions: () =>
      audit<{ entry: string }>('SELECT entry FROM audit ORDER BY seq').map(
        (r) => (JSON.parse(r.entry) as { action?: string }).action ?? '',
      ),
  };
}

async function metric(r: Replica, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.httpPort}/metrics`)).text();
  const m = new RegExp(`^teleops_webhook_requests_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

const statuses = (answers: readonly PostAnswer[]) => answers.map((a) => a.status);

describe.concurrent('teleops start in webhook mode', () => {
  it('sets the webhook with its secret, never polls, and answers a command Telegram posts', async (ctx) => {
    const { fake, replica } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const set = fake.webhookCalls.find((c) => c.method === 'setWebhook');
    expect(set).toEqual({
      method: 'setWebhook',
      info: { url: URL_, secret_token: SECRET, allowed_updates: ['message', 'callback_query'] },
    });
    const { updateId } = fake.sendText({ from: OP, text: '/whoami' });
    expect((await fake.postWebhook(updateId, { to: r.to })).status).toBe(200);
    await fake.waitForMessage({ chat: OP, match: /User 10 · chat 10 · role operator/ });
    expect(fake.calls.some((c) => c.method === 'getUpdates')).toBe(false);
    const health: unknown = await (await fetch(`http://127.0.0.1:${r.httpPort}/health`)).json();
    expect(health).toMatchObject({
      checks: { telegram: 'up' },
      details: { telegram: expect.stringMatching(/^webhook as @teleops_test_bot, \d+ updates pending$/) },
    });
  });

  it('/health is down when the webhook at Telegram is no longer this one', async (ctx) => {
    const { fake, replica } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    // Someone else takes the bot over (another instance starts polling): nothing arrives here now.
    await fetch(`${fake.apiRoot}/bot${fake.token}/deleteWebhook`, { method: 'POST' });
    const res = await fetch(`http://127.0.0.1:${r.httpPort}/health`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { details: Record<string, string> };
    expect(body.details.telegram).toMatch(/webhook at Telegram is not set/);
  });

  it('refuses a wrong, missing, padded or cut secret with 401, counts it, and runs and audits nothing', async (ctx) => {
    const { fake, replica, runsFile, auditedActions } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const { updateId } = fake.sendText({ from: OP, text: '/test touch forged' });
    const forged = [
      { secret: null },
      { secret: '' },
      { secret: SECRET.replace(/.$/, 'X') },
      { secret: `${SECRET}A` },
      { secret: `${SECRET}${SECRET}` },
      { secret: SECRET.slice(0, -1) },
      { secret: SECRET.toLowerCase() },
      // Forged requests get 401 before their method, path or body is looked at.
      { secret: 'nope', method: 'GET' },
      { secret: 'nope', path: '/other' },
      { secret: 'nope', body: 'not json' },
    ];
    for (const f of forged) {
      const a = await fake.postWebhook(updateId, { to: r.to, ...f });
      expect(a.status, JSON.stringify(f)).toBe(401);
    }
    expect(await metric(r, 'unauthorized')).toBe(forged.length);
    expect(runs(runsFile(), 'touch')).toBe(0);
    expect(auditedActions()).not.toContain('test.touch');
    expect(fake.messages(OP)).toHaveLength(0);
    // Nothing forged claimed the update: Telegram's own delivery of it still runs.
    expect((await fake.postWebhook(updateId, { to: r.to })).status).toBe(200);
    await fake.waitForMessage({ chat: OP, match: /touched forged/ });
    expect(runs(runsFile(), 'touch')).toBe(1);
  });

  it('with the secret: only a POST of one JSON update to the path', async (ctx) => {
    const { fake, replica, runsFile } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const { updateId } = fake.sendText({ from: OP, text: '/test touch odd' });
    expect((await fake.postWebhook(updateId, { to: r.to, method: 'GET' })).status).toBe(405);
    expect((await fake.postWebhook(updateId, { to: r.to, path: '/tg/other' })).status).toBe(404);
    expect((await fake.postWebhook(updateId, { to: r.to, body: '{"update_id":' })).status).toBe(400);
    expect((await fake.postWebhook(updateId, { to: r.to, body: '{"update_id":-1}' })).status).toBe(400);
    expect((await fake.postWebhook(updateId, { to: r.to, body: '[1]' })).status).toBe(400);
    expect(await metric(r, 'invalid')).toBe(3);
    expect(runs(runsFile(), 'touch')).toBe(0);
  });

  it('an oversized body gets 413 and is not read', async (ctx) => {
    const { fake, replica, runsFile } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const { updateId } = fake.sendText({ from: OP, text: '/test touch big' });
    // Claimed far beyond the bound, sent only in part: refused from the header alone.
    const claimed = await fake.postWebhook(updateId, { to: r.to, body: '{', contentLength: 64 * 1024 * 1024 });
    expect(claimed.status).toBe(413);
    const padded = JSON.stringify({ ...fake.updates.get(updateId), pad: 'x'.repeat(1024 * 1024) });
    expect((await fake.postWebhook(updateId, { to: r.to, body: padded })).status).toBe(413);
    expect(await metric(r, 'too_large')).toBe(2);
    expect(runs(runsFile(), 'touch')).toBe(0);
  });

  it('an update delivered twice, or many times at once, runs once', async (ctx) => {
    const { fake, replica, runsFile } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const first = fake.sendText({ from: OP, text: '/test touch again' }).updateId;
    expect((await fake.postWebhook(first, { to: r.to })).status).toBe(200);
    expect((await fake.postWebhook(first, { to: r.to })).status).toBe(200);
    const second = fake.sendText({ from: OP, text: '/test touch burst' }).updateId;
    const burst = await Promise.all(Array.from({ length: 8 }, () => fake.postWebhook(second, { to: r.to })));
    expect(statuses(burst)).toEqual(Array(8).fill(200));
    await fake.waitForMessage({ chat: OP, match: /touched again/ });
    await fake.waitForMessage({ chat: OP, match: /touched burst/ });
    // Every answer above came after its claim: the duplicates are decided, none can run later.
    expect(await metric(r, 'accepted')).toBe(2);
    expect(await metric(r, 'duplicate')).toBe(8);
    expect(runs(runsFile(), 'touch')).toBe(2);
    expect(fake.messages(OP).filter((m) => /touched/.test(m.text ?? ''))).toHaveLength(2);
  });

  it('two processes on one state directory: an update delivered to both runs once', async (ctx) => {
    const { fake, replica, runsFile, auditRows, auditedActions } = await setup(ctx);
    const { expect } = ctx;
    const a = await replica();
    const b = await replica();
    // One after the other: the second replica finds the claim of the first.
    const one = fake.sendText({ from: OP, text: '/test touch one' }).updateId;
    expect((await fake.postWebhook(one, { to: a.to })).status).toBe(200);
    expect((await fake.postWebhook(one, { to: b.to })).status).toBe(200);
    // At once, several times to each.
    const two = fake.sendText({ from: OP, text: '/test touch two' }).updateId;
    const answers = await Promise.all([a, b, a, b, a, b].map((r) => fake.postWebhook(two, { to: r.to })));
    expect(statuses(answers)).toEqual(Array(6).fill(200));
    await fake.waitForMessage({ chat: OP, match: /touched one/ });
    await fake.waitForMessage({ chat: OP, match: /touched two/ });
    const accepted = (await metric(a, 'accepted')) + (await metric(b, 'accepted'));
    const duplicate = (await metric(a, 'duplicate')) + (await metric(b, 'duplicate'));
    expect([accepted, duplicate]).toEqual([2, 6]);
    expect(runs(runsFile(), 'touch')).toBe(2);
    // Both write the one audit chain at once: each append is one immediate transaction.
    const many = Array.from({ length: 10 }, (_, i) => fake.sendText({ from: OP, text: `/test touch m${i}` }).updateId);
    await Promise.all(many.map((id, i) => fake.postWebhook(id, { to: (i % 2 ? a : b).to })));
    for (let i = 0; i < 10; i++) await fake.waitForMessage({ chat: OP, match: `touched m${i}` });
    expect(runs(runsFile(), 'touch')).toBe(12);
    expect(auditedActions().filter((x) => x === 'test.touch')).toHaveLength(24);
    await Promise.all([a.proc.stop(), b.proc.stop()]);
    // One chain in the table, each entry linked to the one before. (The anchor FILE is not:
    // each process appends its line after its commit, so two writers can leave them out of
    // order, which `audit verify` reports; sharing one SQLite file is not a supported setup.)
    const rows = auditRows();
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
  });

  it('Telegram delivering to two replicas, one stopped mid-stream: every update runs once', async (ctx) => {
    const { fake, replica, runsFile } = await setup(ctx);
    const { expect } = ctx;
    const a = await replica();
    const b = await replica();
    fake.deliverWebhooks([a.to, b.to], { parallel: 4 });
    const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const ids: number[] = [];
    const send = (from: number, to: number) => {
      for (const n of names.slice(from, to)) ids.push(fake.sendText({ from: OP, text: `/test touch ${n}` }).updateId);
    };
    send(0, 10);
    await fake.waitForMessage({ chat: OP, match: 'touched n2' });
    const stopped = b.proc.stop('SIGTERM');
    send(10, 15);
    expect(await stopped).toBe(0);
    // Half of these go to the stopped replica first, and come again to the other.
    send(15, 20);
    for (const n of names) await fake.waitForMessage({ chat: OP, match: `touched ${n}`, timeoutMs: 20_000 });
    const ran = readFileSync(runsFile(), 'utf8').trim().split('\n').sort();
    expect(ran).toEqual(names.map((n) => `touch ${n}`).sort());
    expect(ids.filter((id) => fake.deliveryCount(id) > 1).length).toBeGreaterThan(0);
    expect(fake.pendingUpdates).toBe(0);
  });

  it('SIGTERM stops taking updates and lets the ones taken finish', async (ctx) => {
    const { fake, replica, runsFile } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    const slow = fake.sendText({ from: OP, text: '/test slow 1000' }).updateId;
    expect((await fake.postWebhook(slow, { to: r.to })).status).toBe(200);
    const code = r.proc.stop('SIGTERM');
    await r.proc.waitForOutput(/shutting down/);
    const late = fake.sendText({ from: OP, text: '/test touch late' }).updateId;
    // Refused (503) or not connected at all: either way Telegram keeps the update for later.
    const refused = await fake.postWebhook(late, { to: r.to }).then(
      (a) => a.status,
      () => 'no connection',
    );
    expect([503, 'no connection']).toContain(refused);
    expect(await code).toBe(0);
    expect(fake.messages(OP).some((m) => /slept 1000 ms/.test(m.text ?? ''))).toBe(true);
    expect(runs(runsFile(), 'touch')).toBe(0);
  });

  it('back to polling: the webhook is deleted and updates are polled', async (ctx) => {
    const { fake, env, replica, run } = await setup(ctx);
    const { expect } = ctx;
    const r = await replica();
    await r.proc.stop();
    const e = await env({ TELEGRAM_WEBHOOK_URL: '', TELEGRAM_WEBHOOK_SECRET: '' });
    run(['start'], e);
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'getUpdates' && c.status !== 409), 30_000, 'a poll');
    expect(fake.webhookCalls.at(-1)).toEqual({ method: 'deleteWebhook' });
    expect(fake.webhook).toBeUndefined();
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/ });
  });
});

describe.concurrent('webhook settings', () => {
  it('refuses a webhook without a secret, an http URL, a bad secret and a shared port, in one go', async (ctx) => {
    const { env, run } = await setup(ctx);
    const { expect } = ctx;
    const e = await env({
      TELEGRAM_WEBHOOK_SECRET: '',
      HTTP_PORT: '9000',
      TELEGRAM_WEBHOOK_PORT: '9000',
    });
    const p = run(['start'], e);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain('TELEGRAM_WEBHOOK_SECRET: missing');
    expect(p.output()).toContain('TELEGRAM_WEBHOOK_PORT: is HTTP_PORT too');
    const q = run(
      ['start'],
      await env({ TELEGRAM_WEBHOOK_URL: 'http://bot.example.test/hook', TELEGRAM_WEBHOOK_SECRET: 'has space' }),
    );
    expect(await q.exited).toBe(2);
    expect(q.output()).toContain('TELEGRAM_WEBHOOK_URL: "http://bot.example.test/hook" is not an https URL');
    expect(q.output()).toContain('TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters');
    expect(q.output()).not.toContain('has space');
    expect(q.output()).not.toMatch(/\n\s+at /);
  });

  it('a webhook port in use stops start-up with one line naming it', async (ctx) => {
    const { fake, env, run } = await setup(ctx);
    const { expect } = ctx;
    const e = await env();
    run(['start'], { ...e, TELEGRAM_WEBHOOK_PORT: e.HTTP_PORT!, HTTP_PORT: '0' });
    await fake.waitFor(() => fake.webhookCalls.length > 0, 30_000, 'the first replica');
    const p = run(['start'], { ...e, TELEGRAM_WEBHOOK_PORT: e.HTTP_PORT!, HTTP_PORT: '0' });
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(/teleops: cannot start — TELEGRAM_WEBHOOK_PORT \d+ is in use on 127\.0\.0\.1/);
  });
});
