import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { Api, GrammyError, HttpError, type ApiCallFn } from 'grammy';
import { silentLogger } from '../../../src/core/log.js';
import { JITTER_MARGIN_MS, limitTransformer, RateGate, type Limits } from '../../../src/transports/telegram/limits.js';
import { isTransient, Outbox, type OutboxJob } from '../../../src/transports/telegram/outbox.js';
import { FakeBotApi } from '../../fakes/botapi.js';

/** A write as Telegram would see it: method, chat, arrival time (fake clock). */
interface Write {
  readonly method: string;
  readonly chatId: number;
  readonly at: number;
}

/**
 * The real transformer over a recording "network": every write an outbox job (or a direct
 * reply) makes goes through the gate exactly as in the bot.
 */
function harness(
  limits: Limits,
  opts: {
    maxQueued?: number;
    concurrency?: number;
    fail?: (w: Write) => { code: number; retryAfter?: number } | undefined;
  } = {},
) {
  const gate = new RateGate(limits);
  const writes: Write[] = [];
  const prev = (async (method: string, payload: { chat_id: number }) => {
    const w = { method, chatId: payload.chat_id, at: Date.now() };
    const failure = opts.fail?.(w);
    if (failure)
      return {
        ok: false,
        error_code: failure.code,
        description: 'injected',
        ...(failure.retryAfter ? { parameters: { retry_after: failure.retryAfter } } : {}),
      };
    writes.push(w);
    return { ok: true, result: true };
  }) as unknown as ApiCallFn;
  const transform = limitTransformer(gate);
  const call = (method: string, chatId: number) => transform(prev, method as never, { chat_id: chatId } as never);
  const outbox = new Outbox({
    delay: (c) => gate.delay(c),
    log: silentLogger(),
    ...(opts.maxQueued !== undefined ? { maxQueued: opts.maxQueued } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
  });
  /** A job that sends one message (failing with a 429/5xx result as the fake network says). */
  const job = (chatId: number, priority: OutboxJob['priority'], what: string, key?: string): OutboxJob => ({
    chatId,
    priority,
    what,
    ...(key !== undefined ? { key } : {}),
    run: async () => {
      await send('sendMessage', chatId);
      sent.push({ chatId, what });
    },
  });
  /** A write that throws as grammY's Api does when Telegram says no. */
  const send = async (method: string, chatId: number): Promise<void> => {
    const res = await call(method, chatId);
    if (!res.ok) throw new GrammyError(`Call to '${method}' failed!`, res, method as never, { chat_id: chatId });
  };
  const sent: { chatId: number; what: string }[] = [];
  return { gate, writes, outbox, job, sent, call, send };
}

/** Most writes in any window of `span` ms that starts at a write. */
function most(times: readonly number[], span: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= span) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

const LIMITS: Limits = { globalPerSecond: 30, groupPerMinute: 20, privatePerSecond: 1 };

describe('Outbox', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('coalesces edits of one card while it waits: only the newest is sent', async () => {
    const h = harness(LIMITS);
    const card = (v: number): OutboxJob => ({
      chatId: 1,
      priority: 'card',
      key: 'card:1:a',
      what: 'card',
      run: async () => {
        await h.call('editMessageText', 1);
        h.sent.push({ chatId: 1, what: `v${v}` });
      },
    });
    h.outbox.enqueue(h.job(1, 'alert', 'first'));
    for (let i = 1; i <= 100; i++) h.outbox.enqueue(card(i));
    expect(h.outbox.queued).toBe(2);
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.sent.map((s) => s.what)).toEqual(['first', 'v100']);
    // A version that arrives while the previous one is being sent gets its own write.
    h.outbox.enqueue(card(101));
    await vi.advanceTimersByTimeAsync(0);
    h.outbox.enqueue(card(102));
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.sent.map((s) => s.what)).toEqual(['first', 'v100', 'v101', 'v102']);
  });

  it('sends alerts before card refreshes, one write at a time per chat', async () => {
    const h = harness(LIMITS);
    h.outbox.enqueue(h.job(1, 'card', 'card a', 'a'));
    h.outbox.enqueue(h.job(1, 'card', 'card b', 'b'));
    h.outbox.enqueue(h.job(1, 'topic', 'rename'));
    h.outbox.enqueue(h.job(1, 'alert', 'alert'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.sent.map((s) => s.what)).toEqual(['alert', 'rename', 'card a', 'card b']);
    // A private chat: one write per second (and the jitter margin).
    const gaps = h.writes.slice(1).map((w, i) => w.at - h.writes[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1000 + JITTER_MARGIN_MS);
  });

  it('keeps every chat and the whole bot within the limits (sliding windows), and loses no card', async () => {
    const chats = [1, 2, 3, 4, -100, -200];
    // Runs that reached the branches the property is about: a window filled up, a card coalesced.
    let full = 0;
    let coalesced = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            chat: fc.constantFrom(...chats),
            kind: fc.constantFrom('alert', 'card', 'direct'),
            key: fc.integer({ min: 0, max: 3 }),
            gap: fc.integer({ min: 0, max: 400 }),
          }),
          // fast-check's default size would keep the events under about ten: too few to fill a window.
          { minLength: 1, maxLength: 80, size: 'max' },
        ),
        fc.record({
          globalPerSecond: fc.integer({ min: 1, max: 8 }),
          groupPerMinute: fc.integer({ min: 3, max: 30 }),
          privatePerSecond: fc.integer({ min: 1, max: 3 }),
        }),
        async (events, limits) => {
          const h = harness(limits);
          const newest = new Map<string, number>();
          const delivered = new Map<string, number>();
          let cardEnqueues = 0;
          for (const [n, e] of events.entries()) {
            if (e.kind === 'direct') {
              void h.call('sendMessage', e.chat);
            } else if (e.kind === 'alert') {
              h.outbox.enqueue(h.job(e.chat, 'alert', `alert ${n}`));
            } else {
              const id = `${e.chat}:${e.key}`;
              newest.set(id, n);
              cardEnqueues++;
              h.outbox.enqueue({
                chatId: e.chat,
                priority: 'card',
                key: id,
                what: id,
                run: async () => {
                  const v = newest.get(id)!;
                  await h.call('editMessageText', e.chat);
                  delivered.set(id, v);
                },
              });
            }
            await vi.advanceTimersByTimeAsync(e.gap);
          }
          await vi.advanceTimersByTimeAsync(10 * 60_000);
          await h.outbox.idle();
          // Every card's last version arrived.
          expect(delivered).toEqual(newest);
          // Overall, every write waits its turn.
          const overall = most(
            h.writes.map((w) => w.at),
            1000,
          );
          expect(overall).toBeLessThanOrEqual(limits.globalPerSecond);
          if (overall === limits.globalPerSecond) full++;
          // Only card jobs edit; the order of writes, not their times, says which came first in one millisecond.
          const isCard = (w: Write) => w.method === 'editMessageText';
          if (h.writes.filter(isCard).length < cardEnqueues) coalesced++;
          for (const chat of chats) {
            const all = h.writes.filter((w) => w.chatId === chat);
            if (chat < 0)
              expect(
                most(
                  all.map((w) => w.at),
                  60_000,
                ),
              ).toBeLessThanOrEqual(limits.groupPerMinute);
            // In a private chat direct replies may burst; an automatic write never joins a full window
            // (a reply sent just after it, in the same millisecond, is not in the window it joined).
            else
              for (const [i, w] of all.entries())
                if (isCard(w))
                  expect(all.slice(0, i + 1).filter((x) => x.at > w.at - 1000).length).toBeLessThanOrEqual(
                    limits.privatePerSecond,
                  );
          }
        },
      ),
      {
        numRuns: 40,
        examples: [
          // A direct reply in the same millisecond as, and just after, a card edit (CI found it).
          [
            [
              { chat: 4, kind: 'alert', key: 0, gap: 1 },
              { chat: 4, kind: 'card', key: 0, gap: 0 },
              { chat: 4, kind: 'direct', key: 0, gap: 0 },
              { chat: 1, kind: 'alert', key: 0, gap: 0 },
            ],
            { globalPerSecond: 3, groupPerMinute: 3, privatePerSecond: 2 },
          ],
        ],
      },
    );
    expect(full).toBeGreaterThan(10);
    expect(coalesced).toBeGreaterThan(10);
  });

  it('direct replies in a private chat do not wait, but the outbox waits for them', async () => {
    const h = harness(LIMITS);
    await h.call('sendMessage', 1);
    await h.call('sendMessage', 1);
    expect(h.writes.map((w) => w.at)).toEqual([0, 0].map(() => h.writes[0]!.at));
    const start = Date.now();
    h.outbox.enqueue(h.job(1, 'alert', 'alert'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.writes[2]!.at - start).toBeGreaterThanOrEqual(1000 + JITTER_MARGIN_MS);
  });

  it('leaves room in a busy group for direct replies', async () => {
    const h = harness({ globalPerSecond: 0, groupPerMinute: 20, privatePerSecond: 0 });
    for (let i = 0; i < 30; i++) h.outbox.enqueue(h.job(-100, 'alert', `alert ${i}`));
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.writes).toHaveLength(18);
    const before = Date.now();
    await h.call('sendMessage', -100);
    expect(Date.now()).toBe(before);
    expect(h.writes).toHaveLength(19);
  });

  it('a 429 pauses that chat for retry_after; other chats go on; the job is retried', async () => {
    let failOnce = true;
    const h = harness(LIMITS, {
      fail: (w) => {
        if (w.chatId !== 1 || !failOnce) return undefined;
        failOnce = false;
        return { code: 429, retryAfter: 7 };
      },
    });
    h.outbox.enqueue(h.job(1, 'alert', 'paused'));
    await vi.advanceTimersByTimeAsync(100);
    const failedAt = Date.now();
    h.outbox.enqueue(h.job(1, 'alert', 'also paused'));
    h.outbox.enqueue(h.job(2, 'alert', 'other chat'));
    await vi.advanceTimersByTimeAsync(100);
    expect(h.sent.map((s) => s.what)).toEqual(['other chat']);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(h.sent.map((s) => s.what).sort()).toEqual(['also paused', 'other chat', 'paused']);
    for (const w of h.writes.filter((x) => x.chatId === 1)) expect(w.at - failedAt).toBeGreaterThanOrEqual(6900);
  });

  it('retries a failing card until it gets through, with its newest content', async () => {
    let fails = 5;
    let content = 'old';
    const h = harness(LIMITS, { fail: () => (fails-- > 0 ? { code: 502 } : undefined) });
    const card: OutboxJob = {
      chatId: 1,
      priority: 'card',
      key: 'k',
      what: 'card',
      run: async () => {
        await h.send('editMessageText', 1);
        h.sent.push({ chatId: 1, what: content });
      },
    };
    h.outbox.enqueue(card);
    await vi.advanceTimersByTimeAsync(3000);
    content = 'new';
    h.outbox.enqueue(card);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.sent.map((s) => s.what)).toEqual(['new']);
    expect(h.outbox.dropped).toBe(0);
  });

  it('is bounded: when full, the oldest alert goes and cards stay', async () => {
    const h = harness({ globalPerSecond: 1, groupPerMinute: 0, privatePerSecond: 0 }, { maxQueued: 5 });
    h.outbox.enqueue(h.job(1, 'card', 'card', 'c'));
    for (let i = 0; i < 10; i++) h.outbox.enqueue(h.job(1, 'alert', `alert ${i}`));
    expect(h.outbox.queued).toBe(5);
    expect(h.outbox.dropped).toBe(6);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sent.map((s) => s.what)).toEqual(['alert 6', 'alert 7', 'alert 8', 'alert 9', 'card']);
  });

  it('gives up at once on a failure that retrying cannot fix', async () => {
    const h = harness(LIMITS, { fail: (w) => (w.chatId === 1 ? { code: 400 } : undefined) });
    h.outbox.enqueue(h.job(1, 'card', 'bad card', 'k'));
    h.outbox.enqueue(h.job(1, 'alert', 'bad alert'));
    h.outbox.enqueue(h.job(2, 'alert', 'fine'));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sent.map((s) => s.what)).toEqual(['fine']);
    expect(h.outbox.dropped).toBe(2);
  });

  it('stop waits for queued writes, then takes no more', async () => {
    const h = harness(LIMITS);
    for (let i = 0; i < 3; i++) h.outbox.enqueue(h.job(i + 1, 'alert', `a${i}`));
    const stopped = h.outbox.stop(5000);
    await vi.advanceTimersByTimeAsync(5000);
    await stopped;
    expect(h.sent).toHaveLength(3);
    expect(h.outbox.enqueue(h.job(1, 'alert', 'late'))).toBe(false);
  });
});

