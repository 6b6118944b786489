import { requiredRole, ROLE_RANK, type AnyAction, type Role } from './action.js';
import type { ChatScope } from './scopes.js';
import { bindArgs, tokenize, UsageError, type CommandLine } from './commands.js';
import { closest } from './suggest.js';
import { oneLine } from './text.js';

export interface CommandMatch {
  readonly action: AnyAction;
  /** Raw params for the action's schema. */
  readonly params: Record<string, unknown>;
}

export type CommandLookup =
  { kind: 'match'; match: CommandMatch } | { kind: 'unknown'; message: string } | { kind: 'usage'; message: string };

/** A slash command for Telegram's menu, derived from the actions. */
export interface MenuCommand {
  readonly command: string;
  readonly description: string;
}

const key = (words: readonly string[]) => words.join(' ');

/**
 * Actions that exist only with something this deployment lacks (the summaries need an LLM):
 * their spellings are still known, so typing one says what is missing instead of "not a
 * command", or, worse, being read as arguments of another command.
 */
export interface Unavailable {
  readonly actions: readonly AnyAction[];
  /** Completes "/docker summary …": "needs an LLM, and none is configured (…)". */
  readonly reason: string;
}

type Suffixes = Map<string, { word: string; action: AnyAction }[]>;

/**
 * The one list of capabilities. Commands, help, menus, buttons, LLM tools and policy are
 * all derived from it; nothing else names actions.
 */
export class Registry {
  private readonly byName = new Map<string, AnyAction>();
  private readonly byCommand = new Map<string, AnyAction>();
  /** Spellings that match only with nothing after them (`command.bare`). */
  private readonly byBare = new Map<string, AnyAction>();
  /** "docker logs" → the actions spelled "/docker logs … <word>". */
  private readonly bySuffix: Suffixes = new Map();
  private readonly offCommand = new Map<string, AnyAction>();
  private readonly offSuffix: Suffixes = new Map();
  private readonly offReason: string;

  constructor(actions: readonly AnyAction[], opts: { unavailable?: Unavailable } = {}) {
    for (const a of actions) {
      if (this.byName.has(a.name)) throw new Error(`duplicate action ${a.name}`);
      this.byName.set(a.name, a);
      index(a, this.byCommand, this.bySuffix);
      const bare = a.command?.bare;
      if (bare) {
        const other = this.byBare.get(key(bare));
        if (other) throw new Error(`a bare /${key(bare)} is claimed by both ${other.name} and ${a.name}`);
        this.byBare.set(key(bare), a);
      }
    }
    this.offReason = opts.unavailable?.reason ?? '';
    for (const a of opts.unavailable?.actions ?? []) index(a, this.offCommand, this.offSuffix);
  }

  get(name: string): AnyAction | undefined {
    return this.byName.get(name);
  }

  list(): AnyAction[] {
    return [...this.byName.values()];
  }

  /** Actions a role may use, e.g. for the LLM's tool list; with a chat's scope, only those it sees. */
  allowedFor(role: Role, scope?: Pick<ChatScope, 'sees'>): AnyAction[] {
    return this.list().filter((a) => ROLE_RANK[role] >= ROLE_RANK[requiredRole(a)] && (scope?.sees(a) ?? true));
  }

  /** Longest command path wins: "/docker ps x" is docker.ps with "x", not a bare /docker. */
  lookup(line: CommandLine): CommandLookup {
    const words = line.words.map((w) => w.toLowerCase());
    const bare = line.raw === '' ? this.byBare.get(key(words)) : undefined;
    if (bare) return { kind: 'match', match: { action: bare, params: {} } };
    const suffixed = this.lookupSuffix(line);
    if (suffixed) return suffixed;
    for (let n = Math.min(3, words.length); n >= 1; n--) {
      const k = key(words.slice(0, n));
      const off = this.offCommand.get(k);
      if (off) return { kind: 'unknown', message: oneLine(`/${k} ${this.offReason}.`) };
      const a = this.byCommand.get(k);
      if (!a) continue;
      // "/docker frobnicate" is a mistyped verb, not the bare "/docker" alias with an argument;
      // "/docker @edge" or "/docker -a" is the alias: a place or a flag is never a verb.
      const bareAlias = n === 1 && a.command!.path.length > 1;
      const verbLike = words.length > 1 && !/^[@-]/.test(words[1]!);
      if (bareAlias && verbLike && this.verbsOf(words[0]!).length > 0) break;
      const rawArgs = skipWords(line.raw, n - 1);
      try {
        const params = a.command?.parse
          ? a.command.parse(tokenize(rawArgs), rawArgs)
          : bindArgs(a.command?.usage ?? '', rawArgs);
        return { kind: 'match', match: { action: a, params } };
      } catch (e) {
        if (e instanceof UsageError) return { kind: 'usage', message: `${oneLine(e.message)}. Usage: ${usageOf(a)}` };
        throw e;
      }
    }
    return { kind: 'unknown', message: oneLine(this.unknown(words)) };
  }

