/**
 * The Docker Engine restarted under teleops: a private dockerd (the shared one serves other
 * files) is stopped mid-`/docker logs` stream and while the events watcher runs, then started
 * again on the same data root. The stream fails with one clear line; the watcher reconnects,
 * reports a crash that happened while it was away (asked for with `since`), and alerts once.
 * Then the same through the real `teleops start` and the fake Bot API: a live `/docker logs -f`
 * card and an approved `/docker restart` in flight when dockerd stops each end with one line.
 */
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/log.js';
import { createRedactor } from '../../../src/core/redact.js';
import { plainText } from '../../../src/core/result.js';
import { dockerActions } from '../../../src/targets/docker/actions.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { startDockerEvents } from '../../../src/targets/docker/events.js';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';
import {
  alive,
  createTestContainer,
  dockerdPrerequisites,
  startDockerd,
  stopDockerd,
  waitFor,
  type DockerdInfo,
} from '../../support/dockerd.js';
import { FakeBotApi, type StoredMessage } from '../../fakes/botapi.js';
import { tempDir } from '../../support/app.js';
import { runTeleops } from '../../support/process.js';
import { collectingSink, runAction } from './helpers.js';

const missing = dockerdPrerequisites();
if (missing && process.env.CI === 'true') throw new Error(`dockerd is required under CI=true: ${missing}`);
if (missing) console.warn(`[docker restart tests skipped] ${missing}`);

const SUITE = 'restart';
const LINE = 'x'.repeat(400);
const LINES = 5000;

/** A socket in front of the daemon's that the test takes away: teleops is away, the Engine is not. */
class Relay {
  private server: Server | undefined;
  private readonly open = new Set<Socket>();
  constructor(
    readonly path: string,
    private readonly target: () => string,
  ) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target());
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      // Either end going away takes the other with it, as one connection would.
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.open) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

