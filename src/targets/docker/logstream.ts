import { StringDecoder } from 'node:string_decoder';
import type { LineSplitter } from '../../core/redact.js';

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
 * Frames → redacted lines, per stream (a line may arrive in several frames, interleaved with
 * the other stream). UTF-8 is decoded across frame boundaries. Each stream has its own
 * redacting `splitter`, which cuts a line too long to hold into pieces, never inside a secret
 * (a piece redacted alone could not hide a secret that straddles its end).
 */
export async function* toLines(frames: AsyncIterable<LogFrame>, splitter: () => LineSplitter): AsyncGenerator<LogLine> {
  const split: Record<StreamKind, LineSplitter> = { stdout: splitter(), stderr: splitter() };
  const decoders: Record<StreamKind, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  for await (const f of frames) {
    for (const p of split[f.stream].push(decoders[f.stream].write(f.data)))
      yield { stream: f.stream, text: p.eol ? trimCr(p.text) : p.text };
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    for (const p of [...split[stream].push(decoders[stream].end()), ...split[stream].end()])
      yield { stream, text: trimCr(p.text) };
  }
}

const trimCr = (s: string): string => (s.endsWith('\r') ? s.slice(0, -1) : s);
