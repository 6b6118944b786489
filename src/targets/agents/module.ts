import { Counter } from 'prom-client';
import { defineTarget, disabled, SetupError } from '../../core/target.js';
import { agentSettings, AGENT_SETTINGS } from './settings.js';
import { MIGRATIONS, POSTGRES } from './store.js';
import { approvalGate } from './tool.js';

/**
 * Claude Code and Codex sessions, on with AGENT_ENABLED=true. The Agent SDK and the runners
 * are loaded only then.
 */
export const agents = defineTarget({
  name: 'agents',
  settings: AGENT_SETTINGS,
  migrations: MIGRATIONS,
  postgres: POSTGRES,
  fix: 'set AGENT_CLAUDE_PATH or AGENT_CODEX_PATH to an executable, and ANTHROPIC_API_KEY or OPENAI_API_KEY',
  prompt: 'Claude Code and Codex agent sessions',
  topics: { summary: 'In a forum group: one topic per agent session (text in it is its next prompt), on or off' },
  create: async ({ config: c, alerts, log, db, redactor, metrics, approve }) => {
    if (!c.AGENT_ENABLED) return disabled('AGENT_ENABLED=false');
    const parsed = agentSettings(c, { anthropic: c.ANTHROPIC_API_KEY, openai: c.OPENAI_API_KEY });
    if (!parsed.ok) throw new SetupError(parsed.problems.join('; '));
    const { createAgentsTarget } = await import('./index.js');
    const tokens = metrics
      ? new Counter({
          name: 'teleops_agent_tokens_total',
          help: 'Tokens used by agent sessions',
          labelNames: ['agent', 'kind'] as const,
          registers: [metrics.registry],
        })
      : undefined;
    return createAgentsTarget(parsed.settings, {
      db,
      alerts,
      log,
      redactor,
      gate: approvalGate(approve),
      ...(tokens
        ? {
            onTokens: (agent, input, output) => {
              tokens.inc({ agent, kind: 'input' }, input);
              tokens.inc({ agent, kind: 'output' }, output);
            },
          }
        : {}),
    });
  },
});
