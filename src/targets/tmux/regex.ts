/**
 * Patterns run against terminal output, which is untrusted. Two defences, because a regex
 * that backtracks catastrophically would freeze the whole process:
 * - `regexProblem` rejects the shapes that take exponential time (a repeated group that
 *   itself repeats or alternates, back-references, lookaround); settings patterns must pass it;
 * - `findLines` (what `/tmux find` uses) also runs the match in a `vm` context with a
 *   timeout, so even a polynomial blow-up the check lets through is cut off.
 */
import vm from 'node:vm';
import { ActionError } from '../../core/action.js';

export type SearchPattern =
  | { readonly kind: 'substring'; readonly text: string }
  | { readonly kind: 'regex'; readonly source: string; readonly flags: string };

export const REGEX_MAX = 300;
const FLAGS = /^[imsu]*$/;

/** `/body/flags` is a regex; anything else is a plain (case-insensitive) substring. */
export function parseSearchPattern(s: string): SearchPattern {
  const end = s.lastIndexOf('/');
  if (s.startsWith('/') && end > 1 && FLAGS.test(s.slice(end + 1))) {
    return { kind: 'regex', source: s.slice(1, end), flags: s.slice(end + 1) };
  }
  return { kind: 'substring', text: s };
}

interface Frame {
  repeats: boolean;
  alternates: boolean;
}

const HEX2 = /^[0-9a-fA-F]{2}$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const BRACES = /^\{(\d+)(,(\d*))?\}/;

/** Length of the escape starting at `i` (a backslash), or a reason to refuse it. */
function escapeLength(src: string, i: number): number | string {
  const n = src[i + 1] ?? '';
  if (/[1-9]/.test(n) || n === 'k') return 'back-references are not allowed';
  if ((n === 'p' || n === 'P' || n === 'u') && src[i + 2] === '{') {
    const close = src.indexOf('}', i + 2);
    return close < 0 ? 2 : close + 1 - i;
  }
  if (n === 'x' && HEX2.test(src.slice(i + 2, i + 4))) return 4;
  if (n === 'u' && HEX4.test(src.slice(i + 2, i + 6))) return 6;
  if (n === 'c' && /[A-Za-z]/.test(src[i + 2] ?? '')) return 3;
  return 2;
}

/** Work allowed per character of the pattern; every step of the scan below advances it. */
export const CHECK_STEPS_PER_CHAR = 4;
export const checkBudget = (source: string): number => CHECK_STEPS_PER_CHAR * source.length + 8;

export interface RegexCheck {
  /** Why the regex may not be used, or undefined when it may. */
  readonly problem: string | undefined;
  /** Scan steps taken; never more than `checkBudget(source)`. */
  readonly steps: number;
}

