/**
 * End to end: the real `teleops start` process, polling the fake Bot API, operating a real
 * dockerd. What an operator sees in Telegram is asserted on what the fake recorded; what
 * happened to the containers is checked through the Engine API directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InlineKeyboardButton } from 'grammy/types';
import { FakeBotApi, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer, waitFor } from '../support/dockerd.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';

const env = await useDockerd('e2e-docker');

const OP = 10;
const GROUP = -1003000;
/** Every container of this file starts with it, so that lists can be filtered to ours. */
const P = 'tde';
const HMAC_KEY = 'e2e-docker-hmac-key-5f3a9c';
const PASSWORD = 'hunter2-s3cret-pw';
/** Exits non-zero on SIGTERM: a stop would look like a crash if teleops did not know better. */
const SERVE = ['sh', '-c', 'trap "exit 143" TERM; while :; do sleep 0.2; done'];
/** A name Telegram would turn into a link if it were sent as plain text. */
const LINKY = `${P}-www.evil.com`;
/** In logs and labels: a mention, a URL, a hashtag and a command, all as data. */
const HOSTILE_TEXT = '@everyone http://evil.example/phish #pwned /start';
const STATE_EMOJI = /^(🟢|🟠|⏸|🔁|⚪|🔴) /u;

type Buttons = InlineKeyboardButton.CallbackButton[][];

const buttonsOf = (m: StoredMessage | undefined): Buttons =>
  (m?.reply_markup?.inline_keyboard ?? []).map((row) =>
    row.filter((b): b is InlineKeyboardButton.CallbackButton => 'callback_data' in b),
  );

/** True when every occurrence of `needle` in the message lies inside a code or pre entity. */
function onlyInCode(m: StoredMessage, needle: string): boolean {
  const text = m.text ?? m.caption ?? '';
  const code = m.entities.filter((e) => e.type === 'code' || e.type === 'pre');
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
    if (!code.some((e) => e.offset <= i && i + needle.length <= e.offset + e.length)) return false;
  }
  return true;
}

