/**
 * Terminal sessions from the phone, end to end: the real `teleops start` process drives a
 * real tmux server (on a socket in a temp dir) and talks to the fake Bot API.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { JITTER_MARGIN_MS } from '../../src/transports/telegram/limits.js';
import { FakeBotApi, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';
import { describeTmux, SCRIPTS } from '../targets/tmux/helpers.js';

const OP = 10;
const VIEWER = 30;
const FORUM = -1003000;
const POLL_SECONDS = '0.2';
/** Start-up (tsx compiling the sources) is slow on a loaded machine; a failed one exits at once. */
const START_MS = 90_000;

let fake: FakeBotApi;
let dir: { path: string; remove(): void };
let proc: Proc | undefined;
let sock: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tmux(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-S', sock, '-f', '/dev/null', ...args], { timeout: 5000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
    );
  });
}

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    VIEWER_USER_IDS: String(VIEWER),
    AUTHORIZED_CHAT_IDS: String(FORUM),
    STATE_DIR: dir.path,
    HTTP_PORT: '0',
    DOCKER_ENABLED: 'false',
    TMUX_SOCKET: sock,
    TMUX_POLL_SECONDS: POLL_SECONDS,
    TMUX_DEFAULT_CWD: dir.path,
    TELEGRAM_PRIVATE_PER_SECOND: '10',
    TELEGRAM_CHAT_PER_MINUTE: '600',
    RATE_LIMIT_PER_MINUTE: '1000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function start(extra: Record<string, string> = {}): Promise<Proc> {
  const from = fake.calls.length;
  const p = runTeleops(['start'], env(extra));
  proc = p;
  await untilPolling(fake, p, { from, timeoutMs: START_MS });
  return p;
}

const text = (chat: number, id: number): string => fake.message(chat, id)?.text ?? '';
const firstLine = (m: StoredMessage): string => (m.text ?? '').split('\n')[0] ?? '';
/** Bot messages about a session: its card and its alerts start with "<emoji> <name> · ". */
const about = (chat: number, name: string): StoredMessage[] =>
  fake.messages(chat).filter((m) => new RegExp(`^\\S+ ${name} · `).test(firstLine(m)));
const button = (chat: number, id: number, label: string): string => {
  const b = (fake.message(chat, id)?.reply_markup?.inline_keyboard ?? []).flat().find((k) => k.text === label);
  if (!b || !('callback_data' in b) || !b.callback_data) throw new Error(`message ${id} has no button ${label}`);
  return b.callback_data;
};
const untilText = (chat: number, id: number, re: RegExp, timeoutMs = 10_000): Promise<string> =>
  fake
    .waitFor(() => (re.test(text(chat, id)) ? text(chat, id) : undefined), timeoutMs, `message ${id} to match ${re}`)
    .catch((e: Error) => {
      throw new Error(`${e.message}; it reads: ${JSON.stringify(text(chat, id))}`);
    });

