import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { AbortController as PolyfillAbortController } from 'abort-controller';
import { BotFetchAborted, botFetch } from '../../../src/transports/telegram/bot-fetch.js';
import { tempDir } from '../../support/app.js';

/** What the server saw of one request. */
interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly socket: object;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A server that records each request and answers it with the current handler. */
function recorder() {
  const seen: Seen[] = [];
  const state = {
    seen,
    handler: ((_req, res) => res.end('{"ok":true,"result":1}')) as Handler,
    /** Called as soon as a request's head arrives, before its body is read. */
    onHead: (_req: IncomingMessage, _res: ServerResponse): void => undefined,
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    state.onHead(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, socket: req.socket });
      state.handler(req, res, body);
    });
  };
  return { state, listener };
}

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe('botFetch (grammY fetch over node:http)', () => {
  const { state, listener } = recorder();
  // The server must not close a kept-alive socket between two tests (Node's default is 5 s
  // idle, easily reached on a loaded machine): the agent would reuse it and meet ECONNRESET.
  const server = createServer({ keepAliveTimeout: 600_000 }, listener);
  const agent = new Agent({ keepAlive: true });
  let root = '';

  beforeAll(async () => {
    root = `http://${await listen(server)}`;
  });
  afterAll(async () => {
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const reset = (handler?: Handler) => {
    state.seen.length = 0;
    state.handler = handler ?? ((_req, res) => res.end('{"ok":true,"result":1}'));
    state.onHead = () => undefined;
  };

  it('posts a JSON body with its length and reads the JSON answer', async () => {
    reset((_req, res, body) => res.end(JSON.stringify({ ok: true, result: JSON.parse(body) as unknown })));
    const res = await botFetch(`${root}/botTOKEN/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'keep-alive' },
      body: '{"chat_id":7,"text":"héllo ✓"}',
      agent,
    });
    expect(res.ok).toBe(true);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, result: { chat_id: 7, text: 'héllo ✓' } });
    const [seen] = state.seen;
    expect(seen?.method).toBe('POST');
    expect(seen?.url).toBe('/botTOKEN/sendMessage');
    expect(seen?.headers['content-type']).toBe('application/json');
    expect(seen?.headers['content-length']).toBe(String(Buffer.byteLength('{"chat_id":7,"text":"héllo ✓"}')));
  });

  it('any text arrives exactly as sent, and comes back exactly (property)', async () => {
    reset((_req, res, body) => res.end(body));
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300, size: 'max' }), async (text) => {
        const res = await botFetch(`${root}/echo`, { method: 'POST', body: text, agent });
        expect(await res.text()).toBe(Buffer.from(text, 'utf8').toString('utf8'));
        expect(state.seen.at(-1)?.headers['content-length']).toBe(String(Buffer.byteLength(text)));
      }),
      { numRuns: 60 },
    );
  });

  it('keeps the connection for the next call (the keep-alive agent is used)', async () => {
    reset();
    await (await botFetch(`${root}/a`, { method: 'POST', body: '{}', agent })).json();
    await (await botFetch(`${root}/b`, { method: 'POST', body: '{}', agent })).json();
    expect(state.seen).toHaveLength(2);
    expect(state.seen[0]?.socket).toBe(state.seen[1]?.socket);
  });

  it('an answer other than 2xx keeps its status and body (grammY reads Telegram errors from it)', async () => {
    reset((_req, res) => {
      res.statusCode = 429;
      res.end(
        '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}',
      );
    });
    const res = await botFetch(`${root}/x`, { method: 'POST', body: '{}', agent });
    expect(res.ok).toBe(false);
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error_code: 429, parameters: { retry_after: 3 } });
  });

  it('an answer that is not JSON: text() has it, json() rejects', async () => {
    reset((_req, res) => {
      res.statusCode = 502;
      res.end('<html>Bad Gateway</html>');
    });
    const res = await botFetch(`${root}/x`, { method: 'POST', body: '{}', agent });
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('<html>Bad Gateway</html>');
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('streams an upload body in order', async () => {
    reset((_req, res, body) => res.end(JSON.stringify({ ok: true, result: body.length })));
    const parts = Array.from({ length: 50 }, (_, i) => `part ${i} ${'x'.repeat(1000)}\n`);
    const res = await botFetch(`${root}/botTOKEN/sendDocument`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: Readable.from(parts),
      agent,
    });
    expect(await res.json()).toEqual({ ok: true, result: parts.join('').length });
    expect(state.seen[0]?.body).toBe(parts.join(''));
    expect(state.seen[0]?.headers['content-length']).toBeUndefined();
  });

  it('an upload whose source fails rejects with that error and ends the request', async () => {
    reset();
    const source = new PassThrough();
    const answer = botFetch(`${root}/up`, { method: 'POST', body: source, agent });
    source.write('first part');
    setTimeout(() => source.destroy(new Error('log stream broke')), 20);
    await expect(answer).rejects.toThrow('log stream broke');
    expect(state.seen).toHaveLength(0);
  });

  it('already aborted (grammY’s polyfill signal): rejects at once, sends nothing, ends the upload source', async () => {
    reset();
    const ctl = new PolyfillAbortController();
    ctl.abort();
    const source = new PassThrough();
    await expect(
      botFetch(`${root}/x`, { method: 'POST', body: source, signal: ctl.signal, agent }),
    ).rejects.toBeInstanceOf(BotFetchAborted);
    expect(source.destroyed).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(state.seen).toHaveLength(0);
  });

  it('aborted while waiting for the answer (a long poll at shutdown): rejects and closes the connection', async () => {
    reset(() => undefined);
    const closed = new Promise<void>((resolve) => (state.onHead = (req) => req.socket.once('close', () => resolve())));
    const ctl = new AbortController();
    const answer = botFetch(`${root}/botTOKEN/getUpdates`, {
      method: 'POST',
      body: '{"timeout":30}',
      signal: ctl.signal,
      agent,
    });
    await new Promise((r) => setTimeout(r, 30));
    ctl.abort();
    await expect(answer).rejects.toBeInstanceOf(BotFetchAborted);
    await closed;
  });

  it('aborted during an upload: rejects and destroys the source', async () => {
    reset(() => undefined);
    const ctl = new AbortController();
    const source = new PassThrough();
    const answer = botFetch(`${root}/up`, { method: 'POST', body: source, signal: ctl.signal, agent });
    source.write('some of the log');
    await new Promise((r) => setTimeout(r, 20));
    ctl.abort();
    await expect(answer).rejects.toBeInstanceOf(BotFetchAborted);
    expect(source.destroyed).toBe(true);
  });

  it('the connection dropped halfway through the answer rejects (never a truncated success)', async () => {
    reset((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"ok":true,"res');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    await expect(botFetch(`${root}/x`, { method: 'POST', body: '{}', agent })).rejects.toThrow();
  });

  it('the connection dropped before any answer rejects once, and nothing is left to throw later', async () => {
    reset((req) => req.socket.destroy());
    const lateErrors: unknown[] = [];
    const onUncaught = (e: unknown) => lateErrors.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await expect(botFetch(`${root}/x`, { method: 'POST', body: '{}', agent })).rejects.toThrow(
        /socket hang up|ECONNRESET/,
      );
      const source = new PassThrough();
      const upload = botFetch(`${root}/up`, { method: 'POST', body: source, agent });
      source.end('a whole upload');
      await expect(upload).rejects.toThrow(/socket hang up|ECONNRESET|EPIPE/);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(lateErrors).toEqual([]);
  });

  it('nothing listening: rejects with the connection error', async () => {
    const probe = createServer();
    const addr = await listen(probe);
    await new Promise((r) => probe.close(r));
    await expect(botFetch(`http://${addr}/x`, { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});

describe('botFetch over https (as to api.telegram.org)', () => {
  const dir = tempDir('teleops-botfetch-');
  let server: Server | undefined;
  let ca = '';

  beforeAll(async () => {
    const [key, cert] = [join(dir.path, 'key.pem'), join(dir.path, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(cert, 'utf8');
    const { listener } = recorder();
    server = createHttpsServer({ key: readFileSync(key), cert: ca }, listener);
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    dir.remove();
  });

  it('talks TLS through the given agent, and refuses a certificate it does not trust', async () => {
    const host = await listen(server!);
    const trusting = new HttpsAgent({ keepAlive: true, ca });
    const res = await botFetch(`https://${host}/botTOKEN/getMe`, { method: 'POST', body: '{}', agent: trusting });
    expect(await res.json()).toEqual({ ok: true, result: 1 });
    trusting.destroy();
    await expect(botFetch(`https://${host}/botTOKEN/getMe`, { method: 'POST', body: '{}' })).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
  });
});