describe.skipIf(!env)('teleops start operating a real dockerd through the Bot API', () => {
  const e = env!;
  let fake: FakeBotApi;
  let proc: Proc | undefined;
  let httpPort: number;
  let dir: { path: string; remove(): void } | undefined;

  const container = (name: string) => e.docker.getContainer(name);
  const startedAt = async (name: string): Promise<string> => (await container(name).inspect()).State.StartedAt;
  const send = (text: string): number => fake.sendText({ from: OP, text }).message.message_id;
  const ask = (text: string, match: RegExp | string, timeoutMs = 10_000): Promise<StoredMessage> =>
    fake.waitForMessage({ chat: OP, after: send(text), match, timeoutMs });
  const alertsAbout = (name: string, chat = OP): StoredMessage[] =>
    fake
      .messages(chat)
      .filter(
        (m) =>
          /exited with code|was OOM-killed|is unhealthy/.test(m.text ?? '') &&
          (m.text ?? '').includes(`Container ${name} (`),
      );
  const press = (m: StoredMessage, label: RegExp): void => {
    const b = buttonsOf(fake.message(OP, m.message_id))
      .flat()
      .find((x) => label.test(x.text));
    if (!b) throw new Error(`no button ${label} on message ${m.message_id}`);
    fake.pressButton({ from: OP, messageId: m.message_id, data: b.callback_data });
  };
  const cardText = (m: StoredMessage): string => fake.message(OP, m.message_id)?.text ?? '';
  async function metric(line: RegExp): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const hit = text.split('\n').find((l) => line.test(l));
    return hit === undefined ? 0 : Number(hit.split(' ').at(-1));
  }
  /**
   * Events are handled in order: once a crash made after `name`'s last event has alerted,
   * any alert about `name` has been sent too.
   */
  async function settle(tag: string): Promise<void> {
    const name = `${P}-sentinel-${tag}`;
    await createTestContainer(e.docker, { name, cmd: ['sh', '-c', 'exit 9'], suite: e.suite });
    await fake.waitFor(() => alertsAbout(name).length > 0, 15_000, `the alert about ${name}`);
  }

  beforeAll(async () => {
    fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    fake.createUser({ id: OP, username: `u${OP}` });
    fake.createChat({ id: GROUP, type: 'supergroup', title: 'ops' });
    httpPort = await freePort();
    const state = (dir = tempDir('teleops-e2e-docker-'));
    const chatty = [
      'i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done',
      `echo "hostile ${HOSTILE_TEXT}"`,
      `echo "key ${HMAC_KEY} and token ${fake.token} leaked" >&2`,
      `echo "db password=${PASSWORD}"`,
      'echo "last-line"',
      'exec sleep 3600',
    ].join('; ');
    await Promise.all([
      createTestContainer(e.docker, {
        name: `${P}-web`,
        cmd: SERVE,
        suite: e.suite,
        env: ['SECRET_TOKEN=supersecretvalue', 'PLAIN=x'],
      }),
      createTestContainer(e.docker, { name: `${P}-stopme`, cmd: SERVE, suite: e.suite }),
      createTestContainer(e.docker, { name: `${P}-chatty`, cmd: ['sh', '-c', chatty], suite: e.suite }),
      createTestContainer(e.docker, {
        name: LINKY,
        cmd: ['sh', '-c', `echo "${HOSTILE_TEXT}"; exec sleep 3600`],
        suite: e.suite,
        labels: { note: HOSTILE_TEXT },
      }),
    ]);
    proc = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      AUTHORIZED_CHAT_IDS: String(GROUP),
      STATE_DIR: state.path,
      HTTP_PORT: String(httpPort),
      DOCKER_HOST: e.host,
      TMUX_ENABLED: 'false',
      AUDIT_HMAC_KEY: HMAC_KEY,
      CONFIRM_TTL_SECONDS: '2',
      ALERT_COOLDOWN_SECONDS: '120',
      RATE_LIMIT_PER_MINUTE: '1000',
      // Telegram's ~1 message a second per private chat would make this file slow, and would let
      // a 2 s approval expire before its card is even sent.
      TELEGRAM_PRIVATE_PER_SECOND: '0',
    });
    await proc.waitForOutput(/docker events: subscribed/, 30_000);
    // `tail` counts both streams, and the stderr line may be stamped last.
    await waitFor(
      async () =>
        (await container(`${P}-chatty`).logs({ stdout: true, stderr: true, tail: 5 })).toString().includes('last-line')
          ? true
          : undefined,
      'the chatty log',
    );
  });

  afterAll(async () => {
    await proc?.stop();
    await fake?.stop();
    dir?.remove();
  });

  it('lists containers: /docker ps, /ps, and bare /docker with one row of buttons per container; a Logs button shows logs', async () => {
    const ps = await ask(`/docker ps ${P}`, /Running containers/);
    for (const name of [`${P}-web`, `${P}-chatty`, `${P}-stopme`, LINKY]) expect(ps.text).toContain(name);
    const all = await ask(`/ps all ${P}`, /Containers: \d+ matching/);
    expect(all.text).toContain(`${P}-web`);

    const bare = await ask('/docker', /Running containers/);
    const rows = (bare.text ?? '').split('\n').filter((l) => STATE_EMOJI.test(l));
    const perContainer = buttonsOf(bare).filter((r) => r.length === 3);
    expect(rows.length).toBeGreaterThan(0);
    expect(perContainer).toHaveLength(rows.length);
    for (const [logs, restart, stopStart] of perContainer) {
      expect(logs!.text).toMatch(/^📄 /);
      expect(restart!.text).toBe('🔄 Restart');
      expect(stopStart!.text).toBe('⏹ Stop');
    }

    press(ps, new RegExp(`^📄 ${P}-chatty$`));
    const logs = await fake.waitForMessage({
      chat: OP,
      after: ps.message_id,
      match: new RegExp(`Logs of ${P}-chatty`),
    });
    expect(logs.text).toContain('last-line');
  });

  it('reads logs: the last N lines in the chat, more as a .log document, with secrets redacted', async () => {
    const m = await ask(`/docker logs ${P}-chatty 20`, new RegExp(`Logs of ${P}-chatty`));
    const text = m.text ?? '';
    expect(text).toContain('last 20 lines');
    // stdout and stderr are stamped by separate readers in dockerd, so only stdout's order is certain.
    const shown = text.split('\n').slice(1);
    expect(shown).toHaveLength(20);
    expect(shown).toContain('line 300');
    expect(shown).toContain('last-line');
    expect(shown).not.toContain('line 280');
    expect(text).toContain('[REDACTED]');
    expect(text).toContain('db password=[REDACTED]');
    expect(m.entities.map((x) => x.type)).toContain('pre');

    const before = fake.documents(OP).length;
    const head = await ask(`/docker logs ${P}-chatty 300`, /sent as/);
    expect(head.text).toMatch(new RegExp(`${P}-chatty-\\d{8}-\\d{6}\\.log`));
    const doc = await fake.waitFor(() => fake.documents(OP)[before], 10_000, 'the .log document');
    expect(doc.file_name).toMatch(/\.log$/);
    const body = doc.bytes.toString('utf8');
    const lines = body.trimEnd().split('\n');
    expect(lines).toHaveLength(300);
    expect(lines.filter((l) => /^line \d+$/.test(l)).length).toBeGreaterThanOrEqual(296);
    expect(lines).toContain('last-line');
    expect(lines).toContain('line 300');
    expect(body).toContain('db password=[REDACTED]');
    expect(body).toContain(`hostile ${HOSTILE_TEXT}`);
  });

  it('/docker inspect shows env names only', async () => {
    const m = await ask(`/docker inspect ${P}-web`, new RegExp(`Container ${P}-web`));
    expect(m.text).toMatch(/Env \(names only\): .*SECRET_TOKEN/);
    expect(m.text).toContain('PLAIN');
    expect(m.text).not.toContain('supersecretvalue');
  });

  it('restarts a container via Approve: the card shows its state, the start time changes', async () => {
    const name = `${P}-web`;
    const before = await startedAt(name);
    const card = await ask(`/docker restart ${name}`, /Approval needed/);
    expect(card.text).toContain('docker.restart');
    expect(card.text).toMatch(new RegExp(`${name} \\([0-9a-f]{12}\\): running · up`));
    press(card, /Approve/);
    const done = await fake.waitForMessage({ chat: OP, after: card.message_id, match: /Restarted/, timeoutMs: 20_000 });
    const after = await startedAt(name);
    expect(after).not.toBe(before);
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    expect(done.text).toMatch(new RegExp(`${name} \\([0-9a-f]{12}\\): running`));
    expect(done.text).toContain(after);
    await fake.waitFor(() => /Approved by @u10/.test(cardText(card)), 5000, 'the card to show the approval');
    expect((await container(name).inspect()).RestartCount).toBe(0);
  });

  it('Deny and expiry leave the container untouched', async () => {
    const name = `${P}-web`;
    const before = await startedAt(name);
    const denied = await ask(`/docker restart ${name}`, /Approval needed/);
    press(denied, /Deny/);
    await fake.waitFor(() => /Denied by @u10/.test(cardText(denied)), 5000, 'the card to show the denial');
    const expiring = await ask(`/docker stop ${name}`, /Approval needed/);
    const approve = buttonsOf(expiring)
      .flat()
      .find((b) => /Approve/.test(b.text))!;
    await fake.waitFor(() => /Expired/.test(cardText(expiring)), 8000, 'the card to expire');
    fake.pressButton({ from: OP, messageId: expiring.message_id, data: approve.callback_data, unchecked: true });
    await fake.waitFor(
      () => fake.callbackAnswers.some((a) => /expired/i.test(a.text ?? '')),
      5000,
      'the late press to be refused',
    );
    const d = await container(name).inspect();
    expect(d.State.StartedAt).toBe(before);
    expect(d.State.Running).toBe(true);
    expect(
      fake.messages(OP).filter((m) => m.message_id > denied.message_id && /^(Restarted|Stopped)/.test(m.text ?? '')),
    ).toHaveLength(0);
  });

  it('/docker stop via approval does not raise a crash alert', async () => {
    const name = `${P}-stopme`;
    const card = await ask(`/docker stop ${name}`, /Approval needed/);
    // What the wait after Approve will be is on the card, which stays in view while it runs.
    expect(card.text).toContain('this can take up to 10 s.');
    press(card, /Approve/);
    const done = await fake.waitForMessage({ chat: OP, after: card.message_id, match: /^Stopped/, timeoutMs: 20_000 });
    expect(done.text).toMatch(/exited · exit code 143/);
    expect((await container(name).inspect()).State.ExitCode).toBe(143);
    const again = await ask(`/docker stop ${name}`, /already stopped|Approval needed/);
    expect(again.text).toContain(`container ${name} is already stopped (exited); nothing to stop`);
    expect(
      fake.messages(OP).filter((m) => m.message_id > done.message_id && /Approval needed/.test(m.text ?? '')),
    ).toHaveLength(0);
    await settle('stop');
    expect(alertsAbout(name)).toHaveLength(0);
    // The restart above made its container exit 143 too.
    expect(alertsAbout(`${P}-web`)).toHaveLength(0);
  });

  it('a container exiting non-zero: exactly one alert in the private chat, with its last lines and Logs · Restart', async () => {
    const name = `${P}-crash`;
    await createTestContainer(e.docker, {
      name,
      cmd: ['sh', '-c', `echo crash-a; echo crash-b; echo "password=${PASSWORD}"; exit 3`],
      suite: e.suite,
    });
    const alert = await fake.waitFor(() => alertsAbout(name)[0], 15_000, 'the crash alert');
    expect(alert.text).toContain('exited with code 3');
    expect(alert.text).toMatch(/crash-a\ncrash-b\npassword=\[REDACTED\]/);
    expect(
      buttonsOf(alert)
        .flat()
        .map((b) => b.text),
    ).toEqual(['📄 Logs', '🔄 Restart']);
    await settle('crash');
    expect(alertsAbout(name)).toHaveLength(1);
    expect(alertsAbout(name, GROUP)).toHaveLength(0);
  });

  it('repeated crashes within the cooldown are coalesced into one alert', async () => {
    const name = `${P}-loop`;
    await createTestContainer(e.docker, {
      name,
      cmd: ['sh', '-c', 'echo looping; sleep 0.2; exit 2'],
      suite: e.suite,
      restart: 'always',
    });
    await waitFor(
      async () => ((await container(name).inspect()).RestartCount >= 3 ? true : undefined),
      'three restarts',
      20_000,
    );
    await container(name).remove({ force: true });
    await settle('loop');
    expect(alertsAbout(name)).toHaveLength(1);
  });

  it('/silence 10m mutes alerts', async () => {
    await ask('/silence 10m', /Alerts muted for 10m/);
    const silenced = await metric(/^teleops_alerts_total\{source="docker",outcome="silenced"\}/);
    const name = `${P}-muted`;
    await createTestContainer(e.docker, { name, cmd: ['sh', '-c', 'echo muted; exit 5'], suite: e.suite });
    await waitFor(
      async () => ((await container(name).inspect()).State.Status === 'exited' ? true : undefined),
      'the container to exit',
    );
    await waitFor(
      async () =>
        (await metric(/^teleops_alerts_total\{source="docker",outcome="silenced"\}/)) > silenced ? true : undefined,
      'an alert to be silenced',
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(alertsAbout(name)).toHaveLength(0);
  });

  it('hostile names and text render inside code entities only; a name starting with "-" is refused', async () => {
    const ps = await ask(`/ps ${P}-www`, /Running containers/);
    expect(ps.text).toContain(LINKY);
    const logs = await ask(`/docker logs ${LINKY}`, /Logs of/);
    expect(logs.text).toContain(HOSTILE_TEXT);
    const inspect = await ask(`/docker inspect ${LINKY}`, /Container /);
    expect(inspect.text).toContain(`note=${HOSTILE_TEXT}`);
    for (const m of [ps, logs, inspect]) {
      for (const needle of [LINKY, '@everyone', 'http://evil.example', '#pwned', '/start'])
        expect(onlyInCode(m, needle), `${needle} in ${m.text}`).toBe(true);
    }

    const refused = await ask('/docker logs "-rf"', /docker\.logs/);
    expect(refused.text).toMatch(
      /^⚠️ Invalid input for docker\.logs: container: .*a name, an id prefix or compose project\/service\. Usage: \/docker logs <container> \[lines\] \[since\] \[grep\.\.\.\]$/,
    );
    expect(fake.messages(OP).filter((m) => m.message_id > refused.message_id)).toHaveLength(0);
  });

  it('nothing the bot sent carries a secret or a live link, mention or markup', () => {
    const sent = [...fake.messages(OP), ...fake.messages(GROUP)];
    const docs = [...fake.documents(OP), ...fake.documents(GROUP)].map((d) => d.bytes.toString('utf8'));
    for (const s of [...sent.map((m) => `${m.text ?? ''}${m.caption ?? ''}`), ...docs]) {
      for (const secret of [HMAC_KEY, fake.token, PASSWORD, 'supersecretvalue']) expect(s).not.toContain(secret);
    }
    for (const m of sent) {
      expect(m.entities.every((x) => x.type === 'bold' || x.type === 'code' || x.type === 'pre')).toBe(true);
      for (const needle of ['@everyone', 'http://evil.example', 'evil.com'])
        expect(onlyInCode(m, needle), `${needle} in ${m.text}`).toBe(true);
    }
    expect(fake.parseModeAttempts).toHaveLength(0);
  });
});

