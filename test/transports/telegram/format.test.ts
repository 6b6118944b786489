import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { MessageEntity } from 'grammy/types';
import { createRedactor } from '../../../src/core/redact.js';
import { bold, line, pre, text, value, type Block, type Span } from '../../../src/core/result.js';
import {
  NO_OUTPUT,
  OVERFLOW_NOTE,
  SPLIT_AT,
  TELEGRAM_TEXT_LIMIT,
  cutPoints,
  renderResult,
  splitPlain,
  type TelegramText,
} from '../../../src/transports/telegram/format.js';

const SECRET = 'Tk9-very-secret-value';
const { redact } = createRedactor([SECRET]);
const identity = (s: string): string => s;

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;
const isBlank = (s: string): boolean => s.trim() === '';
/** Splits a surrogate pair between index i-1 and i. */
const splitsPair = (s: string, i: number): boolean =>
  i > 0 && i < s.length && isHigh(s.charCodeAt(i - 1)) && isLow(s.charCodeAt(i));
const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

type Style = 'plain' | 'bold' | 'code' | 'pre';

/** Independent model of the rendering: the whole text and the style each character must have. */
function model(blocks: readonly Block[], red: (s: string) => string): { text: string; style: Style[] } {
  let t = '';
  const style: Style[] = [];
  const add = (s: string, st: Style): void => {
    const r = toWellFormed(red(s));
    t += r;
    for (let i = 0; i < r.length; i++) style.push(st);
  };
  blocks.forEach((b, i) => {
    if (i > 0) add('\n', 'plain');
    if (b.kind === 'pre') add(b.text, 'pre');
    else for (const s of b.spans) add(s.text, s.kind === 'text' ? 'plain' : s.kind === 'bold' ? 'bold' : 'code');
  });
  return { text: t, style };
}

function expectValidMessage(m: TelegramText): void {
  expect(m.text.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
  expect(isBlank(m.text)).toBe(false);
  for (const e of m.entities) {
    expect(['bold', 'code', 'pre']).toContain(e.type);
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.length).toBeGreaterThan(0);
    expect(e.offset + e.length).toBeLessThanOrEqual(m.text.length);
    expect(splitsPair(m.text, e.offset) || splitsPair(m.text, e.offset + e.length)).toBe(false);
  }
}

/** Every character of `m` (taken from `whole` at `start`) carries exactly the entity its span asks for. */
function expectStyles(m: TelegramText, style: readonly Style[], start: number, count = m.text.length): void {
  const got: (MessageEntity['type'] | 'overlap' | undefined)[] = new Array(m.text.length).fill(undefined);
  for (const e of m.entities)
    for (let i = e.offset; i < e.offset + e.length; i++) got[i] = got[i] === undefined ? e.type : 'overlap';
  let firstBad = -1;
  for (let i = 0; i < count && firstBad === -1; i++) {
    const want = style[start + i]!;
    if (got[i] !== (want === 'plain' ? undefined : want)) firstBad = i;
  }
  expect(firstBad === -1 ? 'ok' : `char ${firstBad}: got ${got[firstBad]}, want ${style[start + firstBad]}`).toBe('ok');
}

const hostile = fc.constantFrom(
  '@user',
  'http://x',
  'https://evil.example/a?b=c',
  '#tag',
  '/cmd',
  '/start@bot',
  'mail@example.com',
  '+1 555 0100',
  '*b* _i_ `c` <b>x</b>',
  SECRET,
);
const unit = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom('\n', ' ', '😀', '👩‍👩‍👧', '中', '\t', '\r\n') },
  { weight: 1, arbitrary: hostile.map((h) => ` ${h} `) },
);
const shortText = fc.string({ unit, maxLength: 40 });
/** Long texts, cheaply: a random piece repeated, with or without newlines and blanks. */
const longText = fc
  .tuple(
    fc.string({ unit, minLength: 1, maxLength: 30 }),
    fc.integer({ min: 50, max: 2500 }),
    fc.constantFrom('', '\n', ' ', '\n\n\n'),
  )
  .map(([piece, n, sep]) =>
    Array.from({ length: n }, () => piece)
      .join(sep)
      .slice(0, 50_000),
  );
const anyText = fc.oneof({ weight: 4, arbitrary: shortText }, { weight: 1, arbitrary: longText });

