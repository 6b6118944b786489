import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Update } from 'grammy/types';
import { z } from 'zod';
import { readBody } from '../../core/body.js';
import type { Logger } from '../../core/log.js';
import type { Metrics } from '../../core/metrics.js';

/** The header Telegram sends the webhook's secret_token in. */
export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';
/** An update is a few KiB (a 4096-character message, its entities, the message it replies to). */
export const MAX_UPDATE_BYTES = 1024 * 1024;
/** Updates handled at once; beyond that Telegram is told to come back (503), and does. */
const MAX_IN_FLIGHT = 256;
const UNAUTHORIZED_LOG_EVERY_MS = 60_000;

/** What became of an update: handed to the bot, or seen before (here or by another process). */
export type Receipt = 'accepted' | 'duplicate';

export interface WebhookDeps {
  readonly host: string;
  readonly port: number;
  /** The path of TELEGRAM_WEBHOOK_URL: a proxy in front passes it through unchanged. */
  readonly path: string;
  readonly secret: string;
  /** Claims the update and starts handling it; returns once the claim is recorded. */
  readonly receive: (update: Update) => Receipt;
  /** Updates being handled now (bounded by MAX_IN_FLIGHT). */
  readonly inFlight: () => number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface WebhookServer {
  readonly port: number;
  /** Stops accepting (later requests get 503 and Telegram delivers them again), then closes. */
  close(): Promise<void>;
}

/** The webhook could not be served (a port in use, Telegram refusing the URL): a settings problem. */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Whether a request carries the webhook's secret. Both sides are hashed first, so the
 * comparison is constant-time over equal-length digests whatever the lengths given.
 */
export function secretMatches(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string' || secret === '') return false;
  return timingSafeEqual(digest(given), digest(secret));
}

/** Any JSON object with an update id; grammY ignores kinds it has no handler for. */
const updateSchema = z.looseObject({ update_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });

/**
 * Telegram's side of webhook mode: every request must carry the secret (401 and counted
 * otherwise, before anything is read); only a POST of one JSON update to the path is taken.
 * The answer (200) goes out once the update is claimed, not once it is handled: a slow
 * command does not make Telegram deliver it again, and a delivery it repeats anyway runs once.
 */
export async function startWebhook(d: WebhookDeps): Promise<WebhookServer> {
  let closing = false;
  let lastWarn = 0;
  const count = (outcome: string) => d.metrics.webhookRequests.inc({ outcome });

  function answer(res: ServerResponse, status: number, outcome: string, headers: OutgoingHttpHeaders = {}): void {
    count(outcome);
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'text/plain', ...(closing ? { connection: 'close' } : {}), ...headers });
    res.end(status === 200 ? '' : `${outcome}\n`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!secretMatches(req.headers[SECRET_HEADER], d.secret)) {
      const now = Date.now();
      if (now - lastWarn > UNAUTHORIZED_LOG_EVERY_MS) {
        lastWarn = now;
        d.log.warn(
          { from: req.socket.remoteAddress },
          'webhook request without the right secret refused (all are counted in teleops_webhook_requests_total)',
        );
      }
      return answer(res, 401, 'unauthorized', { connection: 'close' });
    }
    if (closing) return answer(res, 503, 'stopping', { 'retry-after': '1' });
    if (req.method !== 'POST') return answer(res, 405, 'method_not_allowed', { allow: 'POST' });
    if (new URL(req.url ?? '/', 'http://webhook').pathname !== d.path) return answer(res, 404, 'not_found');
    if (Number(req.headers['content-length'] ?? 0) > MAX_UPDATE_BYTES)
      return answer(res, 413, 'too_large', { connection: 'close' });
    // Read through a pipe: a body over the bound destroys the pipe, not the socket the 413 goes out on.
    const body = await readBody(req.pipe(new PassThrough()), MAX_UPDATE_BYTES);
    if (body.truncated) return answer(res, 413, 'too_large', { connection: 'close' });
    const update = parseUpdate(body.bytes);
    if (!update) return answer(res, 400, 'invalid');
    // close() began while the body was coming: Telegram delivers it again, here or elsewhere.
    if (closing) return answer(res, 503, 'stopping', { 'retry-after': '1' });
    if (d.inFlight() >= MAX_IN_FLIGHT) return answer(res, 503, 'busy', { 'retry-after': '1' });
    answer(res, 200, d.receive(update));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      d.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'webhook request failed');
      answer(res, 500, 'error', { connection: 'close' });
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new WebhookError(listenProblem(e, d.host, d.port))));
    server.listen(d.port, d.host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : d.port,
    async close() {
      closing = true;
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await closed;
    },
  };
}

function parseUpdate(bytes: Buffer): Update | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = updateSchema.safeParse(json);
  return r.success ? (r.data as Update) : undefined;
}

function listenProblem(e: NodeJS.ErrnoException, host: string, port: number): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return `TELEGRAM_WEBHOOK_PORT ${port} is in use on ${host} (set TELEGRAM_WEBHOOK_PORT to a free port)`;
    case 'EACCES':
      return `TELEGRAM_WEBHOOK_PORT ${port} needs privileges this process does not have (ports below 1024 need root)`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `TELEGRAM_WEBHOOK_HOST ${host} is not an address of this host (e.g. 127.0.0.1, or 0.0.0.0 in a container)`;
    default:
      return `cannot listen on ${host}:${port} (TELEGRAM_WEBHOOK_HOST, TELEGRAM_WEBHOOK_PORT): ${e.message}`;
  }
}
