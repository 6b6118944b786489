import { parseDockerHost, type EngineAddress } from './engine.js';

/**
 * The Docker hosts one teleops operates: `DOCKER_HOSTS=local=unix:///var/run/docker.sock,
 * edge=tcp://10.0.0.5:2376,build=ssh://ops@build-1`, or DOCKER_HOST alone as one host named
 * `local`. A host name is typed in chats (`/docker ps @edge`), stored in buttons and written in
 * audit entries: a short word that can never be read as a flag, a path or markup.
 */
export const HOST_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const HOST_NAME_RULE = 'a host name: a lower-case letter, then up to 31 of a-z 0-9 _ -';
/** The name DOCKER_HOST's one host goes by. */
export const DEFAULT_HOST_NAME = 'local';

export interface HostSpec {
  readonly name: string;
  /** The address as configured, for messages and /hosts. */
  readonly url: string;
  readonly address: EngineAddress;
}

/** Parses DOCKER_HOSTS; throws a one-line Error naming the first bad entry. */
export function parseDockerHosts(s: string): HostSpec[] {
  const out: HostSpec[] = [];
  for (const raw of s.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`"${entry.slice(0, 64)}": expected name=address`);
    const name = entry.slice(0, eq).trim();
    const url = entry.slice(eq + 1).trim();
    if (!HOST_NAME.test(name)) throw new Error(`"${name.slice(0, 64)}" is not ${HOST_NAME_RULE}`);
    if (out.some((h) => h.name === name)) throw new Error(`host ${name} is named twice`);
    let address: EngineAddress;
    try {
      address = parseDockerHost(url);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message.replace(/^DOCKER_HOST /, '')}`);
    }
    out.push({ name, url, address });
  }
  if (out.length === 0) throw new Error('names no host; expected name=address[,name=address…]');
  return out;
}

/** The hosts from the settings: DOCKER_HOSTS when set, else DOCKER_HOST as `local`. */
export function hostsFromSettings(s: { hosts?: string | undefined; host?: string | undefined }): HostSpec[] {
  if (s.hosts?.trim()) return parseDockerHosts(s.hosts);
  const url = s.host?.trim() || undefined;
  const address = parseDockerHost(url);
  return [{ name: DEFAULT_HOST_NAME, url: url ?? 'unix:///var/run/docker.sock', address }];
}

/** A command argument split at its last `@`: "web@edge" → web on edge; "@edge" → edge alone. */
export interface HostRef {
  /** What is left of the argument; '' for a bare "@edge". */
  readonly rest: string;
  readonly host: string;
}

/**
 * Splits `name@host`. Undefined when the argument names no host. The host part is returned as
 * typed, unchecked: the action's schema refuses a bad one with its own one-line answer.
 */
export function splitHostRef(arg: string): HostRef | undefined {
  const at = arg.lastIndexOf('@');
  if (at < 0) return undefined;
  return { rest: arg.slice(0, at), host: arg.slice(at + 1) };
}

/**
 * Takes the host out of a Docker command's arguments: from the first argument (`web@edge`,
 * `@edge`) or a last `@edge` standing alone; later words are left as typed (a grep text may hold
 * an `@`). `raw` is the argument text, rebuilt without the host.
 */
export function takeHost(raw: string): { raw: string; host?: string } {
  const text = raw.trim();
  const first = /^\S+/.exec(text)?.[0];
  if (first !== undefined && !/^["']/.test(first)) {
    const ref = splitHostRef(first);
    if (ref) return { raw: `${ref.rest} ${text.slice(first.length).trim()}`.trim(), host: ref.host };
  }
  const last = /(?:^|\s)@(\S*)$/.exec(text);
  if (last) return { raw: text.slice(0, last.index).trim(), host: last[1]! };
  return { raw: text };
}
