import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareNames, counted, foldBlankRuns, formatDuration, parseDuration, stripAnsi } from '../../src/core/text.js';

describe('stripAnsi', () => {
  it('removes colours, cursor moves, OSC titles and hyperlinks', () => {
    expect(stripAnsi('\u001b[31mred\u001b[0m \u001b[2K\u001b[1Gline')).toBe('red line');
    expect(stripAnsi('\u001b]0;title\u0007text \u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\')).toBe('text link');
  });

  it('leaves no escape or control character behind, and keeps plain text intact', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('\u001b[', '\u001b]', '\u001b', '\u0007', '\u009b', '\r')), {
          maxLength: 30,
          size: 'max',
        }),
        (parts) => {
          // eslint-disable-next-line no-control-regex
          expect(stripAnsi(parts.join(''))).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
        },
      ),
    );
    // eslint-disable-next-line no-control-regex
    fc.assert(
      fc.property(fc.stringMatching(/^[^\u0000-\u001f\u007f-\u009f]*$/), (s) => {
        expect(stripAnsi(s)).toBe(s);
      }),
    );
  });
});

describe('durations', () => {
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  it('refuses junk', () => {
    for (const s of ['', ' ', '5 minutes', '1 h', 'h', '1h1d', '1m1h', '-5m', '1.5h', '1h\n2m', '5', 'm5'])
      expect(parseDuration(s), s).toBeUndefined();
  });

  it('reads the spellings people type', () => {
    expect(parseDuration('1h30m')).toBe(HOUR + 30 * MINUTE);
    expect(parseDuration('1h 30m')).toBe(HOUR + 30 * MINUTE);
    expect(parseDuration(' 45s ')).toBe(45 * SECOND);
    expect(parseDuration('2d 3h')).toBe(2 * DAY + 3 * HOUR);
    expect(parseDuration('1d 2h 3m 4s')).toBe(DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND);
  });

  it('formats to the unit that matters', () => {
    expect(formatDuration(59 * SECOND + 999)).toBe('59s');
    expect(formatDuration(MINUTE)).toBe('1m');
    expect(formatDuration(HOUR + 2 * MINUTE + 3 * SECOND)).toBe('1h 02m');
    expect(formatDuration(47 * HOUR + 59 * MINUTE)).toBe('47h 59m');
    expect(formatDuration(2 * DAY + 5 * HOUR + 59 * MINUTE)).toBe('2d 5h');
  });

  it('parses what it formats: the value shown, cut down to the unit shown', () => {
    // One range per spelling, so that each is reached (seconds, minutes, hours and minutes, days and hours).
    const ranges: [number, number, number][] = [
      [0, MINUTE - 1, SECOND],
      [MINUTE, HOUR - 1, MINUTE],
      [HOUR, 48 * HOUR - 1, MINUTE],
      [48 * HOUR, 400 * DAY, HOUR],
    ];
    const reached = new Set<number>();
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: ranges.length - 1 })
          .chain((i) => fc.tuple(fc.constant(i), fc.integer({ min: ranges[i]![0], max: ranges[i]![1] }))),
        ([i, ms]) => {
          reached.add(i);
          const unit = ranges[i]![2];
          expect(parseDuration(formatDuration(ms))).toBe(ms - (ms % unit));
        },
      ),
      { numRuns: 400 },
    );
    expect(reached.size).toBe(ranges.length);
  });
});

describe('foldBlankRuns', () => {
  it('keeps at most one blank line in a row and none at the ends', () => {
    expect(foldBlankRuns(['', 'a', '', ' ', '', 'b', '', ''])).toEqual(['a', '', 'b']);
  });
});

describe('compareNames', () => {
  it('orders numbered names by number, and is a total order', () => {
    expect(['web-10', 'web-2', 'api', 'web-1'].sort(compareNames)).toEqual(['api', 'web-1', 'web-2', 'web-10']);
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 20, size: 'max' }), (xs) => {
        const sorted = [...xs].sort(compareNames);
        for (let i = 1; i < sorted.length; i++) expect(compareNames(sorted[i - 1]!, sorted[i]!)).toBeLessThanOrEqual(0);
        // Whatever order the input came in, the same ranks come out.
        const again = [...xs].reverse().sort(compareNames);
        again.forEach((x, i) => expect(compareNames(x, sorted[i]!)).toBe(0));
      }),
    );
  });

  it('orders letters-and-numbers names like a hand-written natural order', () => {
    // The oracle, independent of Intl: digit runs compare by value and before letters,
    // letters alphabetically, a prefix first. Names are lowercase letters and numbers without
    // leading zeros, where that is the whole of the collator's order.
    const natural = (a: string, b: string): number => {
      let i = 0;
      let j = 0;
      while (i < a.length && j < b.length) {
        const da = /\d/.test(a[i]!);
        const db = /\d/.test(b[j]!);
        if (da && db) {
          const na = /^\d+/.exec(a.slice(i))![0];
          const nb = /^\d+/.exec(b.slice(j))![0];
          if (BigInt(na) !== BigInt(nb)) return BigInt(na) < BigInt(nb) ? -1 : 1;
          i += na.length;
          j += nb.length;
        } else if (da !== db) {
          return da ? -1 : 1;
        } else {
          if (a[i] !== b[j]) return a[i]! < b[j]! ? -1 : 1;
          i++;
          j++;
        }
      }
      return Math.sign(a.length - i - (b.length - j));
    };
    const number = fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String);
    const letters = fc.string({ unit: fc.constantFrom(...'abcxyz'), minLength: 1, maxLength: 3 });
    const name = fc
      .array(fc.oneof(number, letters), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.join(''))
      // Two numbers in a row would read as one with a leading zero ("1" + "0…").
      .filter((s) => !/(^|\D)0\d/.test(s));
    let numeric = 0;
    fc.assert(
      fc.property(name, name, fc.boolean(), (a, b, same) => {
        const y = same ? a : b;
        if (/\d{2}/.test(a) && /\d{2}/.test(y) && a !== y) numeric++;
        expect(Math.sign(compareNames(a, y))).toBe(natural(a, y));
      }),
      { numRuns: 500 },
    );
    expect(numeric).toBeGreaterThan(50);
  });
});

describe('counted', () => {
  it('puts the noun in the number its count needs', () => {
    expect([0, 1, 2].map((n) => counted(n, 'entry', 'entries'))).toEqual(['0 entries', '1 entry', '2 entries']);
    expect(counted(1, 'restart')).toBe('1 restart');
    expect(counted(7, 'restart')).toBe('7 restarts');
  });
});
