/**
 * The one module that runs tmux. Every call is `execFile` with an argument array (never a
 * shell), a timeout, and the server chosen by `-S <socket>` (or `-L <name>` in tests).
 *
 * Two quirks of tmux's command line are handled here so callers need not know them:
 * - an argument ending in `;` ends the command (tmux's separator) and loses the `;`, so free
 *   text ending in `;` gets a `\` before it, which tmux turns back into the `;`;
 * - several commands can run in one client joined by a `;` argument, which is how the
 *   watcher captures many panes with one process.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ActionError } from '../../core/action.js';
import type { TmuxKey } from './keys.js';
import { tmuxTargetArg, type TmuxTarget } from './target.js';
import { scrubbedEnv } from '../../core/env.js';

export type TmuxErrorCode = 'no-server' | 'not-found' | 'exists' | 'timeout' | 'no-binary' | 'failed';

/** An operator-readable failure with a code the watcher and actions can branch on. */
export class TmuxError extends ActionError {
  constructor(
    message: string,
    readonly code: TmuxErrorCode,
  ) {
    super(message);
  }
}

export interface SessionInfo {
  readonly name: string;
  /** tmux's id, `$3`: how a session whose name is not safe here is addressed. */
  readonly id: string;
  readonly windows: number;
  readonly attached: number;
  /** ms since epoch. */
  readonly createdAt: number;
  /** ms since epoch (tmux keeps seconds). */
  readonly activityAt: number;
  readonly alias?: string;
}

export interface PaneInfo {
  /** tmux pane id, `%12`. */
  readonly id: string;
  readonly session: string;
  /** The session's id, `$3`. */
  readonly sessionId: string;
  readonly windowIndex: number;
  readonly windowName: string;
  readonly windowActive: boolean;
  readonly paneIndex: number;
  readonly paneActive: boolean;
  /** The foreground process's name (`pane_current_command`). */
  readonly command: string;
  /** The command the pane was started with; empty for an interactive shell. */
  readonly startCommand: string;
  readonly pid: number;
  readonly dead: boolean;
  /** Exit status of a dead pane (kept because of `remain-on-exit`). */
  readonly deadStatus?: number;
  /** The signal that ended a dead pane, when one did. */
  readonly deadSignal?: number;
  readonly historySize: number;
  readonly cursorX: number;
  readonly cursorY: number;
  /** The pane's width in columns. */
  readonly width: number;
  /** Last output in the pane's window, ms since epoch (tmux keeps seconds). */
  readonly activityAt: number;
  readonly alias?: string;
}

export interface NewSession {
  readonly name: string;
  readonly cwd: string;
  /** One shell-command string; tmux runs it with the user's `default-shell -c`. */
  readonly command: string;
}

export interface TmuxPort {
  /** The server this port talks to, for messages ("/tmp/tmux-1000/default"). */
  readonly where: string;
  /** Why tmux cannot put its socket where TMUX_SOCKET says, or undefined when it can. */
  socketProblem(): Promise<string | undefined>;
  /** Every session; [] when no server is running. */
  listSessions(): Promise<SessionInfo[]>;
  /** Every pane of the server (one call), or of one session; [] when no server is running. */
  listPanes(session?: string): Promise<PaneInfo[]>;
  /** The last `lines` lines of a pane (history and screen), wrapped lines joined. */
  capture(target: TmuxTarget, lines: number): Promise<string[]>;
  /** Captures several panes (by pane id) in one tmux client; panes that vanished are absent. */
  captureMany(paneIds: readonly string[], lines: number): Promise<Map<string, string[]>>;
  /** Types text literally, pressing Enter after each line. */
  sendText(target: TmuxTarget, text: string): Promise<void>;
  sendKeys(target: TmuxTarget, keys: readonly TmuxKey[]): Promise<void>;
  /** A detached session with `remain-on-exit on`, so its exit status stays readable. */
  newSession(spec: NewSession): Promise<void>;
  killSession(name: string): Promise<void>;
  /**
   * Makes the server collect exit statuses it has missed. tmux 3.3 can leave a dead pane's
   * process unreaped (no `pane_dead_status`) until some other child of the server exits;
   * running a trivial job gives it that exit.
   */
  collectExitStatuses(): Promise<void>;
  /** Sets (or, with undefined, unsets) a user option (`@name`) on a session. */
  setSessionOption(session: string, option: string, value: string | undefined): Promise<void>;
  getSessionOption(session: string, option: string): Promise<string | undefined>;
}

