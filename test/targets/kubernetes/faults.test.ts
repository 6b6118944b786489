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
beforeAll(async () => {
  silent = createServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  env = await startEnv([...EXTRA_CONTEXTS, { name: 'slow', cluster: url, token: 'x', namespace: 'default' }]);
});
afterAll(async () => {
  silent.closeAllConnections();
  await new Promise((r) => silent.close(r));
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
});
