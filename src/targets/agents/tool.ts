/**
 * Every agent tool call that is not auto-allowed is one request of `agent.tool`, made on behalf
 * of whoever sent the prompt: the pipeline turns it into an approval card (bound, single use,
 * expiring, audited, decided by an admin). Only an approved request that ran is an allow.
 */
import { z } from 'zod';
import { ActionError, defineAction } from '../../core/action.js';
import type { AskOnBehalf } from '../../core/on-behalf.js';
import type { Redact } from '../../core/redact.js';
import { say } from '../../core/result.js';
import { toolApprovalBlocks } from './approval.js';
import { cardKey } from './cards.js';
import type { ToolGate } from './gate.js';

export const TOOL_ACTION = 'agent.tool';

/**
 * Never typed, never offered to the LLM: only an agent session asks for it, and an admin decides.
 * Its card shows the call's input with secrets hidden by `redact`.
 */
export const toolAction = (redact: Redact) =>
  defineAction({
    name: TOOL_ACTION,
    summary: "An agent session's tool call, waiting for an admin's approval",
    target: 'agents',
    risk: 'destructive',
    minRole: 'admin',
    llm: false,
    params: z.object({
      session: z.string().min(1).max(32),
      tool: z.string().min(1).max(200),
      input: z.record(z.string(), z.unknown()),
    }),
    subject: (p) => `agent session ${p.session}`,
    preview: async (_ctx, p) => toolApprovalBlocks(p, redact),
    async run(ctx, p) {
      if (ctx.origin !== 'agent') throw new ActionError('only an agent session asks for this');
      return say(`${p.tool} allowed`);
    },
  });

/** The gate of an app where people decide: each question is an `agent.tool` approval. */
export function approvalGate(approve: AskOnBehalf | undefined): ToolGate {
  return async (req) => {
    if (!approve) return { allow: false, reason: 'nobody can approve it here' };
    const decision = await approve({
      operator: { ...req.requester, chatId: req.chatId },
      action: TOOL_ACTION,
      params: { session: req.session, tool: req.tool, input: req.input },
      place: cardKey(req.session),
      signal: req.signal,
    });
    if (!decision.approved) return { allow: false, reason: decision.reason };
    return { allow: true, reason: `approved by ${decision.by}` };
  };
}