describe('isTransient', () => {
  const apiError = (code: number) =>
    new GrammyError('no', { ok: false, error_code: code, description: 'no' }, 'sendMessage', {});

  it('retries what may pass (429, 5xx, the network) and nothing the API refused for good', () => {
    for (const code of [429, 500, 502, 503, 504]) expect(isTransient(apiError(code)), String(code)).toBe(true);
    for (const code of [400, 401, 403, 404, 409, 413]) expect(isTransient(apiError(code)), String(code)).toBe(false);
    expect(isTransient(new HttpError('Network request failed', new Error('ECONNRESET')))).toBe(true);
    expect(isTransient(new Error('a bug'))).toBe(false);
    expect(isTransient('a string')).toBe(false);
  });
});

/**
 * The outbox's failures as they really arrive: grammY's Api over HTTP against the fake Bot
 * API's injected faults, with the outbox's own idea of what is transient (real timers).
 */
describe('Outbox over the Bot API', () => {
  let fake: FakeBotApi;
  const CHAT = 42;

  beforeEach(async () => {
    fake = new FakeBotApi();
    await fake.start();
    fake.createUser({ id: CHAT, username: 'op' });
  });
  afterEach(async () => {
    await fake.stop();
  });

  function setup() {
    const gate = new RateGate(LIMITS);
    const api = new Api(fake.token, { apiRoot: fake.apiRoot });
    api.config.use(limitTransformer(gate));
    const outbox = new Outbox({ delay: (c) => gate.delay(c), log: silentLogger() });
    const alert = (text: string): OutboxJob => ({
      chatId: CHAT,
      priority: 'alert',
      what: text,
      run: async () => void (await api.sendMessage(CHAT, text)),
    });
    const texts = () => fake.messages(CHAT).map((m) => m.text);
    const calls = (method: string) => fake.calls.filter((c) => c.method === method);
    return { outbox, alert, api, texts, calls };
  }

  it('a 429 pauses the chat for retry_after, then the alert goes', async () => {
    const s = setup();
    fake.failNext('sendMessage', { code: 429, retryAfter: 2 });
    s.outbox.enqueue(s.alert('first'));
    s.outbox.enqueue(s.alert('second'));
    await s.outbox.idle();
    expect(s.texts()).toEqual(['first', 'second']);
    const [refused, ...rest] = s.calls('sendMessage');
    expect([refused!.status, ...rest.map((c) => c.status)]).toEqual([429, 200, 200]);
    // Nothing went to the chat while Telegram said to wait.
    for (const c of rest) expect(c.at - refused!.at).toBeGreaterThanOrEqual(2000);
    expect(s.outbox.dropped).toBe(0);
  });

  it('a card edit that meets 5xx and a dropped connection is retried until its newest state is shown', async () => {
    const s = setup();
    const { message_id } = await s.api.sendMessage(CHAT, 'v0');
    let version = 1;
    const card: OutboxJob = {
      chatId: CHAT,
      priority: 'card',
      key: 'card',
      what: 'card',
      run: async () => void (await s.api.editMessageText(CHAT, message_id, `v${version}`)),
    };
    fake.failNext('editMessageText', { code: 502 });
    fake.failNext('editMessageText', { drop: true });
    s.outbox.enqueue(card);
    await fake.waitFor(() => s.calls('editMessageText').length >= 2, 10_000, 'two failed edits');
    version = 2;
    s.outbox.enqueue(card);
    await s.outbox.idle();
    expect(fake.message(CHAT, message_id)?.text).toBe('v2');
    expect(s.calls('editMessageText').map((c) => c.status)).toEqual([502, 0, 200]);
    expect(s.outbox.dropped).toBe(0);
  });

  it('an alert the API refuses for good (400) is given up without a retry', async () => {
    const s = setup();
    fake.failNext('sendMessage', { code: 400, description: 'Bad Request: chat not found' });
    s.outbox.enqueue(s.alert('lost'));
    s.outbox.enqueue(s.alert('kept'));
    await s.outbox.idle();
    expect(s.texts()).toEqual(['kept']);
    expect(s.calls('sendMessage').map((c) => c.status)).toEqual([400, 200]);
    expect(s.outbox.dropped).toBe(1);
  });
});
