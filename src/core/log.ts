import { pino, type Logger } from 'pino';

export type { Logger };

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/**
 * One pino JSON line as a person reads it: `12:00:01 WARN message key=value`; an error shows
 * its message, not its stack. Anything that is not a log object passes unchanged.
 */
export function humanLine(json: string): string {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch {
    return json;
  }
  if (typeof o !== 'object' || o === null) return json;
  const { level, time, msg, ...rest } = o as { level?: number; time?: number; msg?: string } & Record<string, unknown>;
  const shown = (v: unknown): string => {
    if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
    if (typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string')
      return JSON.stringify((v as { message: string }).message);
    return JSON.stringify(v);
  };
  const extras = Object.entries(rest)
    .map(([k, v]) => ` ${k}=${shown(v)}`)
    .join('');
  const at = typeof time === 'number' ? `${new Date(time).toISOString().slice(11, 19)} ` : '';
  return `${at}${LEVELS[level ?? 30] ?? String(level)} ${msg ?? ''}${extras}\n`;
}

/**
 * Logs on stderr (`fd`: another file, for a test to read); every message passes the redactor
 * first (see app.ts). JSON for log collectors, human-readable lines when stderr is a terminal
 * (`npm start` by hand).
 */
export function createLogger(
  level: string,
  redact: (s: string) => string,
  human = process.stderr.isTTY === true,
  fd = 2,
): Logger {
  const destination = pino.destination({ fd, sync: false });
  return pino(
    {
      level,
      base: undefined,
      hooks: {
        streamWrite: (s: string) => redact(s),
      },
    },
    human ? { write: (s: string) => destination.write(humanLine(s)) } : destination,
  );
}

/** A logger that drops everything, for tests and offline CLI commands. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
