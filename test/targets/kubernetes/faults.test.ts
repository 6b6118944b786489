/**
 * A 5xx storm at the Kubernetes API (the fake server, the real client), and an API that takes
 * the request and never answers: every read answers one clear line (within the action's
 * timeout), and answers normally as soon as the storm is over. Watches under the same faults
 * (410 Gone, a cut stream, an API that keeps failing) are in alerts.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTRA_CONTEXTS, failure, run, startEnv, target, text, type Env } from './harness.js';

let env: Env;
/** Reads every request and never answers it. */
let silent: Server;
/** Answers 200 with a body that is not JSON, or one cut off before its end. */
let garbled: Server;
const listen = async (s: Server): Promise<string> => {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};
beforeAll(async () => {
  silent = createServer(() => undefined);
  garbled = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
    if (req.url?.includes('/pods')) res.end('<html>proxy error</html>'.padEnd(4096));
    else res.end('{"items": [');
  });
  env = await startEnv([
    ...EXTRA_CONTEXTS,
    { name: 'slow', cluster: await listen(silent), token: 'x', namespace: 'default' },
    { name: 'garbled', cluster: await listen(garbled), token: 'x', namespace: 'default' },
  ]);
});
afterAll(async () => {
  for (const s of [silent, garbled]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await env.close();
});

const READS = ['/pods', '/k8s deploy', '/k8s nodes', '/k8s events', '/k8s describe deploy/web', '/k8s ns'];

describe('a 5xx storm at the Kubernetes API', () => {
  it('every read answers one clear line while it lasts, and normally once it is over', async () => {
    const t = target(env);
    const samples: string[] = [];
    for (const [code, reason] of [
      [503, /503|unavailable/i],
      [500, /500|internal/i],
    ] as const) {
      env.api.failNext({ code, times: 100_000 });
      for (const line of READS) {
        const message = await failure(t, line);
        expect(message, line).toMatch(reason);
        expect(message, line).not.toContain('\n');
        expect(message, line).not.toMatch(/\bat \S+:\d+/);
        if (line === '/pods') samples.push(message);
      }
      env.api.clearFaults();
    }
    for (const line of READS) expect(text(await run(t, line)).length, line).toBeGreaterThan(0);
    console.log(
      `kubernetes 5xx storm: ${READS.length * 2} reads answered one line each, e.g. ${JSON.stringify(samples)}`,
    );
  });

  it('an API that never answers: the read gives up at its timeout with one line', async () => {
    const message = await failure(target(env), '/pods -c slow');
    expect(message).not.toContain('\n');
    expect(message).toMatch(/slow/);
    console.log(`kubernetes API that never answers: ${JSON.stringify(message)}`);
  });

  it('a list that is not JSON, or cut off before its end, answers one line naming it', async () => {
    const notJson = await failure(target(env), '/pods -c garbled');
    expect(notJson).toBe('the pods list from context garbled is not JSON');
    const cut = await failure(target(env), '/k8s deploy -c garbled');
    expect(cut).not.toContain('\n');
    expect(cut).toMatch(/garbled/);
    expect(cut).not.toMatch(/\bat \S+:\d+/);
    console.log(`kubernetes list cut off: ${JSON.stringify(cut)}`);
  });
});
