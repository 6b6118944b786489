/**
 * An agents target wired to the fake agent executables (test/fakes/agents), a real SQLite
 * file, a scripted gate and a collecting alert sink, for one test.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { ActionContext, AnyAction } from '../../../src/core/action.js';
import type { Alert } from '../../../src/core/alerts.js';
import { silentLogger } from '../../../src/core/log.js';
import { createRedactor } from '../../../src/core/redact.js';
import type { Result } from '../../../src/core/result.js';
import {
  createAgentsTarget,
  MIGRATIONS,
  readAgentSettings,
  type AgentSettings,
  type ToolRequest,
} from '../../../src/targets/agents/index.js';
import type { AgentKind } from '../../../src/targets/agents/store.js';

export const FAKES = resolve(import.meta.dirname, '../../fakes/agents');
export const ANTHROPIC_KEY = 'sk-ant-fake-anthropic-key-0123456789';
export const OPENAI_KEY = 'sk-fake-openai-key-0123456789abcdef';
/** teleops' own secrets, set in this process's environment: no agent may see them. */
export const TELEOPS_SECRETS = {
  TELEGRAM_BOT_TOKEN: '123456:AAE-fake-bot-token-abcdefghijklmnop',
  AUDIT_HMAC_KEY: 'fake-hmac-key-0123456789',
  GEMINI_API_KEY: 'AIzaFakeGeminiKey0123456789abcdefghijk',
};

export const ctx: ActionContext = {
  operator: { userId: 1, chatId: 99, role: 'admin', display: '@admin' },
  origin: 'command',
  signal: new AbortController().signal,
  chat: { get: () => undefined, set: () => undefined },
};

export interface Harness {
  readonly dir: string;
  /** The one root agents may work in. */
  readonly root: string;
  readonly dbPath: string;
  readonly alerts: Alert[];
  readonly asked: ToolRequest[];
  readonly cards: Result[];
  /** Tokens reported per finished turn. */
  readonly tokens: [AgentKind, number, number][];
  readonly target: ReturnType<typeof createAgentsTarget>;
  /** Writes the fakes' script; the next processes follow it. */
  script(s: unknown): void;
  /** What the fakes received, one entry per line. */
  record(): Record<string, unknown>[];
  run(name: string, raw: Record<string, unknown>): Promise<Result>;
  /** A new target on the same database, as after a restart of teleops. */
  restart(): Harness;
  close(): void;
}

export interface HarnessOptions {
  readonly env?: Record<string, string>;
  /** Tool name → allow; tools not listed are denied. */
  readonly allow?: Record<string, boolean>;
  /** Tools whose question is never answered: the gate waits until the question is withdrawn. */
  readonly hold?: readonly string[];
  /** Settings no environment value can give (a timeout shorter than a minute). */
  readonly settings?: Partial<AgentSettings>;
}

export function harness(opts: HarnessOptions = {}, existing?: { dir: string }): Harness {
  const dir = existing?.dir ?? mkdtempSync(join(tmpdir(), 'teleops-agents-'));
  const root = join(dir, 'root');
  mkdirSync(join(root, 'proj'), { recursive: true });
  const dbPath = join(dir, 'agents.db');
  const db = new Database(dbPath);
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS.slice(current)) db.exec(m);
  db.pragma(`user_version = ${MIGRATIONS.length}`);
  const scriptPath = join(dir, 'script.json');
  const recordPath = join(dir, 'record.jsonl');
  process.env.FAKE_AGENT_SCRIPT = scriptPath;
  process.env.FAKE_AGENT_RECORD = recordPath;
  Object.assign(process.env, TELEOPS_SECRETS);
  const parsed = readAgentSettings({
    AGENT_ENABLED: 'true',
    AGENT_ROOTS: root,
    AGENT_CLAUDE_PATH: join(FAKES, 'claude'),
    AGENT_CODEX_PATH: join(FAKES, 'codex'),
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    OPENAI_API_KEY: OPENAI_KEY,
    ...opts.env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const alerts: Alert[] = [];
  const asked: ToolRequest[] = [];
  const cards: Result[] = [];
  const tokens: [AgentKind, number, number][] = [];
  const redactor = createRedactor([ANTHROPIC_KEY, OPENAI_KEY, ...Object.values(TELEOPS_SECRETS)]);
  const target = createAgentsTarget(
    { ...parsed.settings, ...opts.settings },
    {
      onTokens: (kind, input, output) => tokens.push([kind, input, output]),
      db,
      alerts: { raise: (a) => alerts.push(a) },
      log: silentLogger(),
      redactor,
      gate: async (req) => {
        asked.push(req);
        if (opts.hold?.includes(req.tool)) {
          await new Promise((resolve) => req.signal.addEventListener('abort', resolve, { once: true }));
          return { allow: true, reason: 'too late' };
        }
        const allow = opts.allow?.[req.tool] ?? false;
        return { allow, reason: allow ? 'approved by @admin' : 'denied by @admin' };
      },
    },
  );
  target.onCard((c) => cards.push(c));
  const find = (name: string): AnyAction => {
    const a = target.actions.find((x) => x.name === name);
    if (!a) throw new Error(`no action ${name}`);
    return a;
  };
  return {
    dir,
    root,
    dbPath,
    alerts,
    asked,
    cards,
    tokens,
    target,
    script: (s) => writeFileSync(scriptPath, JSON.stringify(s)),
    record: () =>
      existsSync(recordPath)
        ? readFileSync(recordPath, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
    run: async (name, raw) => {
      const a = find(name);
      return a.run(ctx, a.params.parse(raw));
    },
    restart() {
      db.close();
      return harness(opts, { dir });
    },
    close() {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `cond` holds, checking after each turn of the event loop's timers (bounded by attempts, not time). */
export async function until(cond: () => boolean, what: string, attempts = 1500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}
