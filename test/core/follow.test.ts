import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ActionContext } from '../../src/core/action.js';
import { UsageError } from '../../src/core/commands.js';
import {
  FOLLOW_DEFAULT_MS,
  FOLLOW_LINE_MAX,
  FOLLOW_LINES,
  followFor,
  Follows,
  parseFollowArgs,
  type FollowFeed,
} from '../../src/core/follow.js';
import { createRedactor } from '../../src/core/redact.js';
import { plainText, type Result } from '../../src/core/result.js';

const SECRET = 'follow-secret-9f8e7d6c5b4a';

function setup(maxActive?: number) {
  const follows = new Follows({
    target: 'demo',
    redact: createRedactor([SECRET]).redact,
    ...(maxActive !== undefined ? { maxActive } : {}),
  });
  const cards: Result[] = [];
  follows.onCard((c) => cards.push(c));
  return { follows, cards };
}

/** A source that hands its feed and signal to the test and runs until aborted. */
function held() {
  const got: { feed?: FollowFeed; signal?: AbortSignal } = {};
  const source = (feed: FollowFeed, signal: AbortSignal): Promise<string> => {
    got.feed = feed;
    got.signal = signal;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted')));
  };
  return { got, source };
}

const spec = (source: (feed: FollowFeed, signal: AbortSignal) => Promise<string>, durationMs = FOLLOW_DEFAULT_MS) => ({
  heading: [],
  title: 'demo',
  durationMs,
  by: '@alice',
  source,
});

