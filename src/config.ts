import { z } from 'zod';
import { join } from 'node:path';
import { createRedactor } from './core/redact.js';
import { parseDockerHost } from './targets/docker/engine.js';
import { isDnsLabel } from './targets/kubernetes/names.js';
import { settingPattern } from './targets/tmux/settings.js';
import { AI_PROVIDERS, aiSettingsProblems } from './ai/settings.js';
import { parseDuration } from './core/text.js';
import { parseWitnessSpec, type WitnessEvery, type WitnessSpec } from './witnesses/spec.js';

/**
 * Every setting, in one place: name, default, what it means and how it is parsed.
 * `.env.example`, the README's table and `teleops doctor` are checked against this list.
 */

const ids = (what: string) =>
  z
    .string()
    .transform((s, ctx) => {
      const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
      const out: number[] = [];
      for (const p of parts) {
        if (!/^-?\d{1,20}$/.test(p) || !Number.isSafeInteger(Number(p))) {
          ctx.addIssue({ code: 'custom', message: `"${p}" is not a numeric ${what} id` });
          return z.NEVER;
        }
        out.push(Number(p));
      }
      return out;
    });

const bool = z
  .string()
  .transform((s, ctx) => {
    const v = s.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: `"${s}" is not true or false` });
    return z.NEVER;
  });

const int = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s.trim());
    if (!/^\d+$/.test(s.trim()) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `"${s}" must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const num = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `"${s}" must be a number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const text = z.string().transform((s) => s.trim());
const list = z.string().transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p !== ''));

/** Namespace names, checked here so that a typo is reported even while Kubernetes is off. */
const namespaces = list.refine((ns) => ns.every(isDnsLabel), {
  error: (iss) => `not a namespace name: ${(iss.input as string[]).filter((n) => !isDnsLabel(n)).map((n) => JSON.stringify(n.slice(0, 64))).join(', ')}`,
});

const absolutePath = z.string().transform((s, ctx) => {
  const p = s.trim();
  if (p !== '' && !p.startsWith('/')) {
    ctx.addIssue({ code: 'custom', message: `"${s}" must be an absolute path` });
    return z.NEVER;
  }
  return p;
});

const dockerHost = z.string().transform((s, ctx) => {
  try {
    parseDockerHost(s);
    return s.trim();
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^DOCKER_HOST /, '') });
    return z.NEVER;
  }
});

