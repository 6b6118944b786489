import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { dbPath } from '../../src/store/db.js';
import { FakeBotApi } from '../fakes/botapi.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';
import { runs } from '../support/test-target.js';
import { tempDir } from '../support/app.js';

const OP = 10;
const OP2 = 11;
const VIEWER = 30;
const STRANGER = 999;
const GROUP = -1001000;
const OTHER_GROUP = -1002000;

let fake: FakeBotApi;
let dir: { path: string; remove(): void };
let proc: Proc | undefined;
let httpPort: number;

beforeEach(async () => {
  fake = new FakeBotApi({ username: 'teleops_test_bot' });
  await fake.start();
  for (const id of [OP, OP2, VIEWER, STRANGER]) fake.createUser({ id, username: `u${id}` });
  fake.createChat({ id: GROUP, type: 'supergroup', title: 'ops' });
  fake.createChat({ id: OTHER_GROUP, type: 'supergroup', title: 'elsewhere' });
  dir = tempDir();
  httpPort = await freePort();
});

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
  await fake.stop();
  dir.remove();
});

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: `${OP},${OP2}`,
    VIEWER_USER_IDS: String(VIEWER),
    AUTHORIZED_CHAT_IDS: String(GROUP),
    STATE_DIR: dir.path,
    HTTP_PORT: String(httpPort),
    DOCKER_ENABLED: 'false',
    TEST_RUNS_FILE: join(dir.path, 'runs.txt'),
    AUDIT_HMAC_KEY: 'e2e-audit-key-0123456789',
    ...extra,
  };
}

async function start(extra: Record<string, string> = {}): Promise<Proc> {
  const before = fake.calls.length;
  proc = runTeleops(['start'], env(extra));
  await untilPolling(fake, proc, { from: before });
  return proc;
}

