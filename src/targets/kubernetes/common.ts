/** What the Kubernetes actions share: their dependencies, parameter schemas and reply pieces. */
import { z } from 'zod';
import type { ActionContext } from '../../core/action.js';
import { text, value, type Span } from '../../core/result.js';
import type { LiveRollouts } from './live.js';
import {
  CONTEXT_NAME,
  DNS_LABEL,
  DNS_SUBDOMAIN,
  parseFlags,
  SCOPE_FLAGS,
  scopeParams,
  type FlagSpec,
  type ParsedArgs,
} from './names.js';
import { resolveScope, type KubeClusters, type Scope, type ScopeParams } from './scope.js';

export interface KubeActionDeps {
  readonly clusters: KubeClusters;
  /** K8S_READ_ONLY: mutating actions and their buttons do not exist. */
  readonly readOnly: boolean;
  /** K8S_MAX_REPLICAS */
  readonly maxReplicas: number;
  /** How long a mutating action follows the rollout before reporting (default 60 s). */
  readonly rolloutTimeoutMs?: number;
  /** How often it looks (default 2 s). */
  readonly rolloutPollMs?: number;
  /** Where rollouts are followed in the background, as live cards. */
  readonly live: LiveRollouts;
  readonly now?: () => number;
}

export const TARGET = 'kubernetes';

export const contextSchema = z
  .string()
  .max(253)
  .regex(CONTEXT_NAME, 'not a valid context name')
  .describe("kubeconfig context; default: the chat's current context");
export const namespaceSchema = z
  .string()
  .max(63)
  .regex(DNS_LABEL, 'not a valid namespace name')
  .describe("namespace; default: the chat's current namespace");
export const objectNameSchema = z
  .string()
  .max(253)
  .regex(DNS_SUBDOMAIN, 'not a valid object name (lower-case letters, digits, "-" and ".")');
export const labelNameSchema = z
  .string()
  .max(63)
  .regex(DNS_LABEL, 'not a valid name (lower-case letters, digits and "-")');

/** `context` and `namespace`, optional on every action. */
export const scopeShape = { context: contextSchema.optional(), namespace: namespaceSchema.optional() };

export const scopeOf = (deps: KubeActionDeps, ctx: ActionContext, p: ScopeParams): Scope =>
  resolveScope(deps.clusters, ctx.chat, p, ctx.operator);

/** " in shop @ prod" — every reply names where it acted. */
export const where = (s: Pick<Scope, 'context' | 'namespace'>): Span[] => [
  text(' in '),
  value(s.namespace),
  text(' @ '),
  value(s.context),
];

/** "deployment shop/web @ prod" for subjects, from params that may not name the scope. */
export function subjectOf(kind: string, name: string, p: ScopeParams): string {
  return `${kind} ${p.namespace ? `${p.namespace}/` : ''}${name}${p.context ? ` @ ${p.context}` : ''}`;
}

/** Parses flags (always `-c/-n`, plus `extra`) for a command's `parse`. */
export function flags(tokens: readonly string[], extra: FlagSpec = {}): ParsedArgs {
  return parseFlags(tokens, {
    values: { ...SCOPE_FLAGS, ...extra.values },
    ...(extra.switches ? { switches: extra.switches } : {}),
  });
}

export { scopeParams };

/** How long and how often a mutating action follows its rollout. */
export function rolloutOptions(deps: KubeActionDeps, signal: AbortSignal) {
  return { timeoutMs: deps.rolloutTimeoutMs ?? 60_000, pollMs: deps.rolloutPollMs ?? 2_000, signal };
}

/** Button labels carry object names; Telegram shows them as plain text, but keep them short. */
export const short = (s: string, max = 24): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** At most this many objects get a row of buttons under a list. */
export const MAX_BUTTON_ROWS = 8;
/** At most this many objects are listed in one reply. */
export const MAX_LIST = 40;
