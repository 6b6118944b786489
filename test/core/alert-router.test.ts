import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertRouter } from '../../src/core/alert-router.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import { createMetrics } from '../../src/core/metrics.js';
import { plainText, say, type Result } from '../../src/core/result.js';

const T0 = 1_000_000;
/** The router's bound on keys it remembers (alert-router.ts MAX_KEYS). */
const MAX_KEYS = 10_000;

function router(
  cooldownMs: number,
  opts: { silencedUntil?: number; deliver?: (r: Result) => Promise<void>; log?: Logger } = {},
) {
  let now = T0;
  const sent: Result[] = [];
  const metrics = createMetrics();
  const r = new AlertRouter({
    cooldownMs,
    deliver: opts.deliver ?? (async (res) => void sent.push(res)),
    silencedUntil: () => opts.silencedUntil ?? 0,
    metrics,
    log: opts.log ?? silentLogger(),
    now: () => now,
  });
  /** teleops_alerts_total by "source/outcome". */
  const counts = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      (await metrics.alerts.get()).values.map((v) => [
        `${String(v.labels.source)}/${String(v.labels.outcome)}`,
        v.value,
      ]),
    );
  return { r, sent, counts, tick: (ms: number) => (now += ms) };
}

const alert = (key: string, text = key) => ({ source: 'docker', key, result: say(text) });
const texts = (sent: Result[]): string[] => sent.map((s) => plainText(s));

describe('AlertRouter', () => {
  it('sends the first alert, coalesces repeats within the cooldown, then reports the count', async () => {
    const { r, sent, tick, counts } = router(300_000);
    const a = alert('docker:api:die', 'api died');
    r.raise(a);
    for (let i = 0; i < 4; i++) {
      tick(10_000);
      r.raise(a);
    }
    r.raise(alert('docker:db:die', 'db died'));
    expect(texts(sent)).toEqual(['api died', 'db died']);
    tick(300_000);
    r.raise(a);
    expect(plainText(sent[2]!)).toBe('api died\n(4 more like this in the last 5m)');
    expect(await counts()).toEqual({ 'docker/sent': 3, 'docker/coalesced': 4 });
  });

  it('sends again exactly when the cooldown has passed, not a millisecond before', () => {
    const { r, sent, tick } = router(1000);
    r.raise(alert('k'));
    tick(999);
    r.raise(alert('k'));
    expect(sent).toHaveLength(1);
    tick(1);
    r.raise(alert('k'));
    expect(texts(sent)).toEqual(['k', 'k\n(1 more like this in the last 1s)']);
  });

  it('sends nothing while silenced and counts it; sends again the moment the silence ends', async () => {
    const { r, sent, tick, counts } = router(0, { silencedUntil: T0 + 10 });
    r.raise(alert('k'));
    tick(9);
    r.raise(alert('k'));
    expect(sent).toHaveLength(0);
    expect(await counts()).toEqual({ 'docker/silenced': 2 });
    tick(1);
    r.raise(alert('k'));
    expect(sent).toHaveLength(1);
  });

  it("sends the audit log's alarms while silenced: /silence cannot hide a broken or unwritable log", async () => {
    const { r, sent } = router(0, { silencedUntil: T0 + 10 });
    r.raise(alert('k'));
    r.raise({ ...alert('audit:broken'), source: 'audit', alarm: true });
    expect(texts(sent)).toEqual(['audit:broken']);
  });

  it('logs a delivery that failed, with the alert key, and keeps routing', async () => {
    const logged: { level: number; msg: string; key: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
        cb();
      },
    });
    const { r } = router(0, { deliver: () => Promise.reject(new Error('chat gone')), log: pino(sink) });
    r.raise(alert('docker:x:die'));
    await expect.poll(() => logged.length).toBe(1);
    expect(logged[0]).toMatchObject({ level: 40, msg: 'alert delivery failed', key: 'docker:x:die' });
  });

  describe('remembers at most 10,000 keys', () => {
    /** k0 sent and swallowed once, then k1…k9999, all at T0. */
    function full(cooldownMs: number) {
      const x = router(cooldownMs);
      x.r.raise(alert('k0'));
      x.r.raise(alert('k0'));
      for (let i = 1; i < MAX_KEYS; i++) x.r.raise(alert(`k${i}`));
      expect(x.sent).toHaveLength(MAX_KEYS);
      return x;
    }

    it('forgets the keys whose cooldown has passed when a new key comes at the bound', () => {
      const { r, sent, tick } = full(1000);
      tick(1001);
      r.raise(alert('new'));
      r.raise(alert('k0'));
      // k0 was forgotten with its swallowed repeat: sent plain.
      expect(texts(sent).slice(-2)).toEqual(['new', 'k0']);
    });

    it('keeps the swallowed count of a key raised again at the bound', () => {
      const { r, sent, tick } = full(1000);
      tick(1001);
      r.raise(alert('k0'));
      expect(texts(sent).at(-1)).toBe('k0\n(1 more like this in the last 1s)');
    });

    it('keeps expired keys when there is room', () => {
      const { r, sent, tick } = router(1000);
      r.raise(alert('a'));
      r.raise(alert('a'));
      tick(1001);
      r.raise(alert('b'));
      r.raise(alert('a'));
      expect(texts(sent)).toEqual(['a', 'b', 'a\n(1 more like this in the last 1s)']);
    });

    it('forgets all when every key is still cooling down, rather than grow', () => {
      const { r, sent, tick } = full(60_000);
      tick(1);
      r.raise(alert('new'));
      r.raise(alert('k1'));
      // Without the clear, k1 would still be cooling down and swallowed.
      expect(texts(sent).slice(-2)).toEqual(['new', 'k1']);
    });
  });
});
