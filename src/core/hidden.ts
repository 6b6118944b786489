import { holdsKeyBody, isSecretKey, REDACTED, type Redact } from './redact.js';

/**
 * What the redactor may hide from whoever approves a request without hiding what runs: a
 * secret's own characters. Whitespace of any kind, control and format characters, what ends or
 * joins shell commands, expands, quotes or escapes, calls (`(`), a URL's `@` (a hidden one moves
 * the host: `https://u:x@evil/@backup/`), and the end of a `⟨…⟩` escape (a hidden escape is
 * hidden whitespace) could each change what runs, so none of them may be hidden.
 */
const UNSAFE = /[\s\p{Z}\p{C};|&$`<>\\#!{}*?'"()@⟩]/gu;

/**
 * `$NPM_TOKEN`, `${DB_PASSWORD}`: a reference to a secret, as safe to hide as the secret. Whole
 * only: `${X_TOKEN:-$(cmd)}` is no reference, and a name runs to its end.
 */
const SECRET_REF = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_]))/g;
const withoutSecretRefs = (s: string): string =>
  s.replace(SECRET_REF, (m, braced?: string, bare?: string) => (isSecretKey(braced ?? bare ?? '') ? '' : m));

function unsafeCounts(s: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [c] of s.matchAll(UNSAFE)) counts.set(c, (counts.get(c) ?? 0) + 1);
  return counts;
}

/**
 * A marker stands for what it hid: read as a secret's name, so that `$[REDACTED]` (a reference
 * whose name a token rule hid) drops its `$` as the reference in the text did.
 */
const unmarked = (s: string): string => withoutSecretRefs(s.split(REDACTED).join('HIDDEN_TOKEN'));

/**
 * Whether redacting `text` hides a character that could change what runs. Counted, not aligned:
 * the redactor keeps what it does not hide and puts REDACTED (which holds none of them) for each
 * span it hides, so a character of `text` missing from the redacted text was hidden, wherever.
 */
export function hidesUnsafe(text: string, redact: Redact): boolean {
  // A line read as a key's body is hidden whole: letters and digits, which could be a command.
  if (holdsKeyBody(text)) return true;
  const shown = redact(text);
  if (shown === text) return false;
  const after = unsafeCounts(unmarked(shown));
  for (const [c, n] of unsafeCounts(unmarked(text))) if ((after.get(c) ?? 0) < n) return true;
  return false;
}

/** A value under a secret-named key is hidden whole (redactDeep): it may hold nothing unsafe at all. */
const hiddenWhole = (k: string, x: unknown): boolean =>
  isSecretKey(k) &&
  (typeof x === 'string' || typeof x === 'number') &&
  unsafeCounts(withoutSecretRefs(String(x))).size > 0;

/** hidesUnsafe for any string in a JSON-like value, its keys included, as redactDeep hides them. */
export function hidesUnsafeIn(v: unknown, redact: Redact): boolean {
  if (typeof v === 'string') return hidesUnsafe(v, redact);
  if (typeof v !== 'object' || v === null) return false;
  const entries = Array.isArray(v) ? v.map((x) => ['', x] as const) : Object.entries(v);
  return entries.some(([k, x]) => hidesUnsafe(k, redact) || hiddenWhole(k, x) || hidesUnsafeIn(x, redact));
}