// Needs no dockerd: it runs wherever the rest of this file is skipped.
describe('teleops start with the Docker Engine unreachable', () => {
  it('answers /docker ps with one clear line, reports docker down in /health, keeps serving /whoami', async () => {
    const fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    const dir = tempDir('teleops-e2e-nodocker-');
    const httpPort = await freePort();
    const proc = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      STATE_DIR: dir.path,
      HTTP_PORT: String(httpPort),
      DOCKER_HOST: `unix://${dir.path}/missing/docker.sock`,
      DOCKER_TIMEOUT_SECONDS: '2',
      TMUX_ENABLED: 'false',
    });
    try {
      await untilPolling(fake, proc);
      const ps = await fake.waitForMessage({
        chat: OP,
        after: fake.sendText({ from: OP, text: '/docker ps' }).message.message_id,
        match: /docker/i,
      });
      expect(ps.text).not.toContain('\n');
      expect(ps.text).toMatch(/^⚠️ docker\.ps failed: Docker is not reachable at unix:\/\/.*missing\/docker\.sock/);
      expect(ps.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
      const who = fake.sendText({ from: OP, text: '/whoami' }).message.message_id;
      await fake.waitForMessage({ chat: OP, after: who, match: /role operator/ });
      const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      expect(body.checks.docker).toBe('down');
      expect(body.checks.telegram).toBe('up');
      expect(body.status).toBe('degraded');
      expect(res.status).toBe(200);
      expect(proc.child.exitCode).toBeNull();
    } finally {
      await proc.stop();
      await fake.stop();
      dir.remove();
    }
  });
});
