/**
 * The Docker hosts as configured (DOCKER_HOSTS, TLS files, ssh keys and known hosts) and as
 * typed (`name@host`), without an Engine: the parsers, and the registry's real command path.
 */
import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { parseCommandLine } from '../../../src/core/commands.js';
import { silentLogger } from '../../../src/core/log.js';
import { createRedactor } from '../../../src/core/redact.js';
import { Registry } from '../../../src/core/registry.js';
import { inputJsonSchema } from '../../../src/ai/tools.js';
import { SetupError } from '../../../src/core/target.js';
import { connectHosts } from '../../../src/targets/docker/connect.js';
import { HOST_NAME, hostsFromSettings, parseDockerHosts, takeHost } from '../../../src/targets/docker/hosts.js';
import { createDockerTarget } from '../../../src/targets/docker/index.js';
import { knownKeys } from '../../../src/targets/docker/ssh.js';
import { tempDir } from '../../support/app.js';
import { collectingSink } from './helpers.js';

const dir = tempDir('teleops-hosts-');
afterAll(() => dir.remove());

describe('DOCKER_HOSTS', () => {
  it('reads name=address pairs, the first being the default', () => {
    const hosts = parseDockerHosts(
      'local=unix:///var/run/docker.sock, edge=tcp://10.0.0.5:2376,build=ssh://ops@build-1',
    );
    expect(hosts.map((h) => [h.name, h.address])).toEqual([
      ['local', { kind: 'unix', socketPath: '/var/run/docker.sock' }],
      ['edge', { kind: 'tcp', hostname: '10.0.0.5', port: 2376 }],
      ['build', { kind: 'ssh', username: 'ops', hostname: 'build-1', port: 22 }],
    ]);
  });

  it('keeps DOCKER_HOST as one host named local', () => {
    expect(hostsFromSettings({ hosts: '', host: 'tcp://127.0.0.1:2375' })).toEqual([
      { name: 'local', url: 'tcp://127.0.0.1:2375', address: { kind: 'tcp', hostname: '127.0.0.1', port: 2375 } },
    ]);
    expect(hostsFromSettings({ hosts: 'a=unix:///a.sock', host: 'tcp://127.0.0.1:2375' }).map((h) => h.name)).toEqual([
      'a',
    ]);
  });

  it('refuses bad entries in one line each, and start-up lists them', () => {
    for (const [bad, why] of [
      ['edge', /expected name=address/],
      ['-H=unix:///a.sock', /is not a host name/],
      ['Edge=unix:///a.sock', /is not a host name/],
      ['../x=unix:///a.sock', /is not a host name/],
      ['a b=unix:///a.sock', /is not a host name/],
      ['a=unix:///a.sock,a=unix:///b.sock', /named twice/],
      ['a=http://x', /^a: http:\/\/x: expected/],
      ['a=ssh://-oProxyCommand=sh@x', /^a: /],
      [' , ', /names no host/],
    ] as const) {
      expect(() => parseDockerHosts(bad), bad).toThrow(why);
    }
    const r = loadConfig({ AUTHORIZED_USER_IDS: '1', DOCKER_HOSTS: '-x=unix:///a.sock' }, 'console');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join('\n')).toMatch(/DOCKER_HOSTS.*"-x" is not a host name/);
  });
});

