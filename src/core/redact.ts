/**
 * The one redactor (DESIGN.md §2, "Secrets never leave"). Everything that leaves the process
 * passes through it: Telegram messages and documents, logs, audit entries, LLM prompts.
 *
 * It removes every configured secret (also URL-encoded, JSON-escaped, hex and base64 at every
 * alignment, as it appears in query strings, JSON log lines and encoded blobs) and the common
 * shapes of credentials. All rules are alternatives of one precompiled regex with no nested
 * quantifiers; every rule either starts with a literal and fails within a bounded number of
 * characters, or starts only at a token boundary, so a scan is linear in the input. Token
 * shapes with a boundary (`sk-…`, JWTs, `npm_…`) are recognised only where they begin a word,
 * so that names such as `risk-assessment-…` or `npm_config_cache` are left alone.
 *
 * No rule looks back for context beyond one boundary character: where a rule needs context
 * (the `mysql` before `-pPASS`), its match spans the context too and the context is redacted
 * on its own. So a match's span is everything it depends on, and text cut outside every match
 * redacts exactly as it would uncut (what `splitter` relies on).
 */
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export const REDACTED = '[REDACTED]';

/** A redactor's `redact`, for what only needs that. */
export type Redact = (text: string) => string;

/** Shorter configured values would redact ordinary words; they are not secrets worth the name. */
export const MIN_SECRET_LENGTH = 6;

/** lineStream cuts a longer line into pieces of about this many UTF-16 units. */
export const MAX_LINE_CHARS = 64 * 1024;

/**
 * A cut never splits a secret of up to this many characters: a piece is redacted with this much
 * of what follows in view and is cut after any secret that straddles its end. A longer match
 * that reaches past the view is removed up to the next blank (over-redaction, never a leak).
 */
export const MATCH_OVERLAP = 4096;

/** One piece of a line stream: a whole line, or a piece of a longer one (`eol` false). */
export interface Piece {
  readonly text: string;
  readonly eol: boolean;
}

/** Splits text into lines, and over-long lines into pieces, each redacted; see `splitter`. */
export interface LineSplitter {
  /** Takes the next text; returns the lines and pieces it completed. */
  push(text: string): Piece[];
  /** The rest, as a last piece without a newline. */
  end(): Piece[];
}

export interface Redactor {
  redact(text: string): string;
  /** Copies a JSON-like value with every string redacted, and values under secret-named keys
   * (`password`, `apiKey`, `x_token`, …) replaced; never mutates its input. */
  redactDeep<T>(value: T): T;
  /**
   * Lines of text as they arrive, redacted, holding at most one line in memory: a line longer
   * than `maxChars` is cut into pieces of at most `maxChars + MATCH_OVERLAP`, never inside a
   * secret. A piece equals `redact` applied to it, except that the lines inside a multi-line
   * private-key block are replaced whole.
   */
  splitter(maxChars?: number): LineSplitter;
  /** A Transform that redacts UTF-8 text with a `splitter` of MAX_LINE_CHARS, keeping the bytes' lines. */
  lineStream(): Transform;
}

/** `password` → `[Pp][Aa]…`: JavaScript (Node 20) has no inline case-insensitive groups. */
const ci = (word: string): string => word.replace(/[a-z]/gi, (c) => `[${c.toUpperCase()}${c.toLowerCase()}]`);

const KEY_WORDS = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api[_-]?key',
  'private[_-]?key',
  'credentials?',
  'authorization',
]
  .map(ci)
  .concat(
    // `pass` only closing a compound name (SMTP_PASS, db.pass): alone it is a test's verdict.
    `(?<=[_.-])${ci('pass')}(?![A-Za-z])`,
  )
  .join('|');

/** A key word in a variable name: `DB_PASSWORD`, `token.value`; not `MAX_TOKENS`. */
const NAMED_SECRET = `[A-Za-z0-9_.-]{0,64}?(?:${KEY_WORDS})(?:[_.-][A-Za-z0-9_.-]{0,24})?`;

const PEM_LABEL = '[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----';
const PEM = `-----BEGIN${PEM_LABEL}[\\s\\S]*?(?:-----END${PEM_LABEL}|$)`;