const span: fc.Arbitrary<Span> = fc.oneof(
  shortText.map(text),
  shortText.map(bold),
  anyText.map(value),
  hostile.map(value),
);
const block: fc.Arbitrary<Block> = fc.oneof(
  fc.array(span, { maxLength: 5 }).map((s) => line(...s)),
  anyText.map(pre),
);
const blocks = fc.array(block, { maxLength: 6 });

describe('renderResult', () => {
  it('splits any result into valid messages that reassemble exactly, with untrusted text always in code/pre', () => {
    fc.assert(
      fc.property(blocks, fc.integer({ min: 1, max: 20 }), (bs, maxMessages) => {
        const out = renderResult({ blocks: bs }, redact, { maxMessages });
        const whole = model(bs, redact);
        if (isBlank(whole.text)) {
          expect(out).toEqual({ messages: [{ text: NO_OUTPUT, entities: [] }] });
          return;
        }
        const ranges = cutPoints(whole.text, SPLIT_AT);
        // The split: ordered non-blank slices, with only whitespace between and around them.
        let prev = 0;
        for (const { start, end } of ranges) {
          expect(start).toBeGreaterThanOrEqual(prev);
          expect(isBlank(whole.text.slice(prev, start))).toBe(true);
          expect(end - start).toBeLessThanOrEqual(SPLIT_AT);
          expect(splitsPair(whole.text, start) || splitsPair(whole.text, end)).toBe(false);
          prev = end;
        }
        expect(isBlank(whole.text.slice(prev))).toBe(true);

        if ('messages' in out) {
          expect(out.messages.length).toBe(ranges.length);
          expect(out.messages.length).toBeLessThanOrEqual(maxMessages);
          out.messages.forEach((m, i) => {
            const { start, end } = ranges[i]!;
            expectValidMessage(m);
            expect(m.text).toBe(whole.text.slice(start, end));
            expectStyles(m, whole.style, start);
            expect(m.text).not.toContain(SECRET);
          });
        } else {
          expect(ranges.length).toBeGreaterThan(maxMessages);
          expect(out.documentText).toBe(whole.text);
          expectValidMessage(out.preview);
          // The note is the sender's to add, once it knows whether the document went out.
          expect(out.preview.text).not.toContain(OVERFLOW_NOTE);
          const head = out.preview.text;
          const start = whole.text.indexOf(head);
          expect(isBlank(whole.text.slice(0, start))).toBe(true);
          expectStyles(out.preview, whole.style, start, head.length);
          expect(out.preview.entities.every((e) => e.offset + e.length <= head.length)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never lets a secret through, wherever it is and however the text is split', () => {
    fc.assert(
      fc.property(
        blocks,
        fc.nat({ max: 6 }),
        fc.constantFrom<'text' | 'bold' | 'value' | 'pre'>('text', 'bold', 'value', 'pre'),
        (bs, at, kind) => {
          const withSecret = [...bs];
          const s = `x${SECRET}y`;
          withSecret.splice(
            at % (bs.length + 1),
            0,
            kind === 'pre' ? pre(s) : line(kind === 'text' ? text(s) : kind === 'bold' ? bold(s) : value(s)),
          );
          const out = renderResult({ blocks: withSecret }, redact);
          const all =
            'messages' in out ? out.messages.map((m) => m.text).join('') : out.preview.text + out.documentText;
          expect(all).not.toContain(SECRET);
        },
      ),
    );
  });

  it('renders an empty or blank result as "(no output)"', () => {
    expect(renderResult({ blocks: [] }, identity)).toEqual({ messages: [{ text: NO_OUTPUT, entities: [] }] });
    expect(renderResult({ blocks: [line(value('  ')), pre('\n\t\n'), line()] }, identity)).toEqual({
      messages: [{ text: NO_OUTPUT, entities: [] }],
    });
  });

  it('puts untrusted text in code and pre entities, labels in plain and bold', () => {
    const out = renderResult(
      { blocks: [line(bold('Container'), ' ', value('@user http://x #tag /cmd'), ' is up'), pre('log @admin')] },
      identity,
    );
    expect(out).toEqual({
      messages: [
        {
          text: 'Container @user http://x #tag /cmd is up\nlog @admin',
          entities: [
            { type: 'bold', offset: 0, length: 9 },
            { type: 'code', offset: 10, length: 24 },
            { type: 'pre', offset: 41, length: 10 },
          ],
        },
      ],
    });
  });

  it('never emits a zero-length entity', () => {
    const out = renderResult({ blocks: [line(bold(''), 'a', value(''))] }, identity);
    expect(out).toEqual({ messages: [{ text: 'a', entities: [] }] });
  });

  it('continues an entity that a split cuts, in the next part', () => {
    const log = Array.from({ length: 150 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const out = renderResult({ blocks: [line(bold('Logs')), pre(log)] }, identity);
    if (!('messages' in out)) throw new Error('expected messages');
    expect(out.messages.length).toBe(2);
    const [a, b] = out.messages;
    expect(a!.entities.at(-1)).toEqual({ type: 'pre', offset: 5, length: a!.text.length - 5 });
    expect(b!.entities).toEqual([{ type: 'pre', offset: 0, length: b!.text.length }]);
    // Split at a line boundary, the newline dropped.
    expect(a!.text.endsWith('x')).toBe(true);
    expect(b!.text.startsWith('line ')).toBe(true);
    expect(`${a!.text}\n${b!.text}`).toBe(`Logs\n${log}`);
  });

  it('never splits an emoji', () => {
    const out = renderResult({ blocks: [pre('😀'.repeat(5000))] }, identity);
    if (!('messages' in out)) throw new Error('expected messages');
    for (const m of out.messages) expect(m.text).toMatch(/^(?:😀)+$/u);
    expect(out.messages.map((m) => m.text).join('')).toBe('😀'.repeat(5000));
  });

  it('sends a preview and a document when more than maxMessages would be needed', () => {
    const log = Array.from({ length: 400 }, (_, i) => `l${i} ${'y'.repeat(30)}`).join('\n');
    expect(
      'messages' in renderResult({ blocks: [line('Output of ', value('web-1'))] }, identity, { maxMessages: 1 }),
    ).toBe(true);
    const big = renderResult({ blocks: [line('Output of ', value('web-1')), pre(log)] }, identity);
    if (!('overflow' in big)) throw new Error('expected overflow');
    expect(big.documentText).toBe(`Output of web-1\n${log}`);
    expect(big.preview.text.startsWith('Output of web-1\nl0 ')).toBe(true);
    expect(big.preview.text.length).toBeLessThan(1100);
    expect(big.preview.entities[0]).toEqual({ type: 'code', offset: 10, length: 5 });
  });
});

describe('cutPoints and splitPlain', () => {
  it('cover the text with non-blank slices of at most `limit`, separated only by whitespace', () => {
    fc.assert(
      fc.property(anyText, fc.integer({ min: 2, max: 5000 }), (t, limit) => {
        const parts = splitPlain(t, limit);
        let pos = 0;
        for (const p of parts) {
          expect(p.length).toBeLessThanOrEqual(limit);
          expect(isBlank(p)).toBe(false);
          const at = t.indexOf(p, pos);
          expect(at).toBeGreaterThanOrEqual(pos);
          expect(isBlank(t.slice(pos, at))).toBe(true);
          pos = at + p.length;
        }
        expect(isBlank(t.slice(pos))).toBe(true);
      }),
    );
  });

  it('prefers newlines, then blanks, then a hard cut', () => {
    expect(splitPlain('aaaa\nbbbb', 6)).toEqual(['aaaa', 'bbbb']);
    expect(splitPlain('aaaa bbbb', 6)).toEqual(['aaaa ', 'bbbb']);
    expect(splitPlain('aaaabbbb', 6)).toEqual(['aaaabb', 'bb']);
    expect(splitPlain('a\nbbbbbbb', 6)).toEqual(['a\nbbbb', 'bbb']);
  });

  it('drops blank stretches instead of sending blank messages', () => {
    expect(splitPlain(`aaaa\n${' '.repeat(10)}\nbbbb`, 5)).toEqual(['aaaa', 'bbbb']);
    expect(splitPlain('   ', 2)).toEqual([]);
  });

  it('rejects a limit that cannot make progress', () => {
    expect(() => cutPoints('abc', 1)).toThrow(RangeError);
  });
});
