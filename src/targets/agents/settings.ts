/**
 * The agents target's settings: the rows for the settings table (same shape as config.ts's
 * SETTINGS entries), what they mean once parsed, and the check that they fit together.
 */
import { absolutePath, bool, int, list, num, text, type SettingValues } from '../../core/settings.js';

const absolute = (p: string): boolean => p.startsWith('/');

const absoluteList = list.refine((ps) => ps.every(absolute), {
  error: (iss) =>
    `not absolute: ${(iss.input as string[])
      .filter((p) => !absolute(p))
      .map((p) => JSON.stringify(p.slice(0, 200)))
      .join(', ')}`,
});

/** Claude Code's read-only tools: they can look but not change anything or run a command. */
export const DEFAULT_AUTO_ALLOW = ['Read', 'Glob', 'Grep', 'LS'] as const;

export const AGENT_SETTINGS = {
  AGENT_ENABLED: { doc: 'Run Claude Code and Codex sessions (/agent); admins only', default: 'false', schema: bool },
  AGENT_ROOTS: {
    doc: 'Absolute directories agent sessions may work in, comma-separated; required when AGENT_ENABLED',
    default: '',
    schema: absoluteList,
  },
  AGENT_DEFAULT_DIR: {
    doc: 'Directory of /agent new without one (empty: the first of AGENT_ROOTS)',
    default: '',
    schema: absolutePath,
  },
  AGENT_CLAUDE_PATH: {
    doc: 'Claude Code executable (empty: the one installed with the Agent SDK)',
    default: '',
    schema: absolutePath,
  },
  AGENT_CODEX_PATH: {
    doc: 'Codex executable, run as `codex app-server` (empty: the one of @openai/codex, else codex on PATH)',
    default: '',
    schema: absolutePath,
  },
  AGENT_MODEL_CLAUDE: { doc: "Model for Claude sessions (empty: Claude Code's default)", default: '', schema: text },
  AGENT_MODEL_CODEX: { doc: "Model for Codex sessions (empty: Codex's default)", default: '', schema: text },
  AGENT_MAX_TURNS: {
    doc: "Most model round trips in one prompt of a Claude session (Claude Code's --max-turns)",
    default: '50',
    schema: int(1, 1000),
  },
  AGENT_TURN_TIMEOUT_MINUTES: {
    doc: 'A prompt still running after this long is interrupted',
    default: '30',
    schema: int(1, 1440),
  },
  AGENT_DAILY_BUDGET_USD: {
    doc: 'Cost of all agent sessions per UTC day; a prompt that would start over it is refused (0: no prompt runs)',
    default: '10',
    schema: num(0, 100_000),
  },
  AGENT_AUTO_ALLOW_TOOLS: {
    doc:
      "Tools that run without an approval card when every path they name is inside the session's directory, " +
      "comma-separated (default: Claude's read-only ones)",
    default: DEFAULT_AUTO_ALLOW.join(','),
    schema: list,
  },
  AGENT_MAX_SESSIONS: { doc: 'Most agent sessions kept at once', default: '5', schema: int(1, 100) },
} as const;

export type AgentSettingName = keyof typeof AGENT_SETTINGS;

export interface AgentSettings {
  readonly enabled: boolean;
  /** Absolute directories; a session's directory must resolve inside one of them. */
  readonly roots: readonly string[];
  readonly defaultDir: string;
  readonly claudePath?: string;
  readonly codexPath?: string;
  readonly modelClaude?: string;
  readonly modelCodex?: string;
  readonly maxTurns: number;
  readonly turnTimeoutMs: number;
  readonly dailyBudgetUsd: number;
  readonly autoAllowTools: readonly string[];
  readonly maxSessions: number;
  /** The provider keys the agents' processes get, each only its own (ANTHROPIC_API_KEY, OPENAI_API_KEY). */
  readonly keys: { readonly anthropic?: string; readonly openai?: string };
}

export type AgentSettingsResult = { ok: true; settings: AgentSettings } | { ok: false; problems: string[] };

export type AgentSettingValues = SettingValues<typeof AGENT_SETTINGS>;

/** Reads the AGENT_* rows (and the two provider keys) from an environment; every problem is listed. */
export function readAgentSettings(env: Readonly<Record<string, string | undefined>>): AgentSettingsResult {
  const problems: string[] = [];
  const v: Record<string, unknown> = {};
  for (const [name, row] of Object.entries(AGENT_SETTINGS)) {
    const parsed = row.schema.safeParse(env[name] ?? row.default);
    if (parsed.success) v[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return agentSettings(v as AgentSettingValues, { anthropic: env.ANTHROPIC_API_KEY, openai: env.OPENAI_API_KEY });
}

/** What the parsed rows mean together, with the provider keys as set (or not). */
export function agentSettings(
  v: AgentSettingValues,
  rawKeys: { anthropic?: unknown; openai?: unknown },
): AgentSettingsResult {
  const roots = v.AGENT_ROOTS;
  if (v.AGENT_ENABLED && roots.length === 0) {
    const problem = 'AGENT_ROOTS: set the directories agents may work in (AGENT_ENABLED=true needs them)';
    return { ok: false, problems: [problem] };
  }
  const opt = (s: unknown): string | undefined => (typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined);
  const anthropic = opt(rawKeys.anthropic);
  const openai = opt(rawKeys.openai);
  const claudePath = opt(v.AGENT_CLAUDE_PATH);
  const codexPath = opt(v.AGENT_CODEX_PATH);
  const modelClaude = opt(v.AGENT_MODEL_CLAUDE);
  const modelCodex = opt(v.AGENT_MODEL_CODEX);
  const settings: AgentSettings = {
    enabled: v.AGENT_ENABLED,
    roots,
    defaultDir: opt(v.AGENT_DEFAULT_DIR) ?? roots[0] ?? '',
    ...(claudePath ? { claudePath } : {}),
    ...(codexPath ? { codexPath } : {}),
    ...(modelClaude ? { modelClaude } : {}),
    ...(modelCodex ? { modelCodex } : {}),
    maxTurns: v.AGENT_MAX_TURNS,
    turnTimeoutMs: v.AGENT_TURN_TIMEOUT_MINUTES * 60_000,
    dailyBudgetUsd: v.AGENT_DAILY_BUDGET_USD,
    autoAllowTools: v.AGENT_AUTO_ALLOW_TOOLS,
    maxSessions: v.AGENT_MAX_SESSIONS,
    keys: { ...(anthropic ? { anthropic } : {}), ...(openai ? { openai } : {}) },
  };
  return { ok: true, settings };
}
