import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stderr; every message passes the redactor first (see app.ts). */
export function createLogger(level: string, redact: (s: string) => string): Logger {
  return pino(
    {
      level,
      base: undefined,
      hooks: {
        streamWrite: (s: string) => redact(s),
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** A logger that drops everything, for tests and offline CLI commands. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
