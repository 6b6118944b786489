/**
 * Target references typed by operators: `session`, `session:window`, `session:window.pane`,
 * where `session` may also be an alias. Names are checked against a strict pattern before
 * they reach tmux, and tmux always gets the exact-match form (`=name:`), because a bare
 * `-t ab` would match a session called `abc` by prefix.
 */
import { ActionError } from '../../core/action.js';

export const NAME_MAX = 64;
/** Letters, digits, `_` and `-`; never a leading `-`; no `:` or `.` (tmux separators). */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const INDEX = /^\d{1,4}$/;
/** The id tmux gives a session (`$3`): how sessions whose names are not safe here are addressed. */
const SESSION_ID = /^\$\d{1,9}$/;

export const isSessionId = (s: string): boolean => SESSION_ID.test(s);

export const NAME_RULE = 'letters, digits, _ and -, at most 64 characters, not starting with -';

export const isName = (s: string): boolean => NAME.test(s);

export interface TmuxTarget {
  /** A session name, a session id (`$3`) or an alias, until resolved. */
  readonly session: string;
  /** A window index (digits) or an exact window name. */
  readonly window?: string;
  readonly pane?: number;
}

/** Checks a session (or alias) name; the message never echoes the rejected input. */
export function checkName(s: string, what = 'session name'): string {
  if (!isName(s)) throw new ActionError(`invalid ${what}: use ${NAME_RULE}`);
  return s;
}

export function parseTarget(ref: string): TmuxTarget {
  const bad = (): never => {
    throw new ActionError(
      `invalid target: use session, session:window or session:window.pane (${NAME_RULE}), or a session id such as $3 (shown by /tmux ls)`,
    );
  };
  if (ref.length > NAME_MAX * 2 + 6) bad();
  const colon = ref.indexOf(':');
  const session = colon < 0 ? ref : ref.slice(0, colon);
  if (!isName(session) && !isSessionId(session)) bad();
  if (colon < 0) return { session };
  const rest = ref.slice(colon + 1);
  const dot = rest.indexOf('.');
  const window = dot < 0 ? rest : rest.slice(0, dot);
  if (!INDEX.test(window) && !isName(window)) bad();
  if (dot < 0) return { session, window };
  const pane = rest.slice(dot + 1);
  if (!INDEX.test(pane)) bad();
  return { session, window, pane: Number(pane) };
}

/** How operators see a target: `build`, `build:1`, `build:1.0`. */
export function displayTarget(t: TmuxTarget): string {
  if (t.window === undefined) return t.session;
  return t.pane === undefined ? `${t.session}:${t.window}` : `${t.session}:${t.window}.${t.pane}`;
}

/** The `-t` argument for tmux: the session id, or an exact session name match, then window by index or exact name. */
export function tmuxTargetArg(t: TmuxTarget): string {
  const window = t.window === undefined ? '' : INDEX.test(t.window) ? t.window : `=${t.window}`;
  const pane = t.pane === undefined ? '' : `.${t.pane}`;
  return `${isSessionId(t.session) ? t.session : `=${t.session}`}:${window}${pane}`;
}

export interface NamedSession {
  readonly name: string;
  readonly id: string;
  readonly alias?: string;
}

/**
 * How a session is referred to: its name when that is safe to type and to carry in a button,
 * its id otherwise (`my session`, `名前`, `-dash`, `$(id)`).
 */
export const sessionRef = (s: NamedSession): string => (isName(s.name) ? s.name : s.id);

/**
 * Finds the session a name refers to: by id (`$3`), or an exact session name first, then an
 * alias; the answer is the session's reference (sessionRef). Sessions
 * outside `filter` do not exist as far as operators are concerned.
 */
export function resolveSession(sessions: readonly NamedSession[], name: string, filter?: RegExp): string {
  const visible = filter ? sessions.filter((s) => filter.test(s.name)) : sessions;
  if (isSessionId(name)) {
    const byId = visible.find((s) => s.id === name);
    if (byId) return sessionRef(byId);
    throw new ActionError(`no session with id ${name}`);
  }
  const exact = visible.find((s) => s.name === name);
  if (exact) return sessionRef(exact);
  const aliased = visible.filter((s) => s.alias === name);
  if (aliased.length === 1) return sessionRef(aliased[0]!);
  if (aliased.length > 1) throw new ActionError(`alias ${name} names several sessions; use the session name`);
  throw new ActionError(`no session named ${name}`);
}
