/**
 * K8S_IMPERSONATE: who each Telegram user acts as in Kubernetes. Every request made for that
 * person carries `Impersonate-User` (and `Impersonate-Group`), so the cluster's own RBAC is the
 * boundary and its audit log names the person; the bot's account needs only `impersonate` on
 * exactly those users and groups. Background work (watchers, health) stays the bot's own.
 */
import { z } from 'zod';
import { ActionError, type Operator } from '../../core/action.js';

export interface KubeIdentity {
  readonly user: string;
  /** One group: the client library sends headers as single values, so several would arrive as one name. */
  readonly group?: string;
}

/** Telegram user id → Kubernetes identity; empty: everyone acts as the bot's own account. */
export type Impersonation = ReadonlyMap<number, KubeIdentity>;

/**
 * A Kubernetes user or group name as K8S_IMPERSONATE takes it: what identity providers issue
 * (alice, alice@example.com, system:serviceaccount:ns:name, oidc:alice) — no spaces, commas,
 * "=" or control characters, which a header or this setting's syntax could not carry.
 */
const SUBJECT = /^[A-Za-z0-9][A-Za-z0-9._@:+/-]{0,252}$/;

/** One entry: `<telegram user id>:<kubernetes user>[:group=<group>]`. */
function parseEntry(entry: string): [number, KubeIdentity] | string {
  const m = /^(\d{1,15}):(.+?)(?::group=(.*))?$/.exec(entry);
  if (!m) return `"${entry.slice(0, 80)}" is not <telegram user id>:<kubernetes user>[:group=<group>]`;
  const [, id, user, group] = m as unknown as [string, string, string, string | undefined];
  if (!SUBJECT.test(user)) return `"${user.slice(0, 80)}" is not a Kubernetes user name`;
  if (group !== undefined && !SUBJECT.test(group)) return `"${group.slice(0, 80)}" is not a Kubernetes group name`;
  return [Number(id), group === undefined ? { user } : { user, group }];
}

export const impersonationSetting = z.string().transform((s, ctx): Impersonation => {
  const map = new Map<number, KubeIdentity>();
  for (const entry of s
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const parsed = parseEntry(entry);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    if (map.has(parsed[0])) {
      ctx.addIssue({ code: 'custom', message: `user id ${parsed[0]} is mapped twice` });
      return z.NEVER;
    }
    map.set(...parsed);
  }
  return map;
});

/**
 * Whom `operator` acts as: undefined when impersonation is off (the bot's own account). With it
 * on, someone who is not mapped has no way into the cluster: refused, not let through as the bot.
 */
export function identityOf(
  map: Impersonation,
  operator: Pick<Operator, 'userId' | 'display'>,
): KubeIdentity | undefined {
  if (map.size === 0) return undefined;
  const id = map.get(operator.userId);
  if (!id) {
    throw new ActionError(
      `${operator.display} has no Kubernetes identity: K8S_IMPERSONATE maps Telegram user ids to Kubernetes users`,
    );
  }
  return id;
}

/** The request headers that make the API server act as `id`. */
export const impersonationHeaders = (id: KubeIdentity | undefined): Record<string, string> =>
  id ? { 'Impersonate-User': id.user, ...(id.group ? { 'Impersonate-Group': id.group } : {}) } : {};