const QUOTED = `"(?:[^"\\\\\\r\\n]|\\\\.)*"|'[^'\\r\\n]*'`;
/** A value after a flag: quoted (kept quoted) or a run up to a blank. */
const VALUE = `(?:${QUOTED}|[^\\s"']\\S*)`;
/** Command-line flags whose value is a secret (`--password x`, `--token=x`). */
const SECRET_FLAGS =
  '(?:password|passwd|pass|token|auth-token|access-token|api-key|apikey|secret|client-secret|requirepass|masterauth)';
/** A value after a YAML key: quoted, or the rest of the line (a plain scalar may hold blanks). */
const LINE_VALUE = `(?:${QUOTED}|[^\\s"'][^\\r\\n]*)`;

type Groups = readonly (string | undefined)[];

interface Rule {
  readonly source: string;
  /** Gets the whole match, this rule's own capture groups and the redactor itself (for context). */
  readonly replace: (match: string, groups: Groups, redact: (s: string) => string) => string;
}

const whole = (): string => REDACTED;
const keepFirst = (_m: string, g: Groups): string => `${g[0] ?? ''}${REDACTED}`;
/** Keeps the first group, hides the second (a VALUE), keeping its quotes. */
const keepQuotes = (_m: string, g: Groups): string => {
  const v = g[1] ?? '';
  const q = v[0] === '"' || v[0] === "'" ? v[0] : '';
  return `${g[0] ?? ''}${q}${REDACTED}${q}`;
};
/** The context before a password (`mysql -h db …`) is redacted on its own; the password hidden. */
const contextThen = (_m: string, g: Groups, redact: (s: string) => string): string =>
  `${redact(g[0] ?? '')}${g[1] ?? ''}${REDACTED}`;

/** A line under a YAML `data:` / `stringData:` key: its value hidden, key and indentation kept. */
function hideDataLine(l: string): string {
  const indent = l.slice(0, indentOf(l));
  const rest = l.slice(indent.length);
  const kv = /^("[^"]*"|'[^']*'|[^\s:#][^:\r\n]*):([ \t]*)(.*)$/.exec(rest);
  if (!kv) return rest.startsWith('#') ? l : `${indent}${REDACTED}`;
  return kv[3] === '' || kv[3] === '\r' ? l : `${indent}${kv[1]}:${kv[2]}${REDACTED}`;
}

/** A YAML key whose values are all secret (a Secret's `data:`): the values follow on the next, deeper lines. */
const DATA_LINE = /^[ \t]*(?:stringData|data):[ \t]*\r?$/;
const DATA_ANYWHERE = /(?:^|\n)[ \t]*(?:stringData|data):[ \t]*\r?\n/;
const indentOf = (l: string): number => l.length - l.trimStart().length;

/**
 * Hides every value under a YAML `data:` map, line by line (a regex over the whole map would
 * backtrack over every line of it).
 */
function hideDataMaps(text: string): string {
  if (!DATA_ANYWHERE.test(text)) return text;
  const lines = text.split('\n');
  let indent: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (indent !== undefined && l.trim() !== '') {
      if (indentOf(l) > indent) {
        lines[i] = hideDataLine(l);
        continue;
      }
      indent = undefined;
    }
    if (DATA_LINE.test(l)) indent = indentOf(l);
  }
  return lines.join('\n');
}

/** String values inside a JSON `"data": {…}` object hidden, keys kept. */
const jsonData = (_m: string, g: Groups): string =>
  `${g[0] ?? ''}${(g[1] ?? '').replace(/("(?:[^"\\]|\\.)*"\s*:\s*)"(?:[^"\\]|\\.)*"/g, `$1"${REDACTED}"`)}`;

/** A line of a private key's body: base64 wrapped at 60–76 (PEM 64, OpenSSH 70), in both cases (a digest has one). */
const KEY_BODY = '(?=[A-Za-z0-9+/]*[a-z])(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{60,76}={0,2}';
const BASE64_LINE = '(?=[A-Za-z0-9+/=])[A-Za-z0-9+/]{0,76}={0,2}';
/** What may come before a key's line: indentation (YAML, cloud-init), or `web-1  | ` (compose logs). */
const BODY_PREFIX = '(?:[ \\t]*|[^\\n|]{0,40}\\|[ \\t]*)';
/** The end of a line, a CR (CRLF text split on LF) and trailing blanks allowed. */
const LINE_END = '(?=[ \\t]*\\r?(?:\\n|$))';
const KEY_BODY_LINE = new RegExp(`(?<![^\\n])${BODY_PREFIX}${KEY_BODY}${LINE_END}`);