const runsFile = () => join(dir.path, 'runs.txt');
const buttonData = (chat: number, messageId: number) =>
  (fake.message(chat, messageId)?.reply_markup?.inline_keyboard ?? [])
    .flat()
    .map((b) => ('callback_data' in b ? b.callback_data : ''));

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('teleops start against the Bot API', () => {
  it('registers the command menu and answers /whoami', async () => {
    await start();
    // The menu is registered beside start-up, not before it.
    const menu = await fake.waitFor(() => fake.commands, 5000, 'the command menu');
    expect(menu.map((c) => c.command)).toEqual(
      expect.arrayContaining(['start', 'help', 'status', 'whoami', 'audit', 'cancel']),
    );
    fake.sendText({ from: OP, text: '/whoami' });
    const reply = await fake.waitForMessage({ chat: OP, match: /User 10 · chat 10 · role operator/ });
    // One line at start says what answers: JSON here, since stderr is not a terminal.
    await proc!.waitForOutput(/"msg":"integrations: [^"]*docker off[^"]*"/);
    expect(reply.entities?.every((e) => e.type === 'code')).toBe(true);
    expect(fake.parseModeAttempts).toHaveLength(0);
  });

  it('says nothing at all to strangers, counts and audits them', async () => {
    await start();
    fake.sendText({ from: STRANGER, text: '/whoami' });
    fake.sendText({ from: STRANGER, chat: GROUP, text: '/test touch x' });
    fake.sendText({ from: OP, chat: OTHER_GROUP, text: '/whoami' });
    // A bot in the group, and an anonymous admin (Telegram sends those as a bot).
    fake.createUser({ id: 4242, isBot: true, username: 'other_bot' });
    fake.sendText({ from: 4242, chat: GROUP, text: '/test touch bot' });
    const ops = { id: GROUP, type: 'supergroup' as const, title: 'ops' };
    fake.pushUpdate({
      message: {
        message_id: 900,
        date: 0,
        chat: ops,
        sender_chat: ops,
        from: { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' },
        text: '/test touch anon',
      },
    });
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/ });
    expect(fake.messages(STRANGER)).toHaveLength(0);
    expect(fake.messages(GROUP)).toHaveLength(0);
    expect(fake.messages(OTHER_GROUP)).toHaveLength(0);
    expect(runs(runsFile(), 'touch')).toBe(0);
    expect(await metric('teleops_unauthorized_updates_total')).toMatch(/ 5$/m);
  });

  it('does not execute edited messages, channel posts, inline queries or forwards', async () => {
    await start();
    const { message } = fake.sendText({ from: OP, text: '/test echo first' });
    await fake.waitForMessage({ chat: OP, match: /echo: first/ });
    fake.editText({ from: OP, messageId: message.message_id, text: '/test touch edited' });
    fake.pushUpdate({
      channel_post: {
        message_id: 1,
        date: 0,
        chat: { id: -100999, type: 'channel', title: 'c' },
        text: '/test touch chan',
      },
    });
    fake.pushUpdate({
      inline_query: {
        id: 'q1',
        from: { id: OP, is_bot: false, first_name: 'o' },
        query: '/test touch inline',
        offset: '',
      },
    });
    fake.sendText({ from: OP, text: '/test touch fwd', forwardFrom: OP2 });
    await fake.waitForMessage({ chat: OP, match: /Forwarded messages are never executed/ });
    fake.sendText({ from: OP, text: '/test echo last' });
    await fake.waitForMessage({ chat: OP, match: /echo: last/ });
    expect(runs(runsFile(), 'touch')).toBe(0);
  });

  it('approval card: exact request, single use under a double tap, edited with who decided', async () => {
    await start();
    fake.sendText({ from: OP, chat: GROUP, text: '/test destroy db' });
    const card = await fake.waitForMessage({ chat: GROUP, match: /Approval needed/ });
    expect(card.text).toContain('test.destroy');
    expect(card.text).toContain('thing db');
    const [approve, deny] = buttonData(GROUP, card.message_id);
    expect(approve).toMatch(/^a:.+:y$/);
    expect(deny).toMatch(/^a:.+:n$/);
    fake.pressButton({ from: OP, chat: GROUP, messageId: card.message_id, data: approve! });
    fake.pressButton({ from: OP2, chat: GROUP, messageId: card.message_id, data: approve! });
    await fake.waitForMessage({ chat: GROUP, match: /destroyed db/ });
    await fake.waitFor(
      () => /Approved by @u1[01] · done/.test(fake.message(GROUP, card.message_id)!.text ?? ''),
      5000,
      'the card to show the outcome',
    );
    await fake.waitFor(() => fake.callbackAnswers.length === 2, 5000, 'both presses to be answered');
    expect(fake.callbackAnswers.some((a) => /Already approved/.test(a.text ?? ''))).toBe(true);
    expect(runs(runsFile(), 'destroy')).toBe(1);
    expect(buttonData(GROUP, card.message_id)).toEqual([]);
  });

  it('an approval card ends on its last state even when an earlier edit of it is slow', async () => {
    await start();
    fake.sendText({ from: OP, chat: GROUP, text: '/test destroy slow' });
    const card = await fake.waitForMessage({ chat: GROUP, match: /Approval needed/ });
    // The "running…" edit takes a second at Telegram; the "done" one comes meanwhile.
    fake.failNext('editMessageText', { delayMs: 1000 });
    fake.pressButton({
      from: OP,
      chat: GROUP,
      messageId: card.message_id,
      data: buttonData(GROUP, card.message_id)[0]!,
    });
    await fake.waitForMessage({ chat: GROUP, match: /destroyed slow/ });
    const edits = () =>
      fake.calls.filter((c) => c.method === 'editMessageText' && c.params.message_id === card.message_id);
    const shown = () => fake.message(GROUP, card.message_id)!.text ?? '';
    await fake.waitFor(
      () => /Approved by @u10 · done: destroyed slow/.test(shown()),
      10_000,
      'the card to show the run',
    );
    // Every edit answered, the slow one too: what the card shows now is what it keeps.
    await fake.waitFor(() => edits().every((c) => c.status !== 0), 10_000, 'every edit answered');
    expect(shown()).toMatch(/Approved by @u10 · done: destroyed slow/);
  });

  it('Deny and expiry leave the target untouched; viewers and strangers cannot press', async () => {
    await start({ CONFIRM_TTL_SECONDS: '2' });
    fake.sendText({ from: OP, chat: GROUP, text: '/test destroy a' });
    const card = await fake.waitForMessage({ chat: GROUP, match: /Approval needed/ });
    const [approve, deny] = buttonData(GROUP, card.message_id);
    fake.pressButton({ from: VIEWER, chat: GROUP, messageId: card.message_id, data: approve! });
    fake.pressButton({ from: STRANGER, chat: GROUP, messageId: card.message_id, data: approve! });
    fake.pressButton({
      from: OP,
      chat: GROUP,
      messageId: card.message_id,
      data: approve!.replace(/:[0-9a-f]{16}:/, ':0000000000000000:'),
      unchecked: true,
    });
    fake.pressButton({ from: OP2, chat: GROUP, messageId: card.message_id, data: deny! });
    await fake.waitFor(
      () => /Denied by @u11/.test(fake.message(GROUP, card.message_id)!.text ?? ''),
      5000,
      'the card to show the denial',
    );
    fake.sendText({ from: OP, chat: GROUP, text: '/test destroy b' });
    const card2 = await fake.waitForMessage({ chat: GROUP, match: /Approval needed[\s\S]*thing b/ });
    await fake.waitFor(
      () => /Expired/.test(fake.message(GROUP, card2.message_id)!.text ?? ''),
      8000,
      'the card to expire',
    );
    fake.pressButton({
      from: OP,
      chat: GROUP,
      messageId: card2.message_id,
      data: buttonData(GROUP, card.message_id)[0] ?? approve!,
      unchecked: true,
    });
    expect(runs(runsFile(), 'destroy')).toBe(0);
    expect(fake.callbackAnswers.some((a) => /operator role/.test(a.text ?? ''))).toBe(true);
    expect(fake.callbackAnswers.some((a) => /not valid/.test(a.text ?? ''))).toBe(true);
  });

  it('a button runs its action as the presser, in its own chat only; forged ones run nothing', async () => {
    await start();
    fake.sendText({ from: OP, chat: GROUP, text: '/test touch g' });
    const msg = await fake.waitForMessage({ chat: GROUP, match: /touched g/ });
    const [again, destroy] = buttonData(GROUP, msg.message_id);
    expect(again).toMatch(/^b:[A-Za-z0-9_-]{16}:0$/);
    fake.pressButton({ from: OP2, chat: GROUP, messageId: msg.message_id, data: again! });
    await fake.waitFor(() => runs(runsFile(), 'touch') === 2, 5000, 'the button to run');
    // The same data pressed elsewhere, forged, or pressed by those without the role: nothing runs.
    fake.sendText({ from: OP, text: '/test echo here' });
    const mine = await fake.waitForMessage({ chat: OP, match: /echo: here/ });
    fake.pressButton({ from: OP, messageId: mine.message_id, data: again!, unchecked: true });
    fake.pressButton({
      from: OP,
      chat: GROUP,
      messageId: msg.message_id,
      data: again!.replace(/:0$/, ':7'),
      unchecked: true,
    });
    fake.pressButton({
      from: OP,
      chat: GROUP,
      messageId: msg.message_id,
      data: 'b:AAAAAAAAAAAAAAAA:0',
      unchecked: true,
    });
    fake.pressButton({ from: OP, chat: GROUP, messageId: msg.message_id, data: 'b:../../etc', unchecked: true });
    fake.pressButton({ from: VIEWER, chat: GROUP, messageId: msg.message_id, data: again! });
    fake.pressButton({ from: STRANGER, chat: GROUP, messageId: msg.message_id, data: again! });
    await fake.waitFor(
      () => fake.callbackAnswers.filter((a) => /expired/.test(a.text ?? '')).length >= 3,
      5000,
      'three refusals',
    );
    await fake.waitFor(
      () => fake.callbackAnswers.some((a) => /operator role/.test(a.text ?? '')),
      5000,
      "the viewer's refusal",
    );
    // A destructive button asks for approval like the command does.
    fake.pressButton({ from: OP, chat: GROUP, messageId: msg.message_id, data: destroy! });
    await fake.waitForMessage({ chat: GROUP, match: /Approval needed[\s\S]*thing g/ });
    expect(runs(runsFile(), 'touch')).toBe(2);
    expect(runs(runsFile(), 'destroy')).toBe(0);
    // The stranger's press and the malformed data.
    expect(await metric('teleops_unauthorized_updates_total')).toMatch(/^teleops_unauthorized_updates_total 2$/m);
  });

  it('a pending approval survives a restart of the bot', async () => {
    await start();
    fake.sendText({ from: OP, text: '/test destroy x' });
    const card = await fake.waitForMessage({ chat: OP, match: /Approval needed/ });
    const [approve] = buttonData(OP, card.message_id);
    expect(await proc!.stop()).toBe(0);
    await start();
    fake.pressButton({ from: OP, messageId: card.message_id, data: approve! });
    await fake.waitForMessage({ chat: OP, match: /destroyed x/ });
    expect(runs(runsFile(), 'destroy')).toBe(1);
  });

  it('a card sent before an upgrade still works: its payload in the old format approves, its stored reference is edited', async () => {
    await start();
    fake.sendText({ from: OP, text: '/test destroy old' });
    const card = await fake.waitForMessage({ chat: OP, match: /Approval needed[\s\S]*thing old/ });
    fake.sendText({ from: OP, text: '/test destroy pruned' });
    const pruned = await fake.waitForMessage({ chat: OP, match: /Approval needed[\s\S]*thing pruned/ });
    expect(await proc!.stop()).toBe(0);
    const db = new Database(dbPath(dir.path));
    const row = (text: string) =>
      db
        .prepare<[string], { id: string; request_hash: string; card: string }>(
          `SELECT id, request_hash, card FROM approvals WHERE params LIKE ?`,
        )
        .get(`%${text}%`)!;
    const old = row('"old"');
    // As the earlier version stored the card, and wrote its buttons with a template string.
    expect(JSON.parse(old.card)).toEqual({ chatId: OP, messageId: card.message_id });
    const payload = `a:${old.id}:${old.request_hash.slice(0, 16)}:y`;
    expect(buttonData(OP, card.message_id)[0]).toBe(payload);
    // The other one is gone from the table, as pruning leaves it (its audit history stays).
    const gone = row('"pruned"');
    db.prepare('DELETE FROM approvals WHERE id = ?').run(gone.id);
    db.close();
    await start();
    fake.pressButton({ from: OP, messageId: card.message_id, data: payload });
    await fake.waitForMessage({ chat: OP, match: /destroyed old/ });
    await fake.waitFor(
      () => /Approved by @u10 · done/.test(fake.message(OP, card.message_id)!.text ?? ''),
      5000,
      'the old card to be edited',
    );
    fake.pressButton({
      from: OP,
      messageId: pruned.message_id,
      data: `a:${gone.id}:${gone.request_hash.slice(0, 16)}:y`,
    });
    await fake.waitFor(
      () =>
        fake.callbackAnswers.some(
          (a) => a.text === 'This approval is not valid here (unknown, or too old); nothing was done.',
        ),
      5000,
      'the pruned press to be answered',
    );
    expect(runs(runsFile(), 'destroy')).toBe(1);
  });

  it('says once that Telegram cannot be reached, keeps trying, and serves once it answers', async () => {
    fake.failNext('getMe', { drop: true });
    proc = runTeleops(['start'], env());
    await proc.waitForOutput(/"method":"getMe","err":"network: [^"]+","msg":"Telegram is not reachable; retrying"/);
    await proc.waitForOutput(/Telegram is reachable again/, 30_000);
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/ });
    expect(proc.output().match(/Telegram is not reachable/g)).toHaveLength(1);
  });

  it('a rejected bot token stops start-up with a one-line reason (exit 2)', async () => {
    fake.failNext('getMe', { code: 401, description: 'Unauthorized' });
    proc = runTeleops(['start'], env());
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain(
      'teleops: Telegram rejected the bot token (Unauthorized); check TELEGRAM_BOT_TOKEN.\n',
    );
    expect(proc.output()).not.toMatch(/\n\s+at /);
  });

  it('an update begun when the process was killed is told as interrupted after a restart, by a reply, not quoted', async () => {
    await start();
    const { updateId, message } = fake.sendText({ from: OP, text: '/test slow 20000' });
    await fake.waitForDelivery(updateId);
    // Begun at once (its record says so); it then sleeps 20 s.
    await new Promise((r) => setTimeout(r, 1000));
    await proc!.stop('SIGKILL');
    await start();
    // Adopted once the dead process's claim has run out (15 s).
    const notice = await fake.waitForMessage({ chat: OP, match: /^⚠️ Interrupted/, timeoutMs: 40_000 });
    expect(notice.text).toBe(
      '⚠️ Interrupted: the teleops process handling this message stopped before it finished. It may have run ' +
        'in part; check before you send it again.',
    );
    const sent = fake.calls.find((c) => c.method === 'sendMessage' && /Interrupted/.test(String(c.params.text)));
    expect(sent?.params.reply_parameters).toMatchObject({ message_id: message.message_id });
  }, 90_000);

  it('an update delivered twice runs once', async () => {
    await start();
    const { updateId } = fake.sendText({ from: OP, text: '/test touch once' });
    await fake.waitForMessage({ chat: OP, match: /touched once/ });
    // The fake re-delivers only a confirmed update (the next poll's offset), as if that was lost.
    await fake.waitFor(() => fake.pendingUpdates === 0, 5000, 'the update to be confirmed');
    fake.redeliver(updateId);
    await fake.waitForDelivery(updateId, 2);
    fake.sendText({ from: OP, text: '/test echo after' });
    await fake.waitForMessage({ chat: OP, match: /echo: after/ });
    expect(runs(runsFile(), 'touch')).toBe(1);
  });

  it('a slow action in one chat does not hold up another chat', async () => {
    await start();
    fake.sendText({ from: OP, text: '/test slow 1500' });
    fake.sendText({ from: OP2, text: '/whoami' });
    await fake.waitForMessage({ chat: OP2, match: /role operator/ });
    expect(fake.messages(OP).some((m) => /slept/.test(m.text ?? ''))).toBe(false);
    await fake.waitForMessage({ chat: OP, match: /slept 1500 ms/ });
  });

  it('long output: split under 4096 or sent as a document, never as live entities', async () => {
    await start();
    fake.sendText({ from: OP, text: '/test lines 60' });
    const m = await fake.waitForMessage({ chat: OP, match: /line 60 / });
    expect(m.entities?.map((e) => e.type)).toEqual(['pre']);
    fake.sendText({ from: OP, text: '/test lines 3000' });
    await fake.waitFor(() => fake.documents(OP).length === 1, 10_000, 'a document');
    const doc = fake.documents(OP)[0]!;
    expect(doc.bytes.toString()).toContain('line 3000 <b>@everyone</b>');
    expect(fake.messages(OP).every((msg) => (msg.text ?? '').length <= 4096)).toBe(true);
  });

  it('rate-limits an operator with one polite refusal', async () => {
    await start({ RATE_LIMIT_PER_MINUTE: '3' });
    for (let i = 0; i < 6; i++) fake.sendText({ from: OP, text: `/test echo ${i}` });
    await fake.waitForMessage({ chat: OP, match: /Slow down: you can send another request in \d+s/ });
    fake.sendText({ from: OP2, text: '/whoami' });
    await fake.waitForMessage({ chat: OP2, match: /role operator/ });
    expect(fake.messages(OP).filter((m) => /Slow down/.test(m.text ?? ''))).toHaveLength(1);
    expect(fake.messages(OP).filter((m) => /^echo:/.test(m.text ?? ''))).toHaveLength(3);
  });

  it('survives Telegram errors: retries 429 and 5xx, logs and counts a refusal, keeps serving', async () => {
    await start();
    fake.failNext('sendMessage', { code: 429, retryAfter: 1 });
    fake.sendText({ from: OP, text: '/test echo retried' });
    await fake.waitForMessage({ chat: OP, match: /echo: retried/, timeoutMs: 10_000 });
    fake.failNext('sendMessage', { code: 502, description: 'Bad Gateway' });
    fake.sendText({ from: OP, text: '/test echo after-502' });
    await fake.waitForMessage({ chat: OP, match: /echo: after-502/, timeoutMs: 15_000 });
    fake.failNext('sendMessage', { code: 400, description: 'Bad Request: chat not found' });
    fake.sendText({ from: OP, text: '/test echo lost' });
    await fake.waitFor(() => fake.calls.some((c) => c.method === 'sendMessage' && c.status === 400), 10_000, 'a 400');
    fake.sendText({ from: OP, text: '/test echo alive' });
    await fake.waitForMessage({ chat: OP, match: /echo: alive/, timeoutMs: 10_000 });
    expect(fake.messages(OP).some((m) => /echo: lost/.test(m.text ?? ''))).toBe(false);
    const errors = await metric('teleops_telegram_api_errors_total');
    expect(errors).toMatch(/method="sendMessage",code="400"\} 1/);
    expect(errors).toMatch(/method="sendMessage",code="429"\} 1/);
    expect(proc!.output()).toMatch(/update handler failed/);
    expect(proc!.child.exitCode).toBeNull();
  });

  it('serves /health and /metrics', async () => {
    await start({ TMUX_ENABLED: 'false' });
    // Healthy while the first long poll is still waiting, not only once it returns.
    expect(fake.calls.filter((c) => c.method === 'getUpdates').every((c) => c.status === 0)).toBe(true);
    const early = await fetch(`http://127.0.0.1:${httpPort}/health`);
    expect([early.status, ((await early.json()) as { checks: Record<string, string> }).checks.telegram]).toEqual([
      200,
      'up',
    ]);
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/ });
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
    const body = (await res.json()) as {
      status: string;
      version: string;
      uptime_s: number;
      checks: Record<string, string>;
    };
    expect(body).toMatchObject({
      version: expect.any(String),
      checks: { audit: 'up', telegram: 'up', docker: 'disabled', tmux: 'disabled' },
    });
    // Every integration has its key, switched off or not.
    expect(Object.keys(body.checks).sort()).toEqual([
      'agents',
      'audit',
      'docker',
      'kubernetes',
      'llm',
      'telegram',
      'tmux',
    ]);
    expect(res.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const name of [
      'teleops_actions_total',
      'teleops_action_duration_seconds',
      'teleops_approvals_total',
      'teleops_rate_limited_total',
      'teleops_unauthorized_updates_total',
      'teleops_audit_entries_total',
      'teleops_telegram_api_errors_total',
      'teleops_llm_tokens_total',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/teleops_actions_total\{action="core.whoami",origin="command",outcome="ok"\} 1/);
  });

  it('redacts integration details in /health: an error message quoting a configured secret', async () => {
    const key = 'sk-configured-openai-key-0123456789';
    // A Docker Engine (or a proxy in front of it) whose error quotes what it was given.
    const engine = createServer((_req, res) =>
      res
        .writeHead(502, { 'content-type': 'application/json' })
        .end(JSON.stringify({ message: `upstream refused key ${key} and hmac e2e-audit-key-0123456789` })),
    );
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = engine.address() as { port: number };
      await start({
        DOCKER_ENABLED: 'true',
        DOCKER_HOST: `tcp://127.0.0.1:${port}`,
        OPENAI_API_KEY: key,
        TMUX_ENABLED: 'false',
      });
      const body = await (await fetch(`http://127.0.0.1:${httpPort}/health`)).text();
      const { checks, details } = JSON.parse(body) as {
        checks: Record<string, string>;
        details: Record<string, string>;
      };
      expect(checks.docker).toBe('down');
      expect(details.docker).toContain('upstream refused key [REDACTED] and hmac [REDACTED]');
      expect(body).not.toContain(key);
      expect(body).not.toContain('e2e-audit-key-0123456789');
    } finally {
      await new Promise((r) => engine.close(r));
    }
  });

  it('SIGTERM lets in-flight work finish, then closes cleanly with an intact audit log', async () => {
    await start();
    fake.sendText({ from: OP, text: '/test slow 1000' });
    await new Promise((r) => setTimeout(r, 400));
    expect(await proc!.stop('SIGTERM')).toBe(0);
    expect(fake.messages(OP).some((m) => /slept 1000 ms/.test(m.text ?? ''))).toBe(true);
    const verify = runTeleops(['audit', 'verify', '--state-dir', dir.path], {
      AUDIT_HMAC_KEY: 'e2e-audit-key-0123456789',
    });
    expect(await verify.exited).toBe(0);
    expect(verify.output()).toMatch(/audit log intact: \d+ entr(?:y|ies)/);
  });
});

