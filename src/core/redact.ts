/**
 * The one redactor (DESIGN.md §2, "Secrets never leave"). Everything that leaves the process
 * passes through it: Telegram messages and documents, logs, audit entries, LLM prompts.
 *
 * It removes every configured secret (also URL-encoded and JSON-escaped, as it appears in
 * query strings and in JSON log lines) and the common shapes of credentials. All rules are
 * alternatives of one precompiled regex with no nested quantifiers; every rule either starts
 * with a literal and fails within a bounded number of characters, or starts only at a token
 * boundary, so a scan is linear in the input. Token shapes with a boundary (`sk-…`, JWTs)
 * are recognised only where they begin a word, so that names such as `risk-assessment-…`
 * are left alone.
 */
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export const REDACTED = '[REDACTED]';

/** Shorter configured values would redact ordinary words; they are not secrets worth the name. */
export const MIN_SECRET_LENGTH = 6;

/** lineStream cuts a longer line into pieces of at most this many UTF-16 units. */
export const MAX_LINE_CHARS = 64 * 1024;

export interface Redactor {
  redact(text: string): string;
  /** Copies a JSON-like value with every string redacted, and values under secret-named keys
   * (`password`, `apiKey`, `x_token`, …) replaced; never mutates its input. */
  redactDeep<T>(value: T): T;
  /**
   * A Transform that redacts UTF-8 text line by line, holding at most one line (and at most
   * MAX_LINE_CHARS of it) in memory. The output equals `redact` applied to each line, except
   * that the lines inside a multi-line private-key block are replaced whole.
   */
  lineStream(): Transform;
}

/** `password` → `[Pp][Aa]…`: JavaScript (Node 20) has no inline case-insensitive groups. */
const ci = (word: string): string =>
  word.replace(/[a-z]/gi, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`);

const KEY_WORDS = ['password', 'passwd', 'pwd', 'secret', 'token', 'api[_-]?key', 'authorization']
  .map(ci)
  .join('|');

const PEM = '-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----[\\s\\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|$)';

interface Rule {
  readonly source: string;
  /** Gets the whole match and this rule's own capture groups. */
  readonly replace: (match: string, groups: readonly (string | undefined)[]) => string;
}

const whole = (): string => REDACTED;
const keepFirst = (_m: string, g: readonly (string | undefined)[]): string => `${g[0] ?? ''}${REDACTED}`;

const SHAPES: readonly Rule[] = [
  { source: PEM, replace: whole },
  // scheme://user:password@host: keep the user, hide the password (up to the last `@`).
  { source: `(//[^\\s/?#@:"'<>\\\\]*:)[^\\s/?#"'<>\\\\]+@`, replace: (_m, g) => `${g[0] ?? ''}${REDACTED}@` },
  // key=value and key: value, the key possibly prefixed (DB_PASSWORD, aws_secret_access_key)
  // or suffixed after a separator (secret_key, token.value); keeps the key and the quotes.
  // Quotes may be backslash-escaped, as in a JSON string inside a JSON log line.
  {
    source:
      `((?:${KEY_WORDS})(?:[_.-][A-Za-z0-9_.-]{0,24})?(?:\\\\?["'])?[ \\t]*(?::=|=>|[=:])[ \\t]*` +
      `(?:(?:${ci('bearer')}|${ci('basic')}|${ci('token')})[ \\t]+)?)` +
      `(?:(\\\\")((?:[^"\\\\\\r\\n]|\\\\[^"\\r\\n])*)((?:\\\\")?)` +
      `|(")((?:[^"\\\\\\r\\n]|\\\\.)*)("?)|(')([^'\\r\\n]*)('?)|[^\\s"'&]+)`,
    replace: (m, g) => {
      const [key = '', ...quoted] = g;
      for (let i = 0; i < quoted.length; i += 3) {
        const [open, body, close] = quoted.slice(i, i + 3);
        if (open !== undefined) return body === '' ? m : `${key}${open}${REDACTED}${close ?? ''}`;
      }
      return `${key}${REDACTED}`;
    },
  },
  { source: `(${ci('bearer')}[ \\t]+)[A-Za-z0-9._~+/=-]{8,}`, replace: keepFirst },
  { source: '(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}', replace: whole },
  { source: 'AIza[0-9A-Za-z_-]{35}', replace: whole },
  { source: '(?:AKIA|ASIA)[A-Z0-9]{16}', replace: whole },
  { source: 'gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}', replace: whole },
  { source: 'xox[abprs]-[A-Za-z0-9-]{10,}', replace: whole },
  // Telegram bot token: keep the bot id, which is public.
  { source: '([0-9]{6,12}:)[A-Za-z0-9_-]{35}', replace: keepFirst },
  { source: '(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\\.eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*', replace: whole },
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The forms in which a configured secret can appear in output. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    // A "secret" inside the marker itself could never be hidden by it.
    if (s.length < MIN_SECRET_LENGTH || REDACTED.includes(s)) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first: at one position the first alternative that matches wins.
  return [...forms].sort((a, b) => b.length - a.length);
}

const countGroups = (source: string): number => new RegExp(`${source}|`).exec('')!.length - 1;

/**
 * Replacing can make a match where there was none (a token right after a replaced secret now
 * starts a word), so redact runs until nothing changes; a few passes always suffice in practice.
 */
const MAX_PASSES = 4;

export function createRedactor(secrets: readonly string[]): Redactor {
  const forms = secretForms(secrets);
  const rules: Rule[] = forms.length > 0 ? [{ source: forms.map(escapeRegExp).join('|'), replace: whole }] : [];
  rules.push(...SHAPES);

  const counts = rules.map((r) => countGroups(r.source));
  const starts: number[] = [];
  let group = 1;
  for (const n of counts) {
    starts.push(group);
    group += 1 + n;
  }
  const combined = new RegExp(rules.map((r) => `(${r.source})`).join('|'), 'g');

  // A rule's wrapping group tells which alternative matched; its own groups follow it.
  const replacer = (match: string, ...args: unknown[]): string => {
    for (let i = 0; i < rules.length; i++) {
      const at = starts[i]! - 1;
      if (args[at] === undefined) continue;
      const own = args.slice(at + 1, at + 1 + counts[i]!) as (string | undefined)[];
      return rules[i]!.replace(match, own);
    }
    return match;
  };

  const redact = (text: string): string => {
    let out = text;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const next = out.replace(combined, replacer);
      if (next === out) break;
      out = next;
    }
    return out;
  };

  return { redact, redactDeep: (v) => redactValue(v, redact, []) as typeof v, lineStream: () => lineStream(redact) };
}

