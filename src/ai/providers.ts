/** The language model the agent uses, built from the settings with the Vercel AI SDK's providers. */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { wrapLanguageModel } from 'ai';
import { resolveAi, type AiSettingsInput, type AiTarget } from './settings.js';

/** A provider's model object (the AI SDK's LanguageModelV3, which `ai` does not export by name). */
export type ChatModel = Parameters<typeof wrapLanguageModel>[0]['model'];

export interface AiModel {
  readonly model: ChatModel;
  /** For metrics and logs: gemini, openai, anthropic, ollama, openai-compatible (or a test's name). */
  readonly provider: string;
  readonly modelId: string;
}

type Configured = Exclude<AiTarget, { provider: 'none' }>;

/**
 * Keys are always passed explicitly: the SDK's own fallback to environment variables
 * (GOOGLE_GENERATIVE_AI_API_KEY, …) would bypass the settings and the redactor's list.
 */
export function createModel(t: Configured): AiModel {
  const base = t.baseUrl ? { baseURL: t.baseUrl } : {};
  switch (t.provider) {
    case 'gemini':
      return {
        model: createGoogleGenerativeAI({ ...base, apiKey: t.apiKey })(t.model),
        provider: t.provider,
        modelId: t.model,
      };
    case 'openai':
      return { model: createOpenAI({ ...base, apiKey: t.apiKey })(t.model), provider: t.provider, modelId: t.model };
    case 'anthropic':
      return { model: createAnthropic({ ...base, apiKey: t.apiKey })(t.model), provider: t.provider, modelId: t.model };
    case 'ollama':
    case 'openai-compatible': {
      const p = createOpenAICompatible({
        name: t.provider,
        baseURL: t.baseUrl,
        ...(t.apiKey ? { apiKey: t.apiKey } : {}),
        includeUsage: true,
      });
      return { model: p.chatModel(t.model), provider: t.provider, modelId: t.model };
    }
  }
}

/** The configured model, or why there is none. */
export function modelFromSettings(s: AiSettingsInput): { ok: true; model: AiModel } | { ok: false; reason: string } {
  const t = resolveAi(s);
  if (t.provider === 'none') return { ok: false, reason: t.reason };
  return { ok: true, model: createModel(t) };
}
