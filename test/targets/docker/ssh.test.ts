/**
 * An Engine behind ssh, for real: an sshd on loopback (Debian openssh-server) whose only
 * authorized key runs `docker system dial-stdio` against the test dockerd, as the Docker CLI's
 * ssh hosts do. teleops reaches it through docker-modem's ssh support with a key file and a
 * known_hosts file; a host whose key is not the one known_hosts holds gets nothing sent.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/core/policy.js';
import type { Outcome } from '../../../src/core/outcome.js';
import { plainText } from '../../../src/core/result.js';
import { docker as dockerModule } from '../../../src/targets/docker/module.js';
import { tempDir, testApp, type TestApp } from '../../support/app.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { freePort } from '../../support/process.js';

const SSHD = '/usr/sbin/sshd';
const DOCKER_CLI = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p));
const missing = !existsSync(SSHD)
  ? 'sshd not installed (Debian package openssh-server)'
  : DOCKER_CLI === undefined
    ? 'the docker CLI is not installed (it runs dial-stdio behind sshd)'
    : process.getuid?.() !== 0
      ? 'sshd on loopback needs root here'
      : undefined;
if (missing && process.env.CI === 'true') throw new Error(`the ssh test needs: ${missing}`);
if (missing) console.warn(`[docker ssh tests skipped] ${missing}`);

const SUITE = 'ssh';
const env = missing ? undefined : await useDockerd(SUITE);
const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };
const text = (o: Outcome): string =>
  o.kind === 'done' ? plainText(o.result) : o.kind === 'refused' || o.kind === 'failed' ? o.message : o.kind;

const keygen = (path: string): string => {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
};

describe.skipIf(env === undefined)('a Docker host over ssh', { timeout: 120_000 }, () => {
  const dir = tempDir('teleops-ssh-');
  let sshd: ChildProcess;
  let port: number;
  let t: TestApp | undefined;

  beforeAll(async () => {
    const hostKey = keygen(join(dir.path, 'host_key'));
    const clientKey = keygen(join(dir.path, 'client_key'));
    keygen(join(dir.path, 'other_key'));
    const dial = `DOCKER_HOST=${env!.host} exec ${DOCKER_CLI} system dial-stdio`;
    writeFileSync(join(dir.path, 'authorized_keys'), `command="${dial}",no-pty,no-port-forwarding ${clientKey}\n`, {
      mode: 0o600,
    });
    port = await freePort();
    writeFileSync(
      join(dir.path, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir.path, 'host_key')}`,
        `AuthorizedKeysFile ${join(dir.path, 'authorized_keys')}`,
        `PidFile ${join(dir.path, 'sshd.pid')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
      ].join('\n'),
    );
    const [type, blob] = hostKey.split(' ');
    writeFileSync(join(dir.path, 'known_hosts'), `[127.0.0.1]:${port} ${type} ${blob}\n`);
    const other = readFileSync(join(dir.path, 'other_key.pub'), 'utf8').split(' ');
    writeFileSync(join(dir.path, 'wrong_known_hosts'), `[127.0.0.1]:${port} ${other[0]} ${other[1]}\n`);
    mkdirSync('/run/sshd', { recursive: true });
    sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir.path, 'sshd_config')], { stdio: 'ignore' });
    await waitFor(
      () =>
        new Promise<true | undefined>((resolve) => {
          const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
          s.on('error', () => resolve(undefined));
        }),
      'sshd listening',
    );
    await createTestContainer(env!.docker, { name: 'ssh-web', cmd: ['sleep', '600'], suite: SUITE });
  });
  afterAll(async () => {
    await t?.close();
    if (sshd?.pid !== undefined && sshd.exitCode === null) sshd.kill('SIGTERM');
    dir.remove();
  });

  const open = (knownHosts: string) =>
    testApp(
      {
        DOCKER_ENABLED: 'true',
        DOCKER_HOSTS: `local=${env!.host},build=ssh://root@127.0.0.1:${port}`,
        DOCKER_SSH_KEY: join(dir.path, 'client_key'),
        DOCKER_SSH_KNOWN_HOSTS: join(dir.path, knownHosts),
        RATE_LIMIT_PER_MINUTE: '1000',
      },
      [dockerModule],
    );

  it('lists and inspects through ssh, and /hosts shows its Engine', async () => {
    t = await open('known_hosts');
    const say = async (line: string) => text(await t!.app.dispatcher.command(op, 'command', line));
    expect(await say('/hosts')).toMatch(/🟢 build · Engine \S+ · \d+ running of \d+ containers? · ssh:\/\/root@127/);
    const ps = await say('/docker ps @build');
    expect(ps).toMatch(/^🖥 host build\n/);
    expect(ps).toContain('ssh-web');
    expect(await say('/docker inspect ssh-web@build')).toContain('Container ssh-web');
    await t.close();
    t = undefined;
  });

  it('sends nothing to a host whose key is not the one known_hosts holds', async () => {
    t = await open('wrong_known_hosts');
    const say = async (line: string) => text(await t!.app.dispatcher.command(op, 'command', line));
    const hosts = await say('/hosts');
    expect(hosts).toMatch(/🟢 local/);
    expect(hosts).toMatch(
      /🔴 build · down: Docker is not reachable at ssh:\/\/root@127\.0\.0\.1:\d+: ssh [^\n]*verif/i,
    );
    const inspect = await t.app.dispatcher.command(op, 'command', '/docker inspect ssh-web@build');
    expect(inspect.kind).toBe('failed');
    expect(text(inspect)).not.toContain('\n');
  });
});
