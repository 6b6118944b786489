/**
 * Newline-delimited JSON from an agent's process (Codex app-server's stdout), read in
 * chunks as they arrive. A line longer than the cap is dropped as it streams, never held
 * whole; a line that is not a JSON object is reported and skipped.
 */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

export type JsonLine =
  | { readonly kind: 'message'; readonly value: Record<string, unknown> }
  | { readonly kind: 'bad'; readonly reason: string };

export class JsonLineReader {
  private buf = '';
  /** Inside a line over the cap: skip until its newline. */
  private skipping = false;

  constructor(private readonly maxChars = MAX_LINE_BYTES) {}

  push(chunk: string): JsonLine[] {
    const out: JsonLine[] = [];
    let rest = chunk;
    for (;;) {
      const nl = rest.indexOf('\n');
      if (nl < 0) break;
      const piece = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (this.skipping) {
        this.skipping = false;
        this.buf = '';
        continue;
      }
      const line = this.buf + piece;
      this.buf = '';
      if (line.length > this.maxChars) out.push({ kind: 'bad', reason: `line over ${this.maxChars} characters` });
      else if (line.trim() !== '') out.push(parseLine(line));
    }
    if (this.skipping) return out;
    this.buf += rest;
    if (this.buf.length > this.maxChars) {
      this.buf = '';
      this.skipping = true;
      out.push({ kind: 'bad', reason: `line over ${this.maxChars} characters` });
    }
    return out;
  }

  /** The unterminated rest when the stream ends. */
  end(): JsonLine[] {
    const line = this.buf;
    this.buf = '';
    const skipped = this.skipping;
    this.skipping = false;
    return skipped || line.trim() === '' ? [] : [parseLine(line)];
  }
}

function parseLine(line: string): JsonLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { kind: 'bad', reason: 'not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { kind: 'bad', reason: 'not a JSON object' };
  return { kind: 'message', value: v as Record<string, unknown> };
}
