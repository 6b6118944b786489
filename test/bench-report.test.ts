import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goalMark } from '../bench/report.js';

describe('npm run bench marks each figure against the goal its note states', () => {
  it('marks a missed goal, whichever way the bound goes', () => {
    expect(goalMark(0.22, 'goal ≥ 0.8; load 6.5')).toBe('✗ MISSED');
    expect(goalMark(0.9, 'goal ≥ 0.8')).toBe('✓');
    expect(goalMark(1828, 'goal ≤ 1000 ms; load 12')).toBe('✗ MISSED');
    expect(goalMark(4.2, 'watched − baseline; goal ≤ 3')).toBe('✗ MISSED');
    expect(goalMark(2.04, 'goal ≤ 5 s (2 polls + 1 s)')).toBe('✓');
    expect(goalMark(12, 'baseline')).toBe('');
    expect(goalMark(12, undefined)).toBe('');
  });

  it('agrees with the bound for any value and goal (property)', () => {
    let missed = 0;
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.boolean(),
        (v, g, upper) => {
          const mark = goalMark(v, `goal ${upper ? '≤' : '≥'} ${g}`);
          const met = upper ? v <= g : v >= g;
          if (!met) missed++;
          expect(mark).toBe(met ? '✓' : '✗ MISSED');
        },
      ),
    );
    expect(missed).toBeGreaterThan(0);
  });
});
