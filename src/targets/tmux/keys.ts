/**
 * The keys an operator may send with `/tmux keys`: tmux key names from an allow-list, and
 * single printable characters (sent literally, so `;` or `-` cannot be read as tmux syntax).
 */
import { ActionError } from '../../core/action.js';

export type TmuxKey =
  { readonly kind: 'named'; readonly name: string } | { readonly kind: 'literal'; readonly text: string };

/** Lower-cased spelling → tmux key name. */
const NAMED: ReadonlyMap<string, string> = new Map([
  ['enter', 'Enter'],
  ['return', 'Enter'],
  ['escape', 'Escape'],
  ['esc', 'Escape'],
  ['tab', 'Tab'],
  ['btab', 'BTab'],
  ['bspace', 'BSpace'],
  ['backspace', 'BSpace'],
  ['space', 'Space'],
  ['up', 'Up'],
  ['down', 'Down'],
  ['left', 'Left'],
  ['right', 'Right'],
  ['home', 'Home'],
  ['end', 'End'],
  ['pageup', 'PPage'],
  ['ppage', 'PPage'],
  ['pgup', 'PPage'],
  ['pagedown', 'NPage'],
  ['npage', 'NPage'],
  ['pgdn', 'NPage'],
  ['dc', 'DC'],
  ['delete', 'DC'],
  ['del', 'DC'],
  ['ic', 'IC'],
  ['insert', 'IC'],
]);

const FUNCTION = /^f([1-9]|1[0-2])$/;
/** Ctrl or Alt with a letter: `C-c`, `ctrl-c`, `^c`, `M-x`, `alt-x`. */
const CTRL = /^(?:c-|ctrl-|\^)([a-z])$/;
const ALT = /^(?:m-|alt-|meta-)([a-z])$/;
/** One printable character: no controls, no whitespace (use Space, Tab, Enter). */
const PRINTABLE = /^[^\p{C}\s]$/u;

export const MAX_KEYS = 32;

export const KEYS_HELP =
  'Enter, Esc, Tab, BTab, BSpace, Space, Up, Down, Left, Right, Home, End, PageUp, PageDown, ' +
  'Delete, Insert, F1–F12, C-a…C-z, M-a…M-z, or one printable character';

/** Parses one key as typed; throws an ActionError that does not echo the input. */
export function parseKey(spelling: string): TmuxKey {
  if (PRINTABLE.test(spelling)) return { kind: 'literal', text: spelling };
  const lower = spelling.toLowerCase();
  const named = NAMED.get(lower);
  if (named) return { kind: 'named', name: named };
  const fn = FUNCTION.exec(lower);
  if (fn) return { kind: 'named', name: `F${fn[1]}` };
  const ctrl = CTRL.exec(lower);
  if (ctrl) return { kind: 'named', name: `C-${ctrl[1]}` };
  const alt = ALT.exec(lower);
  if (alt) return { kind: 'named', name: `M-${alt[1]}` };
  throw new ActionError(`unknown key; allowed: ${KEYS_HELP}`);
}

export function parseKeys(spellings: readonly string[]): TmuxKey[] {
  if (spellings.length === 0) throw new ActionError('no keys given');
  if (spellings.length > MAX_KEYS) throw new ActionError(`at most ${MAX_KEYS} keys at a time`);
  return spellings.map(parseKey);
}

/** How a key is shown back to the operator. */
export const keyLabel = (k: TmuxKey): string => (k.kind === 'named' ? k.name : k.text);
