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

export const NAME_RULE = 'letters, digits, _ and -, at most 64 characters, not starting with -';

export const isName = (s: string): boolean => NAME.test(s);

export interface TmuxTarget {
  /** A session name or an alias, until resolved. */
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
      `invalid target: use session, session:window or session:window.pane (${NAME_RULE})`,
    );
  };
  if (ref.length > NAME_MAX * 2 + 6) bad();
  const colon = ref.indexOf(':');
  const session = colon < 0 ? ref : ref.slice(0, colon);
  if (!isName(session)) bad();
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

/** The `-t` argument for tmux: exact session match, then window by index or exact name. */
export function tmuxTargetArg(t: TmuxTarget): string {
  const window = t.window === undefined ? '' : INDEX.test(t.window) ? t.window : `=${t.window}`;
  const pane = t.pane === undefined ? '' : `.${t.pane}`;
  return `=${t.session}:${window}${pane}`;
}

export interface NamedSession {
  readonly name: string;
  readonly alias?: string;
}

/**
 * Finds the session a name refers to: an exact session name first, then an alias. Sessions
 * outside `filter` do not exist as far as operators are concerned.
 */
export function resolveSession(
  sessions: readonly NamedSession[],
  name: string,
  filter?: RegExp,
): string {
  const visible = filter ? sessions.filter((s) => filter.test(s.name)) : sessions;
  const exact = visible.find((s) => s.name === name);
  if (exact) return exact.name;
  const aliased = visible.filter((s) => s.alias === name);
  if (aliased.length === 1) return aliased[0]!.name;
  if (aliased.length > 1) throw new ActionError(`alias ${name} names several sessions; use the session name`);
  throw new ActionError(`no session named ${name}`);
}
