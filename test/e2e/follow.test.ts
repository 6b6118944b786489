/**
 * Live follows end to end: the real `teleops start` process follows a real dockerd's log and a
 * real tmux pane into one card each, edited in place through the fake Bot API, until the Stop
 * button, the container's exit or the session's end.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBotApi, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer } from '../support/dockerd.js';
import { runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';

const env = await useDockerd('e2e-follow');

const OP = 10;
const P = 'tfo';
/** Prints a numbered tick five times a second, after one line that leaks a secret. */
const TICKER = (secret: string) => [
  'sh',
  '-c',
  `echo "token ${secret} leaked"; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done`,
];
const SERVE = ['sh', '-c', 'trap "exit 143" TERM; echo serving; while :; do sleep 0.2; done'];

describe.skipIf(!env)('live follows through the Bot API', () => {
  const e = env!;
  let fake: FakeBotApi;
  let proc: Proc | undefined;
  let dir: { path: string; remove(): void };
  let sock: string;

  const tmux = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('tmux', ['-S', sock, '-f', '/dev/null', ...args], { timeout: 5000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
      );
    });
  const text = (id: number): string => fake.message(OP, id)?.text ?? '';
  const untilText = (id: number, re: RegExp, timeoutMs = 20_000): Promise<string> =>
    fake
      .waitFor(() => (re.test(text(id)) ? text(id) : undefined), timeoutMs, `message ${id} to match ${re}`)
      .catch((err: Error) => {
        throw new Error(`${err.message}; it reads: ${JSON.stringify(text(id))}`);
      });
  const ask = (line: string, match: RegExp): Promise<StoredMessage> =>
    fake.waitForMessage({ chat: OP, after: fake.sendText({ from: OP, text: line }).message.message_id, match });
  const buttons = (id: number) => (fake.message(OP, id)?.reply_markup?.inline_keyboard ?? []).flat();
  const press = (id: number, label: string): void => {
    const b = buttons(id).find((k) => k.text === label);
    if (!b || !('callback_data' in b) || !b.callback_data) throw new Error(`message ${id} has no button ${label}`);
    fake.pressButton({ from: OP, messageId: id, data: b.callback_data });
  };
  const lastTick = (id: number): number => Math.max(0, ...[...text(id).matchAll(/tick (\d+)/g)].map((m) => +m[1]!));
  const audited = (): { action: string; outcome: string }[] => {
    const db = new Database(join(dir.path, 'teleops.db'), { readonly: true });
    try {
      return (db.prepare('SELECT entry FROM audit ORDER BY seq').all() as { entry: string }[]).map(
        (r) => JSON.parse(r.entry) as { action: string; outcome: string },
      );
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    fake.createUser({ id: OP, username: `u${OP}` });
    dir = tempDir('teleops-e2e-follow-');
    sock = join(dir.path, 'tmux.sock');
    await Promise.all([
      createTestContainer(e.docker, { name: `${P}-ticker`, cmd: TICKER(fake.token), suite: e.suite }),
      createTestContainer(e.docker, { name: `${P}-ender`, cmd: SERVE, suite: e.suite }),
      // PID 1 without a handler ignores SIGTERM: a stop waits for the whole grace period.
      createTestContainer(e.docker, {
        name: `${P}-stubborn`,
        cmd: ['sh', '-c', 'while :; do sleep 0.2; done'],
        suite: e.suite,
      }),
      tmux('new-session', '-d', '-s', 'fo', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'),
    ]);
    proc = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      STATE_DIR: dir.path,
      HTTP_PORT: '0',
      DOCKER_HOST: e.host,
      TMUX_SOCKET: sock,
      TMUX_POLL_SECONDS: '0.2',
      RATE_LIMIT_PER_MINUTE: '1000',
      TELEGRAM_PRIVATE_PER_SECOND: '0',
      LOG_LEVEL: 'warn',
    });
    await untilPolling(fake, proc, { timeoutMs: 90_000 });
  }, 120_000);

  afterAll(async () => {
    await proc?.stop();
    await tmux('kill-server').catch(() => undefined);
    await fake?.stop();
    dir?.remove();
  });

  it('/docker logs -f streams into one card, edited in place, redacted, until Stop names who pressed it', async () => {
    const card = await ask(`/docker logs -f ${P}-ticker`, new RegExp(`Logs of ${P}-ticker`));
    expect(card.text).toContain('🔴 live · for up to 5m · started by @u10');
    expect(buttons(card.message_id).map((b) => b.text)).toEqual(['⏹ Stop']);
    await untilText(card.message_id, /tick \d+/);
    const seen = lastTick(card.message_id);
    await fake.waitFor(() => lastTick(card.message_id) > seen, 20_000, 'the card to show newer ticks');
    const before = fake.messages(OP).length;
    press(card.message_id, '⏹ Stop');
    const last = await untilText(card.message_id, /ended: stopped by @u10 · after/);
    expect(last).not.toContain(fake.token);
    expect(buttons(card.message_id)).toEqual([]);
    // The card was edited, never posted again; and it stays as it ended.
    expect(fake.messages(OP).filter((m) => (m.text ?? '').includes(`Logs of ${P}-ticker`))).toHaveLength(1);
    const frozen = lastTick(card.message_id);
    await ask('/docker ps', /Running containers/);
    expect(lastTick(card.message_id)).toBe(frozen);
    expect(fake.messages(OP).length).toBeGreaterThan(before);
    const entries = audited();
    expect(entries.find((x) => x.action === 'docker.logs-follow')).toMatchObject({ outcome: 'ok' });
    expect(entries.find((x) => x.action === 'docker.follow-stop')).toMatchObject({ outcome: 'ok' });
  });

  it('the card says when the container exited', async () => {
    const card = await ask(`/docker logs -f ${P}-ender for 10m`, new RegExp(`Logs of ${P}-ender`));
    expect(card.text).toContain('for up to 10m');
    await untilText(card.message_id, /serving/);
    await e.docker.getContainer(`${P}-ender`).stop({ t: 5 });
    await untilText(card.message_id, /ended: container exited with code 143/);
    const refused = await ask(`/docker logs -f ${P}-ender`, /is not running/);
    expect(refused.text).toContain('/docker logs shows its last lines');
    await ask(`/docker logs -f ${P}-ticker for 2h`, /from 1s to 30m/);
  });

  it('/tmux tail -f follows a pane into one card until the session ends', async () => {
    const card = await ask('/tmux tail -f fo', /Terminal fo/);
    await untilText(card.message_id, /tick \d+/);
    const seen = lastTick(card.message_id);
    await fake.waitFor(() => lastTick(card.message_id) > seen, 20_000, 'the pane card to show newer ticks');
    await tmux('kill-session', '-t', '=fo');
    await untilText(card.message_id, /ended: the session ended/);
    expect(buttons(card.message_id)).toEqual([]);
  });

  it('says what is happening while an approved stop waits for its grace period, and while stats sample', async () => {
    const name = `${P}-stubborn`;
    const card = await ask(`/docker stop ${name}`, /Approval needed/);
    press(card.message_id, '✅ Approve');
    const note = await fake.waitFor(
      () => fake.history(OP).find((m) => m.message_id > card.message_id && /^⏳ Stopping /.test(m.text ?? '')),
      20_000,
      'the progress note',
    );
    expect(note.text).toBe(`⏳ Stopping ${name}: SIGTERM sent; waiting up to 10 s for it to exit before SIGKILL…`);
    // The name is shown as a value, never as text Telegram could read as a link or mention.
    expect(note.entities.map((x) => x.type)).toContain('code');
    // The note is what this is about: the stop need not wait out the rest of the grace period
    // (on a machine slow enough to have waited it out already, there is nothing left to kill).
    await e.docker
      .getContainer(name)
      .kill()
      .catch(() => undefined);
    await fake.waitForMessage({ chat: OP, after: card.message_id, match: /^Stopped /, timeoutMs: 30_000 });
    // Once the answer is there the note has served: it is deleted.
    await fake.waitFor(() => !fake.messages(OP).some((m) => m.message_id === note.message_id), 10_000, 'the deletion');

    const stats = await ask(`/docker stats ${P}-ticker`, /Container stats/);
    const sampling = fake
      .history(OP)
      .find((m) => m.message_id > card.message_id && /^⏳ Sampling 1 container/.test(m.text ?? ''));
    expect(sampling?.message_id).toBeLessThan(stats.message_id);
  }, 60_000);

  // Last: it stops teleops.
  it('ends every follow when teleops stops, and the card says so', async () => {
    const card = await ask(`/docker logs -f ${P}-ticker`, new RegExp(`Logs of ${P}-ticker`));
    await untilText(card.message_id, /tick \d+/);
    await proc!.stop('SIGTERM');
    proc = undefined;
    expect(text(card.message_id)).toMatch(/ended: teleops stopped · after/);
    expect(buttons(card.message_id)).toEqual([]);
  });
});