describe('name@host on a command', () => {
  const target = createDockerTarget(
    {
      hosts: [
        { name: 'one', url: `unix://${join(dir.path, 'one.sock')}` },
        { name: 'two', url: `unix://${join(dir.path, 'two.sock')}` },
      ],
    },
    collectingSink(),
    silentLogger(),
    { redactor: createRedactor([]) },
  );
  const registry = new Registry(target.actions);
  const lookup = (line: string) => registry.lookup(parseCommandLine(line)!);

  it('takes the host from the first argument or a last "@host", through the registry', () => {
    expect(lookup('/docker restart web@edge')).toMatchObject({
      kind: 'match',
      match: { params: { container: 'web', host: 'edge' } },
    });
    expect(lookup('/docker ps @edge')).toMatchObject({ match: { params: { host: 'edge' } } });
    expect(lookup('/docker ps all api @edge')).toMatchObject({
      match: { params: { all: true, filter: 'api', host: 'edge' } },
    });
    // Later words keep their "@": a grep text is not a host.
    expect(lookup('/docker logs web@two 50 user@example.com')).toMatchObject({
      match: { params: { container: 'web', host: 'two', lines: 50, grep: 'user@example.com' } },
    });
    expect(lookup('/docker logs -f api@two')).toMatchObject({ match: { params: { container: 'api', host: 'two' } } });
    expect(lookup('/docker use @two')).toMatchObject({ match: { params: { host: 'two' } } });
    expect(lookup('/docker inspect web')).toMatchObject({ match: { params: { container: 'web' } } });
    expect(registry.help('operator', 'docker')[0]!.lines.map((l) => l.usage)).toContain(
      '/docker restart <container> [@host]',
    );
  });

  it('offers the host to the LLM as a checked parameter that names the hosts', () => {
    const schema = inputJsonSchema(registry.get('docker.restart')!.params) as {
      properties: Record<string, { pattern?: string; description?: string }>;
      required?: string[];
    };
    expect(schema.properties.host).toMatchObject({ pattern: HOST_NAME.source });
    expect(schema.properties.host!.description).toMatch(/one of: one, two/);
    expect(schema.required).toEqual(['container']);
  });

  const hostArb = fc.stringMatching(HOST_NAME);
  const nameArb = fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,20}$/);
  const wordArb = fc.stringMatching(/^[^\s"'@]{1,12}$/);

  it('splits name@host back into what was joined, wherever the host is put', () => {
    let withRest = 0;
    fc.assert(
      fc.property(nameArb, hostArb, fc.array(wordArb, { maxLength: 5 }), fc.nat(2), (name, host, words, where) => {
        const rest = words.join(' ');
        if (rest !== '') withRest++;
        const typed = [`${name}@${host} ${rest}`, `@${host} ${name} ${rest}`, `${name} ${rest} @${host}`][where]!;
        const got = takeHost(typed);
        expect(got.host).toBe(host);
        expect(got.raw).toBe(`${name} ${rest}`.trim());
      }),
      { numRuns: 500 },
    );
    expect(withRest).toBeGreaterThan(100);
  });

  it('for any input, either names no host or hands the schema exactly what followed the "@"', () => {
    let hosts = 0;
    let hostile = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ size: 'large', maxLength: 2000 }),
          fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}@${b}`),
          fc.tuple(nameArb, fc.string()).map(([a, b]) => `${a}@-${b}`),
        ),
        (s) => {
          const got = takeHost(s);
          if (got.host === undefined) {
            expect(got.raw).toBe(s.trim());
            return;
          }
          hosts++;
          expect(s).toContain(`@${got.host}`);
          expect(got.raw.length).toBeLessThan(s.length);
          const r = lookup(`/docker inspect ${s}`);
          if (!HOST_NAME.test(got.host)) {
            hostile++;
            // Whatever reached the params is refused by the schema before anything runs.
            if (r.kind === 'match') expect(r.match.action.params.safeParse(r.match.params).success).toBe(false);
          }
        },
      ),
      { numRuns: 1000 },
    );
    expect(hosts).toBeGreaterThan(100);
    expect(hostile).toBeGreaterThan(50);
  });
});

describe('reaching each host', () => {
  const hashed = (name: string): string => {
    const salt = randomBytes(20);
    return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  };
  const key = (n: number) => Buffer.from(`key-${n}`).toString('base64');

  it('finds a host’s keys in known_hosts: plain, hashed, on another port; never a revoked one', () => {
    const text = [
      '# comment',
      `build-1,10.0.0.9 ssh-ed25519 ${key(1)}`,
      `${hashed('build-1')} ssh-ed25519 ${key(2)}`,
      `[build-1]:2222 ssh-ed25519 ${key(3)}`,
      `@revoked build-1 ssh-ed25519 ${key(4)}`,
      `other ssh-ed25519 ${key(5)}`,
    ].join('\n');
    const names = (hostname: string, port: number) => knownKeys(text, hostname, port).map((b) => b.toString('utf8'));
    expect(names('build-1', 22)).toEqual(['key-1', 'key-2']);
    expect(names('build-1', 2222)).toEqual(['key-3']);
    expect(names('BUILD-1', 22)).toEqual(['key-1']);
    expect(names('build-2', 22)).toEqual([]);
  });

  it('needs a key and a known host key for ssh, all three files for TLS; plain otherwise', () => {
    const known = join(dir.path, 'known_hosts');
    writeFileSync(known, `build-1 ssh-ed25519 ${key(1)}\n`);
    const ssh = parseDockerHosts('build=ssh://ops@build-1');
    expect(() => connectHosts(ssh, { knownHosts: known })).toThrow(SetupError);
    expect(() => connectHosts(ssh, { knownHosts: known })).toThrow(/no key; run an ssh agent .* DOCKER_SSH_KEY/);
    const other = parseDockerHosts('build=ssh://ops@build-2');
    expect(() => connectHosts(other, { knownHosts: known, agentSocket: '/tmp/agent.sock' })).toThrow(
      /build-2 has no key in .*known_hosts; add it/,
    );
    expect(() => connectHosts(ssh, { knownHosts: known, sshKey: join(dir.path, 'missing') })).toThrow(
      /DOCKER_SSH_KEY\): cannot read .*missing \(ENOENT\)/,
    );
    const [built] = connectHosts(ssh, { knownHosts: known, agentSocket: '/tmp/agent.sock' });
    expect(typeof built!.transport?.agent).toBe('function');

    const tls = join(dir.path, 'tls');
    mkdirSync(join(tls, 'edge'), { recursive: true });
    for (const f of ['ca', 'cert']) writeFileSync(join(tls, 'edge', `${f}.pem`), `${f} pem`);
    const tcp = parseDockerHosts('edge=tcp://10.0.0.5:2376,plain=tcp://10.0.0.6:2375');
    expect(() => connectHosts(tcp, { tlsDir: tls })).toThrow(/Docker host edge \(TLS\): cannot read .*key\.pem/);
    writeFileSync(join(tls, 'edge', 'key.pem'), 'key pem');
    const [edge, plain] = connectHosts(tcp, { tlsDir: tls });
    expect(edge!.transport?.tls?.key.toString()).toBe('key pem');
    expect(plain!.transport).toBeUndefined();
  });
});
