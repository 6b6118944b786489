import type { Readable } from 'node:stream';

export interface Body {
  /** At most the bound: the first bytes of the body. */
  readonly bytes: Buffer;
  /** The body was longer than the bound; the rest was not read. */
  readonly truncated: boolean;
}

/**
 * Reads a body (an HTTP answer, any byte stream) to its end, or up to `maxBytes`: then it
 * stops and destroys the source, so that an endless or huge body costs neither memory nor
 * time. Without a bound it reads everything.
 */
export function readBody(source: Readable, maxBytes = Infinity): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (truncated: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ bytes: Buffer.concat(chunks), truncated });
    };
    source.on('data', (c: Buffer) => {
      if (settled) return;
      const room = maxBytes - size;
      if (c.length <= room) {
        chunks.push(c);
        size += c.length;
        return;
      }
      chunks.push(c.subarray(0, room));
      settle(true);
      source.destroy();
    });
    source.once('end', () => settle(false));
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    // Stays attached after settling: a destroyed source may still report an error.
    source.on('error', fail);
    source.once('close', () => fail(new Error('the body was cut off before its end')));
  });
}