/** A regex setting: `re` (flags as given) or `/re/flags`; refused when it could backtrack badly. */
const pattern = (defaultFlags: string) =>
  z.string().transform((s, ctx) => {
    if (s.trim() === '') return undefined;
    try {
      return settingPattern(s, defaultFlags);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

const url = z.string().transform((s, ctx) => {
  try {
    const u = new URL(s.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return u.toString().replace(/\/$/, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not an http(s) URL` });
    return z.NEVER;
  }
});

/** Like `url`, but empty is allowed (the provider's own endpoint). */
const optionalUrl = z.string().transform((s, ctx) => {
  if (s.trim() === '') return '';
  const r = url.safeParse(s);
  if (r.success) return r.data;
  ctx.addIssue({ code: 'custom', message: `"${s}" is not an http(s) URL` });
  return z.NEVER;
});

const aiProvider = z.string().transform((s) => s.trim().toLowerCase()).pipe(z.enum(['', ...AI_PROVIDERS]));

const botToken = z.string().transform((s, ctx) => {
  const t = s.trim();
  if (t !== '' && !/^\d{3,20}:[A-Za-z0-9_-]{20,100}$/.test(t)) {
    ctx.addIssue({ code: 'custom', message: 'does not look like a bot token (123456:ABC-DEF…), as @BotFather gives it' });
    return z.NEVER;
  }
  return t;
});

/** A duration like 30s, 10m, 1h30m; `0` or `off`: never. */
const every = z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (v === '0' || v === 'off') return 0;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration of 1s or more (like 30s, 10m, 1h) or 0/off` });
    return z.NEVER;
  }
  return ms;
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
    else ctx.addIssue({ code: 'custom', message: `"${item}" is neither a number of entries (100) nor a duration (10m)` });
  }
  return { entries, everyMs };
});

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

interface Setting {
  readonly doc: string;
  /** Shown in docs; `undefined` means unset by default. */
  readonly default?: string;
  readonly schema: z.ZodType;
  /** Scrubbed from everything that leaves the process. */
  readonly secret?: boolean;
  /** Example value for .env.example when it differs from the default. */
  readonly example?: string;
}

export const SETTINGS = {
  TELEGRAM_BOT_TOKEN: { doc: 'Bot token from @BotFather; required for `teleops start`', schema: botToken, secret: true, example: '' },
  TELEGRAM_API_ROOT: { doc: 'Bot API server (a self-hosted one, or a test server)', default: 'https://api.telegram.org', schema: url },
  AUTHORIZED_USER_IDS: { doc: 'Operators: numeric Telegram user ids, comma-separated; required', schema: ids('Telegram user'), example: '' },
  AUTHORIZED_CHAT_IDS: { doc: 'Groups/supergroups where authorized users may operate', default: '', schema: ids('Telegram chat') },
  ADMIN_USER_IDS: { doc: 'Admins: operators who may also use shell and audit administration', default: '', schema: ids('Telegram user') },
  VIEWER_USER_IDS: { doc: 'Viewers: read actions only', default: '', schema: ids('Telegram user') },
  RATE_LIMIT_PER_MINUTE: { doc: 'Requests per operator per minute (token bucket)', default: '20', schema: int(1, 10_000) },
  CONFIRM_TTL_SECONDS: { doc: 'How long an approval card can be answered', default: '120', schema: int(1, 86_400) },
  APPROVAL_RETENTION_DAYS: {
    doc: 'Decided approvals are deleted after this many days (the audit log keeps them)',
    default: '30',
    schema: int(1, 3650),
  },
  ACTION_TIMEOUT_SECONDS: { doc: 'Upper bound on any one action run', default: '60', schema: int(1, 3600) },
  ALERT_CHAT_ID: { doc: 'Chat that receives alerts (default: every operator\'s private chat)', default: '', schema: ids('Telegram chat') },
  ALERT_COOLDOWN_SECONDS: { doc: 'Repeated alerts about the same thing are coalesced within this window', default: '300', schema: int(0, 86_400) },
  DOCKER_ENABLED: { doc: 'Operate Docker containers', default: 'true', schema: bool },
  DOCKER_HOST: { doc: 'Docker Engine address, as the Docker CLI reads it (unix:///path or tcp://host:port)', default: 'unix:///var/run/docker.sock', schema: dockerHost },
  DOCKER_TIMEOUT_SECONDS: { doc: 'Upper bound on one Docker Engine call', default: '10', schema: int(1, 300) },
  TMUX_ENABLED: { doc: 'Operate tmux sessions', default: 'true', schema: bool },
  TMUX_SOCKET: { doc: 'Path of the tmux server socket to operate (tmux -S); empty: tmux\'s default', default: '', schema: text },
  TMUX_SESSION_FILTER: { doc: 'Regex: only sessions whose name matches exist for operators (case-sensitive)', default: '', schema: pattern('') },
  TMUX_DEFAULT_CWD: { doc: 'Absolute working directory for /tmux new without -d (empty: the home directory)', default: '', schema: absolutePath },
  TMUX_LOG_LINES: { doc: 'Scrollback lines sent by /tmux log and searched by /tmux find', default: '5000', schema: int(100, 100_000) },
  TMUX_POLL_SECONDS: { doc: 'How often watched sessions are looked at', default: '2', schema: num(0.1, 60) },
  TMUX_STUCK_MINUTES: { doc: 'A running session with no output this long is "stuck"', default: '15', schema: num(1, 1440) },
  TMUX_ALERT_COOLDOWN_SECONDS: { doc: 'No second alert for the same state of a session within this', default: '300', schema: int(0, 86_400) },
  TMUX_CARD_LINES: { doc: 'Last lines shown on a session\'s status card', default: '15', schema: int(3, 50) },
  TMUX_WAIT_PATTERNS: { doc: 'Extra regex for "waiting for input" prompts (case-insensitive unless /re/flags)', default: '', schema: pattern('i') },
  TMUX_ERROR_PATTERNS: { doc: 'Extra regex for error output (case-insensitive unless /re/flags)', default: '', schema: pattern('i') },
  KUBECONFIG: { doc: 'Kubeconfig path(s); unset: ~/.kube/config, or the in-cluster service account', default: '', schema: text },
  K8S_CONTEXTS: { doc: 'Allowed kubeconfig contexts, comma-separated (empty: all)', default: '', schema: list },
  K8S_NAMESPACES: { doc: 'Allowed namespaces, comma-separated (empty: all)', default: '', schema: namespaces },
  K8S_READ_ONLY: { doc: 'Remove every mutating Kubernetes action', default: 'false', schema: bool },
  K8S_MAX_REPLICAS: { doc: 'Most replicas /k8s scale may set', default: '50', schema: int(0, 10_000) },
  SHELL_ENABLED: { doc: 'Allow /shell: admins only, approval every time', default: 'false', schema: bool },
  SHELL_TIMEOUT_SECONDS: { doc: 'A /shell command is killed after this long', default: '30', schema: int(1, 3600) },
  STATE_DIR: { doc: 'Directory of the SQLite database and the audit anchor file', default: '.state', schema: text },
  AUDIT_HMAC_KEY: { doc: 'Key for HMAC-SHA-256 audit hashes (recommended; keep it outside the state dir)', default: '', schema: text, secret: true },
  AUDIT_HMAC_KEY_PREVIOUS: { doc: 'Earlier audit keys, comma-separated: rotation proofs and the entries written under them are checked with these', default: '', schema: list, secret: true },
  AUDIT_ANCHOR_PATH: { doc: 'Anchor file recording the audit head', default: '$STATE_DIR/audit.anchor', schema: text },
  AUDIT_WITNESS: { doc: 'Where the audit head is posted, comma-separated: telegram:<chat id>, syslog://host:port (TCP, RFC 5424), http(s)://… (POST JSON)', default: '', schema: witnesses },
  AUDIT_WITNESS_EVERY: { doc: 'Post the head every N entries and/or every duration (e.g. 100,10m); always after a destructive action', default: '100,10m', schema: witnessEvery },
  AUDIT_VERIFY_EVERY: { doc: 'Verify the audit log this often (e.g. 1h) and alert on a break; 0 or off disables', default: '1h', schema: every },
  AUDIT_FSYNC: { doc: 'fsync every database commit (survives power loss, slower)', default: 'false', schema: bool },
  HTTP_HOST: { doc: 'Address of /health and /metrics', default: '127.0.0.1', schema: text },
  HTTP_PORT: { doc: 'Port of /health and /metrics; 0 disables the HTTP server', default: '9464', schema: int(0, 65_535) },
  TELEGRAM_GLOBAL_PER_SECOND: { doc: 'Outgoing messages per second across all chats (Telegram allows about 30)', default: '30', schema: int(0, 10_000) },
  TELEGRAM_CHAT_PER_MINUTE: { doc: 'Outgoing messages per minute into one group chat (Telegram allows about 20)', default: '20', schema: int(0, 100_000) },
  TELEGRAM_PRIVATE_PER_SECOND: { doc: 'Outgoing messages per second into one private chat (Telegram asks for about 1)', default: '1', schema: int(0, 10_000) },
  AI_PROVIDER: { doc: 'LLM for plain-language requests: gemini, openai, anthropic, ollama, openai-compatible or none (empty: gemini when GEMINI_API_KEY is set, else none)', default: '', schema: aiProvider },
  AI_MODEL: { doc: 'Model name (empty: gemini-2.5-flash, gpt-4.1-mini, claude-sonnet-4-5 or llama3.1, per provider; required for openai-compatible)', default: '', schema: text },
  AI_BASE_URL: { doc: 'Endpoint of the LLM API (required for openai-compatible; Ollama default http://127.0.0.1:11434/v1)', default: '', schema: optionalUrl },
  GEMINI_API_KEY: { doc: 'Google Gemini API key', default: '', schema: text, secret: true },
  OPENAI_API_KEY: { doc: 'OpenAI API key', default: '', schema: text, secret: true },
  ANTHROPIC_API_KEY: { doc: 'Anthropic API key', default: '', schema: text, secret: true },
  AI_API_KEY: { doc: 'Key for an openai-compatible endpoint (empty: OPENAI_API_KEY)', default: '', schema: text, secret: true },
  AI_DESTRUCTIVE_ALLOWED: { doc: 'Let the LLM run write and destructive actions without the Approve button', default: 'false', schema: bool },
  AI_MAX_STEPS: { doc: 'Most tool calls the LLM may make for one request', default: '8', schema: int(1, 50) },
  AI_TIMEOUT_SECONDS: { doc: 'Upper bound on one plain-language request (time waiting for an approval not counted)', default: '120', schema: int(1, 3600) },
  AI_DAILY_TOKEN_BUDGET: { doc: 'LLM tokens (input + output) each operator may use per UTC day', default: '200000', schema: int(1, 1_000_000_000) },
  AI_MEMORY_TURNS: { doc: "Your own earlier exchanges in a chat that the LLM sees, never other people's (/reset clears them)", default: '10', schema: int(0, 100) },
  AI_REQUESTS_PER_MINUTE: { doc: 'LLM calls per operator per minute (their own budget, apart from RATE_LIMIT_PER_MINUTE)', default: '30', schema: int(1, 10_000) },
  LOG_LEVEL: { doc: 'fatal, error, warn, info, debug, trace or silent', default: 'info', schema: z.string().transform((s) => s.trim().toLowerCase()).pipe(logLevel) },
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
    if (Array.isArray(c.AUTHORIZED_USER_IDS) && c.AUTHORIZED_USER_IDS.length === 0 && !problems.some((p) => p.startsWith('AUTHORIZED_USER_IDS'))) {
      problems.push(`AUTHORIZED_USER_IDS: no operator is authorized, so the bot would answer nobody — ${FIX.AUTHORIZED_USER_IDS}`);
    }
  }
  if (!problems.some((p) => p.startsWith('AI_'))) problems.push(...aiSettingsProblems(c));
  if (problems.length > 0) return { ok: false, problems: hideQuotedSecrets(problems, env) };

  const overlap = c.VIEWER_USER_IDS.filter((id) => c.AUTHORIZED_USER_IDS.includes(id) || c.ADMIN_USER_IDS.includes(id));
  if (overlap.length > 0) {
    return { ok: false, problems: [`VIEWER_USER_IDS: ${overlap.join(', ')} also listed as operator/admin; give each user one role`] };
  }
  const secrets = [
    ...(Object.entries(SETTINGS) as [SettingName, Setting][])
      .filter(([, s]) => s.secret)
      .flatMap(([n]) => {
        const v = c[n] ?? '';
        return Array.isArray(v) ? v.map(String) : [String(v)];
      }),
    // A URL setting may carry a password (https://user:pass@host): a secret like the others.
    ...Object.values(c).map((v) => (typeof v === 'string' && v.includes('@') && URL.canParse(v) ? decodeURIComponent(new URL(v).password) : '')),
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
