/**
 * `/tmux …` actions. Text typed into a terminal is `write`; killing a session is
 * `destructive`. Nothing here builds a shell string: tmux gets argument arrays (port.ts), and
 * the one shell involved is the one tmux itself starts for `/tmux new`, running the command
 * the operator typed explicitly, exactly as `tmux new-session <command>` does at a desk.
 * Output is not redacted here (the transport redacts everything that leaves), except what
 * tmux.find searches: a search must not match what redaction hides.
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ActionError, defineAction, type ActionContext, type AnyAction } from '../../core/action.js';
import { line, pre, result, say, text, value, type Block, type Button, type Result } from '../../core/result.js';
import { compareNames, foldBlankRuns, formatDuration, stripAnsi } from '../../core/text.js';
import type { Follows } from '../../core/follow.js';
import { statusCard } from './cards.js';
import { tailFollowAction } from './follow.js';
import { classify, cursorAfterText, lastText, PASSWORD_PROMPT, STATE_EMOJI, type TmuxState } from './classify.js';
import { keyLabel, KEYS_HELP, MAX_KEYS, parseKeys } from './keys.js';
import { ALIAS_OPTION, type PaneInfo, type SessionInfo, type TmuxPort } from './port.js';
import { findLines, parseSearchPattern } from './regex.js';
import type { TmuxSettings } from './settings.js';
import {
  checkName,
  displayTarget,
  isName,
  isSessionId,
  parseTarget,
  resolveSession,
  sessionRef,
  type TmuxTarget,
} from './target.js';
import { pickPane, type TmuxWatcher } from './watcher.js';

export interface TmuxActionDeps {
  readonly port: TmuxPort;
  readonly settings: TmuxSettings;
  /** Without a watcher there is no tmux.watch / tmux.unwatch, and no cards. */
  readonly watcher?: TmuxWatcher;
  readonly now?: () => number;
  /** tmux.find searches the redacted scrollback, so that it cannot reveal a hidden secret piece by piece. */
  readonly redact: (text: string) => string;
  /** Without it there is no /tmux tail -f. */
  readonly follows?: Follows;
}

export const TAIL_DEFAULT = 40;
export const TAIL_MAX = 500;
export const FIND_LIMIT = 20;
export const FIND_TIMEOUT_MS = 250;
/** Sessions listed by /tmux ls; buttons for the first LS_BUTTON_ROWS (Telegram's 100-button cap). */
export const LS_MAX = 100;
export const LS_BUTTON_ROWS = 30;
const TEXT_MAX = 4000;
const COMMAND_MAX = 2000;

const targetParam = z
  .string()
  .min(1)
  .max(140)
  .describe('session, session:window or session:window.pane; a session is a name, an alias or an id such as $3');
const sessionParam = z.string().min(1).max(64).describe('a session name, alias or id such as $3');

