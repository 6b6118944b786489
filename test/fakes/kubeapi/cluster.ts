/**
 * One fake cluster's state: objects by resource, a cluster-wide resourceVersion counter, the
 * change history that watches resume from (compactable, to produce 410 Gone), open
 * watchers, container logs, and the test controls that make things happen.
 */
import { createHash, randomUUID } from 'node:crypto';
import { reconcile } from './controllers.js';
import {
  NAMESPACED,
  RESOURCES,
  type Condition,
  type ContainerState,
  type ContainerStatus,
  type KObj,
  type Resource,
} from './types.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: Resource;
  readonly object: KObj;
}

export interface Watcher {
  readonly resource: Resource;
  readonly namespace?: string;
  readonly matches: (o: KObj) => boolean;
  send(type: ChangeType, object: KObj): void;
}

export interface LogLine {
  readonly time: Date;
  readonly text: string;
}

interface ContainerLogs {
  current: LogLine[];
  previous?: LogLine[];
}

const HISTORY_LIMIT = 5000;

export const clone = <T>(v: T): T => structuredClone(v);

/** Stable JSON (sorted keys), for template hashes. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export class ClusterState {
  private rvCounter = 1000;
  /** Watches may resume from any resourceVersion at or above this. */
  private floor = 1000;
  private readonly objects = new Map<Resource, Map<string, KObj>>(RESOURCES.map((r) => [r, new Map()]));
  private history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly logs = new Map<string, ContainerLogs>();
  private nameCounter = 0;
  private timer: NodeJS.Timeout | undefined;
  private settleWaiters: (() => void)[] = [];
  /** When false, controllers only run on `progress()`: a rollout stays unfinished. */
  autoRollout = true;

  constructor(
    readonly name: string,
    /** Controllers run this long after a change, so clients see the in-between state. */
    readonly rolloutDelayMs = 20,
  ) {}

  get resourceVersion(): number {
    return this.rvCounter;
  }

  get oldestResourceVersion(): number {
    return this.floor;
  }

  nextRv(): string {
    return String(++this.rvCounter);
  }

  uid(): string {
    return randomUUID();
  }

  /** Deterministic 5-character suffix like the ones generateName produces. */
  suffix(seed: string): string {
    const h = createHash('sha256').update(`${seed}:${++this.nameCounter}`).digest();
    return [...h.subarray(0, 5)].map((b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join('');
  }

  private key(resource: Resource, ns: string | undefined, name: string): string {
    return NAMESPACED[resource] ? `${ns}/${name}` : name;
  }

  get(resource: Resource, ns: string | undefined, name: string): KObj | undefined {
    const o = this.objects.get(resource)!.get(this.key(resource, ns, name));
    return o ? clone(o) : undefined;
  }

  list(resource: Resource, ns?: string): KObj[] {
    return [...this.objects.get(resource)!.values()]
      .filter((o) => !ns || o.metadata.namespace === ns)
      .sort(
        (a, b) =>
          (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
          a.metadata.name.localeCompare(b.metadata.name),
      )
      .map(clone);
  }

  /** Creates or replaces an object: new resourceVersion, history entry, watchers told. */
  put(resource: Resource, obj: KObj): KObj {
    const k = this.key(resource, obj.metadata.namespace, obj.metadata.name);
    const existed = this.objects.get(resource)!.has(k);
    const stored = clone(obj);
    stored.metadata.resourceVersion = this.nextRv();
    this.objects.get(resource)!.set(k, stored);
    this.record(existed ? 'MODIFIED' : 'ADDED', resource, stored);
    return clone(stored);
  }

  remove(resource: Resource, ns: string | undefined, name: string): KObj | undefined {
    const k = this.key(resource, ns, name);
    const o = this.objects.get(resource)!.get(k);
    if (!o) return undefined;
    this.objects.get(resource)!.delete(k);
    const gone = clone(o);
    gone.metadata.resourceVersion = this.nextRv();
    this.record('DELETED', resource, gone);
    if (resource === 'pods')
      for (const key of [...this.logs.keys()]) if (key.startsWith(`${ns}/${name}/`)) this.logs.delete(key);
    return clone(gone);
  }

  private record(type: ChangeType, resource: Resource, object: KObj): void {
    this.history.push({ rv: Number(object.metadata.resourceVersion), type, resource, object: clone(object) });
    if (this.history.length > HISTORY_LIMIT) {
      const dropped = this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.floor = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.watchers) {
      if (w.resource !== resource || (w.namespace && w.namespace !== object.metadata.namespace) || !w.matches(object))
        continue;
      w.send(type, clone(object));
    }
  }

  /** Changes after `rv`, or undefined when `rv` is older than the retained history (410). */
  changesSince(rv: number): Change[] | undefined {
    if (rv < this.floor) return undefined;
    return this.history.filter((c) => c.rv > rv);
  }

  watch(w: Watcher): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Forgets the watch history: any resume from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.history = [];
    this.floor = this.rvCounter;
  }

  // --- controllers --------------------------------------------------------------------

  /** Called after every write: runs the controllers a moment later (or on `progress()`). */
  changed(): void {
    if (!this.autoRollout || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.progress();
    }, this.rolloutDelayMs);
  }

  /** Runs the controllers now until nothing changes: ReplicaSets, pods, rollout status. */
  progress(): void {
    for (let i = 0; i < 10 && reconcile(this); i++);
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once pending controller work has run. */
  settle(): Promise<void> {
    if (!this.timer) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.push(resolve));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // --- logs ---------------------------------------------------------------------------

  setLogs(
    ns: string,
    pod: string,
    container: string,
    lines: readonly string[],
    opts: { previous?: boolean; start?: Date; stepMs?: number } = {},
  ): void {
    const key = `${ns}/${pod}/${container}`;
    const entry = this.logs.get(key) ?? { current: [] };
    const start = opts.start?.getTime() ?? Date.now() - lines.length * (opts.stepMs ?? 1000);
    const stamped = lines.map((text, i) => ({ time: new Date(start + i * (opts.stepMs ?? 1000)), text }));
    if (opts.previous) entry.previous = stamped;
    else entry.current = stamped;
    this.logs.set(key, entry);
  }

  logsOf(ns: string, pod: string, container: string, previous: boolean): LogLine[] | undefined {
    const e = this.logs.get(`${ns}/${pod}/${container}`);
    if (previous) return e?.previous;
    return e?.current ?? [];
  }

  // --- test controls ------------------------------------------------------------------

  private mustGet(resource: Resource, ns: string | undefined, name: string): KObj {
    const o = this.get(resource, ns, name);
    if (!o) throw new Error(`fake: no ${resource} ${ns ? `${ns}/` : ''}${name}`);
    return o;
  }

  private updatePodContainers(ns: string, pod: string, fn: (s: ContainerStatus) => void, container?: string): KObj {
    const p = this.mustGet('pods', ns, pod);
    const statuses = p.status?.containerStatuses ?? [];
    for (const s of statuses) if (!container || s.name === container) fn(s);
    const ready = statuses.every((s) => s.ready);
    p.status = { ...p.status, conditions: setCondition(p.status?.conditions, 'Ready', ready) };
    const stored = this.put('pods', p);
    this.changed();
    return stored;
  }

  setPodPhase(
    ns: string,
    pod: string,
    phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown',
    reason?: string,
  ): KObj {
    const p = this.mustGet('pods', ns, pod);
    const ready = phase === 'Running';
    p.status = { ...p.status, phase, conditions: setCondition(p.status?.conditions, 'Ready', ready) };
    if (reason) p.status.reason = reason;
    for (const s of p.status.containerStatuses ?? []) s.ready = ready;
    const stored = this.put('pods', p);
    this.changed();
    return stored;
  }

  /** The container keeps exiting: CrashLoopBackOff, one more restart, a BackOff warning event. */
  crashLoop(ns: string, pod: string, container?: string): KObj {
    const stored = this.updatePodContainers(
      ns,
      pod,
      (s) => {
        s.restartCount++;
        s.ready = false;
        s.started = false;
        s.lastState = { terminated: { reason: 'Error', exitCode: 1, finishedAt: new Date().toISOString() } };
        s.state = {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 40s restarting failed container=${s.name} pod=${pod}`,
          },
        };
      },
      container,
    );
    this.addEvent({
      namespace: ns,
      involved: { kind: 'Pod', name: pod },
      type: 'Warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
    });
    return stored;
  }

  /** The container was OOM-killed (at `at`) and restarted. */
  oomKill(ns: string, pod: string, container?: string, at = new Date()): KObj {
    return this.updatePodContainers(
      ns,
      pod,
      (s) => {
        s.restartCount++;
        s.lastState = { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: at.toISOString() } };
        s.state = { running: { startedAt: new Date().toISOString() } };
      },
      container,
    );
  }

  /** The image cannot be pulled. */
  imagePullBackOff(ns: string, pod: string, container?: string): KObj {
    return this.updatePodContainers(
      ns,
      pod,
      (s) => {
        s.ready = false;
        s.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${s.image}"` } };
      },
      container,
    );
  }

  /** Everything fine again: running, ready. */
  heal(ns: string, pod: string): KObj {
    return this.updatePodContainers(ns, pod, (s) => {
      s.ready = true;
      s.started = true;
      s.state = { running: { startedAt: new Date().toISOString() } } satisfies ContainerState;
    });
  }

  setNodeReady(name: string, ready: boolean): KObj {
    const n = this.mustGet('nodes', undefined, name);
    n.status = {
      ...n.status,
      conditions: setCondition(n.status?.conditions, 'Ready', ready, ready ? 'KubeletReady' : 'NodeStatusUnknown'),
    };
    return this.put('nodes', n);
  }

  addEvent(e: {
    namespace: string;
    involved: { kind: string; name: string; uid?: string };
    type: 'Normal' | 'Warning';
    reason: string;
    message: string;
    count?: number;
    at?: Date;
  }): KObj {
    const at = (e.at ?? new Date()).toISOString();
    const name = `${e.involved.name}.${(this.rvCounter + 1).toString(16)}${this.suffix(e.reason)}`;
    return this.put('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: e.namespace, uid: this.uid(), resourceVersion: '', creationTimestamp: at },
      involvedObject: {
        kind: e.involved.kind,
        namespace: e.namespace,
        name: e.involved.name,
        ...(e.involved.uid ? { uid: e.involved.uid } : {}),
      },
      reason: e.reason,
      message: e.message,
      type: e.type,
      count: e.count ?? 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: e.involved.kind === 'Pod' ? 'kubelet' : 'controller-manager' },
    });
  }
}

export function setCondition(conds: Condition[] | undefined, type: string, ok: boolean, reason?: string): Condition[] {
  const now = new Date().toISOString();
  const list = [...(conds ?? [])].filter((c) => c.type !== type);
  const prev = (conds ?? []).find((c) => c.type === type);
  const status = ok ? ('True' as const) : ('False' as const);
  list.push({
    type,
    status,
    lastTransitionTime: prev?.status === status ? (prev.lastTransitionTime ?? now) : now,
    ...(reason ? { reason } : {}),
  });
  return list;
}
