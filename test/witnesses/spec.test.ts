import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHead } from '../../src/core/audit-verify.js';
import { syslogMessage } from '../../src/witnesses/syslog.js';

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });

describe('witnessed heads and syslog framing', () => {
  it('parseHead reads back any SEQ:HASH and refuses anything else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999_999_999_999 }), hex64, (seq, hash) => {
        expect(parseHead(`${seq}:${hash}`, 'w')).toEqual({ seq, hash, by: 'w' });
      }),
    );
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.tuple(fc.integer(), hex64, fc.string({ maxLength: 3 })).map(([n, h, x]) => `${n}:${h}${x}`),
        ),
        (s) => {
          const h = parseHead(s, 'w');
          if (h === undefined) refused++;
          else {
            accepted++;
            expect(`${h.seq}:${h.hash}`).toBe(s.trim());
          }
        },
      ),
    );
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
    for (const bad of [
      '0:' + 'a'.repeat(64),
      '5:' + 'A'.repeat(64),
      '5:' + 'a'.repeat(63),
      '-1:' + 'a'.repeat(64),
      '5 ' + 'a'.repeat(64),
    ]) {
      expect(parseHead(bad, 'w')).toBeUndefined();
    }
  });

  it('an RFC 5424 message keeps its header fields space-free and its structured data closed, whatever the host name', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.integer({ min: 1, max: 1e12 }),
        hex64,
        (host, seq, hash) => {
          const m = syslogMessage({ seq, hash, keyed: false, keyId: null, at: '2026-01-01T00:00:00.000Z' }, host);
          const fields = m.split(' ');
          expect(fields[0]).toBe('<109>1');
          expect(fields[2]).toMatch(/^[\x21-\x7e]{1,255}$/);
          expect(fields[3]).toBe('teleops');
          expect(m).toContain(
            ` audit-head [teleops@32473 seq="${seq}" hash="${hash}" keyed="false" key_id=""] teleops audit head #${seq} ${hash} unkeyed at `,
          );
        },
      ),
    );
  });
});