/** Control characters other than newline and tab would drive the terminal; keys do that. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

export function tmuxActions(deps: TmuxActionDeps): AnyAction[] {
  const { port, settings, watcher } = deps;
  const now = deps.now ?? Date.now;
  const filter = settings.sessionFilter;

  /** Resolves aliases and the session filter; the result names a real session. */
  const resolve = async (ref: string): Promise<TmuxTarget> => {
    const t = parseTarget(ref);
    const sessions = await port.listSessions();
    if (sessions.length === 0) throw new ActionError(`no tmux server is running on ${port.where}`);
    return { ...t, session: resolveSession(sessions, t.session, filter) };
  };

  const resolveSessionOnly = async (ref: string): Promise<string> => {
    const t = await resolve(ref);
    if (t.window !== undefined) throw new ActionError('give a session name, not a window or pane');
    return t.session;
  };

  let lastStamp = 0;
  /**
   * `build_1-2026-12-06T06-48-00.123Z.log`: the time keeps two logs of one session from
   * overwriting each other in a downloads folder; a clock that has not moved is stepped on.
   */
  const logFilename = (label: string): string => {
    lastStamp = Math.max(now(), lastStamp + 1);
    const stamp = new Date(lastStamp).toISOString().replace(/:/g, '-');
    return `${label.replace(/[^A-Za-z0-9_-]/g, '_')}-${stamp}.log`;
  };

  /** How a resolved session is named to people: an id (`$3`) with the name it stands for. */
  const labelOf = async (ref: string): Promise<string> => {
    if (!isSessionId(ref)) return ref;
    const s = (await port.listSessions()).find((x) => x.id === ref);
    return s ? `${s.name} (${ref})` : ref;
  };

  /** One-shot state of a pane that is not watched: no history, so recent activity = changing. */
  const stateOf = (pane: PaneInfo, lines: readonly string[]): TmuxState => {
    const quiet = now() - pane.activityAt;
    return classify(
      {
        exists: true,
        dead: pane.dead,
        exitStatus: pane.deadStatus,
        exitSignal: pane.deadSignal,
        lines,
        changed: quiet < 2 * settings.pollMs + 1000,
        msSinceChange: quiet,
        command: pane.command,
        startedWithCommand: pane.startCommand !== '',
        cursorAtLineEnd: cursorAfterText(lastText(lines), pane.cursorX, pane.width),
      },
      settings,
    ).state;
  };

  const scrollback = async (t: TmuxTarget, lines: number): Promise<string[]> =>
    (await port.capture(t, lines)).map(stripAnsi);

  const ls = defineAction({
    name: 'tmux.ls',
    summary: 'List terminal sessions with their state and last activity',
    target: 'tmux',
    risk: 'read',
    params: z.object({}),
    command: { path: ['tmux', 'ls'], aliases: [['sessions'], ['tmux']] },
    async run(ctx) {
      const all = await port.listSessions();
      const sessions = all
        .filter((s) => (!filter || filter.test(s.name)) && (ctx.within?.(s.name) ?? true))
        .sort((a, b) => compareNames(a.name, b.name));
      if (all.length === 0) return say(`No tmux server is running on ${port.where}.`);
      if (sessions.length === 0) return say('No tmux sessions match TMUX_SESSION_FILTER.');
      const shown = sessions.slice(0, LS_MAX);
      const panes = await port.listPanes();
      const active = new Map<string, PaneInfo>();
      for (const s of shown) {
        const p = pickPane(panes, { session: s.id });
        if (p) active.set(s.id, p);
      }
      const watched = new Map((watcher?.snapshot() ?? []).map((e) => [e.target, e.state]));
      const refs = new Map(shown.map((s) => [s.id, sessionRef(s)]));
      const unwatched = [...active.values()].filter((p) => !watched.has(refs.get(p.sessionId) ?? p.session));
      const captured = await port.captureMany(
        unwatched.map((p) => p.id),
        settings.cardLines,
      );
      const blocks: Block[] = [line(`${sessions.length} tmux session${sessions.length === 1 ? '' : 's'}`)];
      const buttons: Button[][] = [];
      for (const s of shown) {
        const p = active.get(s.id);
        const ref = sessionRef(s);
        const state = watched.get(ref) ?? (p ? stateOf(p, (captured.get(p.id) ?? []).map(stripAnsi)) : 'gone');
        blocks.push(sessionLine(s, state, watched.has(ref), now()));
        if (buttons.length < LS_BUTTON_ROWS) {
          // Buttons carry the reference (the id for a name not safe here); the label is the name.
          buttons.push([
            { label: `📜 ${s.name}`, action: 'tmux.tail', params: { target: ref } },
            ...(watcher && !watched.has(ref)
              ? [{ label: '👁 Watch', action: 'tmux.watch', params: { target: ref } }]
              : []),
            { label: '✖ Kill', action: 'tmux.kill', params: { target: ref } },
          ]);
        }
      }
      if (sessions.length > shown.length) blocks.push(line(`…and ${sessions.length - shown.length} more`));
      return result(blocks, { buttons });
    },
  });

  const newSession = defineAction({
    name: 'tmux.new',
    summary: 'Start a detached tmux session running a command (tmux runs it with your shell)',
    target: 'tmux',
    risk: 'write',
    params: z.object({
      name: z.string().min(1).max(64).describe('the new session name'),
      command: z.string().min(1).max(COMMAND_MAX).describe('the command line to run, as typed at a shell'),
      dir: z.string().min(1).max(1024).optional().describe('working directory (absolute)'),
    }),
    command: { path: ['tmux', 'new'], usage: '[-d dir] <name> <command...>' },
    subject: (p) => `tmux session ${p.name}`,
    async run(ctx, p) {
      const name = checkName(p.name);
      if (filter && !filter.test(name)) throw new ActionError('that name is outside TMUX_SESSION_FILTER');
      const command = p.command.trim();
      if (command.startsWith('-')) throw new ActionError('the command must not start with -');
      if (CONTROL.test(command) || command.includes('\n'))
        throw new ActionError('the command must be one line without control characters');
      const cwd = await checkDir(p.dir ?? settings.defaultCwd);
      await port.newSession({ name, cwd, command });
      const started = [line('Started ', value(name), ' in ', value(cwd), '.'), line('command: ', value(command))];
      if (!watcher) return result(started);
      try {
        return statusCard(await watcher.watch({ session: name }, { chatId: ctx.operator.chatId }), now(), deps.redact);
      } catch (e) {
        // The session runs either way; say why it has no card rather than fail.
        if (!(e instanceof ActionError)) throw e;
        return result([...started, line(`Not watched: ${e.message}`)]);
      }
    },
  });

  /** Whether the pane's cursor line asks for a password, so what is typed now is a secret. */
  const atPasswordPrompt = async (t: TmuxTarget): Promise<boolean> => {
    const last = (await scrollback(t, 5)).filter((l) => l.trim() !== '').at(-1) ?? '';
    return PASSWORD_PROMPT.test(last.trimEnd());
  };

  const send = defineAction({
    name: 'tmux.send',
    summary: 'Type text into a terminal session and press Enter',
    target: 'tmux',
    risk: 'write',
    params: z.object({
      target: targetParam,
      text: z.string().min(1).max(TEXT_MAX).describe('text to type; Enter is pressed after each line'),
      secret: z.boolean().optional().describe('the text is a secret (recorded as its length only)'),
    }),
    command: { path: ['tmux', 'send'], usage: '[--secret] <target> <text...>', aliases: [['send']] },
    subject: (p) => `tmux ${p.target}`,
    // Text typed at a password prompt, or marked secret, is recorded as its length only.
    secret: {
      params: ['text'],
      when: async (_ctx, p) => p.secret === true || (await atPasswordPrompt(await resolve(p.target))),
    },
    async run(_ctx, p) {
      if (CONTROL.test(p.text))
        throw new ActionError(`the text has control characters; send special keys with /tmux keys (${KEYS_HELP})`);
      const t = await resolve(p.target);
      await port.sendText(t, p.text.replace(/\r\n?/g, '\n'));
      const lines = p.text.split('\n').length;
      return say('Sent ', lines === 1 ? '1 line' : `${lines} lines`, ' to ', value(displayTarget(t)), '.');
    },
  });

  const keys = defineAction({
    name: 'tmux.keys',
    summary: 'Send named keys (Enter, C-c, Up, y, Esc …) to a terminal session',
    target: 'tmux',
    risk: 'write',
    params: z.object({
      target: targetParam,
      keys: z.array(z.string().min(1).max(16)).min(1).max(MAX_KEYS).describe(`keys: ${KEYS_HELP}`),
    }),
    command: {
      path: ['tmux', 'keys'],
      usage: '<target> <key...>',
      parse: (tokens) => ({ target: tokens[0], keys: tokens.slice(1) }),
    },
    subject: (p) => `tmux ${p.target}`,
    async run(_ctx, p) {
      const parsed = parseKeys(p.keys);
      const t = await resolve(p.target);
      await port.sendKeys(t, parsed);
      return say('Sent ', value(parsed.map(keyLabel).join(' ')), ' to ', value(displayTarget(t)), '.');
    },
  });

  const tail = defineAction({
    name: 'tmux.tail',
    summary: 'Show the last lines of a terminal session',
    target: 'tmux',
    risk: 'read',
    params: z.object({
      target: targetParam,
      lines: z.coerce
        .number()
        .int()
        .min(1)
        .max(TAIL_MAX)
        .optional()
        .describe(`how many lines (default ${TAIL_DEFAULT})`),
    }),
    command: { path: ['tmux', 'tail'], usage: '<target> [lines]' },
    async run(_ctx, p) {
      const t = await resolve(p.target);
      const lines = foldBlankRuns(await scrollback(t, p.lines ?? TAIL_DEFAULT));
      return result([
        line('Last lines of ', value(displayTarget(t)), ':'),
        pre(lines.length > 0 ? lines.join('\n') : '(empty)'),
      ]);
    },
  });

  const log = defineAction({
    name: 'tmux.log',
    summary: 'Send the scrollback of a terminal session as a .log file',
    target: 'tmux',
    risk: 'read',
    params: z.object({ target: targetParam }),
    command: { path: ['tmux', 'log'], usage: '<target>' },
    async run(_ctx, p) {
      const t = await resolve(p.target);
      const lines = await scrollback(t, settings.logLines);
      const label = displayTarget(t);
      return result([line(`${lines.length} lines of `, value(label), ` (up to ${settings.logLines}).`)], {
        attachment: { filename: logFilename(label), content: lines.join('\n') + '\n' },
      });
    },
  });

  const find = defineAction({
    name: 'tmux.find',
    summary: `Show the last ${FIND_LIMIT} scrollback lines matching a text or /regex/`,
    target: 'tmux',
    risk: 'read',
    params: z.object({
      target: targetParam,
      pattern: z.string().min(1).max(300).describe('plain text (any case) or /regex/flags'),
    }),
    command: { path: ['tmux', 'find'], usage: '<target> <pattern...>' },
    async run(_ctx, p) {
      const pattern = parseSearchPattern(p.pattern);
      const t = await resolve(p.target);
      // Redacted as a whole, as the transport would show it: a secret may span lines (a key block).
      const visible = deps.redact((await scrollback(t, settings.logLines)).join('\n')).split('\n');
      const found = findLines(visible, pattern, { limit: FIND_LIMIT, timeoutMs: FIND_TIMEOUT_MS });
      if (found.length === 0) return say('No line of ', value(displayTarget(t)), ' matches ', value(p.pattern), '.');
      return result([
        line(`${found.length} matching line${found.length === 1 ? '' : 's'} in `, value(displayTarget(t)), ':'),
        pre(found.join('\n')),
      ]);
    },
  });

  const kill = defineAction({
    name: 'tmux.kill',
    summary: 'Kill a tmux session and everything running in it',
    target: 'tmux',
    risk: 'destructive',
    params: z.object({ target: sessionParam }),
    command: { path: ['tmux', 'kill'], usage: '<target>' },
    subject: (p) => `tmux session ${p.target}`,
    async preview(_ctx, p) {
      const session = await resolveSessionOnly(p.target);
      const panes = await port.listPanes(session);
      const blocks: Block[] = [
        line('Session ', value(await labelOf(session)), ` has ${panes.length} pane${panes.length === 1 ? '' : 's'}:`),
      ];
      for (const pane of panes.slice(0, 10)) {
        const what = pane.startCommand || pane.command;
        blocks.push(
          line(
            `${pane.windowIndex}.${pane.paneIndex} `,
            value(what),
            pane.dead ? ` (exited, status ${pane.deadStatus ?? '?'})` : ` (pid ${pane.pid})`,
          ),
        );
      }
      const last = foldBlankRuns(await scrollback({ session }, 5));
      if (last.length > 0) blocks.push(pre(last.join('\n')));
      return blocks;
    },
    async run(_ctx, p) {
      const session = await resolveSessionOnly(p.target);
      const label = await labelOf(session);
      await port.killSession(session);
      return say('Killed session ', value(label), '.');
    },
  });

  const alias = defineAction({
    name: 'tmux.alias',
    summary: 'Give a session a short alias (or clear it when none is given)',
    target: 'tmux',
    risk: 'write',
    params: z.object({ target: sessionParam, alias: z.string().min(1).max(64).optional() }),
    command: { path: ['tmux', 'alias'], usage: '<target> [alias]' },
    subject: (p) => `tmux session ${p.target}`,
    async run(_ctx, p) {
      const session = await resolveSessionOnly(p.target);
      if (p.alias === undefined) {
        await port.setSessionOption(session, ALIAS_OPTION, undefined);
        return say('Cleared the alias of ', value(session), '.');
      }
      const name = checkName(p.alias, 'alias');
      const sessions = await port.listSessions();
      if (sessions.some((s) => s.name === name && sessionRef(s) !== session)) {
        throw new ActionError(`${name} is already a session name`);
      }
      if (sessions.some((s) => s.alias === name && sessionRef(s) !== session)) {
        throw new ActionError(`${name} is already the alias of another session`);
      }
      await port.setSessionOption(session, ALIAS_OPTION, name);
      return say('Session ', value(session), ' is now also ', value(name), '.');
    },
  });

  const actions: AnyAction[] = [ls, newSession, send, keys, tail, log, find, kill, alias];
  if (watcher) actions.push(...watchActions(watcher, resolve, now, deps.redact));
  if (deps.follows) {
    actions.push(tailFollowAction({ port, follows: deps.follows, resolve, pollMs: settings.pollMs }));
    actions.push(deps.follows.stopAction);
  }
  /** The session name a reference stands for (an alias or id resolved), as per-chat scopes match it. */
  const sessionName = async (ref: string): Promise<string> => {
    const t = await resolve(ref);
    if (!isSessionId(t.session)) return t.session;
    return (await port.listSessions()).find((s) => s.id === t.session)?.name ?? t.session;
  };
  // Every request names the session it reaches; `ls` lists only those in the chat's scope.
  const where = (a: AnyAction): AnyAction['where'] => {
    if (a.name === 'tmux.ls') return () => [];
    if (a.name === 'tmux.new') return (_ctx, p: { name: string }) => [p.name];
    // A session that is gone can still be unwatched: its name as written.
    if (a.name === 'tmux.unwatch')
      return async (_ctx, p: { target: string }) => [
        await sessionName(p.target).catch(() => parseTarget(p.target).session),
      ];
    return async (_ctx, p: { target: string }) => [await sessionName(p.target)];
  };
  // What `target` stands for (a session's alias or id, a window of it): the session it reaches.
  const withNames = (a: AnyAction): AnyAction => {
    const at = a.where;
    if (!at || !(a.params instanceof z.ZodObject) || !('target' in a.params.shape)) return a;
    return { ...a, names: async (ctx, p) => ({ target: [...(await at(ctx, p))] }) };
  };
  return actions.map((a) => withNames(a.where ? a : { ...a, where: where(a) }));
}

