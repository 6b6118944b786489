import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { readBody } from '../../src/core/body.js';

describe('readBody', () => {
  it('keeps exactly the first maxBytes bytes, and says whether there was more', async () => {
    const seen = { cut: 0, whole: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 300, size: 'max' }), { maxLength: 30, size: 'max' }),
        fc.integer({ min: 0, max: 5000 }),
        async (parts, maxBytes) => {
          const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
          const body = await readBody(Readable.from(parts.map((p) => Buffer.from(p))), maxBytes);
          expect(body.bytes.equals(all.subarray(0, maxBytes))).toBe(true);
          expect(body.truncated).toBe(all.length > maxBytes);
          seen[body.truncated ? 'cut' : 'whole']++;
        },
      ),
      { numRuns: 300 },
    );
    expect(seen.cut).toBeGreaterThan(0);
    expect(seen.whole).toBeGreaterThan(0);
  });

  it('reads everything without a bound', async () => {
    const body = await readBody(Readable.from([Buffer.from('a'.repeat(100_000)), Buffer.from('b')]));
    expect(body.bytes.length).toBe(100_001);
    expect(body.truncated).toBe(false);
  });

  it('stops an endless body at the bound and destroys the source', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced++;
        this.push(Buffer.alloc(1024, 0x61));
      },
    });
    const body = await readBody(endless, 10_000);
    expect(body).toMatchObject({ truncated: true });
    expect(body.bytes.length).toBe(10_000);
    expect(endless.destroyed).toBe(true);
    expect(produced).toBeLessThan(100);
  });

  it('rejects a source destroyed before its end without an error, rather than waiting forever', async () => {
    const cut = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy();
      },
    });
    await expect(readBody(cut, 100)).rejects.toThrow(/^the body was cut off before its end$/);
  });

  it('rejects with the error of a source that fails', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(readBody(failing, 100)).rejects.toThrow(/^connection reset$/);
  });
});
