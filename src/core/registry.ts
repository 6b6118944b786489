import { requiredRole, ROLE_RANK, type AnyAction, type Role } from './action.js';
import { bindArgs, tokenize, UsageError, type CommandLine } from './commands.js';

export interface CommandMatch {
  readonly action: AnyAction;
  /** Raw params for the action's schema. */
  readonly params: Record<string, unknown>;
}

export type CommandLookup =
  | { kind: 'match'; match: CommandMatch }
  | { kind: 'unknown'; message: string }
  | { kind: 'usage'; message: string };

/** A slash command for Telegram's menu, derived from the actions. */
export interface MenuCommand {
  readonly command: string;
  readonly description: string;
}

const key = (words: readonly string[]) => words.join(' ');

/**
 * The one list of capabilities. Commands, help, menus, buttons, LLM tools and policy are
 * all derived from it; nothing else names actions.
 */
export class Registry {
  private readonly byName = new Map<string, AnyAction>();
  private readonly byCommand = new Map<string, AnyAction>();
  /** "docker logs" → the actions spelled "/docker logs … <word>". */
  private readonly bySuffix = new Map<string, { word: string; action: AnyAction }[]>();

  constructor(actions: readonly AnyAction[]) {
    for (const a of actions) {
      if (this.byName.has(a.name)) throw new Error(`duplicate action ${a.name}`);
      this.byName.set(a.name, a);
      const spellings = a.command ? [a.command.path, ...(a.command.aliases ?? [])] : [];
      for (const words of spellings) {
        const k = key(words);
        const other = this.byCommand.get(k);
        if (other) throw new Error(`/${k} is claimed by both ${other.name} and ${a.name}`);
        this.byCommand.set(k, a);
      }
      if (a.command?.suffix) {
        const k = key(a.command.suffix.path);
        this.bySuffix.set(k, [...(this.bySuffix.get(k) ?? []), { word: a.command.suffix.word.toLowerCase(), action: a }]);
      }
    }
  }

  get(name: string): AnyAction | undefined {
    return this.byName.get(name);
  }

  list(): AnyAction[] {
    return [...this.byName.values()];
  }

  /** Actions a role may use, e.g. for the LLM's tool list. */
  allowedFor(role: Role): AnyAction[] {
    return this.list().filter((a) => ROLE_RANK[role] >= ROLE_RANK[requiredRole(a)]);
  }

  /** Longest command path wins: "/docker ps x" is docker.ps with "x", not a bare /docker. */
  lookup(line: CommandLine): CommandLookup {
    const words = line.words;
    const suffixed = this.lookupSuffix(line);
    if (suffixed) return suffixed;
    for (let n = Math.min(3, words.length); n >= 1; n--) {
      const a = this.byCommand.get(key(words.slice(0, n).map((w) => w.toLowerCase())));
      if (!a) continue;
      // "/docker frobnicate" is a mistyped verb, not the bare "/docker" alias with an argument
      // (unless the action reads its own words and can say so better).
      const bareAlias = n === 1 && a.command!.path.length > 1 && !a.command!.parse;
      if (bareAlias && words.length > 1 && this.verbsOf(words[0]!.toLowerCase()).length > 0) break;
      const rawArgs = skipWords(line.raw, n - 1);
      try {
        const params = a.command?.parse ? a.command.parse(tokenize(rawArgs), rawArgs) : bindArgs(a.command?.usage ?? '', rawArgs);
        return { kind: 'match', match: { action: a, params } };
      } catch (e) {
        if (e instanceof UsageError) return { kind: 'usage', message: `${e.message}. Usage: ${usageOf(a)}` };
        throw e;
      }
    }
    const verbs = this.verbsOf(words[0]!.toLowerCase());
    if (verbs.length > 0) return { kind: 'unknown', message: `/${words[0]} ${words[1] ?? ''} is not a command. Try one of: ${verbs.join(', ')}.` };
    // A whole command family missing is most often an integration that is off (no kubeconfig, say).
    return { kind: 'unknown', message: `/${words[0]} is not a command. /help lists them; /status shows which integrations are off.` };
  }

  private lookupSuffix(line: CommandLine): CommandLookup | undefined {
    const last = line.words.at(-1)?.toLowerCase();
    for (let n = Math.min(3, line.words.length - 1); n >= 1; n--) {
      const hit = this.bySuffix.get(key(line.words.slice(0, n).map((w) => w.toLowerCase())))?.find((s) => s.word === last);
      if (!hit) continue;
      const rawArgs = skipWords(line.raw, n - 1).replace(/\s*\S+\s*$/, '');
      try {
        return { kind: 'match', match: { action: hit.action, params: bindArgs(hit.action.command?.usage ?? '', rawArgs) } };
      } catch (e) {
        if (e instanceof UsageError) return { kind: 'usage', message: `${e.message}. Usage: ${usageOf(hit.action)}` };
        throw e;
      }
    }
    return undefined;
  }

  /** Top-level commands for setMyCommands: one per group, plus aliases and built-ins. */
  menu(): MenuCommand[] {
    const seen = new Map<string, string>();
    for (const a of this.list()) {
      if (!a.command) continue;
      for (const words of [a.command.path, ...(a.command.aliases ?? [])]) {
        const top = words[0]!;
        if (seen.has(top)) continue;
        seen.set(top, words.length === 1 ? a.summary : `${a.target}: ${this.verbsOf(top).join(', ')}`);
      }
    }
    return [...seen].map(([command, description]) => ({ command, description: description.slice(0, 256) }));
  }

  private verbsOf(top: string): string[] {
    return [...this.byCommand.keys()].filter((k) => k.startsWith(`${top} `)).map((k) => k.split(' ')[1]!);
  }

  /** Help text lines grouped by target, each: usage, summary, and what it takes to run. */
  help(role: Role): { target: string; lines: { usage: string; summary: string; risk: AnyAction['risk'] }[] }[] {
    const groups = new Map<string, { usage: string; summary: string; risk: AnyAction['risk'] }[]>();
    for (const a of this.allowedFor(role)) {
      if (!a.command) continue;
      const g = groups.get(a.target) ?? [];
      g.push({ usage: usageOf(a), summary: a.summary, risk: a.risk });
      groups.set(a.target, g);
    }
    return [...groups].map(([target, lines]) => ({ target, lines }));
  }
}

export const usageOf = (a: AnyAction): string =>
  a.command ? `/${a.command.path.join(' ')}${a.command.usage ? ` ${a.command.usage}` : ''}` : a.name;

/** Drops the first n whitespace-separated words of s (the command words already matched). */
function skipWords(s: string, n: number): string {
  let rest = s;
  for (let i = 0; i < n; i++) rest = rest.replace(/^\s*\S+/, '');
  return rest.trim();
}
