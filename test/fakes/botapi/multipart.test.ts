import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundaryOf, MultipartError, parseMultipart } from './multipart.js';

interface Part {
  name: string;
  filename?: string;
  data: Uint8Array;
}

/** grammY's encoding: no spaces, file name unquoted to the end of the line. */
function encodeGrammy(parts: Part[], boundary: string): Buffer {
  const chunks: Buffer[] = [Buffer.from(`--${boundary}\r\n`)];
  parts.forEach((p, i) => {
    if (i > 0) chunks.push(Buffer.from(`\r\n--${boundary}\r\n`));
    const file = p.filename === undefined ? '' : `;filename=${p.filename}\r\ncontent-type:application/octet-stream`;
    chunks.push(Buffer.from(`content-disposition:form-data;name="${p.name}"${file}\r\n\r\n`), Buffer.from(p.data));
  });
  chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** The usual encoding: quoted parameters with backslash escapes, a preamble and an epilogue. */
function encodeStandard(parts: Part[], boundary: string): Buffer {
  const q = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const chunks: Buffer[] = [Buffer.from('preamble\r\n')];
  for (const p of parts) {
    const file = p.filename === undefined ? '' : `; filename=${q(p.filename)}\r\nContent-Type: text/plain`;
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name=${q(p.name)}${file}\r\n\r\n`),
      Buffer.from(p.data),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\nepilogue`));
  return Buffer.concat(chunks);
}

const boundaryArb = fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,70}$/);
const noNewline = (s: string) => !s.includes('\r') && !s.includes('\n');

/** Bytes that like to look like delimiters. */
const dataArb = (boundary: string) =>
  fc
    .array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc
          .constantFrom('\r\n', '--', `--${boundary.slice(0, -1)}`, `\r\n--${boundary.slice(0, 1)}`, '\r\n\r\n')
          .map((s) => Buffer.from(s)),
      ),
      { maxLength: 8 },
    )
    .map((pieces) => new Uint8Array(Buffer.concat(pieces)));

const partsArb = (boundary: string, filenameArb: fc.Arbitrary<string>) =>
  fc
    .array(
      fc.record(
        {
          name: fc.stringMatching(/^[A-Za-z0-9_]{1,20}$/),
          filename: filenameArb,
          data: dataArb(boundary),
        },
        { requiredKeys: ['name', 'data'] },
      ),
      { maxLength: 6 },
    )
    .filter((parts) => parts.every((p) => !Buffer.from(p.data).includes(`\r\n--${boundary}`)));

const expected = (parts: Part[]) =>
  parts.map((p) => ({ name: p.name, filename: p.filename, data: Buffer.from(p.data).toString('hex') }));
const actual = (parts: ReturnType<typeof parseMultipart>) =>
  parts.map((p) => ({ name: p.name, filename: p.filename, data: p.data.toString('hex') }));

describe('parseMultipart', () => {
  it("parses grammY's encoding back to the same parts, whatever the bytes and file names", () => {
    fc.assert(
      fc.property(
        boundaryArb.chain((b) =>
          fc.tuple(
            fc.constant(b),
            partsArb(
              b,
              fc.string({ unit: 'binary' }).filter((s) => noNewline(s) && !s.startsWith('"')),
            ),
          ),
        ),
        ([boundary, parts]) => {
          expect(actual(parseMultipart(encodeGrammy(parts, boundary), boundary))).toEqual(expected(parts));
        },
      ),
    );
  });

  it('parses the quoted, escaped encoding back to the same parts', () => {
    fc.assert(
      fc.property(
        boundaryArb.chain((b) =>
          fc.tuple(fc.constant(b), partsArb(b, fc.string({ unit: 'binary' }).filter(noNewline))),
        ),
        ([boundary, parts]) => {
          const parsed = parseMultipart(encodeStandard(parts, boundary), boundary);
          expect(actual(parsed)).toEqual(expected(parts));
          for (const p of parsed) expect(p.contentType).toBe(p.filename === undefined ? undefined : 'text/plain');
        },
      ),
    );
  });

  it('either parses or throws MultipartError on arbitrary input', () => {
    fc.assert(
      fc.property(
        boundaryArb,
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 50 }),
        (boundary, head, tail) => {
          const body = Buffer.concat([Buffer.from(head), Buffer.from(`--${boundary}\r\n`), Buffer.from(tail)]);
          try {
            parseMultipart(body, boundary);
          } catch (e) {
            expect(e).toBeInstanceOf(MultipartError);
          }
        },
      ),
    );
  });

  it('rejects a body without its closing delimiter or without names', () => {
    expect(() => parseMultipart(Buffer.from('--b\r\ncontent-disposition:form-data;name="a"\r\n\r\nxyz'), 'b')).toThrow(
      /closing boundary/,
    );
    expect(() => parseMultipart(Buffer.from('--b\r\ncontent-disposition:form-data\r\n\r\nx\r\n--b--'), 'b')).toThrow(
      /without a name/,
    );
    expect(() => parseMultipart(Buffer.from('nothing'), 'b')).toThrow(/boundary not found/);
  });

  it('reads the boundary of a content type, quoted or not', () => {
    expect(boundaryOf('multipart/form-data; boundary=----------abc')).toBe('----------abc');
    expect(boundaryOf('multipart/form-data; boundary="a b"; charset=utf-8')).toBe('a b');
    expect(boundaryOf('multipart/form-data')).toBeUndefined();
  });
});
