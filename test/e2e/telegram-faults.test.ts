/**
 * A Telegram fault storm through the real `teleops start` process and the fake Bot API:
 * 429s with retry_after on every method, 5xx bursts, dropped, half-open and slow connections,
 * and a Bot API that does not know the optional methods. Nothing is lost, nothing runs twice,
 * live card edits stay coalesced, and the process's memory stays flat. Waits on conditions only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'vitest';
import { FakeBotApi } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';

const OP = 10;
const FORUM = -1003000;
/** Short polls and deadlines, so that a half-open connection costs seconds, not minutes. */
const POLL_S = 1;
const ANSWER_S = 2;

/** Resident memory of the bot process, from /proc (kB → MB). */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

/**
 * A fake Bot API and a state directory of the test's own, removed when it ends: the tests run
 * at once (most of their time is spent waiting out retry_after and deadlines), each with its bot.
 */
async function setup(onTestFinished: TestContext['onTestFinished']) {
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP, username: 'op' });
  fake.createChat({ id: FORUM, type: 'supergroup', title: 'ops', isForum: true });
  const dir = tempDir();
  let proc: Proc | undefined;
  onTestFinished(async () => {
    await proc?.stop();
    await fake.stop();
    dir.remove();
  });

  const start = async (extra: Record<string, string> = {}): Promise<Proc> => {
    const p = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      AUTHORIZED_CHAT_IDS: String(FORUM),
      STATE_DIR: dir.path,
      HTTP_PORT: String(await freePort()),
      DOCKER_ENABLED: 'false',
      TMUX_SOCKET: join(dir.path, 'tmux.sock'),
      TEST_RUNS_FILE: join(dir.path, 'runs.txt'),
      TELEGRAM_POLL_SECONDS: String(POLL_S),
      TELEGRAM_TIMEOUT_SECONDS: String(ANSWER_S),
      // The storm's retries must not be mistaken for a flood of requests.
      RATE_LIMIT_PER_MINUTE: '10000',
      TELEGRAM_PRIVATE_PER_SECOND: '0',
      ...extra,
    });
    proc = p;
    return p;
  };

  return {
    fake,
    start,
    /** The process started last. */
    proc: () => proc!,
    polled: (from = 0) => untilPolling(fake, proc!, { from }),
    ran: (name: string): number =>
      readFileSync(join(dir.path, 'runs.txt'), 'utf8')
        .split('\n')
        .filter((l) => l === `touch ${name}`).length,
    /** Texts of the bot's replies in the operator's chat that match, counted. */
    replies: (re: RegExp): number => fake.messages(OP).filter((m) => re.test(m.text ?? '')).length,
  };
}

