/**
 * A scripted LLM at the provider boundary: the AI SDK's own mock language model, answering each
 * call from a script (tool calls or text), and recording what it was sent (prompt and tools).
 *
 *   const model = scriptedModel([
 *     { calls: [{ tool: 'test_echo', args: { text: 'hi' } }] },
 *     (call) => ({ text: `saw: ${lastToolOutput(call)}` }),
 *   ]);
 */
import { MockLanguageModelV3 } from 'ai/test';
import type { AiModel } from '../../src/ai/providers.js';

export type CallOptions = Parameters<MockLanguageModelV3['doGenerate']>[0];
type GenerateResult = Awaited<ReturnType<MockLanguageModelV3['doGenerate']>>;

export interface ScriptedStep {
  readonly text?: string;
  readonly calls?: readonly { readonly tool: string; readonly args: Record<string, unknown> }[];
  /** Tokens this call reports (default 10 in, 5 out). */
  readonly usage?: { readonly input: number; readonly output: number };
}

/** A step, or a function of what the model was sent (to react to tool output). */
export type ScriptEntry = ScriptedStep | ((call: CallOptions, index: number) => ScriptedStep);

export interface ScriptedModel extends AiModel {
  readonly mock: MockLanguageModelV3;
  /** Every call the SDK made, in order. */
  readonly calls: CallOptions[];
}

/**
 * `script` is consumed one entry per model call; after the last entry the model says "done".
 * Pass a function instead of an array to answer every call the same way (e.g. never stop).
 */
export function scriptedModel(
  script: readonly ScriptEntry[] | ((call: CallOptions, index: number) => ScriptedStep),
  provider = 'scripted',
): ScriptedModel {
  let n = 0;
  let ids = 0;
  const mock = new MockLanguageModelV3({
    provider,
    modelId: 'scripted-1',
    doGenerate: async (call): Promise<GenerateResult> => {
      const i = n++;
      const entry = typeof script === 'function' ? script : (script[i] ?? { text: 'done' });
      const step = typeof entry === 'function' ? entry(call, i) : entry;
      const content: GenerateResult['content'] = [];
      if (step.text !== undefined) content.push({ type: 'text', text: step.text });
      for (const c of step.calls ?? [])
        content.push({
          type: 'tool-call',
          toolCallId: `call-${++ids}`,
          toolName: c.tool,
          input: JSON.stringify(c.args),
        });
      const u = step.usage ?? { input: 10, output: 5 };
      return {
        content,
        finishReason: { unified: step.calls?.length ? 'tool-calls' : 'stop', raw: undefined },
        usage: {
          inputTokens: { total: u.input, noCache: u.input, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: u.output, text: u.output, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
  return { model: mock, provider, modelId: 'scripted-1', mock, calls: mock.doGenerateCalls };
}

/** Names of the tools offered in a call. */
export const offeredTools = (call: CallOptions): string[] => (call.tools ?? []).map((t) => t.name);

/** Every tool result the model has been sent so far, as text, oldest first. */
export function toolOutputs(call: CallOptions): { tool: string; text: string }[] {
  const out: { tool: string; text: string }[] = [];
  for (const m of call.prompt) {
    if (m.role !== 'tool') continue;
    for (const p of m.content) {
      if (p.type !== 'tool-result') continue;
      const o = p.output;
      const text =
        o.type === 'text' || o.type === 'error-text'
          ? o.value
          : o.type === 'execution-denied'
            ? `denied: ${o.reason ?? ''}`
            : JSON.stringify(o.value ?? null);
      out.push({ tool: p.toolName, text });
    }
  }
  return out;
}

export const lastToolOutput = (call: CallOptions): string => toolOutputs(call).at(-1)?.text ?? '';

/** Everything the model was sent, as one string (to search for leaks). */
export const promptText = (call: CallOptions): string => JSON.stringify(call.prompt);