describeTmux('terminal sessions through the Bot API', () => {
  beforeEach(async () => {
    fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    fake.createUser({ id: OP, username: 'op' });
    fake.createUser({ id: VIEWER, username: 'viewer' });
    fake.createChat({ id: FORUM, type: 'supergroup', title: 'ops', isForum: true });
    dir = tempDir('teleops-e2e-tmux-');
    sock = join(dir.path, 'tmux.sock');
    // The server the operator already runs at the desk.
    await tmux('new-session', '-d', '-s', 'desk');
  });

  afterEach(async () => {
    await proc?.stop();
    proc = undefined;
    await tmux('kill-server').catch(() => undefined);
    await fake.stop();
    dir.remove();
  });

  it('a status card is posted once and edited in place; a prompt raises one alert; replying "y" reaches the program', async () => {
    await start();
    fake.sendText({ from: OP, text: `/tmux new ask ${script('ask.sh', SCRIPTS.ask)}` });
    const card = await fake.waitForMessage({ chat: OP, match: /^\S+ ask · / });
    expect(button(OP, card.message_id, '🔄 Refresh')).toMatch(/^b:/);

    await untilText(OP, card.message_id, /^🟡 ask · waiting for input[\s\S]*Continue\? \[y\/N\]/);
    const alert = await fake.waitForMessage({ chat: OP, after: card.message_id, match: /^🟡 ask · waiting for input/ });
    expect(alert.text).toContain('line: Continue? [y/N]');
    // More polls of the same prompt raise nothing more.
    await sleep(1000);
    expect(
      about(OP, 'ask').filter((m) => m.message_id !== card.message_id && /waiting/.test(firstLine(m))),
    ).toHaveLength(1);

    // A viewer may not watch (alerts are a change) but may see the card; a reply to it is
    // refused: typing into a terminal is a write.
    fake.sendText({ from: VIEWER, text: '/tmux watch ask' });
    await fake.waitForMessage({ chat: VIEWER, match: /tmux\.watch needs the operator role/ });
    fake.sendText({ from: VIEWER, text: '/tmux refresh ask' });
    const viewerCard = await fake.waitForMessage({ chat: VIEWER, match: /^🟡 ask · / });
    fake.sendText({ from: VIEWER, text: 'n', replyTo: viewerCard.message_id });
    await fake.waitForMessage({ chat: VIEWER, match: /tmux\.send needs the operator role/ });
    expect(text(OP, card.message_id)).toMatch(/^🟡 ask · waiting/);

    fake.sendText({ from: OP, text: 'y', replyTo: alert.message_id });
    await fake.waitForMessage({ chat: OP, match: /Sent 1 line to ask\./ });
    const done = await untilText(OP, card.message_id, /^✅ ask · done[\s\S]*finished-ok/);
    expect(done).toContain('exit status 0');
    await fake.waitForMessage({ chat: OP, after: alert.message_id, match: /^✅ ask · done/ });

    // One card, edited in place: every other message about the session is an alert.
    const msgs = about(OP, 'ask');
    expect(msgs[0]!.message_id).toBe(card.message_id);
    expect(fake.message(OP, card.message_id)!.history.length).toBeGreaterThanOrEqual(2);
    expect(msgs.slice(1).map(firstLine)).toEqual(['🟡 ask · waiting for input', '✅ ask · done']);
    // Plain text that is no reply gets the hint; the typed reply was audited as a write.
    fake.sendText({ from: OP, text: 'hello' });
    await fake.waitForMessage({ chat: OP, match: /I take slash commands/ });
    fake.sendText({ from: OP, text: '/audit 20' });
    const audit = await fake.waitForMessage({ chat: OP, match: /audit entries/ });
    expect(audit.text).toMatch(/tg:10 command tmux\.send tmux ask → started/);
    expect(audit.text).toMatch(/tg:10 command tmux\.send tmux ask → ok/);
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(0);
  });

  it('Enter and Ctrl-C buttons reach the program; Refresh edits the card; /tmux log sends the scrollback; Kill needs approval', async () => {
    await start();
    const body = `printf 'Press Enter to go on '; read x; echo got-enter; trap 'echo interrupted; exit 3' INT; while :; do sleep 0.1; done`;
    fake.sendText({ from: OP, text: `/tmux new keys ${script('keys.sh', body)}` });
    const card = await fake.waitForMessage({ chat: OP, match: /^\S+ keys · / });
    await untilText(OP, card.message_id, /^🟡 keys · waiting/);

    fake.pressButton({ from: OP, messageId: card.message_id, data: button(OP, card.message_id, '⏎ Enter') });
    await untilText(OP, card.message_id, /got-enter/);
    fake.pressButton({ from: OP, messageId: card.message_id, data: button(OP, card.message_id, '✋ Ctrl-C') });
    const failed = await untilText(OP, card.message_id, /^🔴 keys · error[\s\S]*interrupted/);
    expect(failed).toContain('exit status 3');

    // Refresh on the card edits it (a second later "time in this state" has changed) and posts nothing.
    await sleep(1100);
    const before = fake.messages(OP).length;
    const edits = fake.message(OP, card.message_id)!.history.length;
    fake.pressButton({ from: OP, messageId: card.message_id, data: button(OP, card.message_id, '🔄 Refresh') });
    await fake.waitFor(
      () => fake.message(OP, card.message_id)!.history.length > edits,
      5000,
      'Refresh to edit the card',
    );
    await sleep(300);
    expect(fake.messages(OP)).toHaveLength(before);

    fake.sendText({ from: OP, text: '/tmux log keys' });
    const doc = await fake.waitFor(
      () => fake.documents(OP).find((d) => /^keys-.*\.log$/.test(d.file_name ?? '')),
      10_000,
      'the log document',
    );
    const log = doc.bytes.toString();
    expect(log).toContain('Press Enter to go on');
    expect(log).toContain('got-enter');
    expect(log).toContain('interrupted');

    fake.pressButton({ from: OP, messageId: card.message_id, data: button(OP, card.message_id, '✖ Kill') });
    const approval = await fake.waitForMessage({ chat: OP, match: /Approval needed[\s\S]*tmux\.kill/ });
    expect((await tmux('list-sessions', '-F', '#{session_name}')).split('\n')).toContain('keys');
    fake.pressButton({ from: OP, messageId: approval.message_id, data: button(OP, approval.message_id, '✅ Approve') });
    await fake.waitForMessage({ chat: OP, match: /Killed session keys\./ });
    await untilText(OP, card.message_id, /^⚫ keys · gone/);
    expect((await tmux('list-sessions', '-F', '#{session_name}')).split('\n')).not.toContain('keys');
  });

  it('forum mode: INDEX and ALERTS topics, one topic per session renamed by state, text in it reaches the program, closed when gone', async () => {
    await start();
    fake.sendText({ from: OP, text: '/tmux topics on' });
    await fake.waitForMessage({ chat: OP, match: /topics need a supergroup with topics turned on/ });
    fake.sendText({ from: OP, chat: FORUM, text: '/tmux topics on' });
    await fake.waitForMessage({ chat: FORUM, match: /Topics are on/ });
    const named = (re: RegExp) => fake.topics(FORUM).find((t) => re.test(t.name));
    const index = named(/INDEX/)!;
    const alerts = named(/ALERTS/)!;
    expect(index).toBeDefined();
    expect(alerts).toBeDefined();

    fake.sendText({ from: OP, chat: FORUM, text: `/tmux new fq ${script('fq.sh', SCRIPTS.ask)}` });
    // Running, or already at its prompt when the card is posted on a slow machine.
    await fake.waitForMessage({ chat: FORUM, match: /The card of [🟢🟡] fq is in its own topic\./u });
    const topic = await fake.waitFor(() => named(/^🟡 fq$/), 10_000, 'the session topic to be renamed as waiting');
    const card = fake
      .messages(FORUM)
      .find((m) => m.message_thread_id === topic.message_thread_id && /^\S+ fq · /.test(firstLine(m)))!;
    expect(card).toBeDefined();
    await untilText(FORUM, card.message_id, /^🟡 fq · waiting/);
    const indexCard = await fake.waitForMessage({
      chat: FORUM,
      threadId: index.message_thread_id,
      match: /Terminal sessions/,
    });
    await untilText(FORUM, indexCard.message_id, /🟡 fq · waiting for input/);
    await fake.waitForMessage({ chat: FORUM, threadId: alerts.message_thread_id, match: /^🟡 fq · waiting for input/ });

    fake.sendText({ from: OP, chat: FORUM, threadId: topic.message_thread_id, text: 'y' });
    await fake.waitForMessage({ chat: FORUM, threadId: topic.message_thread_id, match: /Sent 1 line to fq\./ });
    await untilText(FORUM, card.message_id, /^✅ fq · done[\s\S]*finished-ok/);
    await fake.waitFor(() => named(/^✅ fq$/), 5000, 'the topic to be renamed as done');

    fake.sendText({ from: OP, chat: FORUM, threadId: topic.message_thread_id, text: '/tmux kill fq' });
    const approval = await fake.waitForMessage({
      chat: FORUM,
      threadId: topic.message_thread_id,
      match: /Approval needed/,
    });
    fake.pressButton({
      from: OP,
      chat: FORUM,
      messageId: approval.message_id,
      data: button(FORUM, approval.message_id, '✅ Approve'),
    });
    await untilText(FORUM, card.message_id, /^⚫ fq · gone/);
    await fake.waitFor(
      () =>
        fake
          .topics(FORUM)
          .find((t) => t.message_thread_id === topic.message_thread_id && t.closed && t.name === '⚫ fq'),
      5000,
      'the topic to close',
    );
    expect(fake.topics(FORUM).filter((t) => /fq/.test(t.name))).toHaveLength(1);

    fake.sendText({ from: OP, chat: FORUM, text: '/tmux topics off' });
    await fake.waitForMessage({ chat: FORUM, match: /Topics are off/ });
    await fake.waitFor(() => fake.topics(FORUM).every((t) => t.closed), 5000, 'every topic to close');
  });

  it('forum mode in a scoped chat: topics only for sessions the scope holds, no INDEX card, no other alerts', async () => {
    await start({ SCOPES: `${FORUM}=tmux:^ci-` });
    fake.sendText({ from: OP, chat: FORUM, text: '/tmux topics on' });
    await fake.waitForMessage({ chat: FORUM, match: /Topics are on/ });
    const named = (re: RegExp) => fake.topics(FORUM).find((t) => re.test(t.name));
    const index = named(/INDEX/)!;
    // Both started (and watched) from the operator's private chat, which has no scope.
    fake.sendText({ from: OP, text: `/tmux new other ${script('other.sh', SCRIPTS.ask)}` });
    await fake.waitForMessage({ chat: OP, match: /^\S+ other · / });
    fake.sendText({ from: OP, text: `/tmux new ci-a ${script('ci.sh', SCRIPTS.ask)}` });
    await fake.waitFor(() => named(/^🟡 ci-a$/), 10_000, 'the ci-a topic, waiting');
    await fake.waitForMessage({ chat: OP, match: /^🟡 other · waiting for input/ });
    await fake.waitForMessage({ chat: FORUM, match: /^🟡 ci-a · waiting for input/ });
    expect(fake.topics(FORUM).filter((t) => /other/.test(t.name))).toEqual([]);
    expect(about(FORUM, 'other')).toEqual([]);
    expect(fake.messages(FORUM).filter((m) => m.message_thread_id === index.message_thread_id)).toEqual([]);
    // In the forum itself, the scope holds: another session is refused in one line.
    fake.sendText({ from: OP, chat: FORUM, text: '/tmux tail other' });
    await fake.waitForMessage({ chat: FORUM, match: /tmux\.tail: tmux other is not in this chat's scope\./ });
  });

  it('restart keeps cards editable: a reply to the card still reaches the program, the same message is edited, its buttons work', async () => {
    await start();
    fake.sendText({ from: OP, text: `/tmux new again ${script('again.sh', SCRIPTS.ask)}` });
    const card = await fake.waitForMessage({ chat: OP, match: /^\S+ again · / });
    await untilText(OP, card.message_id, /^🟡 again · waiting/);
    const refresh = button(OP, card.message_id, '🔄 Refresh');
    expect(await proc!.stop()).toBe(0);

    await start();
    fake.sendText({ from: OP, text: 'y', replyTo: card.message_id });
    await untilText(OP, card.message_id, /^✅ again · done[\s\S]*finished-ok/);
    await sleep(1100);
    const before = fake.messages(OP).length;
    const edits = fake.message(OP, card.message_id)!.history.length;
    fake.pressButton({ from: OP, messageId: card.message_id, data: refresh });
    await fake.waitFor(
      () => fake.message(OP, card.message_id)!.history.length > edits,
      5000,
      'Refresh to edit the card',
    );
    await sleep(300);
    expect(fake.messages(OP)).toHaveLength(before);
    // The card, the waiting alert before the restart, and the done alert after it.
    expect(about(OP, 'again').map((m) => [m.message_id === card.message_id, firstLine(m)])).toEqual([
      [true, '✅ again · done'],
      [false, '🟡 again · waiting for input'],
      [false, '✅ again · done'],
    ]);
  });

  it('a password typed for a terminal reaches it, is deleted from the chat, and is kept nowhere (audit, replies, logs, state)', async () => {
    const PASSWORD = 'hunter2-Tr0ub4dor&3';
    const MARK = `[secret, ${PASSWORD.length} chars]`;
    // Prints what it got as a length and a digest, never the text itself.
    const got = `echo "got \${#pw} chars $(printf %s "$pw" | sha256sum | cut -c1-12)"`;
    const expected = `got ${PASSWORD.length} chars ${createHash('sha256').update(PASSWORD).digest('hex').slice(0, 12)}`;
    const bash = (name: string, body: string) => {
      const path = join(dir.path, name);
      writeFileSync(path, `#!/bin/bash\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    };
    await start({ LOG_LEVEL: 'debug' });
    // At a [sudo] prompt teleops itself detects: a reply to the card is a secret.
    fake.sendText({
      from: OP,
      text: `/tmux new pw ${bash('pw.sh', `read -r -s -p "[sudo] password for ops: " pw; echo; ${got}; sleep 300`)}`,
    });
    const card = await fake.waitForMessage({ chat: OP, match: /^\S+ pw · / });
    await untilText(OP, card.message_id, /^🟡 pw · waiting for input[\s\S]*\[sudo\] password for ops:/);
    const typed = fake.sendText({ from: OP, text: PASSWORD, replyTo: card.message_id }).message;
    await fake.waitForMessage({ chat: OP, after: card.message_id, match: /Sent 1 line to pw\./ });
    await fake.waitFor(
      () => (fake.history(OP).find((m) => m.message_id === typed.message_id)?.deleted ? true : undefined),
      5000,
      'the password message to be deleted',
    );
    await untilText(OP, card.message_id, new RegExp(expected));

    // Anywhere, with --secret.
    fake.sendText({ from: OP, text: `/tmux new pw2 ${bash('pw2.sh', `read -r -s pw; ${got}; sleep 300`)}` });
    const card2 = await fake.waitForMessage({ chat: OP, match: /^\S+ pw2 · / });
    const command = fake.sendText({ from: OP, text: `/tmux send --secret pw2 ${PASSWORD}` }).message;
    await fake.waitFor(
      () => (fake.history(OP).find((m) => m.message_id === command.message_id)?.deleted ? true : undefined),
      5000,
      'the /tmux send --secret message to be deleted',
    );
    await untilText(OP, card2.message_id, new RegExp(expected));

    fake.sendText({ from: OP, text: '/audit 30' });
    const audit = await fake.waitForMessage({ chat: OP, match: /audit entries/ });
    expect(audit.text).toMatch(/tg:10 command tmux\.send tmux pw → ok/);
    expect(audit.text).toMatch(/tg:10 command tmux\.send tmux pw2 → ok/);
    // Nothing the bot sent, no log line and no file of the state directory holds the password.
    const sent = fake
      .messages(OP)
      .flatMap((m) => [m.text ?? '', ...m.history.map((h) => JSON.stringify(h))])
      .join('\n');
    expect(sent).not.toContain(PASSWORD);
    await proc!.stop();
    const logs = proc!.output();
    proc = undefined;
    expect(logs).toMatch(/"level":/);
    expect(logs).not.toContain(PASSWORD);
    const files = readdirSync(dir.path).filter((f) => !f.endsWith('.sh') && f !== 'tmux.sock');
    expect(files).toContain('teleops.db');
    for (const f of files) expect(readFileSync(join(dir.path, f)).includes(PASSWORD), f).toBe(false);
    const db = new Database(join(dir.path, 'teleops.db'), { readonly: true });
    const entries = (db.prepare('SELECT entry FROM audit ORDER BY seq').all() as { entry: string }[]).map(
      (r) => JSON.parse(r.entry) as { action: string; params: unknown },
    );
    db.close();
    expect(entries.filter((e) => e.action === 'tmux.send').map((e) => e.params)).toEqual([
      { target: 'pw', text: MARK },
      { target: 'pw', text: MARK },
      { target: 'pw2', text: MARK, secret: true },
      { target: 'pw2', text: MARK, secret: true },
    ]);
  });

  it('a password held by the rate limit is deleted from the chat, and the sender is told so each time', async () => {
    const PASSWORD = 'hunter2-Tr0ub4dor&3';
    await start({ RATE_LIMIT_PER_MINUTE: '1' });
    const first = fake.sendText({ from: OP, text: '/tmux ls' }).message;
    const listed = await fake.waitForMessage({ chat: OP, after: first.message_id });
    let after = listed.message_id;
    for (let i = 0; i < 2; i++) {
      const held = fake.sendText({ from: OP, text: `/tmux send --secret pw ${PASSWORD}` }).message;
      const told = await fake.waitForMessage({ chat: OP, after, match: /^⏳ Slow down/ });
      expect(told.text).toMatch(/Your message was deleted: it may have held a password\.$/);
      await fake.waitFor(
        () => (fake.history(OP).find((m) => m.message_id === held.message_id)?.deleted ? true : undefined),
        5000,
        'the held message to be deleted',
      );
      after = told.message_id;
    }
  });

  // What the limits allow: the bot cannot deliver `writes` into one private chat faster than
  // this, so the waits below are that times a slack, plus time for the bot to do the work.
  const N = 30;
  // The limits the fake enforces, and the bot's own, a fifth lower: the fake stamps requests
  // when its event loop (shared with this test) reads them, so on a loaded machine requests the
  // bot spaced correctly can be stamped bunched together. The margin absorbs that stall; a bot
  // that ignored its limits would still exceed the fake's many times over.
  const GLOBAL = 15;
  const PER_CHAT = 10;
  const BOT_GLOBAL = 12;
  const BOT_PER_CHAT = 8;
  const SLACK = 4;
  /** The bot runs `/tmux new` one at a time for one operator; under load that is the slow part. */
  const PER_COMMAND_MS = 1500;
  const atLimit = (writes: number): number => Math.ceil(writes / BOT_PER_CHAT) * (1000 + JITTER_MARGIN_MS);
  const cardsWithin = N * PER_COMMAND_MS + SLACK * atLimit(N);
  // Every card's final edit and one alert per session, plus time for the sessions to run.
  const doneWithin = SLACK * atLimit(2 * N) + 10_000;
  it(
    `the outbox keeps ${N} busy sessions within the rate limits and delivers the final state of every card`,
    async () => {
      await start({
        TELEGRAM_GLOBAL_PER_SECOND: String(BOT_GLOBAL),
        TELEGRAM_PRIVATE_PER_SECOND: String(BOT_PER_CHAT),
      });
      // Each session waits on its terminal (no polling: fifty shells forking `sleep` in a loop
      // slowed the machine more than the test itself), then prints 40 ticks, then waits until
      // tmux holds its last line before exiting, since a busy tmux server can lose the output
      // of a pane that dies too soon.
      const body = [
        'echo ready; read _',
        'i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "tick $i"; sleep 0.05; done; echo "finished $i"',
        'until tmux capture-pane -p -t "$TMUX_PANE" | grep -qx "finished 40"; do sleep 0.1; done; exit 0',
      ].join('\n');
      const path = script('burst.sh', body);
      for (let i = 0; i < N; i++) fake.sendText({ from: OP, text: `/tmux new b${i} ${path}` });
      const cards = await fake.waitFor(
        () => {
          const found = Array.from({ length: N }, (_, i) => about(OP, `b${i}`)[0]);
          return found.every((m) => m !== undefined) ? found.map((m) => m!.message_id) : undefined;
        },
        cardsWithin,
        'all cards',
      );

      // From here on every write is automatic: any excess over the limits would be a 429.
      // Direct replies (the cards) counted in the fake's last one-second window: let it pass.
      await sleep(1000 + JITTER_MARGIN_MS);
      fake.enforceLimits({ globalPerSecond: GLOBAL, perChatPerSecond: PER_CHAT });
      const from = fake.calls.length;
      // Keys typed before a shell reaches its `read` wait in the terminal: no session can miss the start.
      await tmux(
        ...Array.from({ length: N }, (_, i) => [';', 'send-keys', '-t', `=b${i}:`, 'Enter'])
          .flat()
          .slice(1),
      );
      const finalCard = (i: number): boolean => {
        const t = text(OP, cards[i]!);
        return t.startsWith(`✅ b${i} · done`) && t.endsWith('\nfinished 40');
      };
      const doneAlerts = () =>
        fake.messages(OP).filter((m) => !cards.includes(m.message_id) && /^✅ b\d+ · done/.test(firstLine(m)));
      await fake
        .waitFor(
          () => cards.every((_, i) => finalCard(i)) && doneAlerts().length >= N,
          doneWithin,
          'every card in its final state and one alert per session',
        )
        .catch((e: Error) => {
          const stale = cards.flatMap((id, i) =>
            finalCard(i) ? [] : [JSON.stringify(text(OP, id).split('\n').slice(-1)[0])],
          );
          throw new Error(
            `${e.message}; ${stale.length} cards not final (${stale.slice(0, 3).join(', ')}), ${doneAlerts().length} alerts`,
          );
        });
      const writes = fake.calls.slice(from).filter((c) => ['sendMessage', 'editMessageText'].includes(c.method));
      expect(writes.filter((c) => c.status === 429)).toHaveLength(0);
      // One alert per session, not one twice (a late duplicate gets half a second to show).
      await sleep(500);
      expect(
        doneAlerts()
          .map((m) => firstLine(m).split(' ')[1])
          .sort(),
      ).toEqual(Array.from({ length: N }, (_, i) => `b${i}`).sort());

      // Sliding one-second windows, counted at arrival, never hold more than the limits.
      const times = writes.map((c) => c.at);
      const most = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
      expect(most).toBeLessThanOrEqual(Math.min(GLOBAL, PER_CHAT));
      // Coalescing: far fewer edits than the watcher saw changes (40 ticks per session).
      expect(writes.filter((c) => c.method === 'editMessageText').length).toBeLessThan(N * 10);
    },
    START_MS + cardsWithin + doneWithin + 10_000,
  );
});
