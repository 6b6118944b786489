import fc from 'fast-check';
import type { MessageEntity } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import { ApiError } from './params.js';
import { checkEntities, checkReplyMarkup, checkText, MAX_TEXT, trimFormatted } from './validate.js';

const N = 12;
const TEXT = 'a'.repeat(N);

const entityArb = fc
  .record({
    type: fc.constantFrom('bold', 'italic', 'underline', 'code'),
    offset: fc.integer({ min: 0, max: N - 1 }),
    length: fc.integer({ min: 1, max: N }),
  })
  .filter((e) => e.offset + e.length <= N) as fc.Arbitrary<MessageEntity>;

const endOf = (e: MessageEntity) => e.offset + e.length;
const crosses = (a: MessageEntity, b: MessageEntity) =>
  a.offset < b.offset && b.offset < endOf(a) && endOf(a) < endOf(b);
const contains = (a: MessageEntity, b: MessageEntity) => a.offset <= b.offset && endOf(b) <= endOf(a);
const sameRange = (a: MessageEntity, b: MessageEntity) => a.offset === b.offset && a.length === b.length;

/** The model: no crossing pair, and nothing inside code except a non-code twin of the same range. */
function legal(list: MessageEntity[]): boolean {
  return list.every((a, i) =>
    list.every(
      (b, j) =>
        i === j ||
        (!crosses(a, b) && !(a.type === 'code' && contains(a, b) && !(sameRange(a, b) && b.type !== 'code'))),
    ),
  );
}

function description(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return e.description;
  }
}

describe('checkEntities', () => {
  it('accepts exactly the properly nested entity sets, and returns them outermost first', () => {
    fc.assert(
      fc.property(fc.array(entityArb, { maxLength: 6 }), (list) => {
        const error = description(() => checkEntities(TEXT, list));
        expect(error === undefined).toBe(legal(list));
        if (error !== undefined) expect(error).toMatch(/^Bad Request: can't parse entities: /);
        else {
          const sorted = checkEntities(TEXT, list);
          expect(sorted).toHaveLength(list.length);
          sorted
            .slice(1)
            .forEach((e, i) => expect(e.offset).toBeGreaterThanOrEqual((sorted[i] as MessageEntity).offset));
        }
      }),
    );
  });

  it('rejects entities out of range, splitting a surrogate pair, or nested blockquotes', () => {
    const bad: [string, unknown[]][] = [
      ['abc', [{ type: 'bold', offset: 2, length: 2 }]],
      ['abc', [{ type: 'bold', offset: -1, length: 2 }]],
      ['abc', [{ type: 'bold', offset: 0, length: 0 }]],
      ['abc', [{ type: 'shouting', offset: 0, length: 1 }]],
      ['abc', [{ type: 'text_link', offset: 0, length: 1 }]],
      ['a😀b', [{ type: 'bold', offset: 0, length: 2 }]],
      [
        'abcd',
        [
          { type: 'blockquote', offset: 0, length: 4 },
          { type: 'expandable_blockquote', offset: 1, length: 2 },
        ],
      ],
    ];
    for (const [text, entities] of bad)
      expect(description(() => checkEntities(text, entities))).toMatch(/can't parse entities/);
  });
});

describe('checkText', () => {
  it('accepts a text iff it is non-blank and at most 4096 UTF-16 units once trimmed', () => {
    const pieces = fc.constantFrom('x', ' ', '\n', '😀', 'é', '\t');
    fc.assert(
      fc.property(
        fc.array(pieces, { maxLength: 40 }),
        fc.integer({ min: MAX_TEXT - 4, max: MAX_TEXT + 4 }),
        (parts, pad) => {
          const text = parts.join('') + (parts.length % 2 === 0 ? 'y'.repeat(pad) : '');
          const trimmed = text.trim();
          const error = description(() => checkText(text, undefined));
          if (trimmed === '') expect(error).toBe('Bad Request: message text is empty');
          else if (trimmed.length > MAX_TEXT) expect(error).toBe('Bad Request: message is too long');
          else expect(checkText(text, undefined).text).toBe(trimmed);
        },
      ),
    );
  });

  it('refuses lone surrogates, as they cannot be sent as UTF-8', () => {
    expect(description(() => checkText('ab\uD83D', undefined))).toBe('Bad Request: text must be encoded in UTF-8');
  });
});

describe('trimFormatted', () => {
  it('keeps every entity on the same characters after trimming', () => {
    const ws = fc.array(fc.constantFrom(' ', '\n', '\t'), { maxLength: 4 }).map((a) => a.join(''));
    const core = fc.stringMatching(/^[a-z](?:[a-z ]{0,10}[a-z])?$/);
    fc.assert(
      fc.property(
        ws,
        core,
        ws,
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
        (before, middle, after, spans) => {
          const text = before + middle + after;
          const entities = spans
            .map(([a, b]): MessageEntity => ({ type: 'bold', offset: a % text.length, length: 1 + (b % text.length) }))
            .filter((e) => endOf(e) <= text.length);
          const out = trimFormatted(text, entities);
          expect(out.text).toBe(middle);
          const stop = before.length + middle.length;
          const kept = entities.filter((e) => Math.min(endOf(e), stop) > Math.max(e.offset, before.length));
          expect(out.entities).toHaveLength(kept.length);
          out.entities.forEach((e, i) => {
            const original = kept[i] as MessageEntity;
            expect(e.length).toBeGreaterThan(0);
            expect(out.text.slice(e.offset, endOf(e))).toBe(
              text.slice(Math.max(original.offset, before.length), Math.min(endOf(original), stop)),
            );
          });
        },
      ),
    );
  });
});

describe('checkReplyMarkup', () => {
  it('accepts callback_data of 1 to 64 UTF-8 bytes only', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 70 }), (data) => {
        const bytes = Buffer.byteLength(data, 'utf8');
        const error = description(() =>
          checkReplyMarkup({ inline_keyboard: [[{ text: 'b', callback_data: data }]] }, true),
        );
        expect(error === undefined).toBe(bytes >= 1 && bytes <= 64);
        if (error !== undefined) expect(error).toBe('Bad Request: BUTTON_DATA_INVALID');
      }),
    );
  });

  it('treats an empty inline keyboard as none and refuses reply keyboards in edits', () => {
    expect(checkReplyMarkup({ inline_keyboard: [] }, true)).toBeUndefined();
    expect(description(() => checkReplyMarkup({ keyboard: [[{ text: 'a' }]] }, true))).toBe(
      'Bad Request: inline keyboard expected',
    );
    expect(checkReplyMarkup({ remove_keyboard: true }, false)).toEqual({
      kind: 'keyboard',
      markup: { remove_keyboard: true },
    });
    expect(description(() => checkReplyMarkup({ inline_keyboard: [[{ text: 'plain' }]] }, false))).toMatch(
      /Text buttons are unallowed/,
    );
    expect(
      description(() => checkReplyMarkup({ inline_keyboard: [[{ text: 'u', url: 'javascript:alert(1)' }]] }, false)),
    ).toBe('Bad Request: BUTTON_URL_INVALID');
  });
});
