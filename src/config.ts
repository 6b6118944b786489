import { z } from 'zod';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load as loadYaml } from 'js-yaml';
import { createRedactor } from './core/redact.js';
import { bool, every, ids, int, list, text, url, type Setting } from './core/settings.js';
import { MODULES } from './targets/modules.js';
import { AI_PROVIDERS, aiSettingsProblems } from './ai/settings.js';
import { quorumRules } from './core/quorum.js';
import { checkRules, parseScopes, SCOPES_SYNTAX, scopesFromFile, type ScopeRules } from './core/scopes.js';
import { oneLine, parseDuration } from './core/text.js';
import { parseWitnessSpec, type WitnessEvery, type WitnessSpec } from './witnesses/spec.js';

/**
 * Every setting, in one place: name, default, what it means and how it is parsed; each
 * target's rows come from its module. `.env.example`, the README's table and `teleops doctor`
 * are checked against this list.
 */

/** Like `url`, but empty is allowed (the provider's own endpoint). */
const optionalUrl = z.string().transform((s, ctx) => {
  if (s.trim() === '') return '';
  const r = url.safeParse(s);
  if (r.success) return r.data;
  ctx.addIssue({ code: 'custom', message: `"${s}" is not an http(s) URL` });
  return z.NEVER;
});

const scopesSetting = z.string().transform((s, ctx): ScopeRules => {
  try {
    return parseScopes(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const aiProvider = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.enum(['', ...AI_PROVIDERS]));

const botToken = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t !== '' && !/^\d{3,20}:[A-Za-z0-9_-]{20,100}$/.test(t)) {
    ctx.addIssue({
      code: 'custom',
      message: 'does not look like a bot token (123456:ABC-DEF…), as @BotFather gives it',
    });
    return z.NEVER;
  }
  return t;
});

const witnesses = list.transform((items, ctx) => {
  const out: WitnessSpec[] = [];
  for (const item of items) {
    const w = parseWitnessSpec(item);
    if (typeof w === 'string') ctx.addIssue({ code: 'custom', message: w });
    else out.push(w);
  }
  return out;
});

/** `100` (entries), `10m` (time), or both, comma-separated; `0`/`off` for neither. */
const witnessEvery = list.transform((items, ctx): WitnessEvery => {
  let entries = 0;
  let everyMs = 0;
  for (const item of items) {
    if (item.toLowerCase() === 'off') continue;
    if (/^\d{1,9}$/.test(item)) {
      entries = Number(item);
      continue;
    }
    const ms = parseDuration(item);
    if (ms !== undefined && ms >= 1000) everyMs = ms;
    else
      ctx.addIssue({ code: 'custom', message: `"${item}" is neither a number of entries (100) nor a duration (10m)` });
  }
  return { entries, everyMs };
});

/** Telegram posts webhooks only to https URLs; the path is where the webhook server answers. */
const databaseUrl = z.string().transform((s, ctx) => {
  const v = s.trim();
  if (v !== '' && !/^postgres(ql)?:\/\/[^\s]+$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: 'must be postgres://user:password@host:port/database (or empty)' });
  }
  return v;
});

const webhookUrl = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t === '') return '';
  if (URL.canParse(t) && new URL(t).protocol === 'https:') return new URL(t).toString();
  ctx.addIssue({ code: 'custom', message: `"${s}" is not an https URL (Telegram posts webhooks over https only)` });
  return z.NEVER;
});

/** What Telegram accepts as a webhook's secret_token. */
const webhookSecret = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t === '' || /^[A-Za-z0-9_-]{1,256}$/.test(t)) return t;
  ctx.addIssue({ code: 'custom', message: 'must be 1-256 characters of A-Z, a-z, 0-9, _ and - (as Telegram allows)' });
  return z.NEVER;
});

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type TargetRows = Intersection<(typeof MODULES)[number]['settings']>;

/** Every target module's rows, in the order of the module list. */
const TARGET_SETTINGS = Object.assign({}, ...MODULES.map((m) => m.settings)) as TargetRows;