/** Named capture group `(?<name>`: the only `(?` form besides `(?:` that is let through. */
const NAMED_GROUP = /^\(\?<[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*>/u;

/** Length of the group opener at `i`, or a reason to refuse it. */
function groupOpenLength(src: string, i: number): number | string {
  if (src[i + 1] !== '?') return 1;
  if (src[i + 2] === ':') return 3;
  if (/^\(\?<?[=!]/.test(src.slice(i, i + 4))) return 'lookahead and lookbehind are not allowed';
  const named = NAMED_GROUP.exec(src.slice(i, i + 80));
  if (named) return named[0].length;
  // e.g. (?i:…), which Node 23+ accepts: refused rather than guessed at.
  const modifier = /^\(\?[-imsu]{1,6}:/.exec(src.slice(i, i + 9));
  if (modifier) return `modifier groups like ${modifier[0]}…) are not supported; use the /…/i, m or s flags instead`;
  return `unknown group syntax ${src.slice(i, i + 3)}…; use (…), (?:…) or (?<name>…)`;
}

/** Why a regex may not be used, or undefined when it may. */
export function regexProblem(source: string, flags = ''): string | undefined {
  return checkRegex(source, flags).problem;
}

/**
 * The checker behind `regexProblem`. Its scan is bounded by `checkBudget`: each step must
 * move forward, and a pattern that needs more steps than its budget is refused, so no
 * pattern (nor a syntax this scan does not know) can make it loop.
 */
export function checkRegex(source: string, flags = ''): RegexCheck {
  if (source.length > REGEX_MAX) return { problem: `longer than ${REGEX_MAX} characters`, steps: 0 };
  if (!FLAGS.test(flags) || new Set(flags).size !== flags.length)
    return { problem: 'the only flags allowed are i, m, s and u', steps: 0 };
  try {
    new RegExp(source, flags);
  } catch {
    return { problem: 'not a valid regular expression', steps: 0 };
  }
  const budget = checkBudget(source);
  let steps = 0;
  const refuse = (problem: string): RegexCheck => ({ problem, steps });
  const stack: Frame[] = [{ repeats: false, alternates: false }];
  // The atom a following quantifier applies to; `group` when it is a group.
  let atom: { group?: Frame } | undefined;
  let i = 0;
  while (i < source.length) {
    if (steps === budget) return refuse('too complex to check');
    steps += 1;
    const from = i;
    const c = source[i]!;
    const top = stack[stack.length - 1]!;
    if (c === '\\') {
      const len = escapeLength(source, i);
      if (typeof len === 'string') return refuse(len);
      i += len;
      atom = {};
    } else if (c === '[') {
      let j = i + 1;
      while (j < source.length && source[j] !== ']') {
        if (steps === budget) return refuse('too complex to check');
        steps += 1;
        j += source[j] === '\\' ? 2 : 1;
      }
      i = j + 1;
      atom = {};
    } else if (c === '(') {
      const len = groupOpenLength(source, i);
      if (typeof len === 'string') return refuse(len);
      stack.push({ repeats: false, alternates: false });
      i += len;
      atom = undefined;
    } else if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : { repeats: false, alternates: false };
      const parent = stack[stack.length - 1]!;
      parent.repeats ||= group.repeats;
      parent.alternates ||= group.alternates;
      atom = { group };
      i += 1;
    } else if (c === '|') {
      top.alternates = true;
      atom = undefined;
      i += 1;
    } else if (c === '*' || c === '+' || c === '?' || (c === '{' && BRACES.test(source.slice(i)))) {
      let len = 1;
      let max = c === '?' ? 1 : Infinity;
      if (c === '{') {
        const m = BRACES.exec(source.slice(i))!;
        len = m[0].length;
        max = m[2] === undefined ? Number(m[1]) : m[3] ? Number(m[3]) : Infinity;
      }
      if (source[i + len] === '?') len += 1;
      if (max > 1) {
        if (atom?.group && (atom.group.repeats || atom.group.alternates)) {
          return refuse(
            'a repeated group that contains | or a quantifier, like (a+)+ or (a|b)*, can take exponential time; use a character class such as [ab]+',
          );
        }
        top.repeats = true;
      }
      atom = undefined;
      i += len;
    } else {
      atom = {};
      i += 1;
    }
    // Every branch moves forward; should one ever not, refuse instead of scanning again.
    if (i <= from) return refuse('too complex to check');
  }
  return { problem: undefined, steps };
}

/** Compiles a regex that passed `regexProblem`, or throws an ActionError naming `what`. */
export function safeRegex(source: string, flags: string, what: string): RegExp {
  const problem = regexProblem(source, flags);
  if (problem) throw new ActionError(`${what}: ${problem}`);
  return new RegExp(source, flags);
}

/** Runs inside the vm context; returns the last `limit` matching lines, oldest first. */
const MATCH = new vm.Script(`(() => {
  const re = new RegExp(source, flags);
  const out = [];
  for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
    if (re.test(lines[i])) out.push(lines[i]);
  }
  return out.reverse();
})()`);

let context: vm.Context | undefined;

export interface FindOptions {
  readonly limit: number;
  /** Bound on the whole regex search. */
  readonly timeoutMs: number;
}

/** The last `limit` lines matching the pattern; a regex is checked, then run with a time bound. */
export function findLines(lines: readonly string[], pattern: SearchPattern, opts: FindOptions): string[] {
  if (pattern.kind === 'substring') {
    const needle = pattern.text.toLowerCase();
    const out: string[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < opts.limit; i--) {
      if (lines[i]!.toLowerCase().includes(needle)) out.push(lines[i]!);
    }
    return out.reverse();
  }
  const problem = regexProblem(pattern.source, pattern.flags);
  if (problem) throw new ActionError(`regex refused: ${problem}`);
  return boundedMatch(lines, pattern.source, pattern.flags, opts);
}

/** The time-bounded matcher alone (exported so tests can show the bound holds on its own). */
export function boundedMatch(lines: readonly string[], source: string, flags: string, opts: FindOptions): string[] {
  context ??= vm.createContext(Object.create(null) as object);
  Object.assign(context, { lines, source, flags, limit: opts.limit });
  try {
    const found = MATCH.runInContext(context, { timeout: opts.timeoutMs }) as unknown[];
    return Array.from(found, String);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw new ActionError(`the regex took longer than ${opts.timeoutMs} ms; make it simpler`);
    }
    throw new ActionError('the regex could not be run');
  } finally {
    Object.assign(context, { lines: undefined, source: undefined, flags: undefined });
  }
}
