import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request } from 'node:http';
import type { Update } from 'grammy/types';
import { createLogger } from '../../../src/core/log.js';
import { createMetrics } from '../../../src/core/metrics.js';
import {
  MAX_UPDATE_BYTES,
  SECRET_HEADER,
  secretMatches,
  startWebhook,
  type WebhookServer,
} from '../../../src/transports/telegram/webhook.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
/** Secrets as Telegram allows them: 1–256 characters of A–Z a–z 0–9 _ -. */
const secretArb = fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 1, maxLength: 256, size: 'max' });

describe('secretMatches', () => {
  it('accepts exactly the secret: not a prefix, an extension, one character off, or anything else', () => {
    const seen = { equal: 0, other: 0 };
    const candidate = (s: string) =>
      fc.oneof(
        fc.constant(s),
        fc.nat({ max: s.length - 1 }).map((n) => s.slice(0, n)),
        fc.string({ minLength: 1, maxLength: 4 }).map((x) => s + x),
        fc
          .tuple(fc.nat({ max: s.length - 1 }), fc.constantFrom(...ALPHABET))
          .map(([i, c]) => s.slice(0, i) + c + s.slice(i + 1)),
        fc.string({ unit: 'binary', maxLength: 300 }),
      );
    fc.assert(
      fc.property(
        secretArb.chain((s) => fc.tuple(fc.constant(s), candidate(s))),
        ([secret, given]) => {
          const ok = secretMatches(given, secret);
          seen[given === secret ? 'equal' : 'other']++;
          expect(ok).toBe(given === secret);
        },
      ),
      { numRuns: 300 },
    );
    expect(seen.equal).toBeGreaterThan(20);
    expect(seen.other).toBeGreaterThan(20);
  });

  it('refuses a missing or repeated header, and everything when no secret is configured', () => {
    expect(secretMatches(undefined, 'abc')).toBe(false);
    expect(secretMatches(['abc', 'abc'], 'abc')).toBe(false);
    expect(secretMatches('', '')).toBe(false);
  });
});

describe('the webhook server', () => {
  let server: WebhookServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(inFlight = 0) {
    const received: Update[] = [];
    const metrics = createMetrics();
    server = await startWebhook({
      host: '127.0.0.1',
      port: 0,
      path: '/hook',
      secret: 's3cret',
      receive: (u) => (received.push(u), 'accepted'),
      inFlight: () => inFlight,
      metrics,
      log: createLogger('silent', (s) => s),
    });
    return { received, metrics, port: server.port };
  }

  it('answers 503 while as many updates as it takes are in hand, and takes nothing', async () => {
    const { received, port } = await serve(256);
    const res = await fetch(`http://127.0.0.1:${port}/hook`, {
      method: 'POST',
      headers: { [SECRET_HEADER]: 's3cret', 'content-type': 'application/json' },
      body: JSON.stringify({ update_id: 1, message: { text: 'hi' } }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(received).toHaveLength(0);
  });

  it('answers 413 to a body over the bound that declares no length, without handing anything on', async () => {
    const { received, metrics, port } = await serve();
    // Chunked: the bound is found while reading, not from a Content-Length.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: '/hook',
        method: 'POST',
        headers: { [SECRET_HEADER]: 's3cret' },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        res.resume();
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const more = (): void => {
        while (!answered && sent <= MAX_UPDATE_BYTES * 2) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', more);
        }
        if (!answered) req.end();
      };
      more();
    });
    expect(status).toBe(413);
    expect(received).toHaveLength(0);
    expect(await metrics.webhookRequests.get()).toMatchObject({
      values: [{ labels: { outcome: 'too_large' }, value: 1 }],
    });
  });
});
