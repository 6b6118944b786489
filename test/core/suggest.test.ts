import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/core/suggest.js';

/** Optimal string alignment distance, the textbook full table: the oracle for the bounded one. */
function osa(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** Words over a small alphabet, so that swaps, repeats and near misses are common. */
const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 9, size: 'max' });
/** Two words, or a word and itself with two neighbours swapped. */
const pair = fc.oneof(
  fc.tuple(word, word),
  word
    .filter((w) => w.length >= 2)
    .chain((w) => fc.nat(w.length - 2).map((i) => [w, w.slice(0, i) + w[i + 1]! + w[i]! + w.slice(i + 2)] as const)),
);

describe('editDistance', () => {
  it('is the optimal string alignment distance, or limit + 1 once it is over the limit', () => {
    let over = 0;
    let swaps = 0;
    fc.assert(
      fc.property(pair, fc.integer({ min: 0, max: 6 }), ([a, b], limit) => {
        const want = osa(a, b);
        if (want > limit) over++;
        // One edit, yet two letters differ: a swap of neighbours.
        if (want === 1 && a.length === b.length && [...a].filter((c, i) => c !== b[i]).length === 2) swaps++;
        expect(editDistance(a, b, limit)).toBe(Math.min(want, limit + 1));
        expect(editDistance(b, a, limit)).toBe(editDistance(a, b, limit));
      }),
      { numRuns: 3000 },
    );
    expect(over).toBeGreaterThan(100);
    expect(swaps).toBeGreaterThan(10);
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('wbe', 'web', 5)).toBe(1);
    expect(editDistance('lgos', 'logs', 5)).toBe(1);
    expect(editDistance('kitten', 'sitting', 5)).toBe(3);
    expect(editDistance('aaaaaaaa', 'b', 2)).toBe(3);
  });
});

describe('closest', () => {
  const commands = ['docker', 'logs', 'ps', 'pods', 'restart', 'start', 'stop', 'status'];

  it('suggests a word the typo begins, or one within about an edit per three letters, closest first', () => {
    expect(closest('dock', commands)).toEqual(['docker']);
    expect(closest('lgos', commands)).toEqual(['logs']);
    expect(closest('stat', commands)).toEqual(['status', 'start']);
    expect(closest('tsop', commands)).toEqual(['stop']);
    expect(closest('Stop', commands)).toEqual([]);
    expect(closest('STOPP', commands)).toEqual(['stop']);
  });

  it('never suggests the word itself, nor anything for one letter by prefix', () => {
    expect(closest('stop', [...commands, 'stops'])).toEqual(['stops']);
    expect(closest('s', commands)).toEqual(['ps']);
  });

  it('allows one edit up to five letters, two from six, three from nine and no more', () => {
    expect(closest('xxxxx', ['xxxyy'])).toEqual([]);
    expect(closest('xxxxxx', ['xxxxyy'])).toEqual(['xxxxyy']);
    expect(closest('xxxxxx', ['xxxyyy'])).toEqual([]);
    expect(closest('xxxxxxxxx', ['xxxxxxyyy'])).toEqual(['xxxxxxyyy']);
    expect(closest('x'.repeat(15), [`${'x'.repeat(11)}yyyy`])).toEqual([]);
  });

  it('gives at most `max`, ties in alphabetical order, each once', () => {
    const many = ['cab', 'bab', 'aab', 'dab', 'aab'];
    expect(closest('xab', many)).toEqual(['aab', 'bab', 'cab']);
    expect(closest('xab', many, 5)).toEqual(['aab', 'bab', 'cab', 'dab']);
  });
});
