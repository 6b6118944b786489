/**
 * What happens after a change: following a rollout to its end (bounded), finding the
 * ReplicaSet of a revision for a rollback (as `kubectl rollout undo` does), and saying who
 * will replace a deleted pod.
 */
import type {
  V1DaemonSet,
  V1Deployment,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { ActionError } from '../../core/action.js';
import { summarizePod } from './format.js';
import type { KubePort, WorkloadKind } from './port.js';
import { sleep } from '../../core/sleep.js';

export const REVISION = 'deployment.kubernetes.io/revision';
const HASH_LABEL = 'pod-template-hash';

export interface RolloutState {
  readonly done: boolean;
  /** The controller gave up (a deployment past its progress deadline): why, in its words. */
  readonly failed?: string;
  /** "3/3 ready, 3 updated, 3 available" */
  readonly summary: string;
}

function rolloutState(kind: WorkloadKind, o: V1Deployment | V1StatefulSet | V1DaemonSet): RolloutState {
  const observed = (o.status?.observedGeneration ?? 0) >= (o.metadata?.generation ?? 0);
  if (kind === 'daemonset') {
    const s = (o as V1DaemonSet).status;
    const want = s?.desiredNumberScheduled ?? 0;
    const updated = s?.updatedNumberScheduled ?? 0;
    const ready = s?.numberReady ?? 0;
    const available = s?.numberAvailable ?? 0;
    return {
      done: observed && updated === want && available === want,
      summary: `${ready}/${want} ready, ${updated} updated, ${available} available`,
    };
  }
  if (kind === 'statefulset') {
    const s = o as V1StatefulSet;
    const want = s.spec?.replicas ?? 1;
    const ready = s.status?.readyReplicas ?? 0;
    const updated = s.status?.updatedReplicas ?? 0;
    const revisionsMatch = !s.status?.updateRevision || s.status.currentRevision === s.status.updateRevision;
    return {
      done: observed && ready === want && updated === want && (s.status?.replicas ?? 0) === want && revisionsMatch,
      summary: `${ready}/${want} ready, ${updated} updated`,
    };
  }
  const d = o as V1Deployment;
  const want = d.spec?.replicas ?? 1;
  const ready = d.status?.readyReplicas ?? 0;
  const updated = d.status?.updatedReplicas ?? 0;
  const available = d.status?.availableReplicas ?? 0;
  const total = d.status?.replicas ?? 0;
  // As kubectl rollout status: past spec.progressDeadlineSeconds the controller says so here.
  const stalled = d.status?.conditions?.find(
    (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
  );
  return {
    done: observed && updated === want && total === want && available === want && ready === want,
    ...(observed && stalled ? { failed: stalled.message || 'progress deadline exceeded' } : {}),
    summary: `${ready}/${want} ready, ${updated} updated, ${available} available`,
  };
}

export interface FollowOptions {
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly signal: AbortSignal;
  /** Called after each look that did not end the follow, with what it saw. */
  readonly onProgress?: (state: RolloutState) => void;
}

export interface FollowResult extends RolloutState {
  readonly waitedMs: number;
  /** Pods of the workload that are in trouble when it did not finish: "web-1: ImagePullBackOff". */
  readonly problems: readonly string[];
}

/** Polls the workload until its rollout is complete or `timeoutMs` passes. */
export async function followRollout(
  port: KubePort,
  kind: WorkloadKind,
  namespace: string,
  name: string,
  o: FollowOptions,
): Promise<FollowResult> {
  const started = Date.now();
  for (;;) {
    const obj = await port.read(kind, namespace, name, { signal: o.signal });
    const state = rolloutState(kind, obj);
    const waitedMs = Date.now() - started;
    if (state.done) return { ...state, waitedMs, problems: [] };
    if (state.failed !== undefined || waitedMs >= o.timeoutMs || o.signal.aborted) {
      return {
        ...state,
        waitedMs,
        problems: await podProblems(port, namespace, obj.spec?.selector?.matchLabels, o.signal),
      };
    }
    o.onProgress?.(state);
    await sleep(Math.min(o.pollMs, o.timeoutMs - waitedMs), o.signal);
  }
}

/** Who owns a pod and brings it back after a delete. */
export type OwnerKind = 'replicaset' | 'statefulset' | 'daemonset';

/**
 * After a pod delete: polls the owner's pods (not its status, which lags) until it has as
 * many ready pods as it wants again, none of them the deleted one.
 */
export async function followPods(
  port: KubePort,
  kind: OwnerKind,
  namespace: string,
  name: string,
  deletedUid: string | undefined,
  o: FollowOptions,
): Promise<FollowResult> {
  const started = Date.now();
  for (;;) {
    const owner = await port.read(kind, namespace, name, { signal: o.signal });
    const want =
      kind === 'daemonset'
        ? ((owner as V1DaemonSet).status?.desiredNumberScheduled ?? 0)
        : ((owner as V1ReplicaSet | V1StatefulSet).spec?.replicas ?? 1);
    const labels = owner.spec?.selector?.matchLabels ?? {};
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = (
      await port.list('pod', namespace, { signal: o.signal, ...(selector ? { labelSelector: selector } : {}) })
    ).items.filter(
      (p) =>
        p.metadata?.uid !== deletedUid &&
        !p.metadata?.deletionTimestamp &&
        (p.metadata?.ownerReferences ?? []).some((r) => r.uid === owner.metadata?.uid),
    );
    const ready = pods.filter((p) => summarizePod(p).health === 'ok').length;
    const state = { done: ready >= want && pods.length === want, summary: `${ready}/${want} ready` };
    const waitedMs = Date.now() - started;
    if (state.done) return { ...state, waitedMs, problems: [] };
    if (waitedMs >= o.timeoutMs || o.signal.aborted)
      return { ...state, waitedMs, problems: await podProblems(port, namespace, labels, o.signal) };
    o.onProgress?.(state);
    await sleep(Math.min(o.pollMs, o.timeoutMs - waitedMs), o.signal);
  }
}

async function podProblems(
  port: KubePort,
  namespace: string,
  labels: Record<string, string> | undefined,
  signal: AbortSignal,
): Promise<string[]> {
  if (!labels || Object.keys(labels).length === 0) return [];
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  try {
    const pods = await port.list('pod', namespace, { labelSelector: selector, signal });
    return pods.items
      .map((p) => ({ name: p.metadata?.name ?? '?', s: summarizePod(p) }))
      .filter((x) => x.s.health !== 'ok' && x.s.health !== 'done')
      .slice(0, 3)
      .map((x) => `${x.name}: ${x.s.status}`);
  } catch {
    // Only colour for the report; the rollout's own state is already known.
    return [];
  }
}

export interface RollbackPlan {
  readonly deployment: V1Deployment;
  readonly fromRevision: number;
  readonly toRevision: number;
  readonly replicaSet: string;
  /** The target ReplicaSet's pod template, without the controller's hash label. */
  readonly template: V1PodTemplateSpec;
}

const revisionOf = (o: { metadata?: { annotations?: Record<string, string> } }) =>
  Number(o.metadata?.annotations?.[REVISION] ?? 0);

/**
 * Finds the ReplicaSet of `revision` (default: the one before the current) among those the
 * deployment owns, as `kubectl rollout undo --to-revision` does.
 */
export async function planRollback(
  port: KubePort,
  namespace: string,
  name: string,
  revision: number | undefined,
  signal: AbortSignal,
): Promise<RollbackPlan> {
  const deployment = await port.read('deployment', namespace, name, { signal });
  const uid = deployment.metadata?.uid;
  const owned = (await port.list('replicaset', namespace, { signal })).items.filter((rs: V1ReplicaSet) =>
    (rs.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller),
  );
  const current = revisionOf(deployment);
  const history = owned.map((rs) => ({ rs, rev: revisionOf(rs) })).filter((x) => x.rev > 0);
  const target =
    revision === undefined
      ? history.filter((x) => x.rev < current).sort((a, b) => b.rev - a.rev)[0]
      : history.find((x) => x.rev === revision);
  const where = `deployment ${namespace}/${name} (context ${port.context})`;
  if (!target) {
    const known =
      history
        .map((x) => x.rev)
        .sort((a, b) => a - b)
        .join(', ') || 'none';
    throw new ActionError(
      revision === undefined
        ? `${where} has no earlier revision to roll back to (revisions: ${known})`
        : `${where} has no revision ${revision} (revisions: ${known})`,
    );
  }
  if (target.rev === current) throw new ActionError(`${where} is already at revision ${current}`);
  const tpl = structuredClone(target.rs.spec?.template ?? {}) as V1PodTemplateSpec;
  if (tpl.metadata?.labels) delete tpl.metadata.labels[HASH_LABEL];
  return {
    deployment,
    fromRevision: current,
    toRevision: target.rev,
    replicaSet: target.rs.metadata?.name ?? '?',
    template: tpl,
  };
}

/** Image changes between two templates, per container: "nginx: nginx:1.25 → nginx:1.24". */
export function imageChanges(from: V1PodTemplateSpec | undefined, to: V1PodTemplateSpec): string[] {
  const before = new Map((from?.spec?.containers ?? []).map((c) => [c.name, c.image ?? '?']));
  return (to.spec?.containers ?? [])
    .filter((c) => before.get(c.name) !== c.image)
    .map((c) => `${c.name}: ${before.get(c.name) ?? '(new)'} → ${c.image ?? '?'}`);
}

export type Replacement =
  | { readonly kind: 'replicaset'; readonly name: string; readonly deployment?: string }
  | { readonly kind: 'statefulset' | 'daemonset' | 'job' | 'other'; readonly name: string; readonly ownerKind: string }
  | { readonly kind: 'none' };

/** Who brings a deleted pod back, from its controller owner reference. */
export async function replacementFor(port: KubePort, pod: V1Pod, signal: AbortSignal): Promise<Replacement> {
  const owner = (pod.metadata?.ownerReferences ?? []).find((r) => r.controller);
  if (!owner) return { kind: 'none' };
  switch (owner.kind) {
    case 'ReplicaSet': {
      let deployment: string | undefined;
      try {
        const rs = await port.read('replicaset', pod.metadata?.namespace, owner.name, { signal });
        deployment = rs.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment')?.name;
      } catch {
        // The deployment's name is a nicety; the ReplicaSet alone answers the question.
      }
      return { kind: 'replicaset', name: owner.name, ...(deployment ? { deployment } : {}) };
    }
    case 'StatefulSet':
      return { kind: 'statefulset', name: owner.name, ownerKind: owner.kind };
    case 'DaemonSet':
      return { kind: 'daemonset', name: owner.name, ownerKind: owner.kind };
    case 'Job':
      return { kind: 'job', name: owner.name, ownerKind: owner.kind };
    default:
      return { kind: 'other', name: owner.name, ownerKind: owner.kind };
  }
}
