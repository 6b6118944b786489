import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Agent } from 'node:http';
// A static import, so that the bundle (dist/, the image) holds it; a require() at run time would not.
import sshAgent from 'docker-modem/lib/ssh.js';

/**
 * An Engine behind ssh, as the Docker CLI reaches one: docker-modem's ssh agent (the client
 * library's own ssh support, over ssh2) runs `docker system dial-stdio` on the host and speaks
 * the Engine API through it. One agent per request: that agent holds one ssh connection and
 * ends it with the request.
 */

export interface SshTarget {
  readonly hostname: string;
  readonly port: number;
  readonly username?: string;
}

export interface SshCredentials {
  /** The ssh agent's socket (SSH_AUTH_SOCK), tried first. */
  readonly agentSocket?: string;
  /** A private key's PEM/OpenSSH text (DOCKER_SSH_KEY), tried after the agent. */
  readonly privateKey?: Buffer;
  /** known_hosts text: the host's key must be in it, or nothing is sent. */
  readonly knownHosts: string;
  readonly readyTimeoutMs?: number;
}

/** A fresh agent per request, refusing any host key that known_hosts does not hold for that host. */
export function sshTransport(target: SshTarget, creds: SshCredentials): () => Agent {
  const known = knownKeys(creds.knownHosts, target.hostname, target.port);
  return () =>
    sshAgent({
      host: target.hostname,
      port: target.port,
      username: target.username ?? 'root',
      ...(creds.agentSocket ? { agent: creds.agentSocket } : {}),
      ...(creds.privateKey ? { privateKey: creds.privateKey } : {}),
      readyTimeout: creds.readyTimeoutMs ?? 10_000,
      hostVerifier: (key: Buffer) => known.some((k) => k.length === key.length && timingSafeEqual(k, key)),
    });
}

/**
 * The keys known_hosts holds for `hostname` on `port` (`[host]:port` unless 22), in plain or
 * hashed (`|1|salt|hash`) entries; revoked (`@revoked`) and CA (`@cert-authority`) lines are skipped.
 */
export function knownKeys(text: string, hostname: string, port: number): Buffer[] {
  const name = port === 22 ? hostname : `[${hostname}]:${port}`;
  const out: Buffer[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
    const [hosts, , key] = fields as [string, string, string];
    if (hosts.split(',').some((p) => hostMatches(p, name))) out.push(Buffer.from(key, 'base64'));
  }
  return out;
}

function hostMatches(pattern: string, name: string): boolean {
  const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(pattern);
  if (!hashed) return pattern.toLowerCase() === name.toLowerCase();
  const mac = createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(name).digest();
  const want = Buffer.from(hashed[2]!, 'base64');
  return want.length === mac.length && timingSafeEqual(want, mac);
}
