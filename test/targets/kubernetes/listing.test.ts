/**
 * The first items of a list by name, and the scan that finds them in a list's body without
 * parsing it whole: on any list body it must show what parsing the whole body shows, and
 * never a list cut off before its end.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareNames } from '../../../src/core/text.js';
import { firstByName, firstInBody } from '../../../src/targets/kubernetes/listing.js';

type Item = { metadata?: { name?: string } };
const bytes = (s: string): Buffer => Buffer.from(s);
/** What the list actions showed before the scan: the whole body decoded and parsed, then the first n. */
const parsedWhole = (body: string, n: number) => {
  const items = (JSON.parse(new TextDecoder().decode(bytes(body))) as { items?: Item[] }).items ?? [];
  return { total: items.length, items: firstByName(items, n) };
};

/** Names as they sort and as JSON escapes them: natural order, ties, quotes, controls, astral. */
const name = fc.oneof(
  fc.constantFrom(
    'web-1',
    'web-2',
    'web-10',
    'web-02',
    'Web',
    'é',
    '',
    '"',
    '\\',
    'a"b\\c',
    '\u0000x',
    '💥',
    'a\u2028b',
    '\uFEFFweb-1',
  ),
  fc.nat(40).map((n) => `pod-${n}`),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
/** Any JSON, with the keys the scan looks for showing up at every depth. */
const key = fc.oneof(fc.constantFrom('items', 'metadata', 'name', 'spec'), fc.string({ maxLength: 6 }));
const anyJson = fc.object({ key, maxDepth: 3, maxKeys: 4 });
const item = fc.record(
  {
    before: anyJson,
    metadata: fc.oneof(
      { weight: 6, arbitrary: fc.record({ name: name, labels: anyJson }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    ),
    spec: anyJson,
    status: fc.jsonValue({ maxDepth: 3 }),
  },
  { requiredKeys: [] },
);
const list = fc.record(
  {
    head: anyJson,
    items: fc.array(item, { maxLength: 60 }),
    tail: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['items'] },
);
const indent = fc.constantFrom(undefined, 2, '\t', ' ');

describe('firstInBody', () => {
  it('shows what parsing the whole body shows, on any list, however it is laid out', () => {
    fc.assert(
      fc.property(list, indent, fc.nat(70), (l, gap, n) => {
        const body = JSON.stringify({ kind: 'PodList', metadata: l.head, items: l.items, more: l.tail }, null, gap);
        const page = firstInBody<Item>(bytes(body), n);
        expect(page).toEqual(parsedWhole(body, n));
      }),
      { numRuns: 400 },
    );
  });

  it('never shows a body cut off before its end', () => {
    fc.assert(
      fc.property(list, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (l, at) => {
        const body = JSON.stringify({ items: l.items, metadata: l.head });
        expect(firstInBody(bytes(body.slice(0, Math.floor(body.length * at))), 5)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with JSON.parse on any JSON text and any mangled list, or leaves it to JSON.parse', () => {
    const mangled = fc
      .tuple(list, fc.nat(), fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', '1', ' ', '\u0001'))
      .map(([l, at, c]) => {
        const body = JSON.stringify({ items: l.items });
        const i = at % (body.length + 1);
        return body.slice(0, i) + c + body.slice(i);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), mangled), fc.nat(10), (body, n) => {
        let whole: ReturnType<typeof parsedWhole> | undefined;
        try {
          whole = parsedWhole(body, n);
        } catch {
          whole = undefined;
        }
        let page: ReturnType<typeof firstInBody<Item>>;
        try {
          page = firstInBody<Item>(bytes(body), n);
        } catch (e) {
          // Only a shown item that is not JSON throws, and only JSON.parse's error.
          expect(e).toBeInstanceOf(SyntaxError);
          expect(whole).toBeUndefined();
          return;
        }
        if (page && whole) expect(page).toEqual(whole);
      }),
      { numRuns: 1000 },
    );
  });

  it('takes the last metadata and name of an item, as JSON.parse does, and names spelled with escapes', () => {
    const body =
      '{"items":[{"metadata":{"name":"z"},"metadata":{"name":"b"}},{"metadata":{"name":"c","name":"a"}},' +
      '{"metadata":{"name":"y"},"metadata":null},{"spec":{"template":{"metadata":{"name":"0"}}}},' +
      '{"metadata":{"name":"w\\u0065b-1"}}]}';
    const page = firstInBody<Item>(bytes(body), 5)!;
    expect(page.items.map((i) => i.metadata?.name ?? '')).toEqual(['', '', 'a', 'b', 'web-1']);
    expect(page).toEqual(parsedWhole(body, 5));
    const spelled = '{"it\\u0065ms":[{"m\\u0065tadata":{"na\\u006de":"x"}},{"metadata":{"name":"y"}}]}';
    expect(firstInBody(bytes(spelled), 1)).toEqual({ total: 2, items: [{ metadata: { name: 'x' } }] });
  });

  it('leaves to JSON.parse what is not plainly a list', () => {
    for (const body of [
      '{"items":[{"metadata":{"na\\xme":"x"}}]}',
      '{"items":[{"metadata":{"name":5}}]}',
      '{"items":[{"metadata":{"name":"a\u0001"}}]}',
      '{"items":[null]}',
      '{"items":["pod"]}',
      '{"items":null}',
      '{"items":[],"items":[{}]}',
      '{"kind":"PodList"}',
      '[{"metadata":{"name":"x"}}]',
      '\ufeff{"items":[]}',
      '{"items":[]} x',
      '{"items":[}',
      `{"items":[${'['.repeat(200)}${']'.repeat(200)}]}`,
    ]) {
      expect(firstInBody(bytes(body), 5), body).toBeUndefined();
    }
  });

  it('parses only the items it shows: one past them may be anything balanced', () => {
    const body = '{"items":[{"metadata":{"name":"b"},"x":tru},{"metadata":{"name":"a"}}]}';
    expect(firstInBody<Item>(bytes(body), 1)).toEqual({ total: 2, items: [{ metadata: { name: 'a' } }] });
    expect(() => firstInBody(bytes(body), 2)).toThrow(SyntaxError);
  });
});

describe('firstByName', () => {
  it('is the first n of the whole list sorted by name, equal names in list order', () => {
    const seen = { cut: 0, tiedAtCut: 0 };
    const name = fc.oneof(
      fc.constantFrom('a', 'b', 'web', 'Web', 'web-2', 'web-10', 'web-02', 'é', ''),
      fc.nat(30).map((n) => `pod-${n}`),
    );
    fc.assert(
      fc.property(
        fc.array(fc.option(name, { nil: undefined }), { maxLength: 80, size: 'max' }),
        fc.nat(90),
        (names, n) => {
          const items = names.map((nm, i) => ({ i, ...(nm === undefined ? {} : { metadata: { name: nm } }) }));
          const key = (x: (typeof items)[number]) => x.metadata?.name ?? '';
          const whole = [...items].sort((a, b) => compareNames(key(a), key(b)));
          expect(firstByName(items, n)).toEqual(whole.slice(0, n));
          if (items.length > n) {
            seen.cut++;
            if (n > 0 && compareNames(key(whole[n - 1]!), key(whole[n]!)) === 0) seen.tiedAtCut++;
          }
        },
      ),
      { numRuns: 500 },
    );
    expect(seen.cut).toBeGreaterThan(50);
    expect(seen.tiedAtCut).toBeGreaterThan(0);
  });
});