describe('teleops start refuses bad settings', () => {
  it('exits 2 listing every problem, without a stack trace', async () => {
    const p = runTeleops(['start'], {
      STATE_DIR: dir.path,
      AUTHORIZED_USER_IDS: 'me',
      RATE_LIMIT_PER_MINUTE: 'lots',
      HTTP_PORT: '0',
    });
    expect(await p.exited).toBe(2);
    const out = p.output();
    expect(out).toContain('TELEGRAM_BOT_TOKEN: missing');
    expect(out).toContain('AUTHORIZED_USER_IDS: "me" is not a numeric Telegram user id');
    expect(out).toContain('RATE_LIMIT_PER_MINUTE');
    expect(out).not.toMatch(/\n\s+at /);
  });

  it('never prints a password from a URL setting it refuses', async () => {
    const p = runTeleops(['start'], {
      STATE_DIR: dir.path,
      AUTHORIZED_USER_IDS: String(OP),
      TELEGRAM_BOT_TOKEN: fake.token,
      HTTP_PORT: '0',
      DOCKER_HOST: 'tcp://admin:pa/ss#w0rd?x@127.0.0.1:2375',
      TELEGRAM_API_ROOT: 'ftp://bot:Tg-Api-Passw0rd@127.0.0.1/',
    });
    expect(await p.exited).toBe(2);
    const out = p.output();
    expect(out).toContain('DOCKER_HOST: tcp://admin:[REDACTED]@127.0.0.1:2375');
    expect(out).toContain('TELEGRAM_API_ROOT: "ftp://bot:[REDACTED]@127.0.0.1/" is not an http(s) URL');
    for (const secret of ['pa/ss', 'w0rd', 'Tg-Api-Passw0rd']) expect(out).not.toContain(secret);
  });
});
