/** Plain-text helpers shared by targets that show terminal and log output. */

/**
 * CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks; ended by BEL or
 * ST), two-byte escapes, and the remaining C0 controls except tab and newline.
 */
const ANSI = new RegExp(
  [
    String.raw`\u001b\[[0-?]*[ -/]*[@-~]`,
    String.raw`\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?`,
    String.raw`\u001b[@-Z\\-_]`,
    String.raw`\u009b[0-?]*[ -/]*[@-~]`,
    String.raw`[\u0000-\u0008\u000b-\u001f\u007f]`,
  ].join('|'),
  'g',
);

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** Collapses runs of blank lines into one, and drops trailing blank lines. */
export function foldBlankRuns(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const blank = l.trim() === '';
    if (blank && (out.length === 0 || out[out.length - 1]!.trim() === '')) continue;
    out.push(blank ? '' : l);
  }
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Cuts a string to at most `max` characters, saying so. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

/** Human durations: 45s, 12m, 3h 05m, 2d 4h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/**
 * Parses "30s", "5m", "2h", "1d" and combinations like "1h30m" into milliseconds, spaced too
 * ("1h 05m", "2d 3h"): operators type back what formatDuration showed them.
 */
export function parseDuration(s: string): number | undefined {
  const m = /^(?:(\d{1,4})d *)?(?:(\d{1,5})h *)?(?:(\d{1,6})m *)?(?:(\d{1,7})s)?$/.exec(s.trim());
  if (!m || s.trim() === '') return undefined;
  const [, d, h, min, sec] = m;
  return ((+(d ?? 0) * 24 + +(h ?? 0)) * 60 + +(min ?? 0)) * 60_000 + +(sec ?? 0) * 1000;
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * Order of names shown to people: digits compare as numbers (web-2 before web-10). One
 * collator made once: `localeCompare` is several times slower per call, which shows on a
 * list of hundreds of containers. Equal names (a shared compose project) skip the collator.
 */
export const compareNames = (a: string, b: string): number => (a === b ? 0 : collator.compare(a, b));

/** "1 entry", "2 entries": a count and its noun, in the number the count needs. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

// eslint-disable-next-line no-control-regex
const LINE_BREAKING = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/g;

/** A message that quotes what someone typed, kept to one line: line breaks and control characters escaped. */
export const oneLine = (s: string): string =>
  s.replace(LINE_BREAKING, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