export interface TmuxPortOptions {
  /** `tmux -S <path>`: the server socket (the TMUX_SOCKET setting). */
  readonly socketPath?: string;
  /** `tmux -L <name>`: a named socket in tmux's directory; used by tests. */
  readonly socketName?: string;
  /** `tmux -f <file>`, read only when a call starts the server; tests pass /dev/null. */
  readonly configFile?: string;
  /** Per call; default 5 s. */
  readonly timeoutMs?: number;
  readonly bin?: string;
  /**
   * Environment for tmux. A server started by `new-session` copies it into every session,
   * so the default drops teleops' own secrets (see SECRET_ENV).
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** The user option that holds a session's alias. */
export const ALIAS_OPTION = '@teleops_alias';

const SEP = '\u001f';

const SESSION_FORMAT = [
  '#{session_id}',
  '#{session_windows}',
  '#{session_attached}',
  '#{session_created}',
  '#{session_activity}',
  `#{${ALIAS_OPTION}}`,
  '#{session_name}',
].join(SEP);

const PANE_FORMAT = [
  '#{pane_id}',
  '#{session_id}',
  '#{window_index}',
  '#{window_active}',
  '#{pane_index}',
  '#{pane_active}',
  '#{pane_pid}',
  '#{pane_dead}',
  '#{pane_dead_status}',
  '#{pane_dead_signal}',
  '#{history_size}',
  '#{cursor_x}',
  '#{cursor_y}',
  '#{pane_width}',
  '#{window_activity}',
  `#{${ALIAS_OPTION}}`,
  '#{session_name}',
  '#{window_name}',
  '#{pane_current_command}',
  '#{pane_start_command}',
].join(SEP);

/** Makes free text safe as the last character of a tmux argument (see the header). */
export const escapeTrailingSemicolon = (s: string): string => (s.endsWith(';') ? `${s.slice(0, -1)}\\;` : s);

/**
 * tmux needs the socket's directory to exist and be writable and searchable; without it a
 * server cannot start, yet `new-session` still exits 0. Synchronous: two syscalls, no I/O wait.
 */
function socketProblem(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  const st = (() => {
    try {
      return statSync(dir);
    } catch {
      return undefined;
    }
  })();
  if (!st) return `the TMUX_SOCKET directory ${dir} does not exist`;
  if (!st.isDirectory()) return `the TMUX_SOCKET directory ${dir} is not a directory`;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return `the TMUX_SOCKET directory ${dir} is not writable by this user`;
  }
  return undefined;
}

function defaultSocket(env: NodeJS.ProcessEnv): string {
  const inside = env.TMUX?.split(',')[0];
  if (inside) return inside;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return `${env.TMUX_TMPDIR || '/tmp'}/tmux-${uid}/default`;
}

const int = (s: string | undefined): number => {
  const n = Number.parseInt(s ?? '', 10);
  return Number.isFinite(n) ? n : 0;
};

const nonEmpty = (s: string | undefined): string | undefined => (s ? s : undefined);

const C_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r' };

/**
 * tmux shows a start command as it would be typed, quoted and escaped when it has spaces or
 * special characters (`"sleep 300"`); operators want to read `sleep 300`.
 */
export function unquoteCommand(s: string): string {
  const m = /^"(.*)"$|^'(.*)'$/s.exec(s);
  if (!m) return s;
  return (m[1] ?? m[2] ?? '').replace(/\\([0-7]{3}|.)/gs, (_, c: string) =>
    c.length === 3 ? String.fromCharCode(parseInt(c, 8)) : (C_ESCAPES[c] ?? c),
  );
}

/** Splits tmux output into lines, dropping the final newline. */
const outputLines = (s: string): string[] => {
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

/** What remain-on-exit writes at the bottom of a dead pane; tmux's words, not the program's. */
const DEAD_NOTICE = /^Pane is dead \((?:status|signal) \d+, [^)]*\)$/;

/**
 * Trailing spaces (kept by `-J`), the empty screen below the output and tmux's dead-pane
 * notice are noise.
 */
function tidyCapture(lines: readonly string[], keep: number): string[] {
  const out = lines.map((l) => l.trimEnd());
  const dropBlank = (): void => {
    while (out.length > 0 && out[out.length - 1] === '') out.pop();
  };
  dropBlank();
  if (out.length > 0 && DEAD_NOTICE.test(out[out.length - 1]!)) {
    out.pop();
    dropBlank();
  }
  return out.slice(-keep);
}