const SECRET_KEY = new RegExp(`(?:${KEY_WORDS})(?:[_.-][A-Za-z0-9_.-]*)?$`);

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function redactValue(v: unknown, redact: (s: string) => string, ancestors: object[]): unknown {
  if (typeof v === 'string') return redact(v);
  if (typeof v !== 'object' || v === null) return v;
  if (ancestors.includes(v)) return '[Circular]';
  ancestors.push(v);
  try {
    if (Array.isArray(v)) return v.map((x) => redactValue(x, redact, ancestors));
    if (!isPlainObject(v)) return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [
        redact(k),
        SECRET_KEY.test(k) && (typeof x === 'string' || typeof x === 'number') && x !== ''
          ? REDACTED
          : redactValue(x, redact, ancestors),
      ]),
    );
  } finally {
    ancestors.pop();
  }
}

const PEM_MARK = /-----(BEGIN|END)[A-Z0-9 ]{0,40}PRIVATE KEY-----/g;

/** Where the text after the first END marker starts, or -1. */
function afterPemEnd(line: string): number {
  for (const m of line.matchAll(PEM_MARK)) if (m[1] === 'END') return m.index + m[0].length;
  return -1;
}

/** True when the last marker on the line is a BEGIN: the following lines are key material. */
function opensPem(line: string): boolean {
  if (!line.includes('PRIVATE KEY-----')) return false;
  let last: string | undefined;
  for (const m of line.matchAll(PEM_MARK)) last = m[1];
  return last === 'BEGIN';
}

/** Cut a too-long line after its last blank near the limit, so a token is rarely split. */
function cutAt(s: string): number {
  const blank = Math.max(s.lastIndexOf(' ', MAX_LINE_CHARS - 1), s.lastIndexOf('\t', MAX_LINE_CHARS - 1));
  if (blank >= MAX_LINE_CHARS - 4096) return blank + 1;
  const c = s.charCodeAt(MAX_LINE_CHARS - 1);
  return c >= 0xd800 && c <= 0xdbff ? MAX_LINE_CHARS - 1 : MAX_LINE_CHARS;
}

function lineStream(redact: (s: string) => string): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let inPem = false;

  const line = (l: string): string => {
    let head = '';
    let rest = l;
    if (inPem) {
      const end = afterPemEnd(l);
      if (end === -1) return REDACTED;
      head = REDACTED;
      rest = l.slice(end);
      inPem = false;
    }
    inPem = opensPem(rest);
    return head + redact(rest);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let searchFrom = pending.length;
      pending += decoder.write(chunk);
      let out = '';
      for (;;) {
        const nl = pending.indexOf('\n', searchFrom);
        if (nl !== -1) {
          out += `${line(pending.slice(0, nl))}\n`;
          pending = pending.slice(nl + 1);
          searchFrom = 0;
        } else if (pending.length > MAX_LINE_CHARS) {
          const cut = cutAt(pending);
          out += line(pending.slice(0, cut));
          pending = pending.slice(cut);
          searchFrom = pending.length;
        } else break;
        if (out.length >= MAX_LINE_CHARS) {
          this.push(out);
          out = '';
        }
      }
      if (out !== '') this.push(out);
      done();
    },
    flush(done) {
      pending += decoder.end();
      if (pending !== '') this.push(line(pending));
      pending = '';
      done();
    },
  });
}
