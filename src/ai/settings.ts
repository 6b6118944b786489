/**
 * Which LLM the agent talks to, resolved from the settings. Kept free of SDK imports so that
 * config.ts can check the AI settings without loading any provider code.
 */

export const AI_PROVIDERS = ['gemini', 'openai', 'anthropic', 'ollama', 'openai-compatible', 'none'] as const;
export type AiProviderName = (typeof AI_PROVIDERS)[number];

export const DEFAULT_MODELS: Record<Exclude<AiProviderName, 'none' | 'openai-compatible'>, string> = {
  gemini: 'gemini-2.5-flash',
  openai: 'gpt-4.1-mini',
  anthropic: 'claude-sonnet-4-5',
  ollama: 'llama3.1',
};

export const OLLAMA_BASE_URL = 'http://127.0.0.1:11434/v1';

/** The settings this module reads; a subset of Config. */
export interface AiSettingsInput {
  readonly AI_PROVIDER: '' | AiProviderName;
  readonly AI_MODEL: string;
  readonly AI_BASE_URL: string;
  readonly GEMINI_API_KEY: string;
  readonly OPENAI_API_KEY: string;
  readonly ANTHROPIC_API_KEY: string;
  readonly AI_API_KEY: string;
}

export type AiTarget =
  | { readonly provider: 'none'; readonly reason: string }
  | {
      readonly provider: Exclude<AiProviderName, 'none'>;
      readonly model: string;
      /** Empty: the provider's own endpoint. */
      readonly baseUrl: string;
      /** Empty for providers that need none (Ollama, some compatible endpoints). */
      readonly apiKey: string;
    };

const KEY_OF = { gemini: 'GEMINI_API_KEY', openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' } as const;

/**
 * AI_PROVIDER empty means: Gemini when GEMINI_API_KEY is set, else off. A provider chosen
 * explicitly must have what it needs; `aiSettingsProblems` reports what is missing.
 */
export function resolveAi(s: AiSettingsInput): AiTarget {
  const chosen = s.AI_PROVIDER === '' ? (s.GEMINI_API_KEY ? 'gemini' : 'none') : s.AI_PROVIDER;
  if (chosen === 'none')
    return {
      provider: 'none',
      reason: s.AI_PROVIDER === 'none' ? 'AI_PROVIDER=none' : 'no AI_PROVIDER and no GEMINI_API_KEY',
    };
  if (chosen === 'openai-compatible') {
    if (!s.AI_BASE_URL || !s.AI_MODEL)
      return { provider: 'none', reason: 'openai-compatible needs AI_BASE_URL and AI_MODEL' };
    return { provider: chosen, model: s.AI_MODEL, baseUrl: s.AI_BASE_URL, apiKey: s.AI_API_KEY || s.OPENAI_API_KEY };
  }
  const model = s.AI_MODEL || DEFAULT_MODELS[chosen];
  if (chosen === 'ollama')
    return { provider: chosen, model, baseUrl: s.AI_BASE_URL || OLLAMA_BASE_URL, apiKey: s.AI_API_KEY };
  const apiKey = s[KEY_OF[chosen]];
  if (!apiKey) return { provider: 'none', reason: `AI_PROVIDER=${chosen} needs ${KEY_OF[chosen]}` };
  return { provider: chosen, model, baseUrl: s.AI_BASE_URL, apiKey };
}

/** Problems with the AI settings, one line each with the fix (for loadConfig). */
export function aiSettingsProblems(s: AiSettingsInput): string[] {
  const p = s.AI_PROVIDER;
  if (p === '' || p === 'none' || p === 'ollama') return [];
  if (p === 'openai-compatible') {
    const missing = [!s.AI_BASE_URL && 'AI_BASE_URL', !s.AI_MODEL && 'AI_MODEL'].filter(
      (m): m is string => typeof m === 'string',
    );
    return missing.length > 0
      ? [
          `AI_PROVIDER: openai-compatible needs ${missing.join(' and ')} — set the endpoint (e.g. http://host:8000/v1) and its model name`,
        ]
      : [];
  }
  const key = KEY_OF[p];
  return s[key]
    ? []
    : [`AI_PROVIDER: ${p} needs ${key} — set ${key}=<key>, or AI_PROVIDER=none to switch the AI operator off`];
}
