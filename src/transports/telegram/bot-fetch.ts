import { request as httpRequest, type Agent, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';

/** What grammY's API client hands to `fetch`: a JSON string, or a multipart stream for uploads. */
export interface BotFetchInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Readable;
  readonly signal?: AbortSignalLike;
  /** grammY's keep-alive agent for the API root. */
  readonly agent?: Agent;
}

/** grammY's signal comes from the abort-controller package, not always the global class. */
interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The part of a fetch Response that grammY reads. */
export interface BotFetchAnswer {
  readonly ok: boolean;
  readonly status: number;
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export class BotFetchAborted extends Error {
  override readonly name = 'AbortError';
  constructor() {
    super('The Bot API request was aborted');
  }
}

/**
 * `fetch` for grammY over node:http(s): one request, its answer read whole. Every update and
 * every reply crosses it; node-fetch's general machinery (redirects, header objects, body
 * mixins) cost about a millisecond per call in a bot that is mostly idle. An abort or a failed
 * request also ends an upload's source stream, so that nothing keeps reading it.
 */
export function botFetch(url: string, init: BotFetchInit = {}): Promise<BotFetchAnswer> {
  return new Promise((resolve, reject) => {
    const { signal, body } = init;
    const source = body !== undefined && typeof body !== 'string' ? body : undefined;
    if (signal?.aborted) {
      source?.destroy();
      reject(new BotFetchAborted());
      return;
    }
    const target = new URL(url);
    const headers: Record<string, string | number> = { ...init.headers };
    if (typeof body === 'string') headers['content-length'] = Buffer.byteLength(body);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: init.method ?? 'GET', headers, ...(init.agent ? { agent: init.agent } : {}) });
    let res: IncomingMessage | undefined;
    let failed = false;
    // Destroying may emit 'error' again (the listeners stay on for that): the first error wins.
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      signal?.removeEventListener('abort', onAbort);
      res?.destroy(e);
      req.destroy(e);
      source?.destroy();
      reject(e);
    };
    const onAbort = (): void => fail(new BotFetchAborted());
    signal?.addEventListener('abort', onAbort);
    req.on('error', fail);
    req.once('response', (r) => {
      res = r;
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('error', fail);
      r.once('end', () => {
        signal?.removeEventListener('abort', onAbort);
        const text = Buffer.concat(chunks).toString('utf8');
        const status = r.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          text: async () => text,
          json: async () => JSON.parse(text) as unknown,
        });
      });
    });
    if (source) pipeline(source, req, (e) => e && fail(e));
    else req.end(body);
  });
}
