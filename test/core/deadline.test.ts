import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { DeadlineError, withDeadline } from '../../src/core/deadline.js';

/** A call that honours its signal: rejects with the signal's reason when it fires. */
const honouring = (signal: AbortSignal, settleAt?: number): Promise<string> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    if (settleAt !== undefined) setTimeout(() => resolve('done'), settleAt);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

describe('withDeadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes the answer of a call that settles in time, and leaves no timer behind', async () => {
    await expect(withDeadline('ping', 1000, async () => 42)).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes on a failure of the call itself, and leaves no timer behind', async () => {
    const refused = withDeadline('ping', 1000, async () => Promise.reject(new Error('refused')));
    await expect(refused).rejects.toThrow(/^refused$/);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with an error naming what timed out, even when the call ignores its signal', async () => {
    let seen: AbortSignal | undefined;
    const p = withDeadline('Docker list containers', 2500, (signal) => {
      seen = signal;
      return new Promise<never>(() => undefined);
    });
    const settled = expect(p).rejects.toThrow(/^Docker list containers timed out after 2\.5s$/);
    await vi.advanceTimersByTimeAsync(2500);
    await settled;
    await expect(p).rejects.toBeInstanceOf(DeadlineError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(DeadlineError);
  });

  it('says milliseconds below a second', () => {
    expect(new DeadlineError('health check', 300).message).toBe('health check timed out after 300 ms');
    expect(new DeadlineError('x', 2000).message).toBe('x timed out after 2s');
  });

  it("keeps following the caller's signal after the call, with its timer gone", async () => {
    const caller = new AbortController();
    let seen: AbortSignal | undefined;
    await withDeadline('open stream', 1000, async (signal) => (seen = signal), caller.signal);
    await vi.advanceTimersByTimeAsync(5000);
    expect(seen?.aborted).toBe(false);
    const reason = new Error('operator cancelled');
    caller.abort(reason);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(reason);
  });

  it('hands an already aborted caller signal to the call as aborted', async () => {
    const caller = new AbortController();
    caller.abort(new Error('gone'));
    await expect(withDeadline('x', 1000, (signal) => honouring(signal), caller.signal)).rejects.toThrow(/^gone$/);
  });

  it('composes: whichever comes first of the answer, the caller abort and the deadline decides', async () => {
    const seen = { done: 0, caller: 0, deadline: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10_000 }),
        fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
        async (ms, settleAt, abortAt) => {
          const times = [ms, settleAt, abortAt].filter((t) => t !== undefined);
          fc.pre(new Set(times).size === times.length);
          const caller = new AbortController();
          const reason = new Error('caller');
          if (abortAt !== undefined) setTimeout(() => caller.abort(reason), abortAt);
          const outcome = withDeadline('call', ms, (signal) => honouring(signal, settleAt), caller.signal).then(
            (v) => v,
            (e: unknown) => e,
          );
          await vi.advanceTimersByTimeAsync(10_001);
          const first = Math.min(...times);
          const got = await outcome;
          if (first === settleAt) {
            seen.done++;
            expect(got).toBe('done');
          } else if (first === abortAt) {
            seen.caller++;
            expect(got).toBe(reason);
          } else {
            seen.deadline++;
            expect(got).toBeInstanceOf(DeadlineError);
          }
          vi.clearAllTimers();
        },
      ),
      { numRuns: 200 },
    );
    expect(seen.done).toBeGreaterThan(0);
    expect(seen.caller).toBeGreaterThan(0);
    expect(seen.deadline).toBeGreaterThan(0);
  });
});
