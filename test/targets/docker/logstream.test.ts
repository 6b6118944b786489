import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRedactor, MATCH_OVERLAP } from '../../../src/core/redact.js';
import { demux, toLines, type LogFrame, type StreamKind } from '../../../src/targets/docker/logstream.js';

/** A frame as the Engine sends it: [type, 0, 0, 0, size (uint32 BE)] + payload. */
function mux(stream: StreamKind, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream === 'stderr' ? 2 : 1;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** Cuts a buffer at the given (sorted, deduplicated) offsets. */
function cut(buf: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

async function* from<T>(xs: readonly T[]): AsyncGenerator<T> {
  for (const x of xs) yield x;
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const kind = fc.constantFrom<StreamKind>('stdout', 'stderr');

describe('demux', () => {
  it("recovers each stream's bytes however the wire splits the frames", async () => {
    // size 'max': fast-check's default keeps payloads under about ten bytes, so a frame's
    // size never needed its second byte.
    let big = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(kind, fc.uint8Array({ maxLength: 300, size: 'max' })), { maxLength: 20, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 15, size: 'max' }),
        async (frames, offsets) => {
          if (frames.some(([, p]) => p.length > 255)) big++;
          const wire = Buffer.concat(frames.map(([k, p]) => mux(k, Buffer.from(p))));
          const got = await all(demux(from(cut(wire, offsets))));
          for (const k of ['stdout', 'stderr'] as const) {
            const want = Buffer.concat(frames.filter(([s]) => s === k).map(([, p]) => Buffer.from(p)));
            const have = Buffer.concat(got.filter((f) => f.stream === k).map((f) => f.data));
            expect(have.equals(want)).toBe(true);
          }
        },
      ),
    );
    expect(big).toBeGreaterThan(10);
  });

  it('passes a stream that is not multiplexed (a TTY) through as stdout', async () => {
    const raw = Buffer.from('plain text from a tty\n');
    const got = await all(demux(from([raw.subarray(0, 5), raw.subarray(5)])));
    expect(Buffer.concat(got.map((f) => f.data)).toString()).toBe(raw.toString());
    expect(got.every((f) => f.stream === 'stdout')).toBe(true);
  });

  it('does not show frame headers as text even when a size byte is printable', async () => {
    const line = `${'x'.repeat(0x41 - 1)}\n`; // 65 bytes: size byte 0x41 is "A"
    const got = await all(demux(from([mux('stdout', Buffer.from(line))])));
    expect(Buffer.concat(got.map((f) => f.data)).toString()).toBe(line);
  });
});

describe('toLines', () => {
  const plain = (): ReturnType<ReturnType<typeof createRedactor>['splitter']> => createRedactor([]).splitter();
  const text = fc.string({ unit: fc.constantFrom('a', 'é', '€', '𝄞', ' ', '\x1b', 'z'), maxLength: 30, size: 'max' });

  it("gives back each stream's lines, with UTF-8 split anywhere and streams interleaved", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(kind, text), { maxLength: 20, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (lines, offsets) => {
          const frames: LogFrame[] = [];
          for (const k of ['stdout', 'stderr'] as const) {
            const bytes = Buffer.from(
              lines
                .filter(([s]) => s === k)
                .map(([, t]) => `${t}\n`)
                .join(''),
              'utf8',
            );
            for (const piece of cut(bytes, offsets)) if (piece.length > 0) frames.push({ stream: k, data: piece });
          }
          // Interleave: alternate the two streams' pieces.
          const out = frames.filter((f) => f.stream === 'stdout');
          const err = frames.filter((f) => f.stream === 'stderr');
          const mixed: LogFrame[] = [];
          while (out.length > 0 || err.length > 0) {
            const a = out.shift();
            const b = err.shift();
            if (a) mixed.push(a);
            if (b) mixed.push(b);
          }
          const got = await all(toLines(from(mixed), plain));
          for (const k of ['stdout', 'stderr'] as const) {
            expect(got.filter((l) => l.stream === k).map((l) => l.text)).toEqual(
              lines.filter(([s]) => s === k).map(([, t]) => t),
            );
          }
        },
      ),
    );
  });

  it('drops the CR of CRLF and keeps a last line without a newline', async () => {
    const got = await all(toLines(from([{ stream: 'stdout', data: Buffer.from('a\r\nb') }]), plain));
    expect(got.map((l) => l.text)).toEqual(['a', 'b']);
  });

  it('cuts a line that never ends into bounded pieces', async () => {
    const chunk = Buffer.from('y'.repeat(1000));
    const got = await all(
      toLines(from(Array.from({ length: 50 }, () => ({ stream: 'stdout' as const, data: chunk }))), () =>
        createRedactor([]).splitter(4096),
      ),
    );
    expect(got.every((l) => l.text.length <= 4096 + MATCH_OVERLAP)).toBe(true);
    expect(got.map((l) => l.text).join('')).toBe('y'.repeat(50_000));
  });
});
