/**
 * Log and watch streams on a plain node:http request with the kubeconfig's own transport
 * options (auth, CA, agent), because the library's `Log` and `Watch` cannot be aborted
 * before the response headers arrive and drop the `Status` body of a refusal.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { readBody } from '../../core/body.js';
import { withDeadline } from '../../core/deadline.js';
import { failureFromStatus, KubeApiError, toKubeError, type Op } from './errors.js';
import type { WatchEvent } from './port.js';

const STATUS_BODY_LIMIT = 64 * 1024;

/**
 * The library makes a new agent, so a new connection (over TLS, a handshake), for every request:
 * each is swapped for one keep-alive agent per kubeconfig and the same TLS settings (a rotated
 * client certificate gets a new one). Proxy agents stay as the library makes them. An idle
 * connection is closed after IDLE_SOCKET_MS, before a server or proxy would close it under a request.
 */
const IDLE_SOCKET_MS = 4000;
const pools = new WeakMap<KubeConfig, { key: string; agent: http.Agent }>();

function pooled(kc: KubeConfig, made: unknown): http.Agent | undefined {
  if (!(made instanceof http.Agent) || (made.constructor !== http.Agent && made.constructor !== https.Agent))
    return undefined;
  const options = (made as http.Agent & { options: Record<string, unknown> }).options;
  const key = `${made.constructor.name} ${JSON.stringify(options, function (this: Record<string, unknown>, k, v) {
    const own = this[k];
    return Buffer.isBuffer(own) ? own.toString('base64') : (v as unknown);
  })}`;
  const pool = pools.get(kc);
  if (pool?.key === key) return pool.agent;
  const Kind = made.constructor as typeof http.Agent;
  const agent = new Kind({ ...options, keepAlive: true, timeout: IDLE_SOCKET_MS });
  pools.set(kc, { key, agent });
  return agent;
}

/**
 * Opens a streaming GET with the kubeconfig's transport (auth header, CA, client cert).
 * Waits at most `timeoutMs` for the headers; after that the caller's signal still cuts it.
 */
export async function openStream(
  kc: KubeConfig,
  path: string,
  query: URLSearchParams,
  op: Op,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<IncomingMessage> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError('other', `context ${op.context} has no cluster in the kubeconfig`);
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  url.search = query.toString();
  const opts: https.RequestOptions = {};
  try {
    await kc.applyToHTTPSOptions(opts);
  } catch (e) {
    throw toKubeError(e, op);
  }
  opts.agent = pooled(kc, opts.agent) ?? opts.agent;
  const mod = url.protocol === 'https:' ? https : http;
  const headers = { ...opts.headers, ...extraHeaders, Accept: 'application/json' };
  let res: IncomingMessage;
  try {
    res = await withDeadline(
      `Kubernetes ${op.verb} ${op.resource}`,
      timeoutMs,
      (signal) =>
        new Promise<IncomingMessage>((resolve, reject) => {
          const req = mod.request(url, { ...opts, method: 'GET', signal, headers }, resolve);
          req.on('error', reject);
          req.end();
        }),
      outer,
    );
  } catch (e) {
    throw toKubeError(e, op);
  }
  if (res.statusCode === 200) return res;
  const body = await readBody(res, STATUS_BODY_LIMIT).catch((e: unknown) => {
    throw toKubeError(e, op);
  });
  throw failureFromStatus(op, { code: res.statusCode ?? 500, body: body.bytes.toString('utf8') });
}

/** Passes at most `max` bytes, then ends the stream: the server's limitBytes is advisory. */
export function limitBytes(max: number): Transform {
  let left = max;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      cb(null, part);
      if (left <= 0) this.end();
    },
  });
}

const isAbort = (e: unknown) => (e as { name?: unknown } | null)?.name === 'AbortError';

/**
 * Hands each change of a watch stream to `onEvent` until the stream closes: resolves then,
 * or rejects with the failure the server reported (an ERROR line) or the connection's.
 * Aborting `signal` resolves.
 */
export function readWatch(
  res: IncomingMessage,
  op: Op,
  signal: AbortSignal,
  onEvent: (e: WatchEvent) => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failure: KubeApiError | undefined;
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    // readline re-emits the response's errors; they are handled on `res` below.
    lines.on('error', () => undefined);
    lines.on('line', (text) => {
      if (failure || text.trim() === '') return;
      let ev: { type?: unknown; object?: unknown };
      try {
        ev = JSON.parse(text) as typeof ev;
      } catch {
        return;
      }
      if (ev.type === 'ERROR') {
        const code = Number((ev.object as { code?: unknown } | undefined)?.code ?? 500);
        failure = failureFromStatus(op, { code, body: ev.object });
        res.destroy();
        return;
      }
      if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED' || ev.type === 'BOOKMARK') {
        onEvent({ type: ev.type, object: ev.object as WatchEvent['object'] });
      }
    });
    res.on('error', (e) => {
      if (!failure && !signal.aborted && !isAbort(e)) failure = toKubeError(e, op);
    });
    res.on('close', () => {
      lines.close();
      if (failure && !signal.aborted) reject(failure);
      else resolve();
    });
  });
}
