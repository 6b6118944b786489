import { HttpError, type Transformer } from 'grammy';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadlineTransformer, networkRetryTransformer } from '../../../src/transports/telegram/deadline.js';

type Prev = Parameters<Transformer>[0];
const OK = { ok: true as const, result: true };
const networkError = () => new HttpError("Network request for 'getUpdates' failed!", new Error('ECONNRESET'));

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('networkRetryTransformer', () => {
  it('retries a call that got no answer, waiting 1 s doubled up to the cap, never longer', async () => {
    let calls = 0;
    const prev = (async () => {
      if (++calls <= 12) throw networkError();
      return OK;
    }) as unknown as Prev;
    const p = networkRetryTransformer({ initialMs: 1000, maxMs: 30_000 })(prev, 'getUpdates', {} as never);
    // 1 + 2 + 4 + 8 + 16 s, then 30 s seven times (auto-retry alone would wait 3 · (2^12 − 1) s).
    await vi.advanceTimersByTimeAsync(240_999);
    expect(calls).toBe(12);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toEqual(OK);
    expect(calls).toBe(13);
  });

  it('hands on an answer that is an error, and stops when the call is aborted', async () => {
    const refused = { ok: false as const, error_code: 400, description: 'Bad Request' };
    const answered = (async () => refused) as unknown as Prev;
    const t = networkRetryTransformer({ initialMs: 1000, maxMs: 30_000 });
    await expect(t(answered, 'sendMessage', {} as never)).resolves.toEqual(refused);
    const ac = new AbortController();
    let calls = 0;
    const failing = (async () => {
      calls++;
      throw networkError();
    }) as unknown as Prev;
    const p = t(failing, 'getUpdates', {} as never, ac.signal as never);
    const settled = expect(p).rejects.toBeInstanceOf(HttpError);
    await vi.advanceTimersByTimeAsync(1000);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    await settled;
    expect(calls).toBe(2);
  });
});

describe('deadlineTransformer', () => {
  it('abandons a call without an answer as a network failure; a long poll gets its wait on top', async () => {
    const hung = (() => new Promise(() => undefined)) as unknown as Prev;
    const t = deadlineTransformer({ pollS: 30, answerS: 5 });
    const send = t(hung, 'sendMessage', {} as never);
    const sent = expect(send).rejects.toThrow(HttpError);
    const poll = t(hung, 'getUpdates', {} as never);
    let polled = false;
    poll.catch(() => (polled = true));
    await vi.advanceTimersByTimeAsync(5000);
    await sent;
    await expect(send.catch((e: HttpError) => (e.error as Error).message)).resolves.toBe('no answer within 5 s');
    expect(polled).toBe(false);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(polled).toBe(true);
  });
});
