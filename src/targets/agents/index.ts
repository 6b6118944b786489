/**
 * The agents target, ready to wire: Claude Code and Codex sessions as actions, their live
 * cards and alerts, and health. The gate decides every tool call that is not auto-allowed;
 * whoever wires this target supplies it (approval cards in teleops).
 */
import { access, constants } from 'node:fs/promises';
import type { Db } from '../../core/sqlite.js';
import type { AlertSink } from '../../core/alerts.js';
import { scrubbedEnv } from '../../core/env.js';
import type { Integration } from '../../core/health.js';
import type { Logger } from '../../core/log.js';
import type { Redactor } from '../../core/redact.js';
import type { Result } from '../../core/result.js';
import { agentActions } from './actions.js';
import { bundledClaude, bundledCodex } from './bundled.js';
import { agentAlert, endedCard, statusCard } from './cards.js';
import { claudeRunner } from './claude.js';
import { codexRunner } from './codex.js';
import type { ToolGate } from './gate.js';
import { AgentSessions } from './sessions.js';
import { toolAction } from './tool.js';
import type { AgentSettings } from './settings.js';
import { AgentSessionRepo, type AgentKind } from './store.js';

export { MIGRATIONS } from './store.js';
export { AGENT_SETTINGS, readAgentSettings, type AgentSettings } from './settings.js';
export { DENIED, type ToolGate, type ToolRequest, type ToolDecision } from './gate.js';
export { toolApprovalBlocks } from './approval.js';

export interface AgentsTargetDeps {
  /** With this target's MIGRATIONS applied. */
  readonly db: Db;
  readonly alerts: AlertSink;
  readonly log: Logger;
  readonly redactor: Pick<Redactor, 'redact'>;
  readonly gate: ToolGate;
  readonly now?: () => number;
  /** Tokens of each finished turn by agent kind (teleops_agent_tokens_total). */
  readonly onTokens?: (kind: AgentKind, input: number, output: number) => void;
}

/**
 * An agent's process gets this process's environment without teleops' secrets, plus the one
 * provider key its agent needs.
 */
export function agentEnv(kind: AgentKind, keys: AgentSettings['keys']): NodeJS.ProcessEnv {
  const env = scrubbedEnv();
  if (kind === 'claude' && keys.anthropic) env.ANTHROPIC_API_KEY = keys.anthropic;
  if (kind === 'codex' && keys.openai) env.OPENAI_API_KEY = keys.openai;
  return env;
}

export function createAgentsTarget(settings: AgentSettings, deps: AgentsTargetDeps) {
  const now = deps.now ?? Date.now;
  const redact = (s: string): string => deps.redactor.redact(s);
  const integration: Integration = {
    name: 'agents',
    check: async () => {
      if (!settings.enabled) return { state: 'disabled', detail: 'AGENT_ENABLED=false' };
      const r = await readiness(settings);
      return { state: r.any ? 'up' : 'down', detail: r.detail };
    },
  };
  if (!settings.enabled)
    return {
      actions: [],
      integration,
      onCard: () => () => undefined,
      cards: (): Result[] => [],
      start: async () => undefined,
      stop: async () => undefined,
    };
  const stderr = (kind: AgentKind) => (s: string) =>
    deps.log.debug({ agent: kind, stderr: redact(s).slice(0, 2000) }, 'agent stderr');
  const codex = codexExe(settings);
  const sessions = new AgentSessions({
    repo: new AgentSessionRepo(deps.db),
    settings,
    runners: {
      claude: claudeRunner({
        ...(settings.claudePath ? { executable: settings.claudePath } : {}),
        stderr: stderr('claude'),
      }),
      codex: codexRunner({
        ...(codex ? { executable: codex } : {}),
        stderr: stderr('codex'),
      }),
    },
    gate: deps.gate,
    alerts: deps.alerts,
    log: deps.log,
    redact,
    env: (kind) => agentEnv(kind, settings.keys),
    now,
    ...(deps.onTokens ? { onTokens: deps.onTokens } : {}),
    alertFor: (view, what) => agentAlert(view, what, redact),
  });
  return {
    actions: [...agentActions({ sessions, redact, now }), toolAction(redact)],
    integration,
    sessions,
    /** Each session's card as it changes, for the transport to edit in place. */
    onCard(listener: (card: Result) => void): () => void {
      return sessions.on((e) => listener(e.kind === 'ended' ? endedCard(e.name) : statusCard(e.view, redact)));
    },
    /** Every session's card as it is now. */
    cards(): Result[] {
      return sessions.list().map((v) => statusCard(v, redact));
    },
    start: async () => undefined,
    stop: async () => sessions.stopAll(),
  };
}

/** AGENT_CODEX_PATH, else the bundled binary; neither: `codex` on PATH. */
const codexExe = (s: AgentSettings): string | undefined => s.codexPath ?? bundledCodex();

/**
 * One line for /status and doctor: for each agent, whether it can run (which executable, key
 * set); down when none can.
 */
async function readiness(s: AgentSettings): Promise<{ any: boolean; detail: string }> {
  const agents = [
    { name: 'claude', exe: s.claudePath ?? bundledClaude(), setting: 'AGENT_CLAUDE_PATH', key: s.keys.anthropic },
    { name: 'codex', exe: codexExe(s) ?? (await onPath('codex')), setting: 'AGENT_CODEX_PATH', key: s.keys.openai },
  ];
  let any = false;
  const parts: string[] = [];
  for (const a of agents) {
    const found = await runnable(a.exe);
    any ||= found && a.key !== undefined;
    const key = a.key ? '' : `, no ${a.name === 'claude' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY'}`;
    // Which binary: the bundled one, one on PATH or the setting's, whichever would run.
    const exe = found ? `ready (${a.exe})` : `no executable${a.exe ? ` at ${a.exe}` : ''} (${a.setting})`;
    parts.push(`${a.name}: ${exe}${key}`);
  }
  return { any, detail: parts.join('; ') };
}

const runnable = async (path: string | undefined): Promise<boolean> =>
  path !== undefined &&
  (await access(path, constants.X_OK).then(
    () => true,
    () => false,
  ));

async function onPath(exe: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(':').filter((p) => p !== '')) {
    if (await runnable(`${dir}/${exe}`)) return `${dir}/${exe}`;
  }
  return undefined;
}
