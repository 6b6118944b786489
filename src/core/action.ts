import type { z } from 'zod';
import type { Block, Result } from './result.js';
import type { Upload } from './uploads.js';

/** Fixed in code per action, never taken from a request or an LLM. */
export type Risk = 'read' | 'write' | 'destructive';
export type Role = 'viewer' | 'operator' | 'admin';
/** `agent`: asked by a target's own process on a person's behalf (an agent session's tool call). */
/** Names a request's parameters stand for, by parameter (`{ container: ['web'] }`). */
export type Names = Readonly<Record<string, readonly string[]>>;

export type Origin = 'command' | 'button' | 'ai' | 'console' | 'alert' | 'agent';

export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** The role an action needs unless it says otherwise: viewers read, operators change things. */
export const defaultRole = (risk: Risk): Role => (risk === 'read' ? 'viewer' : 'operator');

export interface Operator {
  /** Telegram user id; 0 for the local console user. */
  readonly userId: number;
  /** Telegram chat id; 0 for the console. */
  readonly chatId: number;
  readonly role: Role;
  /** For cards and audit: "@name" or the numeric id. */
  readonly display: string;
}

/** Small per-chat key/value memory, e.g. the chat's current Kubernetes context. */
export interface ChatState {
  get(key: string): string | undefined;
  set(key: string, value: string | undefined): void;
}

export interface ActionContext {
  readonly operator: Operator;
  readonly origin: Origin;
  /** Aborted when the action's timeout passes or the process shuts down. */
  readonly signal: AbortSignal;
  readonly chat: ChatState;
  /** Says what a long run is doing ("waiting up to 10 s for web to stop"); shown while it runs. */
  readonly progress?: (text: string) => void;
  /** Files the person sent with this request; only an action with `uploads: true` gets them. */
  readonly uploads?: readonly Upload[];
  /**
   * Whether a place of the action's target is in the chat's scope (core/scopes.ts); absent
   * when the chat has none. An action that lists many places shows only these.
   */
  readonly within?: (place: string) => boolean;
}

/** How an action is spelled as a slash command. */
export interface CommandSpec {
  /** Words after the slash, e.g. ['docker', 'restart']. */
  readonly path: readonly string[];
  /**
   * Arguments as shown in help, and (unless `parse` is given) how tokens map to params:
   * `<name>` required, `[name]` optional, `<name...>` / `[name...]` the rest of the line as typed,
   * `[-c name]` a flag taking a value.
   */
  readonly usage?: string;
  /** Whole alternative spellings, e.g. [['ps']] for /ps. */
  readonly aliases?: readonly (readonly string[])[];
  /**
   * A spelling that means this action only when nothing follows it, where the same words with
   * arguments are another action: ['agent'] for /agent ls, while "/agent <name> <prompt…>" prompts.
   */
  readonly bare?: readonly string[];
  /**
   * Another action's spelling with a closing word that means this one, e.g.
   * `{ path: ['docker', 'logs'], word: 'summarize' }`: "/docker logs api 200 summarize".
   */
  readonly suffix?: { readonly path: readonly string[]; readonly word: string };
  /**
   * Custom mapping from the arguments to raw params (validated by the schema after);
   * `raw` is the argument text exactly as typed.
   */
  readonly parse?: (tokens: readonly string[], raw: string) => Record<string, unknown>;
}

export interface Action<S extends z.ZodType = z.ZodType> {
  /** Dotted name, e.g. "docker.restart"; also the audit and metrics label. */
  readonly name: string;
  /** One line, shown in help and given to the LLM as the tool description. */
  readonly summary: string;
  /** The target kind this touches ("core", "docker", "kubernetes", "tmux", ...): groups help. */
  readonly target: string;
  readonly risk: Risk;
  /** Defaults to `defaultRole(risk)`; e.g. shell raises it to admin. */
  readonly minRole?: Role;
  /** Parameters; an object schema. Bad input is refused before anything runs. */
  readonly params: S;
  readonly command?: CommandSpec;
  readonly timeoutMs?: number;
  /** Offered to the LLM as a tool (default true). */
  readonly llm?: boolean;
  /** Takes files a person sends with the request (`ctx.uploads`); other actions refuse them. */
  readonly uploads?: boolean;
  /** What the action acts on, for the audit entry and the approval card ("container api"). */
  readonly subject?: (params: z.output<S>) => string;
  /**
   * Fixes ambient state into the validated params before anything else sees them (e.g. the
   * chat's current Kubernetes context), so an approved request runs exactly as its card said.
   */
  readonly bind?: (ctx: ActionContext, params: z.output<S>) => z.output<S>;
  /**
   * The places this request acts on, after `bind` (a host, "prod/payments", a session name), as
   * the target's scoping matches them; checked against the chat's scope before anything runs.
   * Empty: many places, each filtered with `ctx.within`. Absent on a scoped target: only a scope
   * granting all its places allows it.
   */
  readonly where?: (ctx: ActionContext, params: z.output<S>) => readonly string[] | Promise<readonly string[]>;
  /**
   * What the request's names stand for on the target, by parameter: a container's id prefix as
   * the container's name, a session's alias as its name. An APPROVAL_QUORUM rule naming a value
   * then holds however the request spells it; asked only when a rule names a parameter.
   */
  readonly names?: (ctx: ActionContext, params: z.output<S>) => Promise<Names>;
  /**
   * Params that can hold a secret (a password typed at a prompt), and whether they do in this
   * request, decided in code before anything is recorded: the audit, logs and cards then hold
   * `[secret, N chars]`. Before `when` can be asked (a refused request) they are always masked.
   */
  readonly secret?: {
    readonly params: readonly string[];
    /** True when this request's values are secrets; throwing counts as true (fail closed). */
    readonly when: (ctx: ActionContext, params: z.output<S>) => Promise<boolean>;
  };
  /**
   * Fixes into the params what the request leaves to the moment it runs (the previous revision,
   * the containers of a project), before its approval card is made: an approved request then
   * acts on what its card showed, or is refused. Asked only when a card is made.
   */
  readonly settle?: (ctx: ActionContext, params: z.output<S>) => Promise<z.output<S>>;
  /** Extra lines for the approval card: current state, a dry-run preview. */
  readonly preview?: (ctx: ActionContext, params: z.output<S>) => Promise<readonly Block[]>;
  readonly run: (ctx: ActionContext, params: z.output<S>) => Promise<Result>;
}

/** An action with its parameter type erased, as the registry holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAction = Action<any>;

/** Keeps the parameter type inside the definition while the registry sees `AnyAction`. */
export const defineAction = <S extends z.ZodType>(action: Action<S>): AnyAction => action;

/**
 * A failure the operator should read as is ("no container named x; did you mean y?").
 * Anything else thrown by an action is reported as an internal error with a reference.
 */
export class ActionError extends Error {
  override readonly name = 'ActionError';
}

/** How a secret parameter is recorded and shown: its length, never its text. */
export const maskSecret = (v: unknown): string => `[secret, ${Array.from(String(v)).length} chars]`;

/** `params` with the named ones masked. */
export function maskParams(params: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out = { ...params };
  for (const n of names) if (n in out) out[n] = maskSecret(out[n]);
  return out;
}

export const requiredRole = (a: AnyAction): Role => a.minRole ?? defaultRole(a.risk);
export const mutates = (a: Pick<AnyAction, 'risk'>): boolean => a.risk !== 'read';
