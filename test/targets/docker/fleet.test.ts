/**
 * Many Docker hosts from one teleops, through the real app (dispatcher, SQLite chat state,
 * audit, approvals, alert router): two real dockerds, named `one` and `two` in DOCKER_HOSTS;
 * `one` on its private socket, `two` on loopback tcp with TLS verified both ways (certificates
 * made by openssl here, laid out in DOCKER_TLS_DIR as the Docker CLI does). Each command goes to the host it names (`@two`, `api@two`) or to the
 * chat's current one, which survives a restart; `ps` without a host lists both; alerts, cards
 * and audit entries name their host; `/hosts` marks a stopped host without failing; hostile
 * host names are refused in one line, from every origin.
 */
import Docker from 'dockerode';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/core/policy.js';
import type { Outcome } from '../../../src/core/outcome.js';
import { ActionError } from '../../../src/core/action.js';
import { plainText, type Result } from '../../../src/core/result.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { docker as dockerModule } from '../../../src/targets/docker/module.js';
import { CALLBACK_DATA_MAX, encodeCallback } from '../../../src/transports/telegram/callback-data.js';
import { tempDir, testApp, type TestApp } from '../../support/app.js';
import { useDockerd } from '../../support/docker-env.js';
import { freePort } from '../../support/process.js';
import {
  alive,
  createTestContainer,
  removeSuiteContainers,
  startDockerd,
  stopDockerd,
  waitFor,
  type DockerdInfo,
} from '../../support/dockerd.js';
import { outcomeText } from '../../support/outcome.js';

const SUITE = 'fleet';
const env = await useDockerd(SUITE);

const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };
const opInGroup: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };

const text = outcomeText;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as `openssl` makes them. */
function makeCerts(dir: string, ca = 'ca'): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=${ca}`);
  for (const [who, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(join(dir, `${who}.ext`), ext);
    ssl('req', ...ec, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}-key.pem`,
      '-CAcreateserial',
      '-out',
      `${who}-cert.pem`,
      '-days',
      '2',
      '-extfile',
      `${who}.ext`,
    );
  }
}