describe.skipIf(missing !== undefined)('the Docker Engine restarted under teleops', { timeout: 240_000 }, () => {
  let base: string;
  let daemon: DockerdInfo;
  const stale: string[] = [];
  let relayDir: string;
  let relay: Relay;

  /** Stops dockerd (its containers stop with it). */
  async function stop(): Promise<void> {
    process.kill(daemon.pid, 'SIGTERM');
    await waitFor(() => (alive(daemon.pid) ? undefined : true), 'dockerd to stop', 60_000);
  }

  /** Starts dockerd again on the same data root. */
  async function startAgain(): Promise<void> {
    // The exec root is made afresh on each start; the data root (containers, logs) is kept.
    stale.push(...daemon.dirs.filter((d) => d !== base));
    daemon = await startDockerd({ baseDir: base });
  }

  async function restart(): Promise<void> {
    await stop();
    await startAgain();
  }

  beforeAll(async () => {
    base = mkdtempSync('/tmp/tdr-');
    daemon = await startDockerd({ baseDir: base });
    relayDir = mkdtempSync('/tmp/trr-');
    relay = new Relay(join(relayDir, 'd.sock'), () => daemon.socketPath);
    await relay.up();
  }, 120_000);

  afterAll(async () => {
    await relay.down();
    rmSync(relayDir, { recursive: true, force: true });
    await stopDockerd({ pid: daemon.pid, dirs: [...daemon.dirs, ...stale] });
  }, 60_000);

  it('a logs stream cut by the restart fails in one line; the watcher comes back and alerts once per crash', async () => {
    const docker = () => new Docker({ socketPath: daemon.socketPath });
    const port = createDockerPort({ host: `unix://${relay.path}`, timeoutMs: 5000 });
    const redactor = createRedactor([]);
    const sink = collectingSink();
    const events = startDockerEvents({
      port,
      sink,
      stops: createExpectedStops(),
      redactor,
      log: silentLogger(),
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const crashes = (id: string) => sink.alerts.filter((a) => a.key === `docker:${id}:die`);
    const exited = async (id: string) =>
      waitFor(
        async () => ((await docker().getContainer(id).inspect()).State.Status === 'exited' ? true : undefined),
        `container ${id} to exit`,
      );
    try {
      await waitFor(() => (events.state() === 'up' ? true : undefined), 'the watcher to subscribe');
      const before = await createTestContainer(docker(), {
        name: 'crash-before',
        cmd: ['sh', '-c', 'exit 3'],
        suite: SUITE,
      });
      await waitFor(() => (crashes(before.id).length > 0 ? true : undefined), 'the first crash alert');

      // A log longer than any socket buffer: the rest is still in the Engine when the test stops reading.
      const chatty = await createTestContainer(docker(), {
        name: 'chatty',
        cmd: ['sh', '-c', `yes ${LINE} | head -n ${LINES}; echo written; sleep 1000`],
        suite: SUITE,
      });
      await waitFor(async () => {
        const tail = await docker().getContainer(chatty.id).logs({ stdout: true, tail: 1 });
        return tail.toString().includes('written') ? true : undefined;
      }, 'the log to be written');
      const logs = await runAction(dockerActions({ port, stops: createExpectedStops(), redactor }), 'docker.logs', {
        container: 'chatty',
        lines: LINES,
      });
      const content = logs.attachment?.content;
      if (content === undefined || typeof content === 'string' || Buffer.isBuffer(content))
        throw new Error('expected a streamed document');
      const reader = content[Symbol.asyncIterator]();
      expect((await reader.next()).done).toBe(false);

      // The Engine's socket goes away with the rest of the stream in it, as when dockerd stops; the
      // daemon restarts, and teleops cannot reach the new one yet.
      await relay.down();
      await restart();
      let failure: unknown;
      try {
        while (!(await reader.next()).done);
      } catch (e) {
        failure = e;
      }
      expect(failure).toBeInstanceOf(Error);
      const message = (failure as Error).message;
      expect(message).toMatch(/docker/i);
      expect(message).not.toContain('\n');
      await waitFor(() => (events.state() === 'down' ? true : undefined), 'the watcher to notice');

      // A crash while the watcher is away: reported once it is back, from the Engine's own record.
      const away = await createTestContainer(docker(), {
        name: 'crash-away',
        cmd: ['sh', '-c', 'exit 4'],
        suite: SUITE,
      });
      await exited(away.id);
      await relay.up();
      await waitFor(() => (crashes(away.id).length > 0 ? true : undefined), 'the crash from while it was away');
      expect(plainText(crashes(away.id)[0]!.result)).toContain('exited with code 4');

      // A live one after that; then nothing was reported twice, and the daemon's own stop of chatty is no crash.
      const after = await createTestContainer(docker(), {
        name: 'crash-after',
        cmd: ['sh', '-c', 'exit 5'],
        suite: SUITE,
      });
      await waitFor(() => (crashes(after.id).length > 0 ? true : undefined), 'a live crash');
      for (const c of [before, away, after]) expect(crashes(c.id), c.name).toHaveLength(1);
      expect(crashes(chatty.id)).toHaveLength(0);
      console.log(
        `docker engine restart: logs stream failed with "${message}"; ` +
          `${sink.alerts.length} alerts for 3 crashes (lost 0, duplicated 0)`,
      );
    } finally {
      await events.stop();
    }
  });
  it('through teleops start: a live logs card and an approved restart in flight each end in one line; the crash while away alerts once', async () => {
    const docker = () => new Docker({ socketPath: daemon.socketPath });
    const OP = 10;
    const fake = new FakeBotApi();
    await fake.start();
    fake.createUser({ id: OP, username: 'op' });
    const dir = tempDir();
    const proc = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      STATE_DIR: dir.path,
      HTTP_PORT: '0',
      // Through the relay: the test decides when teleops sees the Engine again.
      DOCKER_HOST: `unix://${relay.path}`,
      TMUX_SOCKET: join(dir.path, 'tmux.sock'),
      ALERT_COOLDOWN_SECONDS: '0',
      TELEGRAM_POLL_SECONDS: '1',
    });
    const text = (id: number): string => fake.message(OP, id)?.text ?? '';
    const until = (id: number, re: RegExp, what: string): Promise<string> =>
      fake
        .waitFor(() => (re.test(text(id)) ? text(id) : undefined), 60_000, what)
        .catch((err: Error) => {
          throw new Error(`${err.message}; message ${id} reads: ${JSON.stringify(text(id))}`);
        });
    const ask = (line: string, match: RegExp): Promise<StoredMessage> =>
      fake.waitForMessage({
        chat: OP,
        after: fake.sendText({ from: OP, text: line }).message.message_id,
        match,
        timeoutMs: 60_000,
      });
    const crashAlerts = (name: string) =>
      fake.messages(OP).filter((m) => new RegExp(`${name}.* exited with code`).test(m.text ?? '')).length;
    try {
      await createTestContainer(docker(), {
        name: 'tp-tick',
        cmd: ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'],
        suite: SUITE,
      });
      // PID 1 without a handler ignores SIGTERM: a restart waits out its whole grace period.
      await createTestContainer(docker(), {
        name: 'tp-stubborn',
        cmd: ['sh', '-c', 'while :; do sleep 0.2; done'],
        suite: SUITE,
      });
      await ask('/whoami', /role operator/);
      await createTestContainer(docker(), { name: 'tp-crash-seen', cmd: ['sh', '-c', 'exit 6'], suite: SUITE });
      await fake.waitFor(() => crashAlerts('tp-crash-seen') > 0 || undefined, 60_000, 'the alert of a crash seen live');

      const follow = await ask('/docker logs -f tp-tick', /Logs of tp-tick/);
      await until(follow.message_id, /tick \d+/, 'the live card to show ticks');
      const card = await ask('/docker restart tp-stubborn', /Approval needed/);
      const approve = (fake.message(OP, card.message_id)?.reply_markup?.inline_keyboard ?? [])
        .flat()
        .find((b) => b.text === '✅ Approve');
      if (!approve || !('callback_data' in approve) || !approve.callback_data) throw new Error('no Approve button');
      fake.pressButton({ from: OP, messageId: card.message_id, data: approve.callback_data });
      await fake.waitFor(
        () => fake.history(OP).find((m) => m.message_id > card.message_id && /^⏳ Restarting /.test(m.text ?? '')),
        60_000,
        'the restart to be in flight',
      );

      // The Engine stops mid-restart and mid-stream, as dockerd stops; teleops then cannot reach
      // the new one until the test says so.
      await stop();
      await relay.down();
      await startAgain();
      const followEnd = await until(follow.message_id, /ended: /, 'the live card to end');
      // Dockerd may finish the restart as it goes down (it stops the container itself): then the
      // card says done; otherwise it says in one line that the Engine could not be reached.
      const restartEnd = await until(card.message_id, /failed|could not|cannot|done: /i, 'the approval card to end');
      const crash = await createTestContainer(docker(), {
        name: 'tp-crash-away',
        cmd: ['sh', '-c', 'exit 4'],
        suite: SUITE,
      });
      await waitFor(
        async () => ((await docker().getContainer(crash.id).inspect()).State.Status === 'exited' ? true : undefined),
        'the crash while away',
      );
      await relay.up();
      await fake.waitFor(
        () => crashAlerts('tp-crash-away') > 0 || undefined,
        60_000,
        'the alert of the crash while away',
      );
      await ask('/docker ps', /Running containers|No running containers/);
      await createTestContainer(docker(), { name: 'tp-crash-live', cmd: ['sh', '-c', 'exit 5'], suite: SUITE });
      await fake.waitFor(() => crashAlerts('tp-crash-live') > 0 || undefined, 60_000, 'the alert of a live crash');

      const lastLine = (t: string) =>
        t
          .split('\n')
          .filter((l) => l.trim() !== '')
          .at(-1) ?? '';
      console.log(
        `docker engine restart through teleops start: follow card "${/ended: [^\n]*/.exec(followEnd)?.[0]}"; ` +
          `approved restart card "${lastLine(restartEnd)}"; crash alerts seen/away/live ` +
          `${crashAlerts('tp-crash-seen')}/${crashAlerts('tp-crash-away')}/${crashAlerts('tp-crash-live')}; ` +
          `for the containers dockerd stopped as it went down ${crashAlerts('tp-tick') + crashAlerts('tp-stubborn')}`,
      );
      expect(followEnd).toMatch(/ended: .+ · after/);
      expect((fake.message(OP, follow.message_id)?.reply_markup?.inline_keyboard ?? []).flat()).toEqual([]);
      for (const name of ['tp-crash-seen', 'tp-crash-away', 'tp-crash-live']) expect(crashAlerts(name), name).toBe(1);
      expect(proc.child.exitCode).toBeNull();
      expect(proc.output()).not.toMatch(/\n\s+at /);
    } finally {
      // Their PID 1 ignores SIGTERM: killed here, while the Engine is up, so that no process of
      // theirs outlives the daemon (one did, spinning for the rest of the run).
      for (const name of ['tp-stubborn', 'tp-tick'])
        await docker()
          .getContainer(name)
          .remove({ force: true })
          .catch(() => undefined);
      await proc.stop();
      await fake.stop();
      dir.remove();
    }
  });
});
