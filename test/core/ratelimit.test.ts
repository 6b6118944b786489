import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RateLimiter } from '../../src/core/ratelimit.js';

describe('RateLimiter', () => {
  it('allows a burst of perMinute, then refuses and says when to retry', () => {
    let now = 0;
    const rl = new RateLimiter(5, () => now);
    for (let i = 0; i < 5; i++) expect(rl.take('a').ok).toBe(true);
    const r = rl.take('a');
    expect(r).toEqual({ ok: false, retryAfterMs: 12_000, first: true });
    expect(rl.take('a')).toMatchObject({ ok: false, first: false });
    expect(rl.take('b').ok).toBe(true);
    now += 12_000;
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a')).toMatchObject({ ok: false, first: true });
  });

  it('never admits more than perMinute + elapsed refill, whatever the timing', () => {
    // Bursts (gaps of 0) among pauses; size 'max' because fast-check's default keeps arrays
    // under about ten, too few to empty a bucket of more than ten.
    const gap = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 }));
    let refusedBig = 0;
    let tight = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(gap, { maxLength: 300, size: 'max' }),
        (perMinute, gaps) => {
          let now = 0;
          const rl = new RateLimiter(perMinute, () => now);
          let admitted = 0;
          for (const g of gaps) {
            now += g;
            if (rl.take('k').ok) admitted++;
          }
          const bound = perMinute + Math.floor((now * perMinute) / 60_000);
          expect(admitted).toBeLessThanOrEqual(bound);
          if (perMinute > 10 && admitted < gaps.length) refusedBig++;
          if (admitted === bound) tight++;
        },
      ),
    );
    expect(refusedBig).toBeGreaterThan(10);
    expect(tight).toBeGreaterThan(10);
  });

  it('retryAfter is (to the millisecond) the shortest wait that works, also with part of a token refilled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        (perMinute, part) => {
          let now = 0;
          const rl = new RateLimiter(perMinute, () => now);
          for (let i = 0; i < perMinute; i++) rl.take('k');
          now += Math.floor((part * 60_000) / perMinute);
          const r = rl.take('k');
          if (r.ok) throw new Error('expected a refusal');
          // A twin limiter in the same state shows that a shorter wait is not enough (2 ms
          // shorter: rounding the float refill up may add one).
          let then = 0;
          const twin = new RateLimiter(perMinute, () => then);
          for (let i = 0; i < perMinute; i++) twin.take('k');
          then = now + r.retryAfterMs - 2;
          expect(twin.take('k').ok).toBe(false);
          now += r.retryAfterMs;
          expect(rl.take('k').ok).toBe(true);
        },
      ),
      // A float refill can fall short of one token by 1e-16 (as here, found by a uniform sweep,
      // which fast-check's biased draws rarely meet): waiting what was said must still be enough.
      { numRuns: 1000, examples: [[5, 0.22825928308979582]] },
    );
  });

  it('tells the truth about retryAfter, and flags only the first refusal of a streak', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 200 }), (perMinute, extra) => {
        let now = 0;
        const rl = new RateLimiter(perMinute, () => now);
        for (let i = 0; i < perMinute; i++) rl.take('k');
        const refusals = Array.from({ length: extra + 1 }, () => rl.take('k'));
        expect(refusals.filter((r) => !r.ok && r.first)).toHaveLength(1);
        const first = refusals[0]!;
        if (first.ok) throw new Error('expected a refusal');
        now += first.retryAfterMs;
        expect(rl.take('k').ok).toBe(true);
      }),
    );
  });
});
