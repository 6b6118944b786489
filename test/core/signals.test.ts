import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { withDeadline } from '../../src/core/deadline.js';
import { anySignal, followers } from '../../src/core/signals.js';
import { nodeDependants } from '../support/node-signals.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until FinalizationRegistry callbacks have had their turn (a few rounds at most). */
async function collect(settled: () => boolean): Promise<void> {
  for (let round = 0; round < 20 && !settled(); round++) {
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

const CALLS = 2_000;

describe('anySignal', () => {
  it('aborts with the reason of whichever source aborts first', () => {
    const a = new AbortController();
    const b = new AbortController();
    const s = anySignal([a.signal, b.signal]);
    const reason = new Error('b went');
    b.abort(reason);
    a.abort(new Error('a went later'));
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe(reason);
  });

  it('is aborted from the start when a source already is', () => {
    const a = new AbortController();
    a.abort('gone');
    const s = anySignal([new AbortController().signal, a.signal]);
    expect(s.aborted).toBe(true);
    expect(s.reason).toBe('gone');
  });

  it('follows through a signal it made, even once that one is no longer held', async () => {
    const root = new AbortController();
    const outer = anySignal([anySignal([root.signal]), new AbortController().signal]);
    await collect(() => false);
    root.abort('shutting down');
    expect(outer.aborted).toBe(true);
    expect(outer.reason).toBe('shutting down');
  });

  it('aborts the followers still held when collected ones have not yet left the set', async () => {
    const root = new AbortController();
    const kept = anySignal([root.signal]);
    for (let i = 0; i < 100; i++) anySignal([root.signal]);
    // A later task than the one that made them, so that a collection can take them now.
    await new Promise((r) => setImmediate(r));
    const thrown: unknown[] = [];
    const onError = (e: unknown): number => thrown.push(e);
    process.on('uncaughtException', onError);
    try {
      gc();
      // Before the registry's callbacks run: the set still holds refs whose signal is gone.
      root.abort('now');
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(thrown).toEqual([]);
    expect(kept.reason).toBe('now');
  });

  it('counts no followers for a signal nothing follows', () => {
    expect(followers(new AbortController().signal)).toBe(0);
  });

  it('lets go of followers that aborted, at once', () => {
    const root = new AbortController();
    for (let i = 0; i < CALLS; i++) {
      const own = new AbortController();
      anySignal([root.signal, own.signal]);
      own.abort();
    }
    expect(followers(root.signal)).toBe(0);
  });
});

describe('withDeadline on a long-lived signal', () => {
  it(`keeps nothing per call once ${CALLS} calls are done and forgotten`, async () => {
    const shutdown = new AbortController();
    for (let i = 0; i < CALLS; i++) await withDeadline('ping', 60_000, async () => i, shutdown.signal);
    expect(nodeDependants(shutdown.signal)).toBe(0);
    await collect(() => followers(shutdown.signal) === 0);
    expect(followers(shutdown.signal)).toBe(0);
  });

  it('still aborts the signals of calls that are held, and only those are kept', async () => {
    const shutdown = new AbortController();
    const held: AbortSignal[] = [];
    for (let i = 0; i < CALLS; i++)
      await withDeadline('open stream', 60_000, async (s) => (i % 1000 === 0 ? held.push(s) : 0), shutdown.signal);
    await collect(() => followers(shutdown.signal) === held.length);
    expect(followers(shutdown.signal)).toBe(held.length);
    shutdown.abort(new Error('shutting down'));
    expect(held.every((s) => s.aborted)).toBe(true);
    expect(followers(shutdown.signal)).toBe(0);
  });
});
