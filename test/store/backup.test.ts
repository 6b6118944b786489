import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorUpTo } from '../../src/store/backup.js';

const HASH = 'a'.repeat(64);
const anchorOf = (seqs: readonly number[]) => Buffer.from(seqs.map((s) => `${s} ${HASH}\n`).join(''), 'latin1');

describe('anchorUpTo', () => {
  it('keeps exactly the lines up to the copied head, as a prefix of the live anchor', () => {
    let cut = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 450 }), (n, head) => {
        const live = anchorOf(Array.from({ length: n }, (_, i) => i + 1));
        const kept = anchorUpTo(live, head);
        expect(live.subarray(0, kept.length).equals(kept)).toBe(true);
        expect(kept.equals(anchorOf(Array.from({ length: Math.min(n, head) }, (_, i) => i + 1)))).toBe(true);
        if (kept.length < live.length) cut++;
      }),
      { numRuns: 300 },
    );
    expect(cut).toBeGreaterThan(0);
  });

  it('stops at a line it cannot read, leaving it for verification to report', () => {
    const live = Buffer.concat([anchorOf([1, 2]), Buffer.from('garbage\n'), anchorOf([4, 5])]);
    expect(anchorUpTo(live, 3).toString()).toBe(`1 ${HASH}\n2 ${HASH}\ngarbage\n`);
    expect(anchorUpTo(Buffer.alloc(0), 3).length).toBe(0);
  });
});
