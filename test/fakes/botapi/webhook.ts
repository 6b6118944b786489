/**
 * The bot's webhook as Telegram keeps it: set with setWebhook (an https URL, an optional
 * secret_token, allowed_updates), gone with deleteWebhook; while one is set, getUpdates
 * answers 409. Updates reach the bot as Telegram sends them: a POST of the update's JSON to
 * the URL's path, with the secret in X-Telegram-Bot-Api-Secret-Token.
 *
 * Tests serve the https URL through a TLS-terminating proxy, as a deployment does: `post`
 * takes the plain-http origin the proxy forwards to (a replica's listen address).
 */
import { request } from 'node:http';
import type { Update } from 'grammy/types';
import { badRequest, optBool, optInt, optJson, optStr } from './params.js';
import type { Params } from './params.js';
import type { UpdateQueue } from './updates.js';

export interface WebhookInfo {
  readonly url: string;
  readonly secret_token?: string;
  readonly allowed_updates?: readonly string[];
  readonly max_connections?: number;
}

export type WebhookCall =
  | { readonly method: 'setWebhook'; readonly info: WebhookInfo; readonly drop_pending_updates?: boolean }
  | { readonly method: 'deleteWebhook'; readonly drop_pending_updates?: boolean };

export interface PostOptions {
  /** Origin the proxy forwards to, e.g. `http://127.0.0.1:8443`; the webhook URL's path is kept. */
  readonly to: string;
  /** The header's value: default the secret_token set; `null` sends no header at all. */
  readonly secret?: string | null;
  /** Sent instead of the update's JSON. */
  readonly body?: string | Buffer;
  readonly method?: string;
  readonly path?: string;
  /** Content-Length claimed, when it is not the body's length (the body is sent only up to it). */
  readonly contentLength?: number;
  /** No answer in this long is a failed delivery (default 10 s). */
  readonly timeoutMs?: number;
}

export interface PostAnswer {
  readonly status: number;
  readonly body: string;
}

/** One POST the fake made on its own (deliverWebhooks): of which update, where, and the answer. */
export interface WebhookDelivery {
  readonly updateId: number;
  readonly to: string;
  /** The answer's status; 0 when none came (refused, reset, no answer in time). */
  readonly status: number;
}

const SECRET = /^[A-Za-z0-9_-]{1,256}$/;

export class Webhooks {
  current: WebhookInfo | undefined;
  /** Every setWebhook and deleteWebhook, in order. */
  readonly calls: WebhookCall[] = [];

  setWebhook(queue: UpdateQueue, p: Params): true {
    const url = optStr(p, 'url') ?? '';
    if (url === '') {
      this.current = undefined;
      this.calls.push({ method: 'deleteWebhook' });
      return true;
    }
    if (!URL.canParse(url) || new URL(url).protocol !== 'https:')
      throw badRequest('bad webhook: An HTTPS URL must be provided for webhook');
    const secret = optStr(p, 'secret_token');
    if (secret !== undefined && !SECRET.test(secret)) throw badRequest('secret token contains unallowed characters');
    const allowed = optJson(p, 'allowed_updates');
    if (allowed !== undefined && !(Array.isArray(allowed) && allowed.every((t) => typeof t === 'string')))
      throw badRequest("can't parse allowed_updates JSON array");
    const max = optInt(p, 'max_connections');
    const drop = optBool(p, 'drop_pending_updates');
    const info: WebhookInfo = {
      url,
      ...(secret !== undefined ? { secret_token: secret } : {}),
      ...(allowed !== undefined ? { allowed_updates: allowed as string[] } : {}),
      ...(max !== undefined ? { max_connections: max } : {}),
    };
    if (drop === true) queue.dropPending();
    queue.setAllowed(info.allowed_updates);
    this.current = info;
    this.calls.push({ method: 'setWebhook', info, ...(drop !== undefined ? { drop_pending_updates: drop } : {}) });
    return true;
  }

  deleteWebhook(queue: UpdateQueue, p: Params): true {
    const drop = optBool(p, 'drop_pending_updates');
    if (drop === true) queue.dropPending();
    this.current = undefined;
    this.calls.push({ method: 'deleteWebhook', ...(drop !== undefined ? { drop_pending_updates: drop } : {}) });
    return true;
  }

  info(queue: UpdateQueue): unknown {
    const c = this.current;
    return {
      url: c?.url ?? '',
      has_custom_certificate: false,
      pending_update_count: queue.pending,
      ...(c?.allowed_updates ? { allowed_updates: c.allowed_updates } : {}),
      ...(c?.max_connections !== undefined ? { max_connections: c.max_connections } : {}),
    };
  }

  /** One delivery of `update`, as Telegram makes it; resolves with the bot's answer. */
  post(update: Update | undefined, o: PostOptions): Promise<PostAnswer> {
    const c = this.current;
    const path = o.path ?? (c ? new URL(c.url).pathname : undefined);
    if (path === undefined) throw new Error('fake Bot API: no webhook is set; pass `path` to post anyway');
    const secret = o.secret === undefined ? c?.secret_token : o.secret;
    const body = o.body ?? JSON.stringify(update);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const length = o.contentLength ?? bytes.length;
    return new Promise((resolve, reject) => {
      let answered = false;
      const req = request(new URL(path, o.to), {
        method: o.method ?? 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(length),
          ...(secret !== null && secret !== undefined ? { 'x-telegram-bot-api-secret-token': secret } : {}),
        },
      });
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
        });
        res.on('error', reject);
      });
      req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error('no answer from the webhook')));
      // A server that answers before reading the whole body (413) may close while it is sent.
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      if (length > bytes.length) req.write(bytes);
      else req.end(bytes.subarray(0, length));
    });
  }
}