  /** Why `words` is not a command, with what was most likely meant. */
  private unknown(words: readonly string[]): string {
    const [top, verb] = [words[0]!, words[1]];
    const verbs = this.verbsOf(top);
    if (verbs.length > 0) {
      if (verb === undefined) return `/${top} needs one of: ${verbs.join(', ')}.`;
      const near = closest(verb, [...verbs, ...this.verbsOf(top, this.offCommand)]);
      const meant = near.length > 0 ? ` Did you mean ${near.map((v) => `/${top} ${v}`).join(' or ')}?` : '';
      return `/${top} ${verb} is not a command.${meant} Try one of: ${verbs.join(', ')}.`;
    }
    const tops = [...this.byCommand.keys(), ...this.offCommand.keys()].map((k) => k.split(' ')[0]!);
    const near = closest(top, tops);
    const meant = near.length > 0 ? ` Did you mean ${near.map((t) => `/${t}`).join(' or ')}?` : '';
    // A whole command family missing is most often an integration that is off (no kubeconfig, say).
    return `/${top} is not a command.${meant} /help lists them; /status shows which integrations are off.`;
  }

  private lookupSuffix(line: CommandLine): CommandLookup | undefined {
    const words = line.words.map((w) => w.toLowerCase());
    const last = words.at(-1);
    for (let n = Math.min(3, words.length - 1); n >= 1; n--) {
      const k = key(words.slice(0, n));
      if (this.offSuffix.get(k)?.some((s) => s.word === last))
        return { kind: 'unknown', message: oneLine(`/${k} … ${last} ${this.offReason}.`) };
      const hit = this.bySuffix.get(k)?.find((s) => s.word === last);
      if (!hit) continue;
      const rawArgs = skipWords(line.raw, n - 1).replace(/\s*\S+\s*$/, '');
      try {
        return {
          kind: 'match',
          match: { action: hit.action, params: bindArgs(hit.action.command?.usage ?? '', rawArgs) },
        };
      } catch (e) {
        if (e instanceof UsageError)
          return { kind: 'usage', message: `${oneLine(e.message)}. Usage: ${usageOf(hit.action)}` };
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

  private verbsOf(top: string, from: ReadonlyMap<string, AnyAction> = this.byCommand): string[] {
    return [...new Set([...from.keys()].filter((k) => k.startsWith(`${top} `)).map((k) => k.split(' ')[1]!))];
  }

  /** Every command spelling a role may use ("/docker ps", "/ps"), e.g. for tab completion. */
  spellings(role: Role): string[] {
    return this.allowedFor(role).flatMap((a) =>
      a.command ? [a.command.path, ...(a.command.aliases ?? [])].map((w) => `/${key(w)}`) : [],
    );
  }

  /** Names `/help <group>` takes: each target and each command word that has verbs ("k8s"). */
  groups(role: Role, scope?: Pick<ChatScope, 'sees'>): string[] {
    const out = new Set<string>();
    for (const a of this.allowedFor(role, scope)) {
      if (!a.command) continue;
      out.add(a.target);
      if (a.command.path.length > 1) out.add(a.command.path[0]!);
    }
    return [...out];
  }

  /**
   * Help text lines grouped by target, each: usage, summary, and what it takes to run; with
   * `group`, only that target's or that command word's ("/help k8s").
   */
  help(
    role: Role,
    group?: string,
    scope?: Pick<ChatScope, 'sees'>,
  ): { target: string; lines: { usage: string; summary: string; risk: AnyAction['risk'] }[] }[] {
    const groups = new Map<string, { usage: string; summary: string; risk: AnyAction['risk'] }[]>();
    for (const a of this.allowedFor(role, scope)) {
      if (!a.command) continue;
      if (group !== undefined && a.target !== group && a.command.path[0] !== group) continue;
      const g = groups.get(a.target) ?? [];
      g.push({ usage: usageOf(a), summary: a.summary, risk: a.risk });
      groups.set(a.target, g);
    }
    return [...groups].map(([target, lines]) => ({ target, lines }));
  }
}

export const usageOf = (a: AnyAction): string =>
  a.command ? `/${a.command.path.join(' ')}${a.command.usage ? ` ${a.command.usage}` : ''}` : a.name;

/** Adds an action's spellings to the maps a lookup reads; two actions never share one. */
function index(a: AnyAction, byCommand: Map<string, AnyAction>, bySuffix: Suffixes): void {
  const spellings = a.command ? [a.command.path, ...(a.command.aliases ?? [])] : [];
  for (const words of spellings) {
    const k = key(words);
    const other = byCommand.get(k);
    if (other) throw new Error(`/${k} is claimed by both ${other.name} and ${a.name}`);
    byCommand.set(k, a);
  }
  if (a.command?.suffix) {
    const k = key(a.command.suffix.path);
    bySuffix.set(k, [...(bySuffix.get(k) ?? []), { word: a.command.suffix.word.toLowerCase(), action: a }]);
  }
}

/** Drops the first n whitespace-separated words of s (the command words already matched). */
function skipWords(s: string, n: number): string {
  let rest = s;
  for (let i = 0; i < n; i++) rest = rest.replace(/^\s*\S+/, '');
  return rest.trim();
}