/**
 * Whether `text` holds a line of a private key's body. Hidden, such a line hides letters only,
 * which a card check would not see: an approval card refuses it (a key is never a request's).
 */
export const holdsKeyBody = (text: string): boolean => KEY_BODY_LINE.test(text);

const SHAPES: readonly Rule[] = [
  { source: PEM, replace: whole },
  // A key's body where the output starts after its BEGIN line (a tail, a window): each of its
  // whole lines, and the last, shorter one before the END line; what comes before them is kept.
  { source: `(?<![^\\n])(${BODY_PREFIX})${KEY_BODY}${LINE_END}`, replace: keepFirst },
  {
    source: `(?<![^\\n])(${BODY_PREFIX})${BASE64_LINE}(?=[ \\t]*\\r?\\n[^\\n]{0,60}?-----END${PEM_LABEL})`,
    replace: keepFirst,
  },
  // scheme://user:password@host: keep the user, hide the password, which may hold `/?#@`;
  // it ends at the last `@` (within 256 characters) that a host follows, so an `@` later in
  // the path hides the host too (over-redaction, not a leak). `host:8080/…` is a port.
  {
    source:
      `(//[^\\s/?#@:"'<>\\\\]*:)(?![0-9]{1,5}(?:[/?#]|$))[^\\s"'<>\\\\]{1,256}@` +
      `(?=[A-Za-z0-9._~%:\\[\\]-]*(?:[/?#\\s"'<>\\\\,;)]|$))`,
    replace: (_m, g) => `${g[0] ?? ''}${REDACTED}@`,
  },
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
  // Command-line flags: --password X, --token=X, --requirepass X (not --password-file).
  {
    source: `(--${ci(SECRET_FLAGS)}(?:[ \\t]+|=))(?!--)(${VALUE})`,
    replace: keepQuotes,
  },
  // mysql -pPASS (mariadb, mysqldump, …) and redis-cli -a PASS: the password follows the command.
  {
    source: `((?:mysql|mariadb)[A-Za-z_-]{0,12}(?:[ \\t][^\\r\\n]{0,200}?)?[ \\t])(-p)[^\\s'"]\\S*`,
    replace: contextThen,
  },
  { source: `((?:redis|keydb)-cli(?:[ \\t][^\\r\\n]{0,200}?)?[ \\t])(-a[ \\t]+)(?!-)\\S+`, replace: contextThen },
  // curl -u user:pass (--user): the user and the quotes kept, the password hidden to its end.
  {
    source:
      `((?<![A-Za-z0-9_-])curl(?:[ \\t][^\\r\\n]{0,200}?)?[ \\t])((?:-u|--user)(?:[ \\t]+|=)?)` +
      `(?:"([^\\s:"]*):[^"\\r\\n]*("?)|'([^\\s:']*):[^'\\r\\n]*('?)|([^\\s:'"]*):\\S+)`,
    replace: (_m, g, redact) => {
      const [context = '', flag = '', dq, dqEnd, sq, sqEnd, bare] = g;
      const user =
        dq !== undefined
          ? `"${dq}:${REDACTED}${dqEnd ?? ''}`
          : sq !== undefined
            ? `'${sq}:${REDACTED}${sqEnd ?? ''}`
            : `${bare ?? ''}:${REDACTED}`;
      return `${redact(context)}${flag}${user}`;
    },
  },
  // <cli> [registry] login -p PASS (container registries), sshpass -p PASS: the context
  // redacted on its own, the quotes kept.
  {
    source:
      `((?<![A-Za-z0-9_-])(?:[A-Za-z][A-Za-z0-9_-]{0,15}[ \\t]+(?:registry[ \\t]+)?login|sshpass)` +
      `(?:[ \\t][^\\r\\n]{0,200}?)?[ \\t])(-p[ \\t]*)(?!-)(${VALUE})`,
    replace: (_m, g, redact) => `${redact(g[0] ?? '')}${keepQuotes('', [g[1], g[2]])}`,
  },
  // openssl … -passin pass:X / -passout pass:X
  { source: '(-pass(?:in|out)[ \\t]+pass:)\\S+', replace: keepFirst },
  { source: `(${ci('bearer')}[ \\t]+)[A-Za-z0-9._~+/=-]{8,}`, replace: keepFirst },
  // Azure connection strings: the key runs to the next `;`.
  { source: `(${ci('(?:AccountKey|SharedAccessKey|SharedAccessSignature)')}=)[^;\\s"']+`, replace: keepFirst },
  // Kubernetes env entries: a secret-named variable, its value on the next line (YAML) or next field (JSON).
  {
    source: `(name:[ \\t]*["']?${NAMED_SECRET}["']?[ \\t]*\\r?\\n[ \\t]*value:[ \\t]*)(${LINE_VALUE})`,
    replace: keepQuotes,
  },
  {
    source: `("name"\\s*:\\s*"${NAMED_SECRET}"\\s*,\\s*"value"\\s*:\\s*)("(?:[^"\\\\\\r\\n]|\\\\.)*")`,
    replace: keepQuotes,
  },
  // Secret manifests: key files by name, and every value of a JSON data/stringData object
  // (YAML data: maps are hidden line by line: hideDataMaps).
  {
    source: `((?:tls\\.key|ssh-privatekey|\\.dockerconfigjson|\\.dockercfg)["']?[ \\t]*:[ \\t]*)(${LINE_VALUE})`,
    replace: keepQuotes,
  },
  { source: `("(?:stringData|data)"\\s*:\\s*\\{)([^{}]*)`, replace: jsonData },
  { source: '(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}', replace: whole },
  {
    source: '(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|(?<![A-Za-z0-9_])whsec_[A-Za-z0-9]{20,}',
    replace: whole,
  },
  { source: 'AIza[0-9A-Za-z_-]{35}|(?<![A-Za-z0-9_-])ya29\\.[A-Za-z0-9_-]{20,}', replace: whole },
  // An AWS key id, and the 40-character secret key when it follows within a few separators.
  {
    source: '(?:AKIA|ASIA)[A-Z0-9]{16}(?:([^A-Za-z0-9/+]{1,20})[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))?',
    replace: (_m, g) => (g[0] === undefined ? REDACTED : `${REDACTED}${g[0]}${REDACTED}`),
  },
  {
    source: 'gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}',
    replace: whole,
  },
  { source: '(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}', replace: whole },
  { source: 'xox[abprs]-[A-Za-z0-9-]{10,}', replace: whole },
  { source: '(hooks\\.slack\\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+', replace: keepFirst },
  // Telegram bot token: keep the bot id, which is public.
  { source: '([0-9]{6,12}:)[A-Za-z0-9_-]{35}', replace: keepFirst },
  { source: '(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\\.eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*', replace: whole },
];

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The base64 text that encodes `bytes` wherever they sit in a longer encoded blob: for each of
 * the three alignments, the characters that depend on these bytes alone.
 */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let a = 0; a < 3; a++) {
    const enc = Buffer.concat([Buffer.alloc(a), bytes]).toString('base64');
    const core = enc.slice(Math.ceil((8 * a) / 6), Math.floor((8 * (a + bytes.length)) / 6));
    out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** The forms in which a configured secret can appear in output. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    // A "secret" inside the marker itself could never be hidden by it.
    if (s.length < MIN_SECRET_LENGTH || REDACTED.includes(s)) continue;
    const bytes = Buffer.from(s, 'utf8');
    const hex = bytes.toString('hex');
    for (const f of [
      s,
      // A lone surrogate cannot be URI-encoded (URIError); such a secret has no URI form.
      /\p{Cs}/u.test(s) ? s : encodeURIComponent(s),
      JSON.stringify(s).slice(1, -1),
      hex,
      hex.toUpperCase(),
      ...base64Cores(bytes),
    ]) {
      if (f.length >= MIN_SECRET_LENGTH && !REDACTED.includes(f)) forms.add(f);
    }
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
      return rules[i]!.replace(match, own, redact);
    }
    return match;
  };

  function redact(text: string): string {
    let out = hideDataMaps(text);
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const next = out.replace(combined, replacer);
      if (next === out) break;
      out = next;
    }
    return out;
  }

  const splitter = (maxChars = MAX_LINE_CHARS): LineSplitter =>
    lineSplitter(redact, new RegExp(combined.source, 'g'), maxChars);
  return {
    redact,
    redactDeep: (v) => redactDeepWith(v, redact),
    splitter,
    lineStream: () => lineStream(splitter()),
  };
}

