/**
 * What a terminal is doing, judged from the last lines of its pane and a few facts tmux
 * knows (dead or alive, exit status, foreground process). Pure: the watcher feeds it.
 */
import { clip } from '../../core/redact.js';
export type TmuxState = 'running' | 'waiting' | 'error' | 'done' | 'idle' | 'stuck' | 'gone';

export const STATE_EMOJI: Readonly<Record<TmuxState, string>> = {
  running: '🟢',
  waiting: '🟡',
  error: '🔴',
  done: '✅',
  idle: '⚪',
  stuck: '⏱',
  gone: '⚫',
};

/** Entering one of these deserves a message that makes the phone ring. */
export const ALERTABLE_STATES: ReadonlySet<TmuxState> = new Set(['waiting', 'error', 'done', 'stuck']);

/** A password or passphrase prompt (`[sudo] password for x:`): what is typed there is a secret. */
export const PASSWORD_PROMPT = /\b(?:password|passphrase)\b[^:]{0,60}:$/i;

/** Prompts that wait for a person. Settings add to these (TMUX_WAIT_PATTERNS). */
export const DEFAULT_WAIT_PATTERNS: readonly RegExp[] = [
  /\[y\/n\]\s*[:?]?$/i,
  /\(y\/n\)\s*[:?]?$/i,
  /\(yes\/no(?:\/\[fingerprint\])?\)\s*[:?]?$/i,
  /\bare you sure\b[^?]{0,80}\?$/i,
  PASSWORD_PROMPT,
  /\bpress (?:enter|return|any key)\b/i,
  /\b(?:continue|proceed|overwrite|replace)\?$/i,
  /\bdo you want to\b[^?]{0,80}\?/i,
  // Selection lists: a highlighted choice ("❯ 1. Yes", "› Allow") or an Inquirer question.
  /^\s*[❯›]\s*\S/,
  /^\? \S/,
];

/** Failures worth a red light while the output has stopped. Settings add to these. */
export const DEFAULT_ERROR_PATTERNS: readonly RegExp[] = [
  /^\s*(?:error|fatal|panic)(?:\[[\w-]{1,20}\])?:/i,
  /^\s*\w{0,40}(?:Error|Exception):/,
  /Traceback \(most recent call last\)/,
  /\bnpm ERR!/,
  /\bcommand not found\b/,
  /\bSegmentation fault\b/,
  /^make(?:\[\d+\])?: \*\*\* /,
];