export function createTmuxPort(opts: TmuxPortOptions = {}): TmuxPort {
  const bin = opts.bin ?? 'tmux';
  const timeoutMs = opts.timeoutMs ?? 5000;
  const env = opts.env ?? scrubbedEnv();
  // -u: without a UTF-8 locale (a service started with no LANG) tmux would print the field
  // separator of the formats below, and any non-ASCII terminal text, as `_`.
  const global: string[] = ['-u'];
  if (opts.socketPath) global.push('-S', opts.socketPath);
  else if (opts.socketName) global.push('-L', opts.socketName);
  if (opts.configFile) global.push('-f', opts.configFile);
  const socketDir = opts.socketPath ? dirname(opts.socketPath) : undefined;
  const where = opts.socketPath
    ? opts.socketPath
    : opts.socketName
      ? `the tmux socket named ${opts.socketName}`
      : defaultSocket(env);

  interface Ran {
    readonly stdout: string;
    readonly error?: TmuxError;
  }

  /** Runs one tmux client; resolves with stdout and the mapped error, if any. */
  const exec = (args: readonly string[], notFound: string): Promise<Ran> =>
    new Promise((resolve) => {
      execFile(
        bin,
        [...global, ...args],
        { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 32 * 1024 * 1024, env, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout });
          resolve({ stdout, error: mapError(err, stderr, notFound) });
        },
      );
    });

  const mapError = (err: ExecFileException, stderr: string, notFound: string): TmuxError => {
    if (err.code === 'ENOENT') return new TmuxError(`tmux is not installed (no ${bin} on PATH)`, 'no-binary');
    if (err.killed) return new TmuxError(`tmux did not answer within ${timeoutMs / 1000}s`, 'timeout');
    const msg = stderr.trim().split('\n')[0] ?? '';
    if (/^no server running on |^error connecting to .*\((No such file or directory|Connection refused)\)/.test(msg)) {
      return new TmuxError(`no tmux server is running on ${where}`, 'no-server');
    }
    // "no current target": the session was being torn down while tmux looked the target up.
    if (/^(can't find|no such) (session|window|pane)|^no current target$/.test(msg))
      return new TmuxError(notFound, 'not-found');
    if (msg.startsWith('duplicate session')) return new TmuxError(notFound, 'exists');
    return new TmuxError(`tmux failed: ${msg.slice(0, 200) || `exit code ${String(err.code)}`}`, 'failed');
  };

  const run = async (args: readonly string[], notFound = 'no such session'): Promise<string> => {
    const r = await exec(args, notFound);
    if (r.error) throw r.error;
    return r.stdout;
  };

  /** Like run, but a missing server means "nothing there". */
  const list = async (args: readonly string[], notFound?: string): Promise<string[]> => {
    const r = await exec(args, notFound ?? 'no such session');
    if (r.error?.code === 'no-server') return [];
    if (r.error) throw r.error;
    return outputLines(r.stdout);
  };

  const what = (t: TmuxTarget): string =>
    t.window === undefined
      ? `no session named ${t.session}`
      : `no pane ${t.session}:${t.window}${t.pane === undefined ? '' : `.${t.pane}`}`;

  const parsePane = (row: string): PaneInfo | undefined => {
    const f = row.split(SEP);
    if (f.length !== 20) return undefined;
    const [
      id,
      sid,
      wi,
      wa,
      pi,
      pa,
      pid,
      dead,
      status,
      signal,
      hist,
      cx,
      cy,
      width,
      act,
      alias,
      session,
      wname,
      cmd,
      start,
    ] = f;
    return {
      id: id!,
      sessionId: sid!,
      windowIndex: int(wi),
      windowActive: wa === '1',
      paneIndex: int(pi),
      paneActive: pa === '1',
      pid: int(pid),
      dead: dead === '1',
      deadStatus: dead === '1' && status !== '' ? int(status) : undefined,
      deadSignal: dead === '1' && signal !== '' ? int(signal) : undefined,
      historySize: int(hist),
      cursorX: int(cx),
      cursorY: int(cy),
      width: int(width),
      activityAt: int(act) * 1000,
      alias: nonEmpty(alias),
      session: session!,
      windowName: wname!,
      command: cmd!,
      startCommand: unquoteCommand(start!),
    };
  };

  const captureArgs = (target: string, lines: number): string[] => [
    'capture-pane',
    '-p',
    '-J',
    '-t',
    target,
    '-S',
    String(-Math.max(1, Math.floor(lines))),
  ];

  return {
    where,

    socketProblem: async () => socketProblem(socketDir),

    async listSessions() {
      const rows = await list(['list-sessions', '-F', SESSION_FORMAT]);
      return rows.flatMap((row): SessionInfo[] => {
        const f = row.split(SEP);
        if (f.length !== 7) return [];
        const [id, windows, attached, created, activity, alias, name] = f;
        return [
          {
            name: name!,
            id: id!,
            windows: int(windows),
            attached: int(attached),
            createdAt: int(created) * 1000,
            activityAt: int(activity) * 1000,
            alias: nonEmpty(alias),
          },
        ];
      });
    },

    async listPanes(session) {
      const args =
        session === undefined
          ? ['list-panes', '-a', '-F', PANE_FORMAT]
          : ['list-panes', '-s', '-t', tmuxTargetArg({ session }), '-F', PANE_FORMAT];
      const rows = await list(args, session === undefined ? undefined : `no session named ${session}`);
      return rows.flatMap((r) => parsePane(r) ?? []);
    },

    async capture(target, lines) {
      const out = await run(captureArgs(tmuxTargetArg(target), lines), what(target));
      return tidyCapture(outputLines(out), lines);
    },

    async captureMany(paneIds, lines) {
      const result = new Map<string, string[]>();
      if (paneIds.length === 0) return result;
      // Control characters never reach a pane's grid, so a marker made of one plus a random
      // nonce cannot be forged by the captured output.
      const mark = `${SEP}teleops-${randomBytes(6).toString('hex')}${SEP}`;
      const args: string[] = [];
      for (const id of paneIds) {
        if (!/^%\d+$/.test(id)) throw new TmuxError('invalid pane id', 'failed');
        if (args.length > 0) args.push(';');
        // display-message expands formats and strftime, so the marker carries no # or %.
        args.push('display-message', '-p', `${mark}${id.slice(1)}`, ';', ...captureArgs(id, lines));
      }
      // A pane that vanished fails its capture-pane, which ends the chain: its marker is the
      // last one printed, and the panes after it are not captured this time.
      const r = await exec(args, 'pane vanished');
      if (r.error && r.error.code !== 'not-found') throw r.error;
      let current: string[] | undefined;
      let currentId = '';
      const flush = (): void => {
        if (current) result.set(currentId, tidyCapture(current, lines));
      };
      for (const l of outputLines(r.stdout)) {
        if (l.startsWith(mark)) {
          flush();
          currentId = `%${l.slice(mark.length)}`;
          current = [];
        } else current?.push(l);
      }
      if (!r.error) flush();
      return result;
    },

    async sendText(target, text) {
      const t = tmuxTargetArg(target);
      const args: string[] = [];
      for (const l of text.split('\n')) {
        if (args.length > 0) args.push(';');
        if (l !== '') args.push('send-keys', '-t', t, '-l', '--', escapeTrailingSemicolon(l), ';');
        args.push('send-keys', '-t', t, 'Enter');
      }
      await run(args, what(target));
    },

    async sendKeys(target, keys) {
      const t = tmuxTargetArg(target);
      const args: string[] = [];
      for (const k of keys) {
        if (args.length > 0) args.push(';');
        if (k.kind === 'named') args.push('send-keys', '-t', t, k.name);
        else args.push('send-keys', '-t', t, '-l', '--', escapeTrailingSemicolon(k.text));
      }
      if (args.length > 0) await run(args, what(target));
    },

    async newSession(spec) {
      // remain-on-exit is set in the same client, before the server runs its event loop
      // again, so even a command that exits at once leaves its status behind.
      await run(
        [
          'new-session',
          '-d',
          '-s',
          spec.name,
          '-c',
          spec.cwd,
          '--',
          escapeTrailingSemicolon(spec.command),
          ';',
          'set-option',
          '-w',
          '-t',
          tmuxTargetArg({ session: spec.name }),
          'remain-on-exit',
          'on',
        ],
        `a session named ${spec.name} already exists`,
      );
      // tmux exits 0 even when the server it forked could not create its socket (a
      // TMUX_SOCKET in a missing directory), so success is only what tmux can show.
      const there = await exec(['has-session', '-t', tmuxTargetArg({ session: spec.name })], 'gone');
      if (there.error) {
        throw new TmuxError(
          `tmux said it started ${spec.name} but no such session exists ` +
            `on ${where}: ${socketProblem(socketDir) ?? there.error.message}`,
          'failed',
        );
      }
    },

    async killSession(name) {
      await run(['kill-session', '-t', tmuxTargetArg({ session: name })], `no session named ${name}`);
    },

    async collectExitStatuses() {
      await run(['run-shell', 'true']);
    },

    async setSessionOption(session, option, value) {
      const t = tmuxTargetArg({ session });
      await run(
        value === undefined
          ? ['set-option', '-u', '-t', t, option]
          : ['set-option', '-t', t, option, escapeTrailingSemicolon(value)],
        `no session named ${session}`,
      );
    },

    async getSessionOption(session, option) {
      const out = await run(
        ['show-options', '-q', '-v', '-t', tmuxTargetArg({ session }), option],
        `no session named ${session}`,
      );
      return nonEmpty(outputLines(out)[0]);
    },
  };
}
