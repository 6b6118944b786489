import { anySignal } from './signals.js';

/** A call that ran out of time: names what it was and how long it had. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';

  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} timed out after ${ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(1)}s`}`);
  }
}

/**
 * Runs `fn` with a signal that aborts when the caller's `signal` does, or after `ms` with a
 * DeadlineError. Out of time, it rejects with that error at once, even if `fn` ignores its
 * signal; a caller's abort is left to `fn`, which knows how to stop cleanly. The timer is
 * cleared as soon as `fn` settles, while the signal goes on following the caller's: a stream
 * opened under the deadline stays cancellable after it.
 */
export async function withDeadline<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DeadlineError(what, ms);
      // Rejected before aborting, so that the race settles on this error rather than on
      // whatever `fn` throws when its signal fires.
      reject(err);
      ctl.abort(err);
    }, ms);
    // The call being waited for keeps the process alive if it needs to; its deadline never should.
    timer.unref();
  });
  try {
    return await Promise.race([fn(signal ? anySignal([signal, ctl.signal]) : ctl.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