describe.skipIf(env === undefined)('many Docker hosts', { timeout: 240_000 }, () => {
  const state = tempDir('teleops-fleet-');
  const certs = tempDir('teleops-fleet-tls-');
  let tcp: string;
  let second: DockerdInfo;
  let tlsArgs: string[];
  /** Exec roots of the second daemon's earlier runs (a restart keeps only its data root). */
  const stale: string[] = [];
  let dockerTwo: Docker;
  let t: TestApp;
  let hosts: string;
  const alerts: Result[] = [];

  const open = async (): Promise<TestApp> => {
    const app = await testApp(
      {
        DOCKER_ENABLED: 'true',
        DOCKER_HOSTS: hosts,
        DOCKER_TLS_DIR: join(certs.path, 'clients'),
        RATE_LIMIT_PER_MINUTE: '1000',
      },
      [dockerModule],
      state.path,
    );
    app.app.setAlertDelivery(async (r) => void alerts.push(r));
    return app;
  };
  const ask = async (line: string, who: Principal = op): Promise<Outcome> =>
    t.app.dispatcher.command(who, 'command', line);
  const say = async (line: string, who: Principal = op): Promise<string> => text(await ask(line, who));

  beforeAll(async () => {
    makeCerts(certs.path);
    const pem = (f: string) => join(certs.path, `${f}.pem`);
    mkdirSync(join(certs.path, 'clients', 'two'), { recursive: true });
    for (const [from, to] of [
      ['ca', 'ca'],
      ['client-cert', 'cert'],
      ['client-key', 'key'],
    ])
      writeFileSync(join(certs.path, 'clients', 'two', `${to}.pem`), readFileSync(pem(from!)));
    tcp = `tcp://127.0.0.1:${await freePort()}`;
    tlsArgs = ['--host', tcp, '--tlsverify', '--tlscacert', pem('ca'), '--tlscert', pem('server-cert')].concat([
      '--tlskey',
      pem('server-key'),
    ]);
    second = await startDockerd({ extraArgs: tlsArgs });
    dockerTwo = new Docker({ socketPath: second.socketPath });
    hosts = `one=${env!.host},two=${tcp}`;
    await createTestContainer(env!.docker, { name: 'fleet-web', cmd: ['sleep', '600'], suite: SUITE });
    // Ends on SIGTERM (sleep as PID 1 would not): the approved restart below then waits on no grace period.
    const serve = ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'];
    await createTestContainer(dockerTwo, { name: 'fleet-api', cmd: serve, suite: SUITE });
    t = await open();
  });
  afterAll(async () => {
    await t?.close();
    await removeSuiteContainers(dockerTwo, SUITE).catch(() => undefined);
    if (second) await stopDockerd({ pid: second.pid, dirs: [...second.dirs, ...stale] });
    state.remove();
    certs.remove();
  });

  it('speaks TLS to a tcp host, and only with a client certificate from the CA it trusts', async () => {
    expect(await say('/hosts')).toMatch(/🟢 two · Engine \S+ · \d+ running of \d+ containers? · tcp:\/\/127\.0\.0\.1:/);
    const wrong = tempDir('teleops-fleet-wrong-');
    try {
      makeCerts(wrong.path, 'other');
      const file = (f: string) => readFileSync(join(wrong.path, `${f}.pem`));
      const strangers = [
        // Plain HTTP to the TLS port.
        createDockerPort({ host: tcp }),
        // Our client certificate, but a CA that did not sign the Engine's: we refuse it.
        createDockerPort({
          host: tcp,
          transport: {
            tls: {
              ca: file('other'),
              cert: readFileSync(join(certs.path, 'client-cert.pem')),
              key: readFileSync(join(certs.path, 'client-key.pem')),
            },
          },
        }),
        // A client certificate the Engine's CA did not sign: it refuses us.
        createDockerPort({
          host: tcp,
          transport: {
            tls: { ca: readFileSync(join(certs.path, 'ca.pem')), cert: file('client-cert'), key: file('client-key') },
          },
        }),
      ];
      for (const [i, port] of strangers.entries()) {
        const e = await port.list({ all: true }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e, `stranger ${i}`).toBeInstanceOf(ActionError);
        expect((e as Error).message, `stranger ${i}`).not.toContain('\n');
      }
    } finally {
      wrong.remove();
    }
  });

  it('sends a command to the host it names, and ps without a host to every host, grouped', async () => {
    const one = await say('/docker ps @one');
    expect(one).toMatch(/^🖥 host one\n/);
    expect(one).toContain('fleet-web');
    expect(one).not.toContain('fleet-api');
    const two = await say('/ps @two');
    expect(two).toContain('fleet-api');
    expect(two).not.toContain('fleet-web');
    const all = await say('/ps');
    expect(all.indexOf('host one')).toBeGreaterThanOrEqual(0);
    expect(all.indexOf('fleet-web')).toBeGreaterThan(all.indexOf('host one'));
    expect(all.indexOf('host two')).toBeGreaterThan(all.indexOf('fleet-web'));
    expect(all.indexOf('fleet-api')).toBeGreaterThan(all.indexOf('host two'));
    expect(await say('/docker inspect fleet-api@two')).toContain('Container fleet-api');
    // Without a host: the chat's current one, by default the first configured.
    expect(await say('/docker inspect fleet-api')).toMatch(/no container|not found|no such/i);
    expect(await say('/docker logs fleet-api@two 5')).toMatch(/^🖥 host two/);
    // A live card names its host in every version, not only the first.
    const follow = await ask('/docker logs -f fleet-api@two');
    if (follow.kind !== 'done') throw new Error(`expected a live card, got ${follow.kind}: ${text(follow)}`);
    expect(plainText(follow.result)).toMatch(/Logs of fleet-api \(\w+\) on host two/);
    expect(follow.result.card?.title).toBe('📄 fleet-api@two');
    const stop = (follow.result.buttons ?? []).flat().find((b) => b.action === 'docker.follow-stop')!;
    const stopped = await t.app.dispatcher.dispatch(op, 'button', stop.action, stop.params);
    expect(text(stopped)).toMatch(/Logs of fleet-api \(\w+\) on host two/);
  });

  it('binds the buttons of a host’s list to that host; the callback data stays small', async () => {
    const o = await ask('/docker ps @two');
    if (o.kind !== 'done') throw new Error(`expected a list, got ${o.kind}`);
    const buttons = (o.result.buttons ?? []).flat();
    const restart = buttons.find((b) => b.action === 'docker.restart');
    expect(restart?.params).toEqual({ container: 'fleet-api', host: 'two' });
    const every = await ask('/ps');
    if (every.kind !== 'done') throw new Error(`expected a list, got ${every.kind}`);
    const logs = (every.result.buttons ?? []).flat().filter((b) => b.action === 'docker.logs');
    expect(logs.map((b) => b.params)).toEqual(
      expect.arrayContaining([
        { container: 'fleet-web', host: 'one' },
        { container: 'fleet-api', host: 'two' },
      ]),
    );
    // The host travels in the stored button, bound to its chat; the callback data is only a reference.
    const refs = t.app.buttons.putAll(op.chatId, buttons);
    for (const ref of refs)
      expect(Buffer.byteLength(encodeCallback({ kind: 'button', ref }))).toBeLessThanOrEqual(CALLBACK_DATA_MAX);
    expect(t.app.buttons.get(refs[buttons.indexOf(restart!)]!, op.chatId)?.params.host).toBe('two');
    const pressed = await t.app.dispatcher.dispatch(op, 'button', 'docker.logs', {
      container: 'fleet-api',
      host: 'two',
    });
    expect(text(pressed)).toMatch(/^🖥 host two/);
  });

  it('names the host on the approval card and in the audit, and acts on that host only', async () => {
    const before = (await dockerTwo.getContainer('fleet-api').inspect()).State.StartedAt;
    const o = await ask('/docker restart fleet-api@two');
    if (o.kind !== 'approval') throw new Error(`expected an approval, got ${o.kind}: ${text(o)}`);
    const card = plainText(o.approval.card);
    expect(card).toContain('container fleet-api on host two');
    expect(card).toContain('host: two');
    const done = await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve');
    expect(text(done)).toMatch(/^🖥 host two\nRestarted fleet-api/);
    expect((await dockerTwo.getContainer('fleet-api').inspect()).State.StartedAt).not.toBe(before);
    const entries = t.app.audit.recent(4).filter((e) => e.action === 'docker.restart');
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e.target).toBe('container fleet-api on host two');
      expect(e.params).toMatchObject({ host: 'two' });
    }
  });

  it("fixes a compose project's containers on its own host before the card, and restarts them there", async () => {
    const serve = ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'];
    const labels = { 'com.docker.compose.project': 'fleetshop', 'com.docker.compose.service': 'db' };
    const { id } = await createTestContainer(dockerTwo, { name: 'fleetshop-db-1', cmd: serve, suite: SUITE, labels });
    const o = await ask('/docker restart fleetshop/@two');
    if (o.kind !== 'approval') throw new Error(`expected an approval, got ${o.kind}: ${text(o)}`);
    expect(plainText(o.approval.card)).toContain('Restarts 1 container of compose project fleetshop');
    const done = await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve');
    expect(text(done)).toMatch(/^🖥 host two\nCompose project fleetshop: 1 container/);
    expect(t.app.audit.recent(4).find((e) => e.action === 'docker.restart')?.params).toMatchObject({
      host: 'two',
      ids: [id],
    });
  });

  it('keeps the chat’s current host across a restart, per chat', async () => {
    expect(await say('/docker use two')).toBe('This chat now uses Docker host two.');
    expect(await say('/docker inspect fleet-api')).toContain('Container fleet-api');
    await t.close();
    t = await open();
    expect(await say('/docker inspect fleet-api')).toContain('Container fleet-api');
    expect(await say('/hosts')).toMatch(/▶ 🟢 two/);
    // Another chat of the same person keeps the default.
    expect(await say('/docker inspect fleet-web', opInGroup)).toContain('Container fleet-web');
    // A host named on the command wins over the chat's.
    expect(await say('/docker inspect fleet-web@one')).toContain('Container fleet-web');
    expect(await say('/docker use @one')).toBe('This chat now uses Docker host one.');
  });

  it('raises an alert from the second host that names it, with buttons bound to it', async () => {
    await t.app.startBackground();
    await createTestContainer(dockerTwo, { name: 'fleet-crash', cmd: ['sh', '-c', 'sleep 1; exit 3'], suite: SUITE });
    const alert = await waitFor(
      () => alerts.find((a) => plainText(a).includes('fleet-crash')),
      'the crash alert from host two',
      30_000,
    );
    expect(plainText(alert)).toMatch(/^🖥 host two\n💥 Container fleet-crash .* exited with code 3/);
    for (const b of (alert.buttons ?? []).flat()) expect(b.params).toMatchObject({ host: 'two' });
  });

  it('refuses hostile or unknown host names in one line, from commands and buttons alike', async () => {
    const lines = [
      '/docker ps @-rf',
      '/docker ps @../../etc',
      '/docker inspect fleet-web@ONE',
      '/docker inspect fleet-web@one;rm',
      '/docker restart fleet-web@',
      '/docker use --help',
      '/docker use -x',
      '/docker logs @one$(id) 5',
    ];
    for (const line of lines) {
      const o = await ask(line);
      expect(o.kind, line).toMatch(/refused|failed/);
      expect(text(o), line).not.toContain('\n');
      expect(text(o), line).toMatch(/host|container|Usage|name one host/);
    }
    expect(await say('/docker ps @three')).toBe('unknown Docker host three; hosts: one, two');
    for (const host of ['-H', '--privileged', 'a b', 'x\u202e', 'x'.repeat(40), 'two\n']) {
      const o = await t.app.dispatcher.dispatch(op, 'button', 'docker.restart', { container: 'fleet-api', host });
      expect(o.kind, JSON.stringify(host)).toBe('refused');
      expect(text(o)).toMatch(/^Invalid input for docker.restart: host: a host name/);
    }
    const ai = await t.app.dispatcher.dispatch(op, 'ai', 'docker.inspect', { container: 'fleet-api', host: 'nowhere' });
    expect(text(ai)).toBe('unknown Docker host nowhere; hosts: one, two');
    expect(t.app.registry.get('docker.use')?.risk).toBe('write');
  });

  it('marks a stopped host in /hosts and ps, and goes on with the other', async () => {
    process.kill(second.pid, 'SIGTERM');
    await waitFor(() => (alive(second.pid) ? undefined : true), 'dockerd two to stop', 60_000);
    const hosts = await say('/hosts');
    expect(hosts).toMatch(/^🖥 Docker hosts: 2 \(1 down\)\n/);
    expect(hosts).toMatch(/🟢 one · Engine \S+ · \d+ running of \d+ containers? · unix:/);
    expect(hosts).toMatch(/🔴 two · down: Docker is not reachable at tcp:\S+: connect ECONNREFUSED · tcp:/);
    const ps = await say('/ps');
    expect(ps).toContain('fleet-web');
    expect(ps).toMatch(/🔴 host two: Docker is not reachable/);
    const status = await t.app.integrations.find((i) => i.name === 'docker')!.check(new AbortController().signal);
    expect(status.state).toBe('up');
    expect(status.detail).toMatch(/^1 of 2 hosts down; one: Engine .*; two: Docker is not reachable/);
    expect(await say('/docker inspect fleet-api@two')).toMatch(/^Docker is not reachable/);
    // Each host has its own watcher: one's alerts go on while two's reconnects.
    await createTestContainer(env!.docker, { name: 'fleet-crash1', cmd: ['sh', '-c', 'exit 4'], suite: SUITE });
    const alert = await waitFor(() => alerts.find((a) => plainText(a).includes('fleet-crash1')), 'alert from one');
    expect(plainText(alert)).toMatch(/^🖥 host one\n💥 Container fleet-crash1 .* exited with code 4/);
  });

  it('reconnects the second host’s watcher by itself when its Engine is back', async () => {
    stale.push(...second.dirs.filter((d) => d !== second.dirs[0]));
    second = await startDockerd({ baseDir: second.dirs[0]!, extraArgs: tlsArgs });
    dockerTwo = new Docker({ socketPath: second.socketPath });
    expect(await say('/hosts')).toMatch(/^🖥 Docker hosts: 2\n/);
    await createTestContainer(dockerTwo, { name: 'fleet-crash2', cmd: ['sh', '-c', 'exit 5'], suite: SUITE });
    // The watcher retries with a growing delay (up to 30 s); it asks for what it missed with `since`.
    const alert = await waitFor(
      () => alerts.find((a) => plainText(a).includes('fleet-crash2')),
      'the alert from two after its restart',
      90_000,
    );
    expect(plainText(alert)).toMatch(/^🖥 host two\n💥 Container fleet-crash2 .* exited with code 5/);
  });
});