let shapesOnly: Redactor | undefined;

/**
 * `text` cut to about `max` where no configured redactor is at hand (the transport redacts what
 * is shown): the shapes are hidden before the cut, which falls at the last blank before it, so
 * a configured secret (one word) is shown whole, for the transport to hide, or not at all. Text
 * with no blank there is cut at `max`; a long word the cut would split is dropped whole.
 */
export function clip(text: string, max: number): string {
  const shown = (shapesOnly ??= createRedactor([])).redact(text);
  if (shown.length <= max) return shown;
  return `${shown.slice(0, cutNear(shown, max - 1)).trimEnd()}…`;
}

/** True for a secret-named key (`password`, `x_api_key`, `token.value`); linear in the key's length. */
export function isSecretKey(key: string): boolean {
  // Only the trailing run of name characters can hold the key word and its suffix.
  let start = key.length;
  while (start > 0 && /[A-Za-z0-9_.-]/.test(key[start - 1]!)) start--;
  const name = key.slice(start);
  // `$PASS` and `$SSHPASS` alone name a password; as a key word `pass` only ends a compound name.
  return SECRET_KEY_END.test(name) || /^(?:ssh)?pass$/i.test(name);
}

/** A key word followed by the end or a separator: what remains after it is all name characters. */
const SECRET_KEY_END = new RegExp(`(?:${KEY_WORDS})(?:[_.-]|$)`);

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A JSON-like value copied with every string redacted by `redact`, and values under secret-named keys hidden. */
export function redactDeepWith<T>(v: T, redact: Redact): T {
  return redactValue(v, redact, []) as T;
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
        isSecretKey(k) && (typeof x === 'string' || typeof x === 'number') && x !== ''
          ? REDACTED
          : redactValue(x, redact, ancestors),
      ]),
    );
  } finally {
    ancestors.pop();
  }
}

