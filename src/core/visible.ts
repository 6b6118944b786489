/**
 * Untrusted text as a person must see it before approving it: every character either shows
 * as itself or is named between ⟨ ⟩. Nothing is dropped, and nothing can hide, reorder or
 * fake what is around it:
 *
 * - runs of whitespace are counted (`⟨3950 spaces⟩`, `⟨12 tabs⟩`, `⟨space, \n, 2 tabs⟩`),
 *   except 1–3 plain spaces between visible characters; newlines never break the line, so a
 *   parameter cannot draw lines of its own on a card;
 * - control, format (zero-width, bidi), separator, private-use, unassigned and default-ignorable
 *   characters are named by code point (`⟨U+202E⟩`, `⟨5 × U+200B⟩`);
 * - combining marks are kept while they could be a language's (at most two on a visible
 *   character); a pile of them, which would draw over the lines around it, is named;
 * - ⟨ and ⟩ themselves, and their lookalikes, are named too, so the rendering reads back
 *   to exactly one text (it is injective; the tests decode it).
 */

/** Plain spaces up to this many between visible characters are left as they are. */
const SPACES_KEPT = 3;
/** Combining marks kept on one visible character. */
const MARKS_KEPT = 2;

const SPACE = /^\p{White_Space}$/u;
// Braille blank (U+2800) draws nothing; the brackets are the escape's own and their lookalikes.
const HIDDEN =
  /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800\u2329\u232a\u27e8\u27e9\u3008\u3009]$/u;
const MARK = /^\p{M}$/u;

const OPEN = '⟨';
const CLOSE = '⟩';

const NAMED: Readonly<Record<string, readonly [string, string]>> = {
  ' ': ['space', 'spaces'],
  '\t': ['tab', 'tabs'],
};
const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r' };

const codeOf = (c: string): string => SHORT[c] ?? `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

function describe(c: string, n: number): string {
  const named = NAMED[c];
  if (named) return n === 1 ? named[0] : `${n} ${named[1]}`;
  return n === 1 ? codeOf(c) : `${n} × ${codeOf(c)}`;
}

/** One ⟨…⟩ for a run of characters: each stretch of one character, counted. */
function escapeRun(chars: readonly string[]): string {
  const items: string[] = [];
  for (let i = 0; i < chars.length;) {
    let j = i + 1;
    while (j < chars.length && chars[j] === chars[i]) j++;
    items.push(describe(chars[i]!, j - i));
    i = j;
  }
  return `${OPEN}${items.join(', ')}${CLOSE}`;
}

/** The text with every invisible or misleading character made visible; see the module comment. */
export function showInvisible(s: string): string {
  if (s === '') return `${OPEN}empty${CLOSE}`;
  // Code points; a lone surrogate stays one element (and is named, as \p{Cs}).
  const chars = Array.from(s);
  const escaped = chars.map((c) => SPACE.test(c) || HIDDEN.test(c));
  // Short runs of plain spaces between visible characters are the only whitespace shown as itself.
  for (let i = 0; i < chars.length;) {
    if (chars[i] !== ' ') {
      i++;
      continue;
    }
    let j = i;
    while (chars[j] === ' ') j++;
    const inside = i > 0 && j < chars.length && !escaped[i - 1] && !escaped[j];
    if (inside && j - i <= SPACES_KEPT) for (let k = i; k < j; k++) escaped[k] = false;
    i = j;
  }
  // A mark shows on the character before it: kept only on a visible one, and only a few.
  for (let i = 0; i < chars.length;) {
    if (!MARK.test(chars[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < chars.length && MARK.test(chars[j]!)) j++;
    const base = i > 0 && !escaped[i - 1] && chars[i - 1] !== ' ';
    if (!base || j - i > MARKS_KEPT) for (let k = i; k < j; k++) escaped[k] = true;
    i = j;
  }
  let out = '';
  for (let i = 0; i < chars.length;) {
    if (!escaped[i]) {
      out += chars[i++];
      continue;
    }
    let j = i;
    while (j < chars.length && escaped[j]) j++;
    out += escapeRun(chars.slice(i, j));
    i = j;
  }
  return out;
}
