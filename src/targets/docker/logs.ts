import { z } from 'zod';
import { defineAction, type AnyAction } from '../../core/action.js';
import { bold, line, pre, result, text, value, type Result } from '../../core/result.js';
import { parseDuration, stripAnsi, truncate } from '../../core/text.js';
import type { Redactor } from '../../core/redact.js';
import { toLines, type LogFrame } from './logstream.js';
import type { DockerPort } from './port.js';
import { CONTAINER_REF, findContainer } from './resolve.js';
import { containerSpans } from './format.js';

export const LOG_LINES_DEFAULT = 50;
export const LOG_LINES_MAX = 5000;
/** Up to this many lines (and INLINE_MAX_CHARS) are shown in the chat; more go as a file. */
export const INLINE_MAX_LINES = 200;
export const INLINE_MAX_CHARS = 3500;
/** With grep, this many of the newest lines are searched (bounded work on a huge log). */
export const GREP_SCAN_LINES = 100_000;
const GREP_LINE_MAX = 2000;
const FILE_CHUNK = 64 * 1024;

/** "10m", "2h", "1h30m" ago, or an ISO date/time; unix seconds, or undefined if neither. */
export function parseSince(s: string, now: number): number | undefined {
  const d = parseDuration(s);
  if (d !== undefined && d > 0) return Math.floor((now - d) / 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) {
    const t = Date.parse(s);
    if (Number.isFinite(t)) return Math.floor(t / 1000);
  }
  return undefined;
}

/**
 * `/docker logs <c> [lines] [since] [grep…]`: after the container, a number is the line
 * count and a duration or date is `since` (each once, in any order); the first other word
 * starts the grep text, which runs to the end of the line.
 */
export function parseLogsArgs(tokens: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const [container, ...rest] = tokens;
  if (container !== undefined) out.container = container;
  for (let i = 0; i < rest.length; i++) {
    const t = rest[i]!;
    if (out.lines === undefined && /^\d{1,9}$/.test(t)) out.lines = Number(t);
    else if (out.since === undefined && parseSince(t, Date.now()) !== undefined) out.since = t;
    else {
      out.grep = rest.slice(i).join(' ');
      break;
    }
  }
  return out;
}

export const logsParams = z.object({
  container: z.string().regex(CONTAINER_REF, { error: 'a name, an id prefix or compose project/service' }),
  lines: z.coerce.number().int().min(1).max(LOG_LINES_MAX).default(LOG_LINES_DEFAULT),
  since: z
    .string()
    .max(40)
    .refine((s) => parseSince(s, Date.now()) !== undefined, {
      error: 'a duration like 10m, 2h, 1d, or a date like 2025-01-31T12:00:00Z',
    })
    .optional(),
  grep: z.string().min(1).max(200).optional(),
});

/** A fresh copy, so that a kept line does not pin the whole chunk it was sliced from. */
const detach = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** A log line longer than this is cut into pieces (each redacted with what follows in view). */
const LINE_MAX_CHARS = 16_384;

/**
 * Lines of the container's log as shown to people: demultiplexed, redacted before any cut,
 * ANSI stripped (and redacted again, as stripping can join what a colour code split). Search
 * and cutting work on this text only, so neither can reveal what redaction hides.
 */
export async function* cleanLines(frames: AsyncIterable<LogFrame>, redactor: Redactor): AsyncGenerator<string> {
  for await (const l of toLines(frames, () => redactor.splitter(LINE_MAX_CHARS)))
    yield redactor.redact(stripAnsi(l.text));
}

/** The last `n` lines, each cut to `maxChars`; for alerts. */
export async function tailLines(
  port: DockerPort,
  redactor: Redactor,
  id: string,
  n: number,
  signal?: AbortSignal,
  maxChars = 500,
): Promise<string[]> {
  const out: string[] = [];
  for await (const l of cleanLines(await port.logs(id, { tail: n }, signal), redactor)) {
    out.push(detach(truncate(l, maxChars)));
    if (out.length > n) out.shift();
  }
  return out;
}

