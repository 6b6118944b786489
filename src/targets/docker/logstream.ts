import { StringDecoder } from 'node:string_decoder';

/**
 * The Engine's log stream for a container without a TTY is multiplexed: frames of
 * [stream type, 0, 0, 0, payload length (uint32 BE)] followed by the payload.
 */
export type StreamKind = 'stdout' | 'stderr';

export interface LogFrame {
  readonly stream: StreamKind;
  readonly data: Buffer;
}

export interface LogLine {
  readonly stream: StreamKind;
  readonly text: string;
}

const HEADER = 8;

/**
 * Splits the multiplexed stream into frames, keeping at most one header's worth of bytes
 * between chunks (payloads are passed on in pieces as they arrive). A header that is not
 * one (a TTY stream, a misaligned stream) turns the rest into plain stdout.
 */
export async function* demux(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<LogFrame> {
  let carry: Buffer = Buffer.alloc(0);
  let current: { stream: StreamKind; remaining: number } | undefined;
  let raw = false;
  for await (const piece of source) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    if (raw) {
      yield { stream: 'stdout', data: chunk };
      continue;
    }
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    carry = Buffer.alloc(0);
    let off = 0;
    while (off < buf.length) {
      if (current) {
        const n = Math.min(current.remaining, buf.length - off);
        yield { stream: current.stream, data: buf.subarray(off, off + n) };
        off += n;
        current.remaining -= n;
        if (current.remaining === 0) current = undefined;
        continue;
      }
      if (buf.length - off < HEADER) {
        carry = Buffer.from(buf.subarray(off));
        break;
      }
      const type = buf[off]!;
      if (type > 2 || buf[off + 1] !== 0 || buf[off + 2] !== 0 || buf[off + 3] !== 0) {
        raw = true;
        yield { stream: 'stdout', data: buf.subarray(off) };
        break;
      }
      const size = buf.readUInt32BE(off + 4);
      off += HEADER;
      if (size > 0) current = { stream: type === 2 ? 'stderr' : 'stdout', remaining: size };
    }
  }
  if (carry.length > 0) yield { stream: 'stdout', data: carry };
}

/**
 * Frames → lines, per stream (a line may arrive in several frames, interleaved with the
 * other stream). UTF-8 is decoded across frame boundaries. A line longer than `maxChars`
 * is cut into pieces so that a log without newlines cannot grow a buffer without bound.
 */
export async function* toLines(frames: AsyncIterable<LogFrame>, maxChars = 16_384): AsyncGenerator<LogLine> {
  const partial: Record<StreamKind, string> = { stdout: '', stderr: '' };
  const decoders: Record<StreamKind, StringDecoder> = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  for await (const f of frames) {
    const text = partial[f.stream] + decoders[f.stream].write(f.data);
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      yield { stream: f.stream, text: trimCr(text.slice(start, nl)) };
      start = nl + 1;
    }
    let s = text.slice(start);
    while (s.length > maxChars) {
      yield { stream: f.stream, text: s.slice(0, maxChars) };
      s = s.slice(maxChars);
    }
    partial[f.stream] = s;
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const rest = partial[stream] + decoders[stream].end();
    if (rest !== '') yield { stream, text: trimCr(rest) };
  }
}

const trimCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s);
