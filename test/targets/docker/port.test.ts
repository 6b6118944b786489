import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import { silentLogger } from '../../../src/core/log.js';
import { createRedactor } from '../../../src/core/redact.js';
import { loadConfig } from '../../../src/config.js';
import { openDb, type Db } from '../../../src/store/db.js';
import { createDockerTarget } from '../../../src/targets/docker/index.js';
import { buildTarget } from '../../../src/core/target.js';
import { docker as dockerModule } from '../../../src/targets/docker/module.js';
import { parseDockerHost } from '../../../src/targets/docker/engine.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { useDockerd } from '../../support/docker-env.js';
import { collectingSink, runAction } from './helpers.js';

describe('parseDockerHost', () => {
  it('reads DOCKER_HOST as the Docker CLI does', () => {
    expect(parseDockerHost(undefined)).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('')).toEqual({ kind: 'unix', socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('unix:///tmp/d.sock')).toEqual({ kind: 'unix', socketPath: '/tmp/d.sock' });
    expect(parseDockerHost('tcp://127.0.0.1:2375')).toEqual({ kind: 'tcp', hostname: '127.0.0.1', port: 2375 });
    expect(parseDockerHost('tcp://docker.internal')).toEqual({ kind: 'tcp', hostname: 'docker.internal', port: 2375 });
    expect(parseDockerHost('tcp://[::1]:2376')).toEqual({ kind: 'tcp', hostname: '::1', port: 2376 });
    expect(parseDockerHost('ssh://ops@build-1')).toEqual({
      kind: 'ssh',
      username: 'ops',
      hostname: 'build-1',
      port: 22,
    });
    expect(parseDockerHost('ssh://b.example:2222')).toEqual({ kind: 'ssh', hostname: 'b.example', port: 2222 });
    for (const bad of [
      'unix://relative.sock',
      'http://x:1',
      'ssh://-oProxyCommand=x@host',
      'ssh://me@-host',
      'ssh://me@host/path',
      'ssh://a b@host',
      'tcp://a:99999',
      'tcp://a b:1',
      '/var/run/docker.sock',
    ]) {
      expect(() => parseDockerHost(bad)).toThrow(/^DOCKER_HOST /);
    }
  });

  it('either parses or throws one line, for any input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `tcp://${s}`),
          fc.string().map((s) => `unix://${s}`),
          fc.string().map((s) => `ssh://${s}`),
        ),
        (s) => {
          try {
            const a = parseDockerHost(s);
            if (a.kind === 'unix') expect(a.socketPath.startsWith('/')).toBe(true);
            else expect(a.port).toBeGreaterThan(0);
          } catch (e) {
            expect((e as Error).message).toMatch(/^DOCKER_HOST [^\n]*$/s);
          }
        },
      ),
    );
  });
});

