/** Reading Kubernetes objects the way kubectl shows them: pod status, readiness, ages, roles. */
import type {
  CoreV1Event,
  V1Container,
  V1ContainerStatus,
  V1Node,
  V1Pod,
  V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { formatDuration } from '../../core/text.js';

/** Timestamps are Dates from list/read, strings from watch streams. */
function toMs(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export function age(t: Date | string | undefined | null, now: number): string {
  const ms = toMs(t);
  return ms === undefined ? '?' : formatDuration(now - ms);
}

/** Reasons that mean a pod is in trouble, as the alert watcher and the pod list see them. */
const BAD_WAITING = new Set([
  'CrashLoopBackOff',
  'ImagePullBackOff',
  'ErrImagePull',
  'CreateContainerConfigError',
  'CreateContainerError',
  'InvalidImageName',
  'RunContainerError',
]);

export type Health = 'ok' | 'pending' | 'bad' | 'done';

export interface PodSummary {
  /** Like kubectl's STATUS column: Running, CrashLoopBackOff, Init:ImagePullBackOff, … */
  readonly status: string;
  readonly health: Health;
  readonly ready: string;
  readonly restarts: number;
  /** "OOMKilled" when a container was last killed for memory. */
  readonly lastTermination?: string;
}

export function summarizePod(p: V1Pod): PodSummary {
  const statuses = p.status?.containerStatuses ?? [];
  const total = p.spec?.containers?.length ?? statuses.length;
  const readyCount = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const lastTermination = statuses.map((s) => s.lastState?.terminated?.reason).find((r) => r === 'OOMKilled');
  const base = { ready: `${readyCount}/${total}`, restarts, ...(lastTermination ? { lastTermination } : {}) };
  if (p.metadata?.deletionTimestamp) return { ...base, status: 'Terminating', health: 'pending' };
  for (const s of p.status?.initContainerStatuses ?? []) {
    const w = s.state?.waiting?.reason;
    if (w && w !== 'PodInitializing')
      return { ...base, status: `Init:${w}`, health: BAD_WAITING.has(w) ? 'bad' : 'pending' };
    const t = s.state?.terminated;
    if (t && t.exitCode !== 0) return { ...base, status: `Init:${t.reason ?? 'Error'}`, health: 'bad' };
  }
  const problem = containerProblem(statuses);
  if (problem) return { ...base, status: problem.reason, health: problem.bad ? 'bad' : 'pending' };
  const phase = p.status?.phase ?? 'Unknown';
  if (p.status?.reason) return { ...base, status: p.status.reason, health: phase === 'Failed' ? 'bad' : 'pending' };
  if (phase === 'Pending') {
    const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    return {
      ...base,
      status: sched?.status === 'False' && sched.reason ? `Pending (${sched.reason})` : 'Pending',
      health: 'pending',
    };
  }
  if (phase === 'Succeeded') return { ...base, status: 'Completed', health: 'done' };
  if (phase === 'Failed') return { ...base, status: 'Failed', health: 'bad' };
  if (phase === 'Running') {
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    return { ...base, status: 'Running', health: ready ? 'ok' : 'pending' };
  }
  return { ...base, status: phase, health: 'pending' };
}

function containerProblem(statuses: readonly V1ContainerStatus[]): { reason: string; bad: boolean } | undefined {
  for (const s of statuses) {
    const w = s.state?.waiting?.reason;
    if (w && w !== 'ContainerCreating') return { reason: w, bad: BAD_WAITING.has(w) };
    if (w) return { reason: w, bad: false };
    const t = s.state?.terminated;
    if (t && (t.reason === 'OOMKilled' || t.exitCode !== 0))
      return { reason: t.reason ?? `Error (${t.exitCode})`, bad: true };
  }
  return undefined;
}

export const HEALTH_ICON: Record<Health, string> = { ok: '🟢', pending: '🟡', bad: '🔴', done: '⚪' };

export function nodeRoles(n: V1Node): string {
  const roles = Object.keys(n.metadata?.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter((r) => r !== '');
  return roles.length ? roles.join(',') : '<none>';
}

export function nodeReady(n: V1Node): 'Ready' | 'NotReady' | 'Unknown' {
  const c = n.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return 'Unknown';
  return c.status === 'True' ? 'Ready' : c.status === 'False' ? 'NotReady' : 'Unknown';
}

/** MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable — the ones that are True. */
export function nodeProblems(n: V1Node): string[] {
  return (n.status?.conditions ?? []).filter((c) => c.type !== 'Ready' && c.status === 'True').map((c) => c.type);
}

export const images = (t: V1PodTemplateSpec | undefined): string =>
  (t?.spec?.containers ?? []).map((c: V1Container) => c.image ?? '?').join(', ');

export function eventTime(e: CoreV1Event): number {
  return (
    toMs(e.lastTimestamp) ??
    toMs(e.eventTime as Date | string | undefined) ??
    toMs(e.firstTimestamp) ??
    toMs(e.metadata?.creationTimestamp) ??
    0
  );
}

/** Warnings first, then newest first. */
export function sortEvents(events: readonly CoreV1Event[]): CoreV1Event[] {
  return [...events].sort(
    (a, b) => Number(b.type === 'Warning') - Number(a.type === 'Warning') || eventTime(b) - eventTime(a),
  );
}

/** "pod/web-1" for an event's object, lower-case like kubectl. */
export const involved = (e: CoreV1Event): string =>
  `${(e.involvedObject?.kind ?? '?').toLowerCase()}/${e.involvedObject?.name ?? '?'}`;
