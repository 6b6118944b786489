/**
 * Claude Code through the Claude Agent SDK. The SDK spawns the CLI and speaks its
 * stream-json control protocol; every tool the CLI wants to use comes back as `canUseTool`.
 * `permissionMode: 'default'` and `settingSources: []` so that no settings file on the host
 * can allow a tool behind the operator's back, and no classifier decides for them.
 */
import { query, type SDKMessage, type SDKUserMessage } from '@anthropic-ai/claude-agent-sdk';
import {
  errorText,
  type AgentRunner,
  type RunningTurn,
  type TurnEnd,
  type TurnImage,
  type TurnOptions,
} from './runner.js';

export interface ClaudeRunnerOptions {
  /** AGENT_CLAUDE_PATH; unset: the CLI the SDK installed. */
  readonly executable?: string;
  /** Where the CLI's stderr goes (already a line of text). */
  readonly stderr?: (line: string) => void;
}

export function claudeRunner(opts: ClaudeRunnerOptions = {}): AgentRunner {
  return { run: (o) => runClaude(o, opts) };
}

function runClaude(o: TurnOptions, opts: ClaudeRunnerOptions): RunningTurn {
  let interrupted = false;
  const abort = new AbortController();
  const q = query({
    prompt: o.images?.length ? withImages(o.prompt, o.images) : o.prompt,
    options: {
      cwd: o.cwd,
      env: o.env,
      abortController: abort,
      ...(opts.executable ? { pathToClaudeCodeExecutable: opts.executable } : {}),
      ...(o.model ? { model: o.model } : {}),
      ...(o.resume ? { resume: o.resume } : {}),
      maxTurns: o.maxTurns,
      includePartialMessages: true,
      permissionMode: 'default',
      settingSources: [],
      ...(opts.stderr ? { stderr: opts.stderr } : {}),
      canUseTool: async (tool, input) => {
        const d = await o.gate(tool, input);
        return d.allow ? { behavior: 'allow', updatedInput: input } : { behavior: 'deny', message: d.reason };
      },
    },
  });
  const done = (async (): Promise<TurnEnd> => {
    let end: TurnEnd | undefined;
    try {
      for await (const m of q) end = onMessage(m, o) ?? end;
    } catch (e) {
      if (interrupted) return { outcome: 'interrupted' };
      return { outcome: 'failed', detail: errorText(e) };
    }
    if (interrupted) return { outcome: 'interrupted' };
    return end ?? { outcome: 'failed', detail: 'Claude Code ended without a result' };
  })();
  return {
    done,
    async interrupt() {
      interrupted = true;
      try {
        await q.interrupt();
      } catch {
        // The CLI did not take the request (it was already ending, or is stuck): end it.
        abort.abort();
      }
    },
  };
}

/** Turns one SDK message into events; a `result` ends the turn. */
function onMessage(m: SDKMessage, o: TurnOptions): TurnEnd | undefined {
  switch (m.type) {
    case 'system':
      if (m.subtype === 'init') o.onEvent({ type: 'session', id: m.session_id });
      return undefined;
    case 'stream_event': {
      const ev = m.event;
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta')
        o.onEvent({ type: 'text', delta: ev.delta.text });
      return undefined;
    }
    case 'assistant':
      for (const block of m.message.content) {
        if (block.type === 'tool_use')
          o.onEvent({ type: 'tool', tool: block.name, input: (block.input ?? {}) as Record<string, unknown> });
      }
      return undefined;
    case 'result': {
      o.onEvent({
        type: 'usage',
        costUsd: m.total_cost_usd,
        inputTokens: m.usage.input_tokens,
        outputTokens: m.usage.output_tokens,
      });
      if (m.subtype === 'success' && !m.is_error) return { outcome: 'ok' };
      const detail = m.subtype === 'success' ? m.result : (m.errors ?? []).join('; ') || m.subtype;
      return { outcome: 'failed', detail };
    }
    default:
      return undefined;
  }
}

/** The prompt as one user message of text and image blocks (a string prompt can only be text). */
async function* withImages(prompt: string, images: readonly TurnImage[]): AsyncGenerator<SDKUserMessage> {
  yield {
    type: 'user',
    session_id: '',
    parent_tool_use_id: null,
    message: {
      role: 'user',
      content: [
        { type: 'text', text: prompt },
        ...images.map((i) => ({
          type: 'image' as const,
          source: {
            type: 'base64' as const,
            media_type: i.mime as 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp',
            data: i.data.toString('base64'),
          },
        })),
      ],
    },
  };
}
