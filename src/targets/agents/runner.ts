/**
 * What an agent runner does, whatever the agent: run one prompt in a working directory,
 * resuming the agent's own session when there is one, asking `gate` before every tool, and
 * telling what happens as events. One module per agent spawns and speaks to its process.
 */
import type { ToolDecision } from './gate.js';

export type AgentEvent =
  /** The agent's id of the conversation, to resume it later. */
  | { readonly type: 'session'; readonly id: string }
  /** A piece of the answer as it streams. */
  | { readonly type: 'text'; readonly delta: string }
  /** A tool started (after it was allowed). */
  | { readonly type: 'tool'; readonly tool: string; readonly input: Readonly<Record<string, unknown>> }
  /** What a turn cost, when the agent says. */
  | { readonly type: 'usage'; readonly costUsd: number; readonly inputTokens: number; readonly outputTokens: number };

export interface TurnEnd {
  readonly outcome: 'ok' | 'failed' | 'interrupted';
  /** Why it failed, in the agent's words (untrusted). */
  readonly detail?: string;
}

/** A picture sent with the prompt (Claude: an image content block; Codex: an image input). */
export interface TurnImage {
  readonly mime: string;
  readonly data: Buffer;
}

export interface TurnOptions {
  readonly prompt: string;
  readonly images?: readonly TurnImage[];
  /** The agent's session id from an earlier turn: continue that conversation. */
  readonly resume?: string;
  readonly cwd: string;
  /** The process's whole environment (built by the caller: no teleops secrets). */
  readonly env: NodeJS.ProcessEnv;
  readonly model?: string;
  readonly maxTurns: number;
  readonly gate: (tool: string, input: Readonly<Record<string, unknown>>) => Promise<ToolDecision>;
  readonly onEvent: (e: AgentEvent) => void;
}

export interface RunningTurn {
  readonly done: Promise<TurnEnd>;
  /** Asks the agent to stop the turn; `done` then settles as interrupted. */
  interrupt(): Promise<void>;
}

export interface AgentRunner {
  run(o: TurnOptions): RunningTurn;
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