const ctx = (display: string): ActionContext => ({
  operator: { userId: 2, chatId: 2, role: 'viewer', display },
  origin: 'button',
  signal: new AbortController().signal,
  chat: { get: () => undefined, set: () => undefined },
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Follows', () => {
  it('ends by itself after the default five minutes, aborting the source, with a last card saying so', async () => {
    vi.useFakeTimers();
    const { follows, cards } = setup();
    const { got, source } = held();
    const first = follows.start(spec(source));
    expect(first.card.final).toBe(false);
    expect(first.buttons?.flat().map((b) => b.action)).toEqual(['demo.follow-stop']);
    await vi.advanceTimersByTimeAsync(0);
    expect(got.signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(FOLLOW_DEFAULT_MS - 1000);
    expect(cards.filter((c) => c.card?.final)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(got.signal?.aborted).toBe(true);
    const last = cards.at(-1)!;
    expect(last.card).toMatchObject({ key: first.card.key, final: true });
    expect(plainText(last)).toContain('ended: time up (5m) · after 5m');
    expect(last.buttons).toBeUndefined();
  });

  it('keeps only the last lines however many arrive, in one card edited at most once a second', async () => {
    vi.useFakeTimers();
    const { follows, cards } = setup();
    const { got, source } = held();
    follows.start(spec(source));
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 1; i <= 10_000; i++) got.feed!.append([`line ${i}`]);
    expect(cards).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(cards).toHaveLength(1);
    const shown = plainText(cards[0]!)
      .split('\n')
      .filter((l) => l.startsWith('line '));
    expect(shown).toEqual(Array.from({ length: FOLLOW_LINES }, (_, i) => `line ${10_000 - FOLLOW_LINES + 1 + i}`));
    got.feed!.replace(['fresh view']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(plainText(cards.at(-1)!)).toContain('fresh view');
    expect(plainText(cards.at(-1)!)).not.toContain('line 10000');
  });

  it('redacts a line before cutting it, so no piece of a secret straddling the cut is shown', async () => {
    const { follows } = setup();
    let straddled = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: FOLLOW_LINE_MAX + 10 }), fc.boolean(), async (pad, append) => {
        const { got, source } = held();
        const card = follows.start(spec(source));
        await new Promise((r) => setImmediate(r));
        const l = `${'x'.repeat(pad)}${SECRET} tail`;
        if (pad < FOLLOW_LINE_MAX && pad + SECRET.length > FOLLOW_LINE_MAX) straddled++;
        if (append) got.feed!.append([l]);
        else got.feed!.replace(['before', l]);
        const last = follows.stop(String(card.buttons![0]![0]!.params.id), '@bob')!;
        expect(plainText(last)).not.toContain(SECRET.slice(0, 4));
        expect(plainText(last)).toContain('x'.repeat(Math.min(pad, FOLLOW_LINE_MAX - 12)));
      }),
      { numRuns: 150 },
    );
    expect(straddled).toBeGreaterThan(0);
  });

  it('the Stop action ends the follow and names who stopped it; a second press says it has ended', async () => {
    const { follows, cards } = setup();
    const { got, source } = held();
    const first = follows.start(spec(source));
    const id = first.buttons![0]![0]!.params.id;
    const last = await follows.stopAction.run(ctx('@bob'), follows.stopAction.params.parse({ id }));
    expect(last.card).toMatchObject({ key: first.card.key, final: true });
    expect(plainText(last)).toMatch(/ended: stopped by @bob · after/);
    // The value span keeps the person's name from becoming a mention.
    expect(last.blocks[1]).toMatchObject({ spans: expect.arrayContaining([{ kind: 'value', text: '@bob' }]) });
    await new Promise((r) => setImmediate(r));
    expect(got.signal?.aborted).toBe(true);
    expect(cards.at(-1)).toBe(last);
    await expect(follows.stopAction.run(ctx('@bob'), { id })).rejects.toThrow(/already ended/);
    expect(() => follows.stopAction.params.parse({ id: '../x' })).toThrow();
  });

  it('says why a source ended or failed, and stops everything when teleops stops', async () => {
    const { follows, cards } = setup();
    follows.start(spec(async () => 'container exited with code 3'));
    follows.start(
      spec(async () => {
        throw new Error('socket hang up /var/run/secret-path');
      }),
    );
    const { got, source } = held();
    follows.start(spec(source));
    await new Promise((r) => setImmediate(r));
    const texts = cards.filter((c) => c.card?.final).map(plainText);
    expect(texts.some((t) => t.includes('ended: container exited with code 3'))).toBe(true);
    // An unexpected error is not shown as is (it may hold paths or secrets).
    expect(texts.some((t) => t.includes('ended: failed: internal error'))).toBe(true);
    follows.stopAll('teleops stopped');
    expect(got.signal?.aborted).toBe(true);
    expect(plainText(cards.at(-1)!)).toContain('ended: teleops stopped');
  });

  it('refuses one follow more than the bound', () => {
    const { follows } = setup(2);
    follows.start(spec(held().source));
    follows.start(spec(held().source));
    expect(() => follows.start(spec(held().source))).toThrow(/2 live follows are running already/);
    follows.stopAll('done');
    expect(() => follows.start(spec(held().source))).not.toThrow();
    follows.stopAll('done');
  });
});

describe('follow arguments', () => {
  it('takes a name, then optionally "for <duration>" or a bare duration', () => {
    expect(parseFollowArgs('container', ['web'])).toEqual({ container: 'web' });
    expect(parseFollowArgs('container', ['web', 'for', '10m'])).toEqual({ container: 'web', for: '10m' });
    expect(parseFollowArgs('target', ['s', '90s'])).toEqual({ target: 's', for: '90s' });
    expect(() => parseFollowArgs('container', ['web', 'for'])).toThrow(UsageError);
    expect(() => parseFollowArgs('container', ['web', 'for', '1m', 'x'])).toThrow(UsageError);
  });

  it('caps the duration at 30 minutes and defaults to five', () => {
    expect(followFor.safeParse('30m').success).toBe(true);
    expect(followFor.safeParse('31m').success).toBe(false);
    expect(followFor.safeParse('2h').success).toBe(false);
    expect(followFor.safeParse('0s').success).toBe(false);
    expect(followFor.safeParse('soon').success).toBe(false);
    expect(Follows.duration(undefined)).toBe(FOLLOW_DEFAULT_MS);
    expect(Follows.duration('90s')).toBe(90_000);
  });
});
