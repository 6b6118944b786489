import { z } from 'zod';
import { mutates, type AnyAction } from './action.js';
import type { CardInfo } from './result.js';

/**
 * Per-chat scopes (SCOPES, or scopes.yaml): which places of which targets a chat may see and
 * act on, and where only read. A chat without a scope sees everything its people's roles allow.
 * A scoped chat sees the targets its scope names, and there only the places it names; core's
 * own actions (help, status, audit…) stay. Enforced by the dispatcher on every request, whatever
 * its origin; help, the LLM's tools and alerts follow the same answer.
 */

/** How a target's places are written and matched in a scope; its module declares it. */
export interface Scoping {
  /** The word for the target in SCOPES ("k8s"); default the module's name. */
  readonly word?: string;
  /** What one place is, for errors ("a host name"). */
  readonly what: string;
  /** Why `pattern` is not a place of this target; undefined when it is one. */
  check(pattern: string): string | undefined;
  /** Whether a place a request names (a host, "prod/payments", a session) is inside `pattern`. */
  covers(pattern: string, place: string): boolean;
}

/** One line of a chat's scope: a target, its places (`*`: all of them), and whether read-only there. */
export interface Grant {
  readonly word: string;
  readonly places: readonly string[];
  readonly readOnly: boolean;
}

export type ScopeRules = ReadonlyMap<number, readonly Grant[]>;

/** Every place of a target. */
export const EVERY_PLACE = '*';

const CHAT = /^-?\d{1,20}$/;
const WORD = /^[a-z][a-z0-9_-]*$/;
export const SCOPES_SYNTAX = '<chat id>=<target>:<place>[,<place>…][:ro][;<target>:…]';

function chatId(s: string): number {
  if (!CHAT.test(s) || !Number.isSafeInteger(Number(s))) throw new Error(`"${s}" is not a numeric chat id`);
  return Number(s);
}

function grant(word: string, places: readonly string[], readOnly: boolean): Grant {
  if (!WORD.test(word)) throw new Error(`"${word}" is not a target word`);
  const kept = places.map((p) => p.trim()).filter((p) => p !== '');
  if (kept.length === 0) throw new Error(`${word} names no place (use ${EVERY_PLACE} for all)`);
  return { word, places: kept, readOnly };
}

/** The SCOPES setting: chats separated by whitespace, each `<chat>=<grant>;<grant>…`. */
export function parseScopes(s: string): Map<number, Grant[]> {
  const out = new Map<number, Grant[]>();
  for (const entry of s.split(/\s+/).filter((e) => e !== '')) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`"${entry.slice(0, 80)}" is not ${SCOPES_SYNTAX}`);
    const chat = chatId(entry.slice(0, eq));
    if (out.has(chat)) throw new Error(`chat ${chat} is scoped twice`);
    const grants = entry
      .slice(eq + 1)
      .split(';')
      .filter((g) => g !== '')
      .map((g) => {
        const colon = g.indexOf(':');
        if (colon < 0) throw new Error(`"${g.slice(0, 80)}" is not <target>:<place>[,<place>…][:ro]`);
        const rest = g.slice(colon + 1);
        const readOnly = rest.endsWith(':ro');
        return grant(g.slice(0, colon), (readOnly ? rest.slice(0, -3) : rest).split(','), readOnly);
      });
    if (grants.length === 0) throw new Error(`chat ${chat} has an empty scope`);
    out.set(chat, grants);
  }
  return out;
}

const places = z.union([z.string(), z.array(z.string())]).transform((p) => (typeof p === 'string' ? [p] : p));
const fileGrant = z.union([places, z.object({ places, ro: z.boolean().default(false) }).strict()]);
const fileSchema = z.record(z.string(), z.record(z.string(), fileGrant));

/**
 * scopes.yaml, already read as YAML: `<chat id>: { <target>: <place> | [<place>…] | { places, ro } }`.
 * A place here is taken whole (a pattern may hold commas).
 */
export function scopesFromFile(doc: unknown): Map<number, Grant[]> {
  const parsed = fileSchema.safeParse(doc ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`${i.path.join('.') || 'the file'}: ${i.message}`);
  }
  const out = new Map<number, Grant[]>();
  for (const [chat, targets] of Object.entries(parsed.data)) {
    const grants = Object.entries(targets).map(([word, g]) =>
      Array.isArray(g) ? grant(word, g, false) : grant(word, g.places, g.ro),
    );
    if (grants.length === 0) throw new Error(`chat ${chat} has an empty scope`);
    out.set(chatId(chat.trim()), grants);
  }
  return out;
}

/** A scoped target: its actions' `target` name, and how its places are matched. */
export interface ScopedTarget {
  readonly name: string;
  readonly scope?: Scoping;
}