export function logsAction(deps: { port: DockerPort; redactor: Redactor; clock: () => number }): AnyAction {
  const { port, redactor, clock } = deps;
  return defineAction({
    name: 'docker.logs',
    summary: 'Show the last lines of a container log (optionally since a time, matching a text)',
    target: 'docker',
    risk: 'read',
    params: logsParams,
    command: { path: ['docker', 'logs'], usage: '<container> [lines] [since] [grep...]', parse: parseLogsArgs },
    timeoutMs: 60_000,
    subject: (p) => `container ${p.container}`,
    async run(ctx, p): Promise<Result> {
      const now = clock();
      const since = p.since === undefined ? undefined : parseSince(p.since, now);
      const opts = { tail: p.grep ? GREP_SCAN_LINES : p.lines, ...(since !== undefined ? { since } : {}) };
      // The stream follows the request's signal only while `run` reads it; a streamed file
      // is read by the transport after `run` has returned, bounded by the port's stall timeout.
      const ac = new AbortController();
      const follow = (): void => ac.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', follow, { once: true });
      try {
        const c = await findContainer(port, p.container, ac.signal);
        const frames = await port.logs(c.id, opts, ac.signal);
        const head = [
          text('📄 '),
          bold('Logs of '),
          ...containerSpans(c.name, c.id),
          text(` · last ${p.lines} line${p.lines === 1 ? '' : 's'}`),
          ...(p.since ? [text(' since '), value(p.since)] : []),
          ...(p.grep ? [text(' matching '), value(p.grep)] : []),
        ];
        const filename = `${c.name}-${stamp(now)}.log`;
        if (p.grep) return await grepResult(cleanLines(frames, redactor), p.grep, p.lines, head, filename);
        return await streamResult(cleanLines(frames, redactor), head, filename);
      } finally {
        ctx.signal.removeEventListener('abort', follow);
      }
    },
  });
}

type Head = Parameters<typeof line>;

/** Reads up to what fits in a message; the rest stays in the Engine's stream for the file. */
async function streamResult(lines: AsyncGenerator<string>, head: Head, filename: string): Promise<Result> {
  const prefix: string[] = [];
  let chars = 0;
  let overflow = false;
  for (;;) {
    const n = await lines.next();
    if (n.done) break;
    prefix.push(n.value);
    chars += n.value.length + 1;
    if (prefix.length > INLINE_MAX_LINES || chars > INLINE_MAX_CHARS) {
      overflow = true;
      break;
    }
  }
  if (!overflow) {
    return result([line(...head), prefix.length > 0 ? pre(prefix.join('\n')) : line(text('(no log lines)'))]);
  }
  async function* file(): AsyncGenerator<string> {
    try {
      yield prefix.map((l) => `${l}\n`).join('');
      prefix.length = 0;
      // Lines are gathered into pieces of about FILE_CHUNK characters: fewer, larger writes.
      let piece = '';
      for await (const l of { [Symbol.asyncIterator]: () => lines }) {
        piece += `${l}\n`;
        if (piece.length >= FILE_CHUNK) {
          yield piece;
          piece = '';
        }
      }
      if (piece !== '') yield piece;
    } finally {
      await lines.return(undefined);
    }
  }
  return result([line(...head), line(text('More than fits in a message: sent as '), value(filename), text('.'))], {
    attachment: { filename, content: file() },
  });
}

/** Keeps only the newest `keep` matches (case-insensitive substring, not a regex) among redacted lines. */
async function grepResult(
  lines: AsyncGenerator<string>,
  needle: string,
  keep: number,
  head: Head,
  filename: string,
): Promise<Result> {
  const n = needle.toLowerCase();
  const ring: string[] = new Array<string>(keep);
  let scanned = 0;
  let matched = 0;
  for await (const l of lines) {
    scanned++;
    if (!l.toLowerCase().includes(n)) continue;
    ring[matched % keep] = detach(truncate(l, GREP_LINE_MAX));
    matched++;
  }
  const kept = Math.min(matched, keep);
  const newest = Array.from({ length: kept }, (_, i) => ring[(matched - kept + i) % keep]!);
  const summary = line(
    text(`${matched} matching line${matched === 1 ? '' : 's'} in the last ${scanned}`),
    text(matched > keep ? `; the newest ${keep} shown` : ''),
  );
  const body = newest.join('\n');
  if (kept === 0) return result([line(...head), summary]);
  if (kept <= INLINE_MAX_LINES && body.length <= INLINE_MAX_CHARS) return result([line(...head), summary, pre(body)]);
  return result([line(...head), summary, line(text('Sent as '), value(filename), text('.'))], {
    attachment: { filename, content: `${body}\n` },
  });
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
