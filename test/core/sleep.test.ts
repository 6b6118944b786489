import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../../src/core/sleep.js';

afterEach(() => vi.useRealTimers());

/** Whether `p` has settled, after the microtasks queued so far. */
async function settled(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('sleep', () => {
  it('waits the time given, then lets go of the signal', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ac = new AbortController();
    const p = sleep(1000, ac.signal);
    vi.advanceTimersByTime(999);
    expect(await settled(p)).toBe(false);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(await settled(p)).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('ends early when the signal aborts, and clears its timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    expect(await settled(p)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not wait at all on a signal already aborted', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = sleep(60_000, AbortSignal.abort());
    expect(await settled(p)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
