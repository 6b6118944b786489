import { HttpError, type Transformer } from 'grammy';
import { sleep } from '../../core/sleep.js';

export interface CallDeadlines {
  /** How long a long poll waits at Telegram (getUpdates' `timeout`). */
  readonly pollS: number;
  /** How long any call may go unanswered (a long poll: beyond its own wait). */
  readonly answerS: number;
}

/**
 * Abandons a Bot API call that gets no answer in time — a half-open connection, a proxy that
 * holds the request, a server slower than the poll — as a network failure, so that auto-retry
 * tries again instead of the bot waiting minutes (grammY's own limit is 500 s per call).
 * Installed first, it bounds each attempt, not the retries together.
 */
export function deadlineTransformer(d: CallDeadlines): Transformer {
  return async (prev, method, payload, signal) => {
    const seconds = method === 'getUpdates' ? d.pollS + d.answerS : d.answerS;
    const abort = new AbortController();
    const forward = (): void => abort.abort();
    if (signal?.aborted) abort.abort();
    else signal?.addEventListener('abort', forward);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new HttpError(`Network request for '${method}' failed!`, new Error(`no answer within ${seconds} s`)));
        abort.abort();
      }, seconds * 1000);
    });
    try {
      // grammY types its signal as the abort-controller package's; it only listens to it.
      const linked = abort.signal as Parameters<typeof prev>[2];
      return await Promise.race([prev(method, payload, linked), expired]);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
  };
}

/**
 * Retries a call that got no answer at all (a network failure, a missed deadline) for as long
 * as nobody aborts it, waiting `initialMs` doubled up to `maxMs` between tries. Auto-retry's own
 * backoff doubles up to an hour: after a long outage the bot stayed silent about as long again.
 * Telegram has no idempotency key: a send whose answer was lost after Telegram took it shows
 * once more for each answer lost (an edit sent again is only "not modified"). A duplicate is
 * chosen over a reply that never comes.
 */
export function networkRetryTransformer(o: { readonly initialMs: number; readonly maxMs: number }): Transformer {
  return async (prev, method, payload, signal) => {
    for (let delay = o.initialMs; ; delay = Math.min(delay * 2, o.maxMs)) {
      try {
        return await prev(method, payload, signal);
      } catch (err) {
        if (!(err instanceof HttpError) || signal?.aborted) throw err;
        // grammY's signal is the abort-controller package's; sleep only listens to it.
        if (signal) await sleep(delay, signal as unknown as AbortSignal);
        else await new Promise((r) => setTimeout(r, delay));
        if (signal?.aborted) throw err;
      }
    }
  };
}
