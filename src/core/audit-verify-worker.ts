import { Worker } from 'node:worker_threads';

/*
 * Hashes chunks of audit rows on another thread, so that verification uses a second core:
 * reading a chunk from SQLite costs about as much as hashing it. A chunk is the bytes of
 * prev_hash ‖ entry ‖ hash of its rows back to back (one transferred ArrayBuffer) and
 * "seq,len" pairs, len being the entry's byte length (seq -1: a row the caller checks itself,
 * one under another key); the worker answers, per chunk, whether every other row's hash is
 * H(prev_hash ‖ entry) in hex (SHA-256, or HMAC-SHA-256 with the key, as audit.ts's chainHasher; were the two ever to differ, stored hashes would stop matching, and
 * verifyAudit, which the caller falls back on, would clear the false break).
 *
 * The worker is plain JavaScript kept in a string: run from the TypeScript sources, a .ts
 * entry would need a TypeScript loader inside the worker, and starting one takes longer than
 * verifying 200,000 entries.
 */
const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createHmac, hash } = require('node:crypto');
const key = workerData.hmacKey;
const digest = key ? (d) => createHmac('sha256', key).update(d).digest('hex') : (d) => hash('sha256', d, 'hex');
parentPort.on('message', ({ bytes, meta }) => {
  const b = Buffer.from(bytes);
  let p = 0;
  let ok = true;
  for (let i = 1; ok && i < meta.length; i += 2) {
    const at = p + 64 + meta[i];
    ok = meta[i] >= 0 && at + 64 <= b.length && (meta[i - 1] < 0 || b.toString('latin1', at, at + 64) === digest(new Uint8Array(bytes, p, at - p)));
    p = at + 64;
  }
  parentPort.postMessage(ok);
});
`;

/** One worker thread; close() it when done. */
export class ChunkHashWorker {
  private readonly worker: Worker;
  private pending = 0;
  private failed = false;
  private wake: (() => void) | undefined;

  constructor(hmacKey: string | undefined) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Nothing of this process's command line (a TypeScript loader, a profiler) is needed there.
      execArgv: [],
      workerData: { hmacKey },
    });
    this.worker.on('message', (ok: boolean) => {
      this.pending--;
      if (!ok) this.failed = true;
      this.wake?.();
    });
    // An error, or an exit before the last answer, leaves the verdict to the single-thread pass.
    const fail = (): void => {
      this.failed = true;
      this.wake?.();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', fail);
  }

  /** Chunks handed over and not answered yet. */
  get queued(): number {
    return this.pending;
  }

  /** Hands a chunk over; its ArrayBuffer is transferred (unusable here afterwards). */
  submit(bytes: Buffer, meta: Float64Array<ArrayBuffer>): void {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    // Buffers from SQLite have an ArrayBuffer of their own; any other is copied out.
    const ab = (
      whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
    ) as ArrayBuffer;
    this.pending++;
    this.worker.postMessage({ bytes: ab, meta }, [ab, meta.buffer]);
  }

  /** Waits for every answer; false if a chunk had a row whose hash does not match, or the worker failed. */
  async allMatch(): Promise<boolean> {
    while (this.pending > 0 && !this.failed) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    return !this.failed;
  }

  /** False as soon as an answer so far said a hash does not match. */
  get ok(): boolean {
    return !this.failed;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
