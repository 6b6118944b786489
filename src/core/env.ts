/**
 * Settings of teleops that must not leak into processes it starts (terminal sessions, shell
 * commands): a child inherits the environment otherwise. test/config.test.ts checks that
 * every setting marked secret is listed here.
 */
export const SECRET_ENV = [
  'TELEGRAM_BOT_TOKEN',
  'TELEGRAM_WEBHOOK_SECRET',
  'DATABASE_URL',
  'AUDIT_HMAC_KEY',
  'AUDIT_HMAC_KEY_PREVIOUS',
  'AI_API_KEY',
  'GEMINI_API_KEY',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
] as const;

/** This process's environment without teleops' own secrets. */
export function scrubbedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of SECRET_ENV) delete env[k];
  return env;
}
