import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CALLBACK_DATA_MAX,
  decodeCallback,
  encodeCallback,
  type CallbackData,
} from '../../../src/transports/telegram/callback-data.js';

const B64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
const id = fc.array(fc.constantFrom(...B64URL), { minLength: 16, maxLength: 16 }).map((a) => a.join(''));
const token = fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: 16, maxLength: 16 }).map((a) => a.join(''));
const data: fc.Arbitrary<CallbackData> = fc.oneof(
  fc.record({
    kind: fc.constant('approval' as const),
    id,
    token,
    decision: fc.constantFrom('approve' as const, 'deny' as const),
  }),
  fc.record({
    kind: fc.constant('button' as const),
    ref: fc.record({ keyboard: id, index: fc.integer({ min: 0, max: 999 }) }),
  }),
);

describe('callback data: the one format of button payloads', () => {
  it('reads payloads exactly as cards sent by earlier versions carry them', () => {
    // Written out by hand in the format reply.ts used to build with template strings.
    expect(decodeCallback('a:Zm9vYmFyYmF6cXV4:0123456789abcdef:y')).toEqual({
      kind: 'approval',
      id: 'Zm9vYmFyYmF6cXV4',
      token: '0123456789abcdef',
      decision: 'approve',
    });
    expect(decodeCallback('a:Zm9v-mFy_mF6cXV4:fedcba9876543210:n')).toEqual({
      kind: 'approval',
      id: 'Zm9v-mFy_mF6cXV4',
      token: 'fedcba9876543210',
      decision: 'deny',
    });
    expect(decodeCallback('b:AAAAAAAAAAAAAAAA:7')).toEqual({
      kind: 'button',
      ref: { keyboard: 'AAAAAAAAAAAAAAAA', index: 7 },
    });
    // A single button stored before keyboards existed.
    expect(decodeCallback('b:AAAAAAAAAAAAAAAA')).toEqual({
      kind: 'button',
      ref: { keyboard: 'AAAAAAAAAAAAAAAA', index: 0 },
    });
  });

  it("writes what it reads back, under Telegram's 64 bytes", () => {
    fc.assert(
      fc.property(data, (d) => {
        const s = encodeCallback(d);
        expect(Buffer.byteLength(s)).toBeLessThanOrEqual(CALLBACK_DATA_MAX);
        expect(decodeCallback(s)).toEqual(d);
      }),
    );
  });

  it('refuses anything forged or altered, and never throws', () => {
    for (const s of [
      '',
      'a:Zm9vYmFyYmF6cXV4:0123456789abcdef:x',
      'a:Zm9vYmFyYmF6cXV4:0123456789ABCDEF:y',
      'a:Zm9vYmFyYmF6cXV:0123456789abcdef:y',
      'a:Zm9vYmFyYmF6cXV4:0123456789abcdef:y:y',
      'a:../../etc/passwdx:0123456789abcdef:y',
      'b:../../etc',
      'b:AAAAAAAAAAAAAAAA:-1',
      'b:AAAAAAAAAAAAAAAA:1000',
      'b:AAAAAAAAAAAAAAAA:0:0',
      'b:AAAAAAAAAAAAAAAA:00',
      'b:AAAAAAAAAAAAAAAA:007',
      "b:AAAAAAAAAAAAAAAA'; DROP TABLE keyboards",
      'B:AAAAAAAAAAAAAAAA:0',
      ' b:AAAAAAAAAAAAAAAA:0',
      'b:AAAAAAAAAAAAAAAA:0\n',
    ]) {
      expect(decodeCallback(s)).toBeUndefined();
    }
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 64 }),
          data.map(encodeCallback).chain((s) => mutated(s)),
        ),
        (s) => {
          const d = decodeCallback(s);
          if (d === undefined) return;
          decoded++;
          // Whatever is accepted is in the canonical form, or the index-less legacy button.
          expect(encodeCallback(d) === s || s === encodeCallback(d).replace(/:0$/, '')).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
    expect(decoded).toBeGreaterThan(0);
  });

  it('refuses to encode what it could not read back', () => {
    expect(() =>
      encodeCallback({ kind: 'approval', id: 'short', token: '0123456789abcdef', decision: 'approve' }),
    ).toThrow(/not valid callback data/);
    expect(() => encodeCallback({ kind: 'button', ref: { keyboard: 'AAAAAAAAAAAAAAAA', index: 1000 } })).toThrow(
      /not valid callback data/,
    );
  });
});

/** A valid payload with one character changed, dropped or added: mostly invalid, sometimes still valid. */
function mutated(s: string): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.nat({ max: s.length }),
      fc.constantFrom('replace', 'drop', 'add', 'keep'),
      fc.constantFrom(...'aAb:0fy-_ \n'.split('')),
    )
    .map(([i, op, c]) =>
      op === 'replace'
        ? s.slice(0, i) + c + s.slice(i + 1)
        : op === 'drop'
          ? s.slice(0, i) + s.slice(i + 1)
          : op === 'add'
            ? s.slice(0, i) + c + s.slice(i)
            : s,
    );
}
