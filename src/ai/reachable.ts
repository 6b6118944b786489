import type { Health, Integration } from '../core/health.js';
import { resolveAi, type AiSettingsInput, type AiTarget } from './settings.js';

type Configured = Exclude<AiTarget, { provider: 'none' }>;

/** Each provider's own endpoint, when AI_BASE_URL is empty. */
const DEFAULT_BASE: Record<Configured['provider'], string> = {
  gemini: 'https://generativelanguage.googleapis.com/v1beta',
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
  ollama: 'http://127.0.0.1:11434/v1',
  'openai-compatible': '',
};

/** The models list: answered without generating anything, so the check costs no tokens. */
function modelsRequest(t: Configured): { url: string; headers: Record<string, string> } {
  const base = (t.baseUrl || DEFAULT_BASE[t.provider]).replace(/\/+$/, '');
  const headers: Record<string, string> =
    t.provider === 'gemini'
      ? { 'x-goog-api-key': t.apiKey }
      : t.provider === 'anthropic'
        ? { 'x-api-key': t.apiKey, 'anthropic-version': '2023-06-01' }
        : t.apiKey
          ? { authorization: `Bearer ${t.apiKey}` }
          : {};
  return { url: `${base}/models`, headers };
}

/** Reachable means any HTTP answer but a refused key: some compatible servers list no models. */
export async function checkLlm(t: Configured, signal: AbortSignal): Promise<Health> {
  const what = `${t.provider} ${t.model}`;
  const { url, headers } = modelsRequest(t);
  const at = new URL(url).origin;
  try {
    const res = await fetch(url, { headers, signal });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      return { state: 'down', detail: `${what}: ${at} refused the API key (HTTP ${res.status})` };
    return { state: 'up', detail: `${what}, ${at} reachable` };
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    return { state: 'down', detail: `${what}: cannot reach ${at}: ${cause}` };
  }
}

/** How long a check's answer stands: /health may be polled every few seconds, the provider need not be. */
export const LLM_CHECK_TTL_MS = 60_000;

/**
 * The `llm` integration: disabled with the reason, or a bounded check of the provider's
 * endpoint, its answer kept for LLM_CHECK_TTL_MS.
 */
export function llmIntegration(s: AiSettingsInput, now: () => number = Date.now): Integration {
  const t = resolveAi(s);
  let last: { at: number; health: Health } | undefined;
  return {
    name: 'llm',
    check: async (signal) => {
      if (t.provider === 'none') return { state: 'disabled', detail: t.reason };
      if (last && now() - last.at < LLM_CHECK_TTL_MS) return last.health;
      const health = await checkLlm(t, signal);
      last = { at: now(), health };
      return health;
    },
  };
}
