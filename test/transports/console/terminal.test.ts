import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../../src/transports/console/terminal.js';

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const anyText = fc.string({ unit: 'binary', maxLength: 200, size: 'max' });

describe('terminalSafe', () => {
  it('shows terminal controls as visible escapes', () => {
    expect(terminalSafe('\u001b]52;c;cm0gLXJmIC8=\u0007 copied')).toBe('\\u001b]52;c;cm0gLXJmIC8=\\u0007 copied');
    expect(terminalSafe('ok\r\u001b[2KFAKE: all good')).toBe('ok\\u000d\\u001b[2KFAKE: all good');
    expect(terminalSafe('invoice\u202eexe.pdf')).toBe('invoice\\u202eexe.pdf');
    expect(terminalSafe('\u009b31m')).toBe('\\u009b31m');
    expect(terminalSafe('line 1\n\tline 2 · ✓ 日本')).toBe('line 1\n\tline 2 · ✓ 日本');
  });

  it('leaves nothing unsafe, and changes nothing else (property)', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        const out = terminalSafe(s);
        expect(out).not.toMatch(UNSAFE);
        if (!UNSAFE.test(s)) expect(out).toBe(s);
        // Every unsafe character became exactly its escape: undoing them gives the input back.
        if (!s.includes('\\u'))
          expect(
            out.replace(/\\u([0-9a-f]{4})/g, (m, h: string) =>
              UNSAFE.test(String.fromCharCode(parseInt(h, 16))) ? String.fromCharCode(parseInt(h, 16)) : m,
            ),
          ).toBe(s);
      }),
    );
  });
});
