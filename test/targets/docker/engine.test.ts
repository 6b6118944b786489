import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import { EngineHttpError, engineHttp, type EngineHttp } from '../../../src/targets/docker/engine.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';

/**
 * An Engine stand-in at the wire (a unix socket speaking HTTP), for the answers a healthy
 * dockerd never gives: malformed bodies, stalls, odd statuses. The real daemon's answers are
 * covered in port.test.ts and actions.test.ts.
 */
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let dir: string;
let server: Server;
let socketPath: string;
let handler: Handler = (_req, _body, res) => res.end();
let http: EngineHttp;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/teleops-engine-');
  socketPath = join(dir, 'engine.sock');
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  http = engineHttp({ kind: 'unix', socketPath });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const json = (res: ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};
const signal = (): AbortSignal => new AbortController().signal;

describe('engineHttp', () => {
  it('sends the query as the Engine reads it: objects (filters) as JSON', async () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 3 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,9}$/), value, { maxKeys: 5 }), async (query) => {
        let seen: URLSearchParams | undefined;
        handler = (req, _b, res) => {
          seen = new URL(req.url ?? '/', 'http://engine').searchParams;
          json(res, 200, []);
        };
        await http.call('GET', '/containers/json', query, signal());
        for (const [k, v] of Object.entries(query)) {
          const got = seen!.get(k);
          expect(typeof v === 'object' ? JSON.parse(got!) : got).toEqual(typeof v === 'object' ? v : String(v));
        }
        expect([...seen!.keys()].sort()).toEqual(Object.keys(query).sort());
      }),
      { numRuns: 50 },
    );
  });

  it('parses JSON, hands text over as text, and an empty body as nothing', async () => {
    handler = (req, _b, res) => {
      if (req.url === '/json') json(res, 200, { Version: '27.0' });
      else if (req.url === '/_ping') res.end('OK');
      else res.writeHead(204).end();
    };
    expect(await http.call('GET', '/json', {}, signal())).toEqual({ status: 200, body: { Version: '27.0' } });
    expect(await http.call('GET', '/_ping', {}, signal())).toEqual({ status: 200, body: 'OK' });
    expect(await http.call('POST', '/containers/x/start', {}, signal())).toEqual({ status: 204, body: undefined });
  });

  it('posts an empty body with a length of zero', async () => {
    let seen: { method?: string; length?: string; chunked?: string; body: string } | undefined;
    handler = (req, body, res) => {
      seen = {
        method: req.method,
        length: req.headers['content-length'],
        chunked: req.headers['transfer-encoding'],
        body,
      };
      res.writeHead(204).end();
    };
    await http.call('POST', '/containers/x/stop', { t: 10 }, signal());
    expect(seen).toEqual({ method: 'POST', length: '0', chunked: undefined, body: '' });
  });

  it('reports 304 (already in that state) as a status, not an error', async () => {
    handler = (_req, _b, res) => res.writeHead(304).end();
    expect(await http.call('POST', '/containers/x/start', {}, signal())).toEqual({ status: 304, body: undefined });
  });

  it("turns an error answer into its status and the Engine's message, on one line", async () => {
    handler = (_req, _b, res) => json(res, 409, { message: 'Conflict.\n  The container is\tpaused' });
    const err = await http.call('POST', '/containers/x/stop', {}, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineHttpError);
    expect(err).toMatchObject({ statusCode: 409, detail: 'Conflict. The container is paused' });

    handler = (_req, _b, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('plain failure');
    await expect(http.call('GET', '/x', {}, signal())).rejects.toMatchObject({
      statusCode: 500,
      detail: 'plain failure',
    });
    await expect(http.stream('/x', {}, signal())).rejects.toMatchObject({ statusCode: 500, detail: 'plain failure' });
  });

  it('reads no more than 64 KiB of an error body', async () => {
    handler = (_req, _b, res) => res.writeHead(500).end('e'.repeat(1 << 20));
    const err = (await http.call('GET', '/x', {}, signal()).catch((e: unknown) => e)) as EngineHttpError;
    expect(err.detail.length).toBeLessThanOrEqual(64 * 1024);
    expect(err.detail.length).toBeGreaterThan(0);
  });

  it('says so in one line when the Engine sends malformed JSON', async () => {
    handler = (_req, _b, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('[{"Id": ');
    await expect(http.call('GET', '/containers/json', {}, signal())).rejects.toThrow(
      new ActionError('Docker sent malformed JSON'),
    );
  });

  it('ends a call cut off by its signal, midway through the body too, with the reason', async () => {
    handler = (_req, _b, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
    };
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('enough')), 50);
    await expect(http.call('GET', '/containers/json', {}, ac.signal)).rejects.toThrow('enough');
    const gone = new AbortController();
    gone.abort(new Error('before'));
    await expect(http.call('GET', '/containers/json', {}, gone.signal)).rejects.toThrow('before');
  });

  it('hands a stream over once its head arrives; the signal still ends it afterwards', async () => {
    handler = (_req, _b, res) => {
      res.writeHead(200);
      res.write('first');
    };
    const ac = new AbortController();
    const res = await http.stream('/events', {}, ac.signal);
    const chunks: string[] = [];
    const read = (async () => {
      for await (const c of res) {
        chunks.push(String(c));
        ac.abort(new Error('stop'));
      }
    })();
    await expect(read).rejects.toThrow('stop');
    expect(chunks).toEqual(['first']);
  });
});

describe('the port over odd Engine answers', () => {
  const port = (): ReturnType<typeof createDockerPort> =>
    createDockerPort({ host: `unix://${socketPath}`, timeoutMs: 2000 });

  it('names each failure in one operator-facing line', async () => {
    handler = (_req, _b, res) => json(res, 404, { message: 'No such container: api' });
    await expect(port().inspect('api')).rejects.toThrow(new ActionError('no such container'));
    handler = (_req, _b, res) => json(res, 409, { message: 'container is paused' });
    await expect(port().stop('api')).rejects.toThrow(new ActionError('Docker refused: container is paused'));
    handler = (_req, _b, res) => json(res, 500, { message: 'disk full' });
    await expect(port().list({ all: true })).rejects.toThrow(
      new ActionError('Docker error 500 (list containers): disk full'),
    );
    handler = (_req, _b, res) => json(res, 200, [{ Id: 42 }]);
    await expect(port().list({ all: true })).rejects.toThrow(
      new ActionError('Docker sent an unexpected answer (list containers)'),
    );
  });

  it('tells start and stop that did something from those that found it done', async () => {
    handler = (req, _b, res) => res.writeHead(req.url?.includes('/start') ? 204 : 304).end();
    expect(await port().start('api')).toBe('done');
    expect(await port().stop('api')).toBe('noop');
  });
});