/** A shell (or REPL) prompt at the end of the last line: `$`, `#`, `%`, `>`, `❯`, `➜`. */
export const DEFAULT_PROMPT_PATTERN = /(?:[$#%❯➜»]|>{1,3})$/;

const SHELLS = new Set(['bash', 'zsh', 'sh', 'dash', 'ash', 'fish', 'ksh', 'mksh', 'tcsh', 'csh', 'nu', 'pwsh']);

/**
 * A line left without a newline that ends like a question (`Are you sure? `, `Name: `,
 * `choice> `) asks for an answer once output stops; a bare `>`/`>>>` is a REPL's own prompt.
 */
const UNFINISHED_QUESTION = /(?:[?:]|[^\s>]\s*>)$/;
/** How long output must have stopped before an unfinished question counts as waiting. */
export const PROMPT_QUIET_MS = 2000;

/**
 * Whether a cursor at column `cursorX` of a `width`-column pane sits right after `line` (as
 * captured, trailing spaces trimmed; joined when it wrapped): at most two columns after its
 * text, the spaces a prompt usually ends with.
 */
export function cursorAfterText(line: string, cursorX: number, width: number): boolean {
  const len = [...line].length;
  if (len === 0 || cursorX === 0 || width <= 0) return false;
  const col = len > width ? len % width : len;
  return cursorX >= col && cursorX - col <= 2;
}

/** The last non-blank line, where a cursor left after printing without a newline sits. */
export const lastText = (lines: readonly string[]): string => lines.findLast((l) => l.trim() !== '') ?? '';

/** How many of the last non-blank lines are searched for prompts and errors. */
export const WINDOW_LINES = 8;
/** Longer lines are cut before matching, which bounds the work per pattern. */
export const MAX_LINE = 300;

export interface Observation {
  /** False when the pane (or its session) no longer exists. */
  readonly exists: boolean;
  readonly dead: boolean;
  readonly exitStatus?: number;
  readonly exitSignal?: number;
  /** The last lines of the pane, ANSI-free, oldest first. */
  readonly lines: readonly string[];
  /** Whether the output differs from the previous poll. */
  readonly changed: boolean;
  readonly msSinceChange: number;
  /** The foreground process name (`pane_current_command`). */
  readonly command: string;
  /** True when the pane runs a given command, false for an interactive shell. */
  readonly startedWithCommand: boolean;
  /** The cursor sits just after the last line's text: it was printed without a newline. */
  readonly cursorAtLineEnd?: boolean;
}

export interface ClassifySettings {
  readonly waitPatterns: readonly RegExp[];
  readonly errorPatterns: readonly RegExp[];
  readonly promptPattern: RegExp;
  readonly stuckMs: number;
}

export const DEFAULT_CLASSIFY: ClassifySettings = {
  waitPatterns: DEFAULT_WAIT_PATTERNS,
  errorPatterns: DEFAULT_ERROR_PATTERNS,
  promptPattern: DEFAULT_PROMPT_PATTERN,
  stuckMs: 15 * 60_000,
};

export interface Classification {
  readonly state: TmuxState;
  /** Why, in this program's words ("exit status 1", "prompt", "no output for 15m"). */
  readonly reason: string;
  /** The pane line that decided it, if one did (untrusted text). */
  readonly line?: string;
}

const find = (lines: readonly string[], patterns: readonly RegExp[]): string | undefined => {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (patterns.some((p) => p.test(l))) return l;
  }
  return undefined;
};

export function classify(o: Observation, s: ClassifySettings): Classification {
  if (!o.exists) return { state: 'gone', reason: 'session is gone' };
  // tmux marks a pane dead when its terminal closes and learns the status a moment later.
  if (o.dead && o.exitStatus === undefined && o.exitSignal === undefined)
    return { state: 'running', reason: 'exiting' };
  if (o.dead) {
    if (o.exitStatus === 0) return { state: 'done', reason: 'exit status 0' };
    if (o.exitSignal !== undefined) return { state: 'error', reason: `ended by signal ${o.exitSignal}` };
    return { state: 'error', reason: `exit status ${o.exitStatus ?? 'unknown'}` };
  }
  const recent = o.lines
    .filter((l) => l.trim() !== '')
    .slice(-WINDOW_LINES)
    // A long line is cut after its shapes are hidden: it may become an alert's `line`.
    .map((l) => (l.length > MAX_LINE ? clip(l, MAX_LINE) : l.trimEnd()));
  const last = recent[recent.length - 1] ?? '';
  // A prompt on the last line counts at once; one higher up (a menu) once output stops.
  if (recent.length > 0 && s.waitPatterns.some((p) => p.test(last))) {
    return { state: 'waiting', reason: 'prompt', line: last };
  }
  if (!o.changed) {
    const prompt = find(recent, s.waitPatterns);
    if (prompt !== undefined) return { state: 'waiting', reason: 'prompt', line: prompt };
    const error = find(recent, s.errorPatterns);
    if (error !== undefined) return { state: 'error', reason: 'error in output', line: error };
  }
  if (o.changed) return { state: 'running', reason: 'output changing' };
  const interactiveShell = SHELLS.has(o.command) && !o.startedWithCommand;
  // A shell's own prompt (fish's `~>`) is idle, but `Continue? ` from a script run in it waits.
  const shellPrompt = interactiveShell && s.promptPattern.test(last);
  if (o.cursorAtLineEnd && !shellPrompt && o.msSinceChange >= PROMPT_QUIET_MS && UNFINISHED_QUESTION.test(last)) {
    return { state: 'waiting', reason: 'prompt', line: last };
  }
  if (s.promptPattern.test(last) || interactiveShell) {
    return { state: 'idle', reason: 'at a shell prompt' };
  }
  if (o.msSinceChange >= s.stuckMs) return { state: 'stuck', reason: 'no output' };
  return { state: 'running', reason: 'quiet' };
}
