import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareNames, foldBlankRuns, formatDuration, parseDuration, stripAnsi } from '../../src/core/text.js';

describe('stripAnsi', () => {
  it('removes colours, cursor moves, OSC titles and hyperlinks', () => {
    expect(stripAnsi('\u001b[31mred\u001b[0m \u001b[2K\u001b[1Gline')).toBe('red line');
    expect(stripAnsi('\u001b]0;title\u0007text \u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\')).toBe('text link');
  });

  it('leaves no escape or control character behind, and keeps plain text intact', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom('\u001b[', '\u001b]', '\u001b', '\u0007', '\u009b', '\r')), { maxLength: 30 }), (parts) => {
        // eslint-disable-next-line no-control-regex
        expect(stripAnsi(parts.join(''))).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      }),
    );
    // eslint-disable-next-line no-control-regex
    fc.assert(fc.property(fc.stringMatching(/^[^\u0000-\u001f\u007f-\u009f]*$/), (s) => {
      expect(stripAnsi(s)).toBe(s);
    }));;
  });
});

describe('durations', () => {
  it('parses what it formats, and refuses junk', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('')).toBeUndefined();
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(formatDuration(3_723_000)).toBe('1h 02m');
    fc.assert(fc.property(fc.integer({ min: 0, max: 59 }), (m) => {
      expect(parseDuration(formatDuration(m * 60_000))).toBe(m * 60_000);
    }));;
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
      fc.property(fc.array(fc.string(), { maxLength: 20 }), (xs) => {
        const sorted = [...xs].sort(compareNames);
        for (let i = 1; i < sorted.length; i++) expect(compareNames(sorted[i - 1]!, sorted[i]!)).toBeLessThanOrEqual(0);
        // Whatever order the input came in, the same ranks come out.
        const again = [...xs].reverse().sort(compareNames);
        again.forEach((x, i) => expect(compareNames(x, sorted[i]!)).toBe(0));
      }),
    );
  });

  it('agrees with the collator on every pair, equal names included', () => {
    const collator = new Intl.Collator('en', { numeric: true });
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.boolean(), (a, b, same) => {
        const y = same ? a : b;
        expect(Math.sign(compareNames(a, y))).toBe(Math.sign(collator.compare(a, y)));
      }),
    );
  });
});