describe.concurrent('teleops start through a Telegram fault storm', { timeout: 180_000 }, () => {
  it('start-up neither waits on nor dies of optional methods the Bot API refuses or holds', async ({
    expect,
    onTestFinished,
  }) => {
    const { fake, start, proc, polled } = await setup(onTestFinished);
    fake.unsupported(['setMyCommands', 'sendChatAction', 'createForumTopic', 'editForumTopic', 'closeForumTopic']);
    const p = await start();
    await polled();
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/ });
    await p.waitForOutput(/the command menu could not be registered; commands work without it/);
    // Topics need a method this server lacks: one clear line, nothing else breaks.
    fake.sendText({ from: OP, chat: FORUM, text: '/tmux topics on' });
    await fake.waitForMessage({ chat: FORUM, match: /Telegram refused to create a topic: Not Found/ });
    await p.stop();

    // A server that holds setMyCommands open, or asks to retry it after a minute.
    fake.unsupported([]);
    fake.failNext('setMyCommands', { hang: true });
    const from = fake.calls.length;
    const q = await start();
    await polled(from);
    fake.sendText({ from: OP, text: '/whoami' });
    await fake.waitForMessage({ chat: OP, match: /role operator/, after: fake.lastMessage(OP)!.message_id });
    await q.stop();
    fake.failNext('setMyCommands', { code: 429, retryAfter: 60 });
    const again = fake.calls.length;
    await start();
    await polled(again);
    fake.sendText({ from: OP, text: '/test echo menu-later' });
    await fake.waitForMessage({ chat: OP, match: /echo: menu-later/ });
    expect(proc().child.exitCode).toBeNull();
  });

  it('loses no update, runs none twice, keeps card edits coalesced, and stays flat in memory', async ({
    expect,
    onTestFinished,
  }) => {
    const { fake, start, polled, ran, replies } = await setup(onTestFinished);
    const p = await start();
    await polled();
    let n = 0;
    /** A round of requests: echoes and touches, each with a unique name. */
    const round = async (label: string, count: number): Promise<void> => {
      const names: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = `${label}-${n++}`;
        names.push(name);
        fake.sendText({ from: OP, text: i % 2 === 0 ? `/test echo ${name}` : `/test touch ${name}` });
      }
      await fake.waitFor(
        () => names.every((x) => replies(new RegExp(`^(echo: |touched )${x}$`)) > 0),
        60_000,
        `every reply of round ${label}`,
      );
    };

    // Warm up, then measure: the same work before and after the storm.
    await round('warm', 40);
    fake.sendText({ from: OP, text: '/test tick 0' });
    const card = await fake.waitForMessage({ chat: OP, match: /^ticks: 0$/ });
    const before = rssMb(p.child.pid!);

    const storm: [string, () => void][] = [
      ['429', () => fake.failNext('*', { code: 429, retryAfter: 1 }, 12)],
      ['5xx', () => fake.failNext('*', { code: 502 }, 3)],
      ['drop', () => fake.failNext('*', { drop: true }, 3)],
      // Updates handed over, the answer lost on the way: they come again, and run once.
      ['lost-answer', () => fake.failNext('getUpdates', { drop: true, after: true }, 2)],
      ['half-open', () => (fake.failNext('getUpdates', { hang: true }), fake.failNext('sendMessage', { hang: true }))],
      ['slow', () => fake.failNext('getUpdates', { delayMs: (POLL_S + ANSWER_S + 1) * 1000 })],
    ];
    for (const [label, inject] of storm) {
      inject();
      await round(label, 10);
    }

    // 300 changes of a live card while every write is refused with a 429 at first.
    const edits = () =>
      fake.calls.filter((c) => c.method === 'editMessageText' && c.params.message_id === card.message_id);
    const editsBefore = edits().length;
    fake.failNext('editMessageText', { code: 429, retryAfter: 1 }, 3);
    fake.sendText({ from: OP, text: '/test tick 300' });
    await fake.waitFor(() => fake.message(OP, card.message_id)?.text === 'ticks: 300', 60_000, 'the last card state');
    const cardEdits = edits().length - editsBefore;

    await round('after', 40);
    const after = rssMb(p.child.pid!);

    const touches = fake.messages(OP).flatMap((m) => /^touched (\S+)$/.exec(m.text ?? '')?.[1] ?? []);
    const redelivered = [...fake.updates.keys()].filter((id) => fake.deliveryCount(id) > 1).length;
    const faults = fake.calls.filter((c) => c.cause === 'fault').length;
    console.log(
      `telegram fault storm: ${n} requests, ${faults} injected faults, ${redelivered} updates delivered again; ` +
        `lost 0, ran twice 0; 300 card changes sent as ${cardEdits} edits; ` +
        `RSS ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after (${(after - before).toFixed(1)} MB)`,
    );
    // Nothing lost: every request got its reply; nothing twice: each touch ran and answered once.
    for (const name of touches) expect(ran(name), name).toBe(1);
    expect(new Set(touches).size).toBe(touches.length);
    expect(touches.length).toBe(n / 2);
    expect(redelivered).toBeGreaterThan(0);
    expect(cardEdits).toBeLessThan(30);
    // Generous: a leak of the storm's size would be many times this.
    expect(after - before).toBeLessThan(32);
    expect(p.child.exitCode).toBeNull();
  });
  it('an answer lost after Telegram took the request: one more copy of the reply per lost answer, an edit retried is harmless', async ({
    expect,
    onTestFinished,
  }) => {
    const { fake, start, polled, ran, replies } = await setup(onTestFinished);
    const p = await start();
    await polled();
    // sendMessage reached Telegram (the message is in the chat), the connection dropped before the answer.
    fake.failNext('sendMessage', { drop: true, after: true });
    fake.sendText({ from: OP, text: '/test touch lost-once' });
    await fake.waitForMessage({ chat: OP, match: /^touched lost-once$/, timeoutMs: 30_000 });
    fake.sendText({ from: OP, text: '/test echo next' });
    await fake.waitForMessage({ chat: OP, match: /^echo: next$/, timeoutMs: 30_000 });
    const copies = replies(/^touched lost-once$/);
    const sends = fake.calls.filter((c) => c.method === 'sendMessage' && c.params.text === 'touched lost-once').length;
    // Two answers lost in a row: one more copy each, no more.
    fake.failNext('sendMessage', { drop: true, after: true }, 2);
    fake.sendText({ from: OP, text: '/test touch lost-twice' });
    await fake.waitForMessage({ chat: OP, match: /^touched lost-twice$/, timeoutMs: 30_000 });
    fake.sendText({ from: OP, text: '/test echo next-2' });
    await fake.waitForMessage({ chat: OP, match: /^echo: next-2$/, timeoutMs: 30_000 });
    const copies2 = replies(/^touched lost-twice$/);

    // An edit of a live card whose answer is lost: sent again, Telegram says "not modified", nothing else.
    fake.sendText({ from: OP, text: '/test tick 0' });
    const card = await fake.waitForMessage({ chat: OP, match: /^ticks: 0$/ });
    const before = fake.messages(OP).length;
    fake.failNext('editMessageText', { drop: true, after: true });
    fake.sendText({ from: OP, text: '/test tick 1' });
    await fake.waitFor(() => fake.message(OP, card.message_id)?.text === 'ticks: 1', 30_000, 'the last card state');
    const edits = () =>
      fake.calls.filter((c) => c.method === 'editMessageText' && c.params.message_id === card.message_id);
    const lostEdit = edits().findIndex((c) => c.cause === 'fault');
    expect(lostEdit).toBeGreaterThanOrEqual(0);
    // The edit took effect; its retry is answered "message is not modified", and that is the end of it.
    const retried = await fake.waitFor(
      () =>
        edits()
          .slice(lostEdit + 1)
          .find((c) => c.status !== 0),
      30_000,
      'the edit to be sent again',
    );
    fake.sendText({ from: OP, text: '/test echo after-edit' });
    await fake.waitForMessage({ chat: OP, match: /^echo: after-edit$/, timeoutMs: 30_000 });
    console.log(
      `lost answers: sendMessage answer lost once → ${sends} sends, ${copies} copies in the chat, action ran ` +
        `${ran('lost-once')} time(s); lost twice → ${copies2} copies, ran ${ran('lost-twice')} time(s); editMessageText answer lost once → sent again, answered ${retried.status} ` +
        `(${retried.description ?? ''}), ${edits().length - lostEdit} edit calls from the lost one on`,
    );
    expect(ran('lost-once')).toBe(1);
    expect(copies).toBeGreaterThanOrEqual(1);
    expect(copies).toBeLessThanOrEqual(2);
    expect(ran('lost-twice')).toBe(1);
    expect(copies2).toBeGreaterThanOrEqual(1);
    expect(copies2).toBeLessThanOrEqual(3);
    expect(retried.status).toBe(400);
    expect(retried.description).toMatch(/message is not modified/);
    expect(edits().length - lostEdit).toBe(2);
    expect(fake.message(OP, card.message_id)?.text).toBe('ticks: 1');
    // New messages: the command's note that the card changed, and the echo; the retry posted nothing.
    expect(
      fake
        .messages(OP)
        .slice(before)
        .map((m) => m.text),
    ).toEqual([expect.stringMatching(/^🔄 Updated the card/), 'echo: after-edit']);
    expect(p.output()).not.toMatch(/message is not modified/i);
    expect(p.child.exitCode).toBeNull();
  });
});