describe.skipIf(env === undefined)('one Docker host', { timeout: 120_000 }, () => {
  it('holds a rule naming a container however the request spells it: an id prefix is the container', async () => {
    const compose = { 'com.docker.compose.project': 'soloshop', 'com.docker.compose.service': 'db' };
    const spec = { name: 'solo-db', cmd: ['sleep', '600'], suite: SUITE, labels: compose };
    const id = (await createTestContainer(env!.docker, spec)).id;
    const state = tempDir('teleops-solo-');
    const t = await testApp(
      {
        DOCKER_ENABLED: 'true',
        DOCKER_HOST: env!.host,
        APPROVAL_QUORUM: 'docker.stop:container=solo-db,docker.restart:container=soloshop/',
      },
      [dockerModule],
      state.path,
    );
    try {
      for (const line of [
        '/docker stop solo-db',
        `/docker stop ${id.slice(0, 8)}`,
        '/docker stop soloshop/db',
        '/docker restart solo-db',
        '/docker restart soloshop/',
      ]) {
        const o = await t.app.dispatcher.command(opInGroup, 'command', line);
        if (o.kind !== 'approval') throw new Error(`expected an approval, got ${o.kind}: ${text(o)}`);
        expect(plainText(o.approval.card)).toContain('Waiting for approval by two operators (0 of 2)');
      }
      // A container that is not there: one line, as the run would say, and no card.
      expect(text(await t.app.dispatcher.command(opInGroup, 'command', '/docker stop solo-nothing'))).toMatch(
        /solo-nothing/,
      );
    } finally {
      await t.close();
      state.remove();
    }
  });

  it('binds its name into every request, so that an APPROVAL_QUORUM rule naming it holds', async () => {
    await createTestContainer(env!.docker, { name: 'solo-web', cmd: ['sleep', '600'], suite: SUITE });
    const state = tempDir('teleops-solo-');
    const t = await testApp(
      { DOCKER_ENABLED: 'true', DOCKER_HOST: env!.host, APPROVAL_QUORUM: 'docker.stop@local' },
      [dockerModule],
      state.path,
    );
    try {
      const o = await t.app.dispatcher.command(opInGroup, 'command', '/docker stop solo-web');
      if (o.kind !== 'approval') throw new Error(`expected an approval, got ${o.kind}: ${text(o)}`);
      const card = plainText(o.approval.card);
      expect(card).toContain('host: local');
      expect(card).toContain('Waiting for approval by two operators (0 of 2)');
      // The requester alone cannot run it.
      expect(text(await t.app.dispatcher.decide(opInGroup, o.approval.id, o.approval.token, 'approve'))).toMatch(
        /^You asked for this: two other operato/,
      );
      expect((await env!.docker.getContainer('solo-web').inspect()).State.Running).toBe(true);
    } finally {
      await t.close();
      state.remove();
    }
  });
});