/**
 * Watching and unwatching decide which alerts are raised and where, so they are `write`: a
 * viewer, or the LLM told so by terminal output, cannot silence a session. Refresh only
 * looks sooner, so it stays a read (cards' 🔄 buttons); cards sent before it existed carry
 * `tmux.watch`, which still refreshes a watched pane for an operator.
 */
function watchActions(
  watcher: TmuxWatcher,
  resolve: (ref: string) => Promise<TmuxTarget>,
  now: () => number,
  redact: (text: string) => string,
): AnyAction[] {
  const watch = defineAction({
    name: 'tmux.watch',
    summary: 'Keep a live status card for a terminal session, with alerts when it waits, fails or finishes',
    target: 'tmux',
    risk: 'write',
    params: z.object({ target: targetParam }),
    command: { path: ['tmux', 'watch'], usage: '<target>' },
    subject: (p) => `tmux ${p.target}`,
    async run(ctx: ActionContext, p): Promise<Result> {
      const t = await resolve(p.target);
      return statusCard(await watcher.watch(t, { chatId: ctx.operator.chatId }), now(), redact);
    },
  });
  const refresh = defineAction({
    name: 'tmux.refresh',
    summary: 'Show the status card of a watched terminal session as it is now',
    target: 'tmux',
    risk: 'read',
    params: z.object({ target: targetParam }),
    command: { path: ['tmux', 'refresh'], usage: '<target>' },
    async run(_ctx, p): Promise<Result> {
      const t = await resolve(p.target);
      const entry = await watcher.refresh(t);
      if (!entry) return say(value(displayTarget(t)), ' is not watched; an operator can start with /tmux watch.');
      return statusCard(entry, now(), redact);
    },
  });
  const unwatch = defineAction({
    name: 'tmux.unwatch',
    summary: 'Stop the status card and alerts of a terminal session',
    target: 'tmux',
    risk: 'write',
    params: z.object({ target: targetParam }),
    command: { path: ['tmux', 'unwatch'], usage: '<target>' },
    subject: (p) => `tmux ${p.target}`,
    async run(_ctx, p) {
      // A session that is gone can still be unwatched, so no alias lookup when it fails.
      const t = await resolve(p.target).catch(() => parseTarget(p.target));
      return watcher.unwatch(t)
        ? say('Stopped watching ', value(displayTarget(t)), '.')
        : say(value(displayTarget(t)), ' was not watched.');
    },
  });
  return [watch, refresh, unwatch];
}

function sessionLine(s: SessionInfo, state: TmuxState, watched: boolean, now: number): Block {
  const spans = [text(`${STATE_EMOJI[state]} `), value(s.name)];
  // A name that cannot be typed safely is addressed by its id; say which.
  if (!isName(s.name)) spans.push(text(' '), value(s.id));
  if (s.alias) spans.push(text(' ('), value(s.alias), text(')'));
  const facts = [
    `${s.windows} window${s.windows === 1 ? '' : 's'}`,
    s.attached > 0 ? 'attached' : 'detached',
    state,
    `active ${formatDuration(now - s.activityAt)} ago`,
  ];
  if (watched) facts.push('watched');
  spans.push(text(` · ${facts.join(' · ')}`));
  return line(...spans);
}

async function checkDir(dir: string): Promise<string> {
  if (!dir.startsWith('/') || CONTROL.test(dir) || dir.includes('#')) {
    // tmux expands #{…} formats in -c, so a # never reaches it.
    throw new ActionError('the directory must be an absolute path without # or control characters');
  }
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ActionError('no such directory');
  return dir;
}
