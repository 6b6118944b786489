/**
 * A 5xx storm at the Kubernetes API (the fake server, the real client): every read answers one
 * clear line while it lasts, and answers normally as soon as it is over. Watches under the
 * same faults (410 Gone, a cut stream, an API that keeps failing) are in alerts.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, run, startEnv, target, text, type Env } from './harness.js';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
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
});