describe('an Engine that is not there', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/tpd-');
  });
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  const dbs: Db[] = [];
  afterAll(async () => {
    for (const db of dbs) db.close();
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns a missing socket into one clear line, for every call', async () => {
    const host = `unix://${join(dir, 'missing.sock')}`;
    const port = createDockerPort({ host, timeoutMs: 2000 });
    const want = `Docker is not reachable at ${host}: connect ENOENT`;
    await expect(port.list({ all: true })).rejects.toThrow(new ActionError(want));
    await expect(port.ping()).rejects.toThrow(want);
    await expect(port.logs('abc', { tail: 5 })).rejects.toThrow(want);
    await expect(port.events({ actions: ['die'] }, new AbortController().signal)).rejects.toThrow(want);
  });

  it('reports the target as down, and actions fail with that line', async () => {
    const host = `unix://${join(dir, 'gone.sock')}`;
    const target = createDockerTarget({ host, timeoutMs: 2000 }, collectingSink(), silentLogger(), {
      redactor: createRedactor([]),
    });
    expect(await target.health()).toEqual({
      state: 'down',
      detail: `Docker is not reachable at ${host}: connect ENOENT`,
    });
    expect((await target.integration.check(new AbortController().signal)).state).toBe('down');
    for (const [name, params] of [
      ['docker.ps', {}],
      ['docker.logs', { container: 'api' }],
      ['docker.restart', { container: 'api' }],
    ] as const) {
      const err = await runAction(target.actions, name, params).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ActionError);
      expect((err as Error).message).toBe(`Docker is not reachable at ${host}: connect ENOENT`);
    }
  });

  it('is built from the config: DOCKER_HOST, or disabled', async () => {
    const make = async (env: Record<string, string>) => {
      const r = loadConfig({ AUTHORIZED_USER_IDS: '1', ...env }, 'offline');
      if (!r.ok) throw new Error(r.problems.join('; '));
      const db = openDb(join(dir, 'state'));
      dbs.push(db);
      return buildTarget(dockerModule, {
        config: r.config,
        alerts: collectingSink(),
        log: silentLogger(),
        db,
        redactor: createRedactor(r.config.secrets),
      });
    };
    const host = `unix://${join(dir, 'configured.sock')}`;
    const on = await make({ DOCKER_HOST: host });
    expect(on?.actions.map((a) => a.name)).toEqual([
      'docker.ps',
      'docker.inspect',
      'docker.logs',
      'docker.stats',
      'docker.top',
      'docker.df',
      'docker.start',
      'docker.stop',
      'docker.restart',
      'docker.logs-follow',
      'docker.events',
      'docker.hosts',
      'docker.follow-stop',
    ]);
    expect(await on?.integration?.check(new AbortController().signal)).toEqual({
      state: 'down',
      detail: `Docker is not reachable at ${host}: connect ENOENT`,
    });
    const off = await make({ DOCKER_ENABLED: 'false' });
    expect(off?.actions).toEqual([]);
    expect((await off?.integration?.check(new AbortController().signal))?.state).toBe('disabled');
  });

  it('gives up on an Engine that accepts but never answers', async () => {
    const path = join(dir, 'hang.sock');
    const server = createServer((s) => void sockets.push(s));
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, r));
    const port = createDockerPort({ host: `unix://${path}`, timeoutMs: 300 });
    const t0 = Date.now();
    await expect(port.list({ all: false })).rejects.toThrow(/^Docker did not answer within 0.3s \(list containers\)$/);
    await expect(port.logs('abc', { tail: 1 })).rejects.toThrow(/did not answer/);
    await expect(port.events({ actions: ['die'] }, new AbortController().signal)).rejects.toThrow(
      /did not answer within 0.3s \(events\)/,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('stops a call when the request is cancelled', async () => {
    const path = join(dir, 'hang2.sock');
    const server = createServer((s) => void sockets.push(s));
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, r));
    const port = createDockerPort({ host: `unix://${path}`, timeoutMs: 60_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expect(port.inspect('abc', ac.signal)).rejects.toThrow('cancelled (inspect)');
  });
});

const env = await useDockerd('port');

describe.skipIf(!env)('the port against a real engine', () => {
  const port = createDockerPort({ host: env?.host ?? '' });

  it('answers ping and version', async () => {
    await expect(port.ping()).resolves.toBeUndefined();
    expect((await port.version()).apiVersion).toMatch(/^1\.\d+$/);
  });

  it('says "no such container" for an unknown id', async () => {
    await expect(port.inspect('0123456789ab')).rejects.toThrow(new ActionError('no such container'));
    await expect(port.start('0123456789ab')).rejects.toThrow('no such container');
  });

  it('is healthy through the target', async () => {
    const target = createDockerTarget({ host: env!.host }, collectingSink(), silentLogger(), {
      redactor: createRedactor([]),
    });
    const h = await target.health();
    expect(h.state).toBe('up');
    expect(h.detail).toMatch(new RegExp(`^Engine \\S+ \\(API 1\\.\\d+\\) at ${env!.host}$`));
  });
});
