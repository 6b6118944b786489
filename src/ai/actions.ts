import { z } from 'zod';
import { ActionError, defineAction, type ActionContext, type AnyAction } from '../core/action.js';
import type { Registry } from '../core/registry.js';
import { bold, line, value, type Result } from '../core/result.js';
import type { AiMemoryRepo } from '../store/ai-memory.js';
import type { Agent } from './agent.js';
import type { Redactor } from '../core/redact.js';

export interface AiActionDeps {
  readonly memory: AiMemoryRepo;
  readonly redactor: Redactor;
  /** Whether the registry will have this action (summaries exist only where their source does). */
  readonly has: (action: string) => boolean;
  /** Built after the registry and the agent: looked up when an action runs. */
  readonly registry: () => Registry;
  readonly agent: () => Agent;
}

const SUMMARY_LINES_DEFAULT = 200;
/** What is read for a summary; the agent cuts it further to its budget. */
const SUMMARY_READ_CHARS = 16_000;

/** Actions that exist when an LLM is configured: /reset, and the summaries. */
export function aiActions(d: AiActionDeps): AnyAction[] {
  const lines = z.coerce.number().int().min(10).max(2000).optional().describe(`how many of the last lines to read (default ${SUMMARY_LINES_DEFAULT})`);

  /**
   * Reads through a read-only action of the registry with the caller's context: the summary is
   * itself an authorized, rate-limited and audited request, and a read changes nothing.
   */
  async function read(ctx: ActionContext, name: string, raw: Record<string, unknown>): Promise<string> {
    const action = d.registry().get(name);
    if (!action || action.risk !== 'read') throw new ActionError(`${name} is not available here.`);
    const parsed = (action.params as z.ZodType).safeParse(raw);
    if (!parsed.success) throw new ActionError(parsed.error.issues.map((i) => i.message).join('; '));
    const r: Result = await action.run(ctx, parsed.data);
    // tools.js brings the AI SDK, which a start without an LLM does not load.
    const { resultText } = await import('./tools.js');
    return resultText(r, d.redactor, SUMMARY_READ_CHARS, ctx.signal);
  }

  const summaryResult = (what: string, name: string, text: string): Result => ({
    blocks: [line(bold(`🧠 ${what} `), value(name)), ...text.split('\n').map((l) => line(value(l)))],
  });

  const actions: AnyAction[] = [
    defineAction({
      name: 'ai.reset',
      summary: "Make the AI assistant forget your conversation with it in this chat (not other people's)",
      target: 'ai',
      risk: 'write',
      llm: false,
      params: z.object({}),
      command: { path: ['reset'] },
      subject: () => 'AI conversation memory',
      run: async (ctx) => {
        // Memory is per person: a group's other members keep theirs, as they never share it.
        const n = d.memory.clear(ctx.operator.chatId, ctx.operator.userId);
        const group = ctx.operator.chatId < 0 ? ' Everyone here has a memory of their own with the assistant; theirs is kept.' : '';
        return {
          blocks: [line(n === 0 ? `Nothing to forget: you have no conversation with the AI assistant in this chat yet.${group}` : `🧹 Forgot your conversation with the AI assistant in this chat.${group}`)],
        };
      },
    }),
  ];
  if (d.has('tmux.tail')) {
    actions.push(
      defineAction({
        name: 'ai.tmux-summary',
        summary: 'A short AI diagnosis of what a terminal session is doing',
        target: 'tmux',
        risk: 'read',
        llm: false,
        timeoutMs: 120_000,
        params: z.object({ session: z.string().min(1).max(200), lines }),
        command: { path: ['tmux', 'summary'], usage: '<session> [lines]' },
        subject: (p) => `session ${p.session}`,
        run: async (ctx, p) => {
          const output = await read(ctx, 'tmux.tail', { target: p.session, lines: p.lines ?? SUMMARY_LINES_DEFAULT });
          return summaryResult('Session', p.session, await d.agent().summarize(ctx.operator, `terminal session ${p.session}`, output, ctx.signal));
        },
      }),
    );
  }
  if (d.has('docker.logs')) {
    actions.push(
      defineAction({
        name: 'ai.docker-summary',
        summary: 'A short AI diagnosis of a container log (also /docker logs <container> [lines] summarize)',
        target: 'docker',
        risk: 'read',
        llm: false,
        timeoutMs: 120_000,
        params: z.object({ container: z.string().min(1).max(200), lines }),
        command: { path: ['docker', 'summary'], usage: '<container> [lines]', suffix: { path: ['docker', 'logs'], word: 'summarize' } },
        subject: (p) => `container ${p.container}`,
        run: async (ctx, p) => {
          const output = await read(ctx, 'docker.logs', { container: p.container, lines: p.lines ?? SUMMARY_LINES_DEFAULT });
          return summaryResult('Container', p.container, await d.agent().summarize(ctx.operator, `the log of container ${p.container}`, output, ctx.signal));
        },
      }),
    );
  }
  return actions;
}
