import { truncate } from './text.js';

/** A token and where it starts in the input, so a "rest of the line" argument keeps its exact text. */
export interface Token {
  readonly value: string;
  readonly start: number;
}

/**
 * Splits a command line into tokens: whitespace separates, "double" or 'single' quotes group
 * (a quote inside a word is literal), nothing else is special. No shell is ever involved;
 * quoting only lets an operator pass a value with spaces.
 */
export function tokenizeSpans(input: string): Token[] {
  const out: Token[] = [];
  let cur = '';
  let start = -1;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (/\s/.test(ch)) {
      if (start >= 0) out.push({ value: cur, start });
      cur = '';
      start = -1;
    } else if ((ch === '"' || ch === "'") && start < 0) {
      quote = ch;
      start = i;
    } else {
      if (start < 0) start = i;
      cur += ch;
    }
  }
  if (start >= 0) out.push({ value: cur, start });
  return out;
}

export const tokenize = (input: string): string[] => tokenizeSpans(input).map((t) => t.value);

export interface CommandLine {
  /** Lower-cased command words: "/docker ps api" → ["docker", "ps", "api"] before matching. */
  readonly words: string[];
  /** The raw text after the slash-command, for actions that take the rest of the line. */
  readonly raw: string;
}

/**
 * Parses "/cmd@bot args…". Returns null when the text is not a command, or is addressed to
 * another bot in a group.
 */
export function parseCommandLine(text: string, botUsername?: string): CommandLine | null {
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?=\s|$)/.exec(text);
  if (!m) return null;
  if (m[2] && botUsername && m[2].toLowerCase() !== botUsername.toLowerCase()) return null;
  const raw = text.slice(m[0].length).trim();
  return { words: [m[1]!.toLowerCase(), ...tokenize(raw)], raw };
}

interface UsageArg {
  readonly name: string;
  readonly optional: boolean;
  readonly rest: boolean;
  /** "-c" for `[-c context]` */
  readonly flag?: string;
}

/** Reads a usage string like `<container> [lines] [-n namespace] [text...]`. */
export function parseUsage(usage: string): UsageArg[] {
  const out: UsageArg[] = [];
  const re =
    /<([a-z][\w-]*)(\.\.\.|…)?>|\[(-[a-zA-Z]|--[a-z][\w-]*)(?:\s+([a-z][\w-]*))?\]|\[([a-z][\w-]*)(\.\.\.|…)?\]/g;
  for (const m of usage.matchAll(re)) {
    if (m[1]) out.push({ name: m[1], optional: false, rest: Boolean(m[2]) });
    else if (m[3]) out.push({ name: m[4] ?? m[3].replace(/^-+/, ''), optional: true, rest: false, flag: m[3] });
    else if (m[5]) out.push({ name: m[5], optional: true, rest: Boolean(m[6]) });
  }
  return out;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Maps the argument text onto usage arguments: flags (before any rest argument), then
 * positionals in order; a `rest` argument takes the remainder of the line exactly as typed.
 * Flags without a value name become `true`. Too many tokens is an error, so typos don't
 * pass silently.
 */
export function bindArgs(usage: string, raw: string): Record<string, unknown> {
  const spec = parseUsage(usage);
  const flags = new Map(spec.filter((a) => a.flag).map((a) => [a.flag!, a]));
  const positional = spec.filter((a) => !a.flag);
  const tokens = tokenizeSpans(raw);
  const out: Record<string, unknown> = {};
  let p = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const f = flags.get(t.value);
    if (f) {
      if (f.name !== f.flag!.replace(/^-+/, '')) {
        const v = tokens[i + 1];
        if (v === undefined) throw new UsageError(`${t.value} needs a value`);
        out[f.name] = v.value;
        i++;
      } else out[f.name] = true;
      continue;
    }
    const a = positional[p++];
    if (!a) throw new UsageError(`unexpected argument ${JSON.stringify(truncate(t.value, 40))}`);
    if (a.rest) {
      out[a.name] = raw.slice(t.start).trimEnd();
      break;
    }
    out[a.name] = t.value;
  }
  return out;
}