export const SETTINGS = {
  TELEGRAM_BOT_TOKEN: {
    doc: 'Bot token from @BotFather; required for `teleops start`',
    schema: botToken,
    secret: true,
    example: '',
  },
  TELEGRAM_API_ROOT: {
    doc: 'Bot API server (a self-hosted one, or a test server)',
    default: 'https://api.telegram.org',
    schema: url,
  },
  AUTHORIZED_USER_IDS: {
    doc: 'Operators: numeric Telegram user ids, comma-separated; required',
    schema: ids('Telegram user'),
    example: '',
  },
  AUTHORIZED_CHAT_IDS: {
    doc: 'Groups/supergroups where authorized users may operate',
    default: '',
    schema: ids('Telegram chat'),
  },
  ADMIN_USER_IDS: {
    doc: 'Admins: operators who may also run admin-only commands and administer the audit',
    default: '',
    schema: ids('Telegram user'),
  },
  VIEWER_USER_IDS: { doc: 'Viewers: read actions only', default: '', schema: ids('Telegram user') },
  CONSOLE_ROLE: {
    doc: 'Role of the person at `teleops console`: viewer, operator or admin',
    default: 'operator',
    schema: z.enum(['viewer', 'operator', 'admin']),
  },
  RATE_LIMIT_PER_MINUTE: {
    doc: 'Requests per operator per minute (token bucket)',
    default: '20',
    schema: int(1, 10_000),
  },
  CONFIRM_TTL_SECONDS: { doc: 'How long an approval card can be answered', default: '120', schema: int(1, 86_400) },
  APPROVAL_RETENTION_DAYS: {
    doc: 'Decided approvals are deleted after this many days (the audit log keeps them)',
    default: '30',
    schema: int(1, 3650),
  },
  APPROVAL_QUORUM: {
    doc:
      'Requests two distinct operators must approve (never the requester): ' +
      '`<action or *>[:<param>=<value>][@<context or host>]`, comma-separated (e.g. `*@prod`; README)',
    default: '',
    schema: quorumRules,
  },
  SCOPES: {
    doc:
      `Per-chat scopes, chats separated by spaces: \`${SCOPES_SYNTAX}\`; a chat without one sees all ` +
      'its roles allow (README)',
    default: '',
    schema: scopesSetting,
  },
  SCOPES_FILE: {
    doc: 'YAML file of per-chat scopes, for longer ones than SCOPES holds (README); read when it exists',
    default: 'scopes.yaml',
    schema: text,
  },
  ACTION_TIMEOUT_SECONDS: { doc: 'Upper bound on any one action run', default: '60', schema: int(1, 3600) },
  ALERT_CHAT_ID: {
    doc: "Chat that receives alerts (default: every operator's private chat)",
    default: '',
    schema: ids('Telegram chat'),
  },
  ALERT_COOLDOWN_SECONDS: {
    doc: 'Repeated alerts about the same thing are coalesced within this window',
    default: '300',
    schema: int(0, 86_400),
  },
  ...TARGET_SETTINGS,
  STATE_DIR: { doc: 'Directory of the SQLite database and the audit anchor file', default: '.state', schema: text },
  DATABASE_URL: {
    doc:
      'postgres://user:password@host:port/db puts all state in PostgreSQL, shared by replicas (empty: SQLite in ' +
      'STATE_DIR)',
    default: '',
    schema: databaseUrl,
    secret: true,
  },
  LEADER_LEASE_SECONDS: {
    doc: 'How long a leader lease or a claim on an update holds unrenewed; another process takes over after it',
    default: '15',
    schema: int(3, 300),
  },
  AUDIT_HMAC_KEY: {
    doc: 'Key for HMAC-SHA-256 audit hashes (recommended; keep it outside the state dir)',
    default: '',
    schema: text,
    secret: true,
  },
  AUDIT_HMAC_KEY_PREVIOUS: {
    doc:
      'Earlier audit keys, comma-separated: rotation proofs and the entries written under them are ' +
      'checked with these',
    default: '',
    schema: list,
    secret: true,
  },
  AUDIT_ANCHOR_PATH: { doc: 'Anchor file recording the audit head', default: '$STATE_DIR/audit.anchor', schema: text },
  AUDIT_WITNESS: {
    doc:
      'Where the audit head is posted, comma-separated: telegram:<chat id>, syslog://host:port (TCP, RFC 5424), ' +
      'http(s)://… (POST JSON)',
    default: '',
    schema: witnesses,
  },
  AUDIT_WITNESS_EVERY: {
    doc: 'Post the head every N entries and/or every duration (e.g. 100,10m); always after a destructive action',
    default: '100,10m',
    schema: witnessEvery,
  },
  AUDIT_VERIFY_EVERY: {
    doc: 'Verify the audit log this often (e.g. 1h) and alert on a break; 0 or off disables',
    default: '1h',
    schema: every,
  },
  AUDIT_FSYNC: { doc: 'fsync every database commit (survives power loss, slower)', default: 'false', schema: bool },
  HTTP_HOST: { doc: 'Address of /health and /metrics', default: '127.0.0.1', schema: text },
  HTTP_PORT: {
    doc: 'Port of /health and /metrics; 0 disables the HTTP server',
    default: '9464',
    schema: int(0, 65_535),
  },
  TELEGRAM_WEBHOOK_URL: {
    doc: 'Public https URL Telegram posts updates to (webhook mode; empty: long polling)',
    default: '',
    schema: webhookUrl,
  },
  TELEGRAM_WEBHOOK_SECRET: {
    doc:
      'Secret Telegram sends with every webhook request; required with TELEGRAM_WEBHOOK_URL ' +
      '(1-256 of A-Z a-z 0-9 _ -)',
    default: '',
    schema: webhookSecret,
    secret: true,
  },
  TELEGRAM_WEBHOOK_HOST: { doc: 'Address the webhook server listens on', default: '127.0.0.1', schema: text },
  TELEGRAM_WEBHOOK_PORT: {
    doc: 'Port the webhook server listens on (behind a TLS-terminating proxy; not HTTP_PORT)',
    default: '8443',
    schema: int(1, 65_535),
  },
  TELEGRAM_GLOBAL_PER_SECOND: {
    doc: 'Outgoing messages per second across all chats (Telegram allows about 30)',
    default: '30',
    schema: int(0, 10_000),
  },
  TELEGRAM_CHAT_PER_MINUTE: {
    doc: 'Outgoing messages per minute into one group chat (Telegram allows about 20)',
    default: '20',
    schema: int(0, 100_000),
  },
  TELEGRAM_PRIVATE_PER_SECOND: {
    doc: 'Outgoing messages per second into one private chat (Telegram asks for about 1)',
    default: '1',
    schema: int(0, 10_000),
  },
  TELEGRAM_POLL_SECONDS: {
    doc: 'How long one long poll for updates waits at Telegram (getUpdates timeout)',
    default: '30',
    schema: int(1, 50),
  },
  TELEGRAM_TIMEOUT_SECONDS: {
    doc: 'A Bot API call unanswered this long (a long poll: beyond its wait) is abandoned and retried',
    default: '30',
    schema: int(1, 600),
  },
  AI_PROVIDER: {
    doc:
      'LLM for plain-language requests: gemini, openai, anthropic, ollama, openai-compatible or none (empty: ' +
      'gemini when GEMINI_API_KEY is set, else none)',
    default: '',
    schema: aiProvider,
  },
  AI_MODEL: {
    doc:
      'Model name (empty: gemini-2.5-flash, gpt-4.1-mini, claude-sonnet-4-5 or llama3.1, per provider; required ' +
      'for openai-compatible)',
    default: '',
    schema: text,
  },
  AI_BASE_URL: {
    doc: 'Endpoint of the LLM API (required for openai-compatible; Ollama default http://127.0.0.1:11434/v1)',
    default: '',
    schema: optionalUrl,
  },
  GEMINI_API_KEY: { doc: 'Google Gemini API key', default: '', schema: text, secret: true },
  OPENAI_API_KEY: { doc: 'OpenAI API key', default: '', schema: text, secret: true },
  ANTHROPIC_API_KEY: { doc: 'Anthropic API key', default: '', schema: text, secret: true },
  AI_API_KEY: {
    doc: 'Key for an openai-compatible endpoint (empty: OPENAI_API_KEY)',
    default: '',
    schema: text,
    secret: true,
  },
  AI_DESTRUCTIVE_ALLOWED: {
    doc: 'Let the LLM run write and destructive actions without the Approve button',
    default: 'false',
    schema: bool,
  },
  AI_MAX_STEPS: { doc: 'Most tool calls the LLM may make for one request', default: '8', schema: int(1, 50) },
  AI_TIMEOUT_SECONDS: {
    doc: 'Upper bound on one plain-language request (time waiting for an approval not counted)',
    default: '120',
    schema: int(1, 3600),
  },
  AI_DAILY_TOKEN_BUDGET: {
    doc: 'LLM tokens (input + output) each operator may use per UTC day',
    default: '200000',
    schema: int(1, 1_000_000_000),
  },
  AI_MEMORY_TURNS: {
    doc: "Your own earlier exchanges in a chat that the LLM sees, never other people's (/reset clears them)",
    default: '10',
    schema: int(0, 100),
  },
  AI_REQUESTS_PER_MINUTE: {
    doc: 'LLM calls per operator per minute (their own budget, apart from RATE_LIMIT_PER_MINUTE)',
    default: '30',
    schema: int(1, 10_000),
  },
  LOG_LEVEL: {
    doc: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
    schema: z
      .string()
      .transform((s) => s.trim().toLowerCase())
      .pipe(logLevel),
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

type Parsed = { -readonly [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };

export interface Config extends Parsed {
  /** Resolved from STATE_DIR when unset. */
  readonly auditAnchorPath: string;
  /** Every configured secret, for the redactor. */
  readonly secrets: readonly string[];
}

export type Mode = 'start' | 'console' | 'doctor' | 'offline';

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

const FIX: Partial<Record<SettingName, string>> = {
  TELEGRAM_BOT_TOKEN: 'create a bot with @BotFather and set TELEGRAM_BOT_TOKEN=<token>',
  AUTHORIZED_USER_IDS: 'set AUTHORIZED_USER_IDS to your numeric Telegram user id (ask @userinfobot)',
};

/**
 * Parses the whole environment and reports every problem at once, so an operator fixes
 * their `.env` in one go. Requirements depend on the mode: only `start` needs Telegram.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, mode: Mode): ConfigResult {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    // Empty means "not set" for every setting, as in a .env line `NAME=` left blank.
    const given = env[name]?.trim() === '' ? undefined : env[name];
    const raw = given ?? s.default ?? '';
    const input = name === 'AUDIT_ANCHOR_PATH' && given === undefined ? '' : raw;
    const r = s.schema.safeParse(input);
    if (r.success) out[name] = r.data;
    else problems.push(`${name}: ${r.error.issues.map((i) => i.message).join('; ')}`);
  }
  const c = out as Parsed;
  if (mode === 'start') {
    if (!env.TELEGRAM_BOT_TOKEN?.trim()) problems.push(`TELEGRAM_BOT_TOKEN: missing — ${FIX.TELEGRAM_BOT_TOKEN}`);
    if (
      Array.isArray(c.AUTHORIZED_USER_IDS) &&
      c.AUTHORIZED_USER_IDS.length === 0 &&
      !problems.some((p) => p.startsWith('AUTHORIZED_USER_IDS'))
    ) {
      problems.push(
        `AUTHORIZED_USER_IDS: no operator is authorized, so the bot would answer nobody — ${FIX.AUTHORIZED_USER_IDS}`,
      );
    }
  }
  if (!problems.some((p) => p.startsWith('AI_'))) problems.push(...aiSettingsProblems(c));
  if (c.TELEGRAM_WEBHOOK_URL && c.TELEGRAM_WEBHOOK_SECRET === '')
    problems.push('TELEGRAM_WEBHOOK_SECRET: missing — webhook mode needs it (e.g. `openssl rand -hex 32`)');
  if (c.TELEGRAM_WEBHOOK_URL && c.TELEGRAM_WEBHOOK_PORT === c.HTTP_PORT)
    problems.push('TELEGRAM_WEBHOOK_PORT: is HTTP_PORT too; give the webhook a port of its own');
  if (problems.length === 0) {
    const scopes = scopeRules(c, env.SCOPES_FILE?.trim() ? true : false);
    if (typeof scopes === 'string') problems.push(scopes);
    else c.SCOPES = scopes;
  }
  if (problems.length > 0) return { ok: false, problems: hideQuotedSecrets(problems, env).map(oneLine) };

  const overlap = c.VIEWER_USER_IDS.filter((id) => c.AUTHORIZED_USER_IDS.includes(id) || c.ADMIN_USER_IDS.includes(id));
  if (overlap.length > 0) {
    return {
      ok: false,
      problems: [`VIEWER_USER_IDS: ${overlap.join(', ')} also listed as operator/admin; give each user one role`],
    };
  }
  const secrets = [
    ...(Object.entries(SETTINGS) as [SettingName, Setting][])
      .filter(([, s]) => s.secret)
      .flatMap(([n]) => {
        const v = c[n] ?? '';
        return Array.isArray(v) ? v.map(String) : [String(v)];
      }),
    // A URL setting may carry a password (https://user:pass@host): a secret like the others.
    ...Object.values(c).map((v) =>
      typeof v === 'string' && v.includes('@') && URL.canParse(v) ? decodeURIComponent(new URL(v).password) : '',
    ),
  ].filter((v) => v !== '');
  return {
    ok: true,
    config: {
      ...c,
      auditAnchorPath: c.AUDIT_ANCHOR_PATH === '' ? join(c.STATE_DIR, 'audit.anchor') : c.AUDIT_ANCHOR_PATH,
      secrets,
    },
  };
}

/**
 * The scopes of SCOPES or of SCOPES_FILE (one of them), each naming a target and places it has;
 * else the problem. The default file is read only when it exists.
 */
function scopeRules(c: Parsed, fileNamed: boolean): ScopeRules | string {
  let rules = c.SCOPES;
  const path = c.SCOPES_FILE;
  if (path !== '' && existsSync(path)) {
    if (rules.size > 0) return `SCOPES: also given in ${path} (SCOPES_FILE); keep one of them`;
    try {
      rules = scopesFromFile(loadYaml(readFileSync(path, 'utf8')));
    } catch (e) {
      return `SCOPES_FILE: ${path}: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
    }
  } else if (fileNamed) {
    return `SCOPES_FILE: ${path} does not exist`;
  }
  const why = checkRules(rules, MODULES);
  return why === undefined ? rules : `${existsSync(path) ? 'SCOPES_FILE' : 'SCOPES'}: ${why}`;
}

/**
 * Problems quote the values they refuse: each quoted value is shown redacted (a password in a
 * URL, a secret setting), the rest of the message as written.
 */
function hideQuotedSecrets(problems: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  const settings = Object.entries(SETTINGS) as [SettingName, Setting][];
  const { redact } = createRedactor(settings.filter(([, s]) => s.secret).map(([n]) => env[n]?.trim() ?? ''));
  const values = settings.map(([n]) => env[n]?.trim() ?? '').filter((v) => v !== '' && redact(v) !== v);
  return problems.map((p) => values.reduce((text, v) => text.split(v).join(redact(v)), p));
}

/** The text of `.env.example`, derived from SETTINGS. */
export function envExample(): string {
  const lines = ['# teleops settings. Copy to .env and fill in. Every setting, with its default.', ''];
  for (const [name, s] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    lines.push(`# ${s.doc}${s.default !== undefined && s.default !== '' ? ` (default: ${s.default})` : ''}`);
    const v = s.example ?? (s.default?.startsWith('$') ? '' : (s.default ?? ''));
    lines.push(s.example !== undefined || s.default === undefined ? `${name}=${v}` : `# ${name}=${v}`);
    lines.push('');
  }
  return lines.join('\n');
}
