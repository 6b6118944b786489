import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SetupError } from '../../core/target.js';
import type { HostSpec } from './hosts.js';
import type { DockerHostSettings } from './index.js';
import { knownKeys, sshTransport } from './ssh.js';

export interface ConnectSettings {
  /** DOCKER_TLS_DIR: `<dir>/<host name>/{ca,cert,key}.pem`, as the Docker CLI lays them out. */
  readonly tlsDir?: string;
  /** DOCKER_SSH_KEY: a private key file for ssh hosts. */
  readonly sshKey?: string;
  /** DOCKER_SSH_KNOWN_HOSTS; default ~/.ssh/known_hosts. */
  readonly knownHosts?: string;
  /** SSH_AUTH_SOCK. */
  readonly agentSocket?: string;
}

const read = (path: string, what: string): Buffer => {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new SetupError(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
};

/**
 * How each host is reached, read once at start-up: a tcp host with a directory of its own under
 * DOCKER_TLS_DIR speaks TLS with those files (all three needed); an ssh host needs a key (the
 * agent's or DOCKER_SSH_KEY) and its host key in known_hosts. A missing piece is one SetupError.
 */
export function connectHosts(specs: readonly HostSpec[], s: ConnectSettings): DockerHostSettings[] {
  let known: string | undefined;
  return specs.map((h): DockerHostSettings => {
    const a = h.address;
    const dir = s.tlsDir ? join(s.tlsDir, h.name) : undefined;
    if (a.kind === 'tcp' && dir && existsSync(dir)) {
      const file = (f: string) => read(join(dir, `${f}.pem`), `Docker host ${h.name} (TLS)`);
      return { name: h.name, url: h.url, transport: { tls: { ca: file('ca'), cert: file('cert'), key: file('key') } } };
    }
    if (a.kind !== 'ssh') return { name: h.name, url: h.url };
    if (!s.agentSocket && !s.sshKey)
      throw new SetupError(
        `Docker host ${h.name} (ssh): no key; run an ssh agent (SSH_AUTH_SOCK) or set DOCKER_SSH_KEY`,
      );
    const knownPath = s.knownHosts || join(homedir(), '.ssh', 'known_hosts');
    known ??= read(knownPath, `Docker host ${h.name} (ssh known hosts)`).toString('utf8');
    if (knownKeys(known, a.hostname, a.port).length === 0)
      throw new SetupError(
        `Docker host ${h.name} (ssh): ${a.hostname} has no key in ${knownPath}; add it (ssh-keyscan) after checking it`,
      );
    const agent = sshTransport(a, {
      knownHosts: known,
      ...(s.agentSocket ? { agentSocket: s.agentSocket } : {}),
      ...(s.sshKey ? { privateKey: read(s.sshKey, `Docker host ${h.name} (DOCKER_SSH_KEY)`) } : {}),
    });
    return { name: h.name, url: h.url, transport: { agent } };
  });
}
