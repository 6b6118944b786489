import { z } from 'zod';
import { ActionError, defineAction, type ActionContext, type AnyAction } from '../core/action.js';
import type { Dispatcher } from '../core/dispatcher.js';
import type { Registry } from '../core/registry.js';
import { bold, line, value, type Result } from '../core/result.js';
import type { AiSummary } from '../core/target.js';
import type { AiMemoryRepo } from '../store/ai-memory.js';
import type { Agent } from './agent.js';
import { resultText } from './tools.js';
import type { Redactor } from '../core/redact.js';

export interface AiActionDeps {
  readonly memory: AiMemoryRepo;
  readonly redactor: Redactor;
  /** What the target modules offer to summarize, each with its target's name. */
  readonly summaries: readonly (AiSummary & { readonly target: string })[];
  /** Whether the registry will have this action (summaries exist only where their source does). */
  readonly has: (action: string) => boolean;
  /** Built after the registry and the agent: looked up when an action runs. */
  readonly registry: () => Registry;
  readonly dispatcher: () => Dispatcher;
  readonly agent: () => Agent;
}

const SUMMARY_LINES_DEFAULT = 200;
/** What is read for a summary; the agent cuts it further to its budget. */
const SUMMARY_READ_CHARS = 16_000;

/** Actions that exist when an LLM is configured: /reset, and the summaries. */
export function aiActions(d: AiActionDeps): AnyAction[] {
  const lines = z.coerce
    .number()
    .int()
    .min(10)
    .max(2000)
    .optional()
    .describe(`how many of the last lines to read (default ${SUMMARY_LINES_DEFAULT})`);

  /**
   * Reads through a read-only action of the registry, as a request of its own through the
   * dispatcher (origin ai: authorized, rate-limited, audited, with its timeout): a read changes nothing.
   */
  async function read(ctx: ActionContext, name: string, raw: Record<string, unknown>): Promise<string> {
    if (d.registry().get(name)?.risk !== 'read') throw new ActionError(`${name} is not available here.`);
    const outcome = await d.dispatcher().inner(ctx.operator, name, raw);
    switch (outcome.kind) {
      case 'done':
        return resultText(outcome.result, d.redactor, SUMMARY_READ_CHARS, ctx.signal);
      case 'failed':
      case 'refused':
        throw new ActionError(outcome.message);
      case 'rate_limited':
        throw new ActionError(`Too many requests: try again in ${outcome.retryAfterS}s.`);
      default:
        throw new ActionError(`${name} could not run here.`);
    }
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
        const group =
          ctx.operator.chatId < 0 ? ' Everyone here has a memory of their own with the assistant; theirs is kept.' : '';
        return {
          blocks: [
            line(
              n === 0
                ? `Nothing to forget: you have no conversation with the AI assistant in this chat yet.${group}`
                : `🧹 Forgot your conversation with the AI assistant in this chat.${group}`,
            ),
          ],
        };
      },
    }),
  ];
  for (const sum of d.summaries) {
    if (!d.has(sum.read.action)) continue;
    actions.push(
      defineAction({
        name: sum.name,
        summary: sum.summary,
        target: sum.target,
        risk: 'read',
        llm: false,
        timeoutMs: 120_000,
        params: z.object({ [sum.param]: z.string().min(1).max(200), lines }),
        command: sum.command,
        subject: (p) => `${sum.param} ${p[sum.param]}`,
        run: async (ctx, p) => {
          const subject = p[sum.param] as string;
          const n = (p.lines as number | undefined) ?? SUMMARY_LINES_DEFAULT;
          const output = await read(ctx, sum.read.action, sum.read.params(subject, n));
          return summaryResult(
            sum.label,
            subject,
            await d.agent().summarize(ctx.operator, sum.what(subject), output, ctx.signal),
          );
        },
      }),
    );
  }
  return actions;
}