/** Every word a scope may use, each pattern valid for its target; else the first problem. */
export function checkRules(rules: ScopeRules, targets: readonly ScopedTarget[]): string | undefined {
  const byWord = new Map(targets.map((t) => [t.scope?.word ?? t.name, t]));
  for (const [chat, grants] of rules) {
    for (const g of grants) {
      const t = byWord.get(g.word);
      if (!t) return `chat ${chat}: no target is called ${g.word} (targets: ${[...byWord.keys()].join(', ')})`;
      for (const p of g.places) {
        if (p === EVERY_PLACE) continue;
        const why = t.scope ? t.scope.check(p) : `${t.name} has no places to choose; give ${EVERY_PLACE}`;
        if (why !== undefined) return `chat ${chat}: ${g.word} "${p.slice(0, 80)}": ${why}`;
      }
    }
  }
  return undefined;
}

/** One chat's scope, asked by the dispatcher, help, the LLM's tool list and lists that filter. */
export class ChatScope {
  constructor(
    private readonly grants: readonly Grant[],
    private readonly targets: ReadonlyMap<string, ScopedTarget>,
  ) {}

  private of(target: string): readonly Grant[] {
    const t = this.targets.get(target);
    if (!t) return [];
    const word = t.scope?.word ?? t.name;
    return this.grants.filter((g) => g.word === word);
  }

  private covers(target: string, grants: readonly Grant[], place: string): boolean {
    const scope = this.targets.get(target)?.scope;
    return grants.some((g) => g.places.some((p) => p === EVERY_PLACE || (scope?.covers(p, place) ?? false)));
  }

  /** Whether the action's target is in this scope at all (and, for a change, somewhere not read-only). */
  sees(action: Pick<AnyAction, 'target' | 'risk'>): boolean {
    if (!this.targets.has(action.target)) return true;
    const grants = this.of(action.target);
    return mutates(action) ? grants.some((g) => !g.readOnly) : grants.length > 0;
  }

  /** Whether the scope grants every place of `target` (or the target is not scoped at all). */
  holdsAll(target: string): boolean {
    if (!this.targets.has(target)) return true;
    return this.of(target).some((g) => g.places.includes(EVERY_PLACE));
  }

  /** Whether `place` of `target` may be seen from this chat. */
  within(target: string, place: string): boolean {
    if (!this.targets.has(target)) return true;
    return this.covers(target, this.of(target), place);
  }

  /**
   * Why the action may not act on `places` from this chat, or undefined when it may. `places`
   * undefined: the action cannot say where it acts, so only a grant of every place allows it.
   */
  refusal(
    action: Pick<AnyAction, 'name' | 'target' | 'risk'>,
    places: readonly string[] | undefined,
  ): string | undefined {
    if (!this.targets.has(action.target)) return undefined;
    const word = this.targets.get(action.target)!.scope?.word ?? action.target;
    const all = this.of(action.target);
    if (all.length === 0) return `${word} is not in this chat's scope`;
    const usable = mutates(action) ? all.filter((g) => !g.readOnly) : all;
    const everywhere = usable.some((g) => g.places.includes(EVERY_PLACE));
    if (places === undefined) {
      if (everywhere) return undefined;
      return usable.length === 0 ? `${word} is read-only in this chat` : `${action.name} is not in this chat's scope`;
    }
    for (const place of places) {
      if (this.covers(action.target, usable, place)) continue;
      return this.covers(action.target, all, place)
        ? `${word} ${place} is read-only in this chat`
        : `${word} ${place} is not in this chat's scope`;
    }
    return undefined;
  }
}

/** Every chat's scope. */
export class Scopes {
  private readonly chats = new Map<number, ChatScope>();

  constructor(rules: ScopeRules, targets: readonly ScopedTarget[]) {
    const byName = new Map(targets.map((t) => [t.name, t]));
    for (const [chat, grants] of rules) this.chats.set(chat, new ChatScope(grants, byName));
  }

  /** The chat's scope; undefined when it has none (it sees everything its roles allow). */
  of(chatId: number): ChatScope | undefined {
    return this.chats.get(chatId);
  }

  /** Whether an alert about `place` of `target` goes to this chat; no place: any grant of the target. */
  shows(chatId: number, target: string, place: string | undefined): boolean {
    const scope = this.chats.get(chatId);
    if (!scope) return true;
    return place === undefined ? scope.sees({ target, risk: 'read' }) : scope.within(target, place);
  }
}

/**
 * Whether a live card may be shown in a chat with this scope (none: every card). One that does
 * not say what it is about goes only to chats without a scope; one about many places, only where
 * the scope holds all of them.
 */
export function showsCard(scope: ChatScope | undefined, about: CardInfo['about']): boolean {
  if (!scope) return true;
  if (!about) return false;
  return about.place === undefined ? scope.holdsAll(about.target) : scope.within(about.target, about.place);
}
