import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ActionContext } from '../../src/core/action.js';
import { UsageError } from '../../src/core/commands.js';
import type { Principal } from '../../src/core/policy.js';
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
import { tmux } from '../../src/targets/tmux/module.js';
import { testApp, type TestApp } from '../support/app.js';

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

let t: TestApp | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.close();
  t = undefined;
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

  it('shows who started it for how long, that nothing came yet, and a Stop button, under a key of its own', () => {
    const { follows } = setup();
    const a = follows.start(spec(held().source));
    const b = follows.start(spec(held().source, 90_000));
    const id = String(a.buttons![0]![0]!.params.id);
    expect(plainText(a).split('\n')).toEqual(['', '🔴 live · for up to 5m · started by @alice', '(no output yet)']);
    expect(plainText(b)).toContain('🔴 live · for up to 1m · started by @alice');
    expect(a.buttons).toEqual([[{ label: '⏹ Stop', action: 'demo.follow-stop', params: { id } }]]);
    // Transports edit a card by its key: one per follow, named after its target.
    expect(a.card.key).toBe(`demo:follow:${id}`);
    expect(b.card.key).not.toBe(a.card.key);
    follows.stopAll('done');
  });

  it('shows lines handed together as lines, and a view that went blank as no output', async () => {
    vi.useFakeTimers();
    const { follows, cards } = setup();
    const { got, source } = held();
    follows.start(spec(source));
    await vi.advanceTimersByTimeAsync(0);
    got.feed!.append(['one', 'two']);
    got.feed!.append([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(plainText(cards.at(-1)!).split('\n').slice(2)).toEqual(['one', 'two']);
    got.feed!.replace([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(plainText(cards.at(-1)!).split('\n').slice(2)).toEqual(['(no output yet)']);
    follows.stopAll('done');
  });

  it('after its end, takes no more lines from a source that goes on feeding, and schedules nothing', async () => {
    vi.useFakeTimers();
    const { follows, cards } = setup();
    let feed: FollowFeed | undefined;
    // A source that ignores its signal.
    const card = follows.start(spec((f) => ((feed = f), new Promise<string>(() => undefined))));
    await vi.advanceTimersByTimeAsync(0);
    const last = follows.stop(String(card.buttons![0]![0]!.params.id), '@bob')!;
    expect(plainText(last).split('\n')[1]).toMatch(/^⏹ ended: stopped by @bob · after 0s$/);
    feed!.append(['late']);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(cards).toEqual([last]);
  });

  it('sends no more cards to a listener that unsubscribed', async () => {
    vi.useFakeTimers();
    const follows = new Follows({ target: 'demo', redact: (s) => s });
    const seen: Result[] = [];
    const off = follows.onCard((c) => seen.push(c));
    const { got, source } = held();
    follows.start(spec(source));
    await vi.advanceTimersByTimeAsync(0);
    got.feed!.append(['a']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toHaveLength(1);
    off();
    got.feed!.append(['b']);
    await vi.advanceTimersByTimeAsync(1000);
    follows.stopAll('done');
    expect(seen).toHaveLength(1);
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

describe('the Stop button through the dispatcher', () => {
  const viewerInGroup: Principal = { transport: 'tg', userId: 30, chatId: -100, chatKind: 'group' };
  const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private' };

  it('reaches a viewer in a chat scoped to some sessions, audited as that follow; never the LLM', async () => {
    // The real tmux target's Stop (creating it starts no tmux); no follow runs, so pressing it says so.
    t = await testApp({ SCOPES: '-100=tmux:^ci-' }, [tmux]);
    const id = 'abcdef012345';
    expect(await t.app.dispatcher.dispatch(op, 'ai', 'tmux.follow-stop', { id })).toEqual({
      kind: 'refused',
      message: 'tmux.follow-stop is not available to the LLM agent.',
    });
    const o = await t.app.dispatcher.dispatch(viewerInGroup, 'button', 'tmux.follow-stop', { id });
    expect(o).toMatchObject({ kind: 'failed', message: expect.stringContaining('this follow has already ended') });
    expect(t.app.audit.recent(1)[0]).toMatchObject({
      action: 'tmux.follow-stop',
      target: `follow ${id}`,
      outcome: 'failed',
    });
  });
});

describe('follow arguments', () => {
  it('takes a name, then optionally "for <duration>" or a bare duration', () => {
    // Strict: a key present as undefined is not "not given" to what reads the params next.
    expect(parseFollowArgs('container', [])).toStrictEqual({});
    expect(parseFollowArgs('container', ['web'])).toStrictEqual({ container: 'web' });
    expect(parseFollowArgs('container', ['web', 'for', '10m'])).toStrictEqual({ container: 'web', for: '10m' });
    expect(parseFollowArgs('target', ['s', '90s'])).toStrictEqual({ target: 's', for: '90s' });
    for (const bad of [
      ['web', 'for'],
      ['web', 'for', '1m', 'x'],
      ['web', '1m', '2m'],
    ])
      expect(() => parseFollowArgs('container', bad), bad.join(' ')).toThrow(
        new UsageError('after the name, only "for <duration>" (e.g. for 10m)'),
      );
  });

  it('caps the duration at 30 minutes and defaults to five', () => {
    expect(followFor.safeParse('1s').success).toBe(true);
    expect(followFor.safeParse('30m').success).toBe(true);
    expect(followFor.safeParse('31m').success).toBe(false);
    expect(followFor.safeParse('2h').success).toBe(false);
    expect(followFor.safeParse('0s').success).toBe(false);
    expect(followFor.safeParse('soon').success).toBe(false);
    expect(Follows.duration(undefined)).toBe(FOLLOW_DEFAULT_MS);
    expect(Follows.duration('90s')).toBe(90_000);
  });
});
