import { describe, expect, it } from 'vitest';
import { AlertRouter } from '../../src/core/alert-router.js';
import { silentLogger } from '../../src/core/log.js';
import { createMetrics } from '../../src/core/metrics.js';
import { plainText, say, type Result } from '../../src/core/result.js';

function router(cooldownMs: number, silencedUntil = 0) {
  let now = 1_000_000;
  const sent: Result[] = [];
  const r = new AlertRouter({
    cooldownMs,
    deliver: async (res) => void sent.push(res),
    silencedUntil: () => silencedUntil,
    metrics: createMetrics(),
    log: silentLogger(),
    now: () => now,
  });
  return { r, sent, tick: (ms: number) => (now += ms) };
}

describe('AlertRouter', () => {
  it('sends the first alert, coalesces repeats within the cooldown, then reports the count', () => {
    const { r, sent, tick } = router(300_000);
    const alert = { source: 'docker', key: 'docker:api:die', result: say('api died') };
    r.raise(alert);
    for (let i = 0; i < 4; i++) {
      tick(10_000);
      r.raise(alert);
    }
    r.raise({ ...alert, key: 'docker:db:die', result: say('db died') });
    expect(sent.map((s) => plainText(s))).toEqual(['api died', 'db died']);
    tick(300_000);
    r.raise(alert);
    expect(plainText(sent[2]!)).toBe('api died\n(4 more like this in the last 5m)');
  });

  it('sends nothing while silenced', () => {
    const { r, sent } = router(0, Number.MAX_SAFE_INTEGER);
    r.raise({ source: 'docker', key: 'k', result: say('x') });
    expect(sent).toHaveLength(0);
  });
});