const PEM_MARK = /-----(BEGIN|END)[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;

/** Where the text after the first END marker starts, or -1. */
function afterPemEnd(line: string): number {
  for (const m of line.matchAll(PEM_MARK)) if (m[1] === 'END') return m.index + m[0].length;
  return -1;
}

/** True when the last marker on the line is a BEGIN: the following lines are key material. */
function opensPem(line: string): boolean {
  if (!line.includes('PRIVATE KEY')) return false;
  let last: string | undefined;
  for (const m of line.matchAll(PEM_MARK)) last = m[1];
  return last === 'BEGIN';
}

/** The cut near `max`: after the last blank within 4096 of it, so a cut rarely splits a word. */
function cutNear(s: string, max: number): number {
  const blank = Math.max(s.lastIndexOf(' ', max - 1), s.lastIndexOf('\t', max - 1));
  if (blank >= max - 4096 && blank >= 0) return blank + 1;
  const c = s.charCodeAt(max - 1);
  return c >= 0xd800 && c <= 0xdbff ? max - 1 : max;
}

/**
 * Where to cut `view` (which more text follows) near `max`, never inside a match: after a
 * match that straddles the cut and ends inside the view, else before it. A match that starts
 * the view and runs past its end is longer than the view: `overflow`.
 */
function safeCut(view: string, max: number, combined: RegExp): { at: number; overflow: boolean } {
  const at = cutNear(view, max);
  for (const m of view.matchAll(combined)) {
    if (m.index >= at) break;
    const end = m.index + m[0].length;
    if (end <= at) continue;
    if (end < view.length) return { at: end, overflow: false };
    return m.index > 0 ? { at: m.index, overflow: false } : { at: view.length, overflow: true };
  }
  return { at, overflow: false };
}

const KEY_BODY_WHOLE = new RegExp(`^${BODY_PREFIX}${KEY_BODY}[ \\t]*\\r?$`);
const BASE64_WHOLE = new RegExp(`^${BODY_PREFIX}${BASE64_LINE}[ \\t]*\\r?$`);
const NAME_OF_SECRET = new RegExp(`name:[ \\t]*["']?${NAMED_SECRET}["']?[ \\t]*$`);
const VALUE_LINE = new RegExp(`^([ \\t]*-?[ \\t]*value:[ \\t]*)(${LINE_VALUE})`);

/**
 * The state a line stream carries from line to line, for secrets that span lines: a private-key
 * block, a YAML `data:` map, a secret-named env `name:` whose `value:` is the next line.
 */
function lineSplitter(redact: (s: string) => string, combined: RegExp, maxChars: number): LineSplitter {
  let pending = '';
  let inPem = false;
  let dataIndent: number | undefined;
  let namedSecret = false;
  /**
   * The last line was a key's body: a base64 line after it is its last, whose END comes a line
   * later than this stream can see (whole text hides it by its END; here it is hidden unseen).
   */
  let inBody = false;
  /** After a secret longer than the view: its rest, up to the next blank, is dropped. */
  let dropping = false;

  const line = (l: string, whole: boolean): string => {
    let head = '';
    let rest = l;
    if (inPem) {
      const end = afterPemEnd(l);
      if (end === -1) return REDACTED;
      head = REDACTED;
      rest = l.slice(end);
      inPem = false;
    }
    if (whole && head === '') {
      const last = inBody && BASE64_WHOLE.test(rest);
      inBody = last || KEY_BODY_WHOLE.test(rest);
      if (last) return REDACTED;
    }
    inPem = opensPem(rest);
    if (!whole || head !== '') return head + redact(rest);
    if (dataIndent !== undefined && rest.trim() !== '') {
      if (indentOf(rest) > dataIndent) return hideDataLine(rest);
      dataIndent = undefined;
    }
    const valueLine = namedSecret ? VALUE_LINE.exec(rest) : null;
    namedSecret = NAME_OF_SECRET.test(rest);
    if (DATA_LINE.test(rest)) dataIndent = indentOf(rest);
    return valueLine
      ? keepQuotes('', [valueLine[1], valueLine[2]]) + redact(rest.slice(valueLine[0].length))
      : redact(rest);
  };

  const drop = (): boolean => {
    const blank = pending.search(/\s/);
    if (blank === -1) {
      pending = '';
      return false;
    }
    pending = pending.slice(blank);
    dropping = false;
    return true;
  };

  return {
    push(text) {
      let searchFrom = pending.length;
      pending += text;
      const out: Piece[] = [];
      for (;;) {
        if (dropping) {
          if (!drop()) break;
          searchFrom = 0;
        }
        const nl = pending.indexOf('\n', searchFrom);
        if (nl !== -1) {
          out.push({ text: line(pending.slice(0, nl), true), eol: true });
          pending = pending.slice(nl + 1);
          searchFrom = 0;
        } else if (pending.length > maxChars + MATCH_OVERLAP) {
          const view = pending.slice(0, maxChars + MATCH_OVERLAP);
          const cut = safeCut(view, maxChars, combined);
          out.push({ text: line(view.slice(0, cut.at), false), eol: false });
          pending = pending.slice(cut.at);
          searchFrom = pending.length;
          dropping = cut.overflow && !inPem;
        } else break;
      }
      return out;
    },
    end() {
      const rest = dropping ? '' : pending;
      pending = '';
      return rest === '' ? [] : [{ text: line(rest, true), eol: false }];
    },
  };
}

function lineStream(split: LineSplitter): Transform {
  const decoder = new StringDecoder('utf8');
  const emit = (stream: Transform, pieces: readonly Piece[]): void => {
    let out = '';
    for (const p of pieces) {
      out += p.eol ? `${p.text}\n` : p.text;
      if (out.length >= MAX_LINE_CHARS) {
        stream.push(out);
        out = '';
      }
    }
    if (out !== '') stream.push(out);
  };
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      emit(this, split.push(decoder.write(chunk)));
      done();
    },
    flush(done) {
      emit(this, [...split.push(decoder.end()), ...split.end()]);
      done();
    },
  });
}
