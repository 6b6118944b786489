/**
 * The one question every agent tool call asks before it runs. The agents target asks it;
 * whoever wires the target answers it (an approval card, a console prompt, a test).
 */
import type { Operator } from '../../core/action.js';

export interface ToolRequest {
  /** The agent session's name. */
  readonly session: string;
  /** Who sent the prompt the agent is working on. */
  readonly requester: Operator;
  /** The chat the session was started in: its approval cards go there. */
  readonly chatId: number;
  /** The agent's name for the tool: `Bash`, `Edit`, … for Claude; `command`, `fileChange` for Codex. */
  readonly tool: string;
  /** The tool's input exactly as the agent gave it (untrusted). */
  readonly input: Readonly<Record<string, unknown>>;
  /** Aborted when the turn ends before a decision (stopped, failed, timed out): the question is moot. */
  readonly signal: AbortSignal;
}

export interface ToolDecision {
  readonly allow: boolean;
  readonly reason: string;
}

export type ToolGate = (req: ToolRequest) => Promise<ToolDecision>;

/** What the agent is told when the operator said no, or did not answer in time. */
export const DENIED = 'denied by the operator';
