import { homedir } from 'node:os';
import { z } from 'zod';
import { absolutePath, bool, int, num, text } from '../../core/settings.js';
import { defineTarget, disabled } from '../../core/target.js';
import { DEFAULT_ERROR_PATTERNS, DEFAULT_WAIT_PATTERNS } from './classify.js';
import { createTmuxTarget } from './index.js';
import { settingPattern, tmuxSettings } from './settings.js';
import { TmuxWatchedRepo, WATCHED_MIGRATIONS, WATCHED_POSTGRES } from './watched.js';

/** A regex setting: `re` (flags as given) or `/re/flags`; refused when it could backtrack badly. */
const pattern = (defaultFlags: string) =>
  z.string().transform((s, ctx) => {
    if (s.trim() === '') return undefined;
    try {
      return settingPattern(s, defaultFlags);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

/** Scope patterns, compiled once each: they are matched on every tmux request of a scoped chat. */
const scopePatterns = new Map<string, RegExp>();
const scopePattern = (p: string): RegExp => {
  let re = scopePatterns.get(p);
  if (!re) scopePatterns.set(p, (re = settingPattern(p, '')));
  return re;
};

export const tmux = defineTarget({
  name: 'tmux',
  settings: {
    TMUX_ENABLED: { doc: 'Operate tmux sessions', default: 'true', schema: bool },
    TMUX_SOCKET: {
      doc: "Path of the tmux server socket to operate (tmux -S); empty: tmux's default",
      default: '',
      schema: text,
    },
    TMUX_SESSION_FILTER: {
      doc: 'Regex: only sessions whose name matches exist for operators (case-sensitive)',
      default: '',
      schema: pattern(''),
    },
    TMUX_DEFAULT_CWD: {
      doc: 'Absolute working directory for /tmux new without -d (empty: the home directory)',
      default: '',
      schema: absolutePath,
    },
    TMUX_LOG_LINES: {
      doc: 'Scrollback lines sent by /tmux log and searched by /tmux find',
      default: '5000',
      schema: int(100, 100_000),
    },
    TMUX_POLL_SECONDS: { doc: 'How often watched sessions are looked at', default: '2', schema: num(0.1, 60) },
    TMUX_STUCK_MINUTES: {
      doc: 'A running session with no output this long is "stuck"',
      default: '15',
      schema: num(1, 1440),
    },
    TMUX_ALERT_COOLDOWN_SECONDS: {
      doc: 'No second alert for the same state of a session within this',
      default: '300',
      schema: int(0, 86_400),
    },
    TMUX_CARD_LINES: { doc: "Last lines shown on a session's status card", default: '15', schema: int(3, 50) },
    TMUX_WAIT_PATTERNS: {
      doc: 'Extra regex for "waiting for input" prompts (case-insensitive unless /re/flags)',
      default: '',
      schema: pattern('i'),
    },
    TMUX_ERROR_PATTERNS: {
      doc: 'Extra regex for error output (case-insensitive unless /re/flags)',
      default: '',
      schema: pattern('i'),
    },
  },
  migrations: WATCHED_MIGRATIONS,
  postgres: WATCHED_POSTGRES,
  // A session is in a chat's scope when its name matches one of the scope's patterns (as TMUX_SESSION_FILTER).
  scope: {
    what: 'a regular expression over session names',
    check: (p) => {
      try {
        scopePattern(p);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
    covers: (p, session) => scopePattern(p).test(session),
  },
  fix: 'install tmux, set TMUX_SOCKET, or set TMUX_ENABLED=false',
  prompt: 'tmux sessions',
  summaries: [
    {
      name: 'ai.tmux-summary',
      summary: 'A short AI diagnosis of what a terminal session is doing',
      param: 'session',
      label: 'Session',
      command: { path: ['tmux', 'summary'], usage: '<session> [lines]' },
      what: (session) => `terminal session ${session}`,
      read: { action: 'tmux.tail', params: (session, lines) => ({ target: session, lines }) },
    },
  ],
  topics: { summary: 'In a forum group: one topic per terminal session, plus INDEX and ALERTS topics (on or off)' },
  create: ({ config: c, alerts, log, db, redactor }) => {
    if (!c.TMUX_ENABLED) return disabled('TMUX_ENABLED=false');
    const settings = tmuxSettings({
      ...(c.TMUX_SOCKET ? { socket: c.TMUX_SOCKET } : {}),
      ...(c.TMUX_SESSION_FILTER ? { sessionFilter: c.TMUX_SESSION_FILTER } : {}),
      defaultCwd: c.TMUX_DEFAULT_CWD || homedir(),
      logLines: c.TMUX_LOG_LINES,
      pollMs: Math.round(c.TMUX_POLL_SECONDS * 1000),
      stuckMs: Math.round(c.TMUX_STUCK_MINUTES * 60_000),
      alertCooldownMs: c.TMUX_ALERT_COOLDOWN_SECONDS * 1000,
      cardLines: c.TMUX_CARD_LINES,
      waitPatterns: c.TMUX_WAIT_PATTERNS ? [...DEFAULT_WAIT_PATTERNS, c.TMUX_WAIT_PATTERNS] : DEFAULT_WAIT_PATTERNS,
      errorPatterns: c.TMUX_ERROR_PATTERNS
        ? [...DEFAULT_ERROR_PATTERNS, c.TMUX_ERROR_PATTERNS]
        : DEFAULT_ERROR_PATTERNS,
    });
    return createTmuxTarget(settings, { store: new TmuxWatchedRepo(db), alerts, log, redact: redactor.redact });
  },
});
