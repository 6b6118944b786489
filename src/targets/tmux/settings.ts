/**
 * The tmux target's settings, their defaults, and how their environment values are read.
 * config.ts owns the environment; this module says what the values mean.
 */
import { homedir } from 'node:os';
import { DEFAULT_ERROR_PATTERNS, DEFAULT_PROMPT_PATTERN, DEFAULT_WAIT_PATTERNS } from './classify.js';
import { parseSearchPattern, regexProblem } from './regex.js';

export interface TmuxSettings {
  /** TMUX_SOCKET: `tmux -S` path; tmux's default server when unset. */
  readonly socket?: string;
  /** TMUX_SESSION_FILTER: only sessions whose name matches exist for operators. */
  readonly sessionFilter?: RegExp;
  /** TMUX_DEFAULT_CWD: where `/tmux new` starts without `-d` (default: the home directory). */
  readonly defaultCwd: string;
  /** TMUX_LOG_LINES: scrollback sent by `/tmux log` and searched by `/tmux find` (default 5000). */
  readonly logLines: number;
  /** TMUX_POLL_SECONDS: watcher interval (default 2). */
  readonly pollMs: number;
  /** TMUX_STUCK_MINUTES: running with no output this long is "stuck" (default 15). */
  readonly stuckMs: number;
  /** TMUX_ALERT_COOLDOWN_SECONDS: no second alert for the same state of a session within this (default 300). */
  readonly alertCooldownMs: number;
  /** Defaults plus TMUX_WAIT_PATTERNS (one regex, case-insensitive unless written /re/flags). */
  readonly waitPatterns: readonly RegExp[];
  /** Defaults plus TMUX_ERROR_PATTERNS. */
  readonly errorPatterns: readonly RegExp[];
  readonly promptPattern: RegExp;
  /** TMUX_CARD_LINES: last lines kept per watched pane and shown on its card (default 15). */
  readonly cardLines: number;
}

export const DEFAULT_TMUX_SETTINGS: TmuxSettings = {
  defaultCwd: homedir(),
  logLines: 5000,
  pollMs: 2000,
  stuckMs: 15 * 60_000,
  alertCooldownMs: 300_000,
  waitPatterns: DEFAULT_WAIT_PATTERNS,
  errorPatterns: DEFAULT_ERROR_PATTERNS,
  promptPattern: DEFAULT_PROMPT_PATTERN,
  cardLines: 15,
};

export const tmuxSettings = (overrides: Partial<TmuxSettings> = {}): TmuxSettings => ({
  ...DEFAULT_TMUX_SETTINGS,
  ...overrides,
});

/**
 * A pattern setting: one regex (alternatives with `|`), or `/body/flags` to choose the
 * flags. Throws an Error whose message says what to fix.
 */
export function settingPattern(raw: string, defaultFlags = 'i'): RegExp {
  const p = parseSearchPattern(raw.trim());
  const [source, flags] = p.kind === 'regex' ? [p.source, p.flags] : [p.text, defaultFlags];
  const problem = regexProblem(source, flags);
  if (problem) throw new Error(problem);
  return new RegExp(source, flags);
}
