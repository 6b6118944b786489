import { request, type Agent, type IncomingMessage } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { ActionError } from '../../core/action.js';
import { readBody } from '../../core/body.js';

/**
 * The Docker Engine's HTTP API at its wire: where to connect, one request, its status and
 * body. Plain node:http, because every call here is a small GET or an empty POST, and a
 * general client library costs more per call (formatting its debug output, among others)
 * than the Engine takes to list a hundred containers.
 */

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Where to connect, from DOCKER_HOST as the Docker CLI reads it. */
export type EngineAddress =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | { readonly kind: 'tcp'; readonly hostname: string; readonly port: number }
  | { readonly kind: 'ssh'; readonly username?: string; readonly hostname: string; readonly port: number };

/**
 * Parses DOCKER_HOST (`unix:///path`, `tcp://host:port`, `ssh://[user@]host[:port]`); throws a
 * one-line Error otherwise.
 */
export function parseDockerHost(host: string | undefined): EngineAddress {
  const h = host?.trim() || DEFAULT_DOCKER_HOST;
  if (h.startsWith('unix://')) {
    const socketPath = h.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new Error(`DOCKER_HOST ${h}: expected unix:///absolute/path`);
    return { kind: 'unix', socketPath };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(h);
  if (m) {
    const port = m[2] === undefined ? 2375 : Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`DOCKER_HOST ${h}: port out of range`);
    return { kind: 'tcp', hostname: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  // A user and a host that cannot start with "-": ssh would read either as an option.
  const ssh =
    /^ssh:\/\/(?:([a-z_][a-z0-9_.-]{0,31})@)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?\/?$/.exec(h);
  if (ssh) {
    const port = ssh[3] === undefined ? 22 : Number(ssh[3]);
    if (port < 1 || port > 65535) throw new Error(`DOCKER_HOST ${h}: port out of range`);
    const hostname = ssh[2]!.replace(/^\[|\]$/g, '');
    return { kind: 'ssh', ...(ssh[1] ? { username: ssh[1] } : {}), hostname, port };
  }
  throw new Error(
    `DOCKER_HOST ${h}: expected unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port]`,
  );
}

/** An answer other than 2xx or 304: its status and the Engine's own message. */
export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly detail: string,
  ) {
    super(`Docker answered ${statusCode}${detail ? `: ${detail}` : ''}`);
    this.name = 'EngineHttpError';
  }
}

/** Query values as the Engine reads them: objects (filters) as JSON. */
export type Query = Readonly<Record<string, string | number | boolean | object>>;

export interface EngineAnswer {
  /** 2xx, or 304 ("already in that state" for start and stop). */
  readonly status: number;
  /** Parsed when the Engine says JSON, else the text; undefined when empty. */
  readonly body: unknown;
}

export interface EngineHttp {
  /** One request, its whole answer read. Aborting `signal` ends it with the signal's reason. */
  call(method: 'GET' | 'POST', path: string, query: Query, signal: AbortSignal): Promise<EngineAnswer>;
  /** A GET whose 200 body is handed over unread; aborting `signal` destroys it. */
  stream(path: string, query: Query, signal: AbortSignal): Promise<IncomingMessage>;
}

/** An error answer's body is read for its message, never more than this. */
const MAX_ERROR_BODY = 64 * 1024;

function queryString(q: Query): string {
  const entries = Object.entries(q);
  if (entries.length === 0) return '';
  const pairs = entries.map(([k, v]): [string, string] => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]);
  return `?${new URLSearchParams(pairs).toString()}`;
}

function decode(res: IncomingMessage, body: Buffer): unknown {
  if (body.length === 0) return undefined;
  const text = body.toString('utf8');
  if (!(res.headers['content-type'] ?? '').includes('json')) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ActionError('Docker sent malformed JSON');
  }
}

async function failure(res: IncomingMessage): Promise<EngineHttpError> {
  const status = res.statusCode ?? 0;
  const body = await readBody(res, MAX_ERROR_BODY).catch(() => ({ bytes: Buffer.alloc(0) }));
  let detail = body.bytes.toString('utf8');
  try {
    const j = JSON.parse(detail) as { message?: unknown };
    if (typeof j?.message === 'string') detail = j.message;
  } catch {
    // not JSON: the text itself is the message
  }
  return new EngineHttpError(status, detail.replace(/\s+/g, ' ').trim());
}

/** How to reach a tcp Engine over TLS, or an ssh one: files already read, or a fresh agent per request. */
export interface EngineTransport {
  /** PEM contents, as `DOCKER_TLS_DIR/<name>/{ca,cert,key}.pem` hold them. */
  readonly tls?: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
  /** A connection per request, e.g. through ssh to `docker system dial-stdio`. */
  readonly agent?: () => Agent;
}

export function engineHttp(addr: EngineAddress, transport: EngineTransport = {}): EngineHttp {
  const where =
    addr.kind === 'unix'
      ? { socketPath: addr.socketPath }
      : addr.kind === 'ssh'
        ? // The ssh agent makes the connection; this only names the Host header.
          { host: 'docker', port: 80 }
        : { host: addr.hostname, port: addr.port };
  const send = transport.tls && addr.kind === 'tcp' ? tlsRequest : request;

  /** The response head; `signal` destroys the request, and the response once there is one. */
  function open(method: 'GET' | 'POST', path: string, query: Query, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let res: IncomingMessage | undefined;
      const req = send({
        ...where,
        ...(transport.tls ?? {}),
        ...(transport.agent ? { agent: transport.agent() } : {}),
        method,
        path: path + queryString(query),
        headers: method === 'POST' ? { 'content-length': 0 } : {},
      });
      const onAbort = (): void => {
        req.destroy(signal.reason as Error);
        res?.destroy(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.once('response', (r) => {
        res = r;
        r.once('close', () => signal.removeEventListener('abort', onAbort));
        resolve(r);
      });
      req.once('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      });
      req.end();
    });
  }

  return {
    async call(method, path, query, signal) {
      const res = await open(method, path, query, signal);
      const status = res.statusCode ?? 0;
      if (status === 304) {
        res.resume();
        return { status, body: undefined };
      }
      if (status < 200 || status > 299) throw await failure(res);
      return { status, body: decode(res, (await readBody(res)).bytes) };
    },

    async stream(path, query, signal) {
      const res = await open('GET', path, query, signal);
      if (res.statusCode !== 200) throw await failure(res);
      return res;
    },
  };
}
