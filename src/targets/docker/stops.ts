/**
 * Containers that teleops itself is stopping or restarting, so that the event watcher
 * does not report their `die` as a crash. Entries expire: a stop that never produced a
 * `die` must not hide a real crash later.
 */
export interface ExpectedStops {
  /** Called just before asking the Engine to stop or restart `id`. */
  expect(id: string): void;
  /** Called when that request failed, so nothing is expected after all. */
  forget(id: string): void;
  /** True (once) if a stop of `id` was expected within the window. */
  consume(id: string): boolean;
}

export function createExpectedStops(opts: { windowMs?: number; clock?: () => number } = {}): ExpectedStops {
  const windowMs = opts.windowMs ?? 60_000;
  const clock = opts.clock ?? Date.now;
  const until = new Map<string, number>();
  const prune = (now: number): void => {
    for (const [id, t] of until) if (t < now) until.delete(id);
  };
  return {
    expect(id) {
      const now = clock();
      prune(now);
      until.set(id, now + windowMs);
    },
    forget(id) {
      until.delete(id);
    },
    consume(id) {
      const now = clock();
      prune(now);
      return until.delete(id);
    },
  };
}
