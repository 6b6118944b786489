import { z } from 'zod';
import type { Names } from './action.js';
import { list } from './settings.js';

/**
 * Two-person approval (APPROVAL_QUORUM): rules `<action or *>[:<param>=<value>][@<place>]`,
 * comma-separated, e.g. `k8s.delete,k8s.scale:replicas=0,*@prod,docker.stop@edge`. A request
 * matching any rule needs two approvals by two distinct operators, neither of them its requester.
 * The place is the Kubernetes context or Docker host the request is bound to (its `context` or
 * `host` parameter, pinned before the approval is stored).
 */
export interface QuorumRule {
  readonly action: string;
  readonly param?: { readonly name: string; readonly value: string };
  readonly place?: string;
}

const NAME = '[A-Za-z0-9][A-Za-z0-9_-]*';
const RULE = new RegExp(
  `^(?<action>\\*|${NAME}(?:\\.${NAME})*)(?::(?<param>[A-Za-z_][A-Za-z0-9_]*)=(?<value>[^\\s,:=@]+))?` +
    // A context or a host: never `/`, which would name a namespace no request is bound to.
    `(?:@(?<place>[^\\s,/]+))?$`,
);

const rule = z
  .string()
  .regex(RULE, { message: 'is not <action or *>[:<param>=<value>][@<context or host>]' })
  .transform((s): QuorumRule => {
    const g = RULE.exec(s)!.groups!;
    return {
      action: g.action!,
      ...(g.param !== undefined ? { param: { name: g.param, value: g.value! } } : {}),
      ...(g.place !== undefined ? { place: g.place } : {}),
    };
  });

/** The setting: every rule valid, or one line naming the first bad one. */
export const quorumRules = list.transform((items, ctx) => {
  const out: QuorumRule[] = [];
  for (const item of items) {
    const r = rule.safeParse(item);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: `"${item}" ${r.error.issues[0]!.message}` });
      return z.NEVER;
    }
    out.push(r.data);
  }
  return out;
});

/** A parameter as a rule names it: strings as they are, numbers and booleans as written. */
const asWritten = (v: unknown): string | undefined =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;

/** Whether a rule holds for a request: its parameter as written, or what that stands for (`names`). */
export function matches(
  r: QuorumRule,
  action: string,
  params: Readonly<Record<string, unknown>>,
  names?: Names,
): boolean {
  if (r.action !== '*' && r.action !== action) return false;
  const p = r.param;
  if (p && asWritten(params[p.name]) !== p.value && !names?.[p.name]?.includes(p.value)) return false;
  if (r.place !== undefined && asWritten(params.context) !== r.place && asWritten(params.host) !== r.place)
    return false;
  return true;
}

/** Rules naming an action `known` does not know: a typo would silently leave it to one operator. */
export function unknownActions(rules: readonly QuorumRule[], known: (action: string) => boolean): string[] {
  return [...new Set(rules.map((r) => r.action).filter((a) => a !== '*' && !known(a)))];
}

/** How many distinct operators must approve this request: 2 when a rule names it, else 1. */
export function quorumOf(
  rules: readonly QuorumRule[],
  action: string,
  params: Readonly<Record<string, unknown>>,
  names?: Names,
): 1 | 2 {
  return rules.some((r) => matches(r, action, params, names)) ? 2 : 1;
}

/** Whether a rule names a parameter of this action: only then are its names worth asking the target. */
export const namesParams = (rules: readonly QuorumRule[], action: string): boolean =>
  rules.some((r) => r.param !== undefined && (r.action === '*' || r.action === action));
