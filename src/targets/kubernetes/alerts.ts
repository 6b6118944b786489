/**
 * Watches pods, warning events and nodes in the allowed namespaces of every allowed context,
 * and raises one Alert when something goes wrong: CrashLoopBackOff, OOMKilled,
 * ImagePullBackOff/ErrImagePull, FailedScheduling, a node turning NotReady. The core alert
 * router does cooldown, counting and /silence.
 *
 * Each stream lists once, then watches from the list's resourceVersion and resumes from the
 * last one it saw; on 410 Gone it lists again. An unreachable API is retried with backoff.
 * Incidents are remembered by key, so a re-list or a resumed stream never repeats an alert.
 */
import { createInterface } from 'node:readline';
import type { CoreV1Event, V1Node, V1Pod } from '@kubernetes/client-node';
import type { AlertSink } from '../../core/alerts.js';
import { withDeadline } from '../../core/deadline.js';
import type { Logger } from '../../core/log.js';
import { line, pre, result, text, value, type Block, type Button } from '../../core/result.js';
import { counted, stripAnsi } from '../../core/text.js';
import { clip } from '../../core/redact.js';
import { KubeApiError } from './errors.js';
import { OpenIncidents, type IncidentStore } from './incidents.js';
import type { KubePort, WatchEvent, WatchKind } from './port.js';
import { placeOf } from './places.js';
import type { KubeClusters } from './scope.js';
import { sleep } from '../../core/sleep.js';

export interface KubeWatchOptions {
  /** Asked of the server per watch request (default 300). */
  readonly timeoutSeconds?: number;
  /** Reconnect backoff when the API is unreachable (default 1 s doubling to 60 s). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  /** Last lines of the crashed container's log put into the alert (default 10; 0: none). */
  readonly logLines?: number;
  /** Keeps open incidents beyond the process, so a restart or a new leader neither repeats nor misses one. */
  readonly incidents?: IncidentStore;
}

export type StreamState =
  { readonly state: 'starting' } | { readonly state: 'up' } | { readonly state: 'down'; readonly detail: string };

export interface WatchStatus {
  /** Every stream has listed and is watching. */
  readonly up: boolean;
  /** Per context: "up", or what is wrong. */
  readonly contexts: Readonly<Record<string, StreamState>>;
}

const SOURCE = 'kubernetes';
const MAX_REMEMBERED = 20_000;
const IMAGE_PULL = new Set(['ImagePullBackOff', 'ErrImagePull']);

type Reason = 'CrashLoopBackOff' | 'OOMKilled' | 'ImagePullBackOff' | 'FailedScheduling';

interface PodIssue {
  readonly reason: Reason;
  readonly container?: string;
  /** What the cluster said, shown as a value. */
  readonly message: string;
  /** Distinguishes repeated incidents of a reason that does not clear by itself (OOMKilled). */
  readonly instance?: string;
}

/** What is wrong with a pod right now, from its status. */
function podIssues(p: V1Pod): PodIssue[] {
  const out: PodIssue[] = [];
  for (const s of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
    const w = s.state?.waiting;
    if (w?.reason === 'CrashLoopBackOff')
      out.push({
        reason: 'CrashLoopBackOff',
        container: s.name,
        message: w.message ?? `restarted ${s.restartCount} times`,
      });
    if (w?.reason && IMAGE_PULL.has(w.reason))
      out.push({ reason: 'ImagePullBackOff', container: s.name, message: w.message ?? `cannot pull ${s.image}` });
    const oom =
      s.state?.terminated?.reason === 'OOMKilled'
        ? s.state.terminated
        : s.lastState?.terminated?.reason === 'OOMKilled'
          ? s.lastState.terminated
          : undefined;
    if (oom) {
      // Dates from a list, strings from a watch: compare as whole seconds.
      const ms = oom.finishedAt instanceof Date ? oom.finishedAt.getTime() : Date.parse(String(oom.finishedAt));
      const at = Number.isNaN(ms) ? `restart ${s.restartCount}` : String(Math.floor(ms / 1000));
      out.push({
        reason: 'OOMKilled',
        container: s.name,
        message: `killed for using too much memory (exit ${oom.exitCode}); ${counted(s.restartCount, 'restart')}`,
        instance: at,
      });
    }
  }
  const sched = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (p.status?.phase === 'Pending' && sched?.status === 'False' && sched.reason === 'Unschedulable') {
    out.push({ reason: 'FailedScheduling', message: sched.message ?? 'no node fits the pod' });
  }
  return out;
}

interface Stream {
  readonly context: string;
  readonly kind: WatchKind;
  readonly namespace?: string;
  state: StreamState;
}

export class KubeWatcher {
  private readonly ctl = new AbortController();
  private readonly streams: Stream[] = [];
  private readonly running: Promise<void>[] = [];
  /** Open incidents by alert key (value: the incident instance, for OOMKilled). */
  private readonly open: OpenIncidents;
  /** Keys opened by each pod, so they close when the pod recovers or goes away. */
  private readonly podKeys = new Map<string, Set<string>>();
  private readonly timeoutSeconds: number;
  private readonly backoff: { readonly initial: number; readonly max: number };
  private readonly logLines: number;

  constructor(
    private readonly clusters: KubeClusters,
    private readonly sink: AlertSink,
    private readonly log: Logger,
    o: KubeWatchOptions = {},
  ) {
    this.timeoutSeconds = o.timeoutSeconds ?? 300;
    this.backoff = o.backoffMs ?? { initial: 1000, max: 60_000 };
    this.logLines = o.logLines ?? 10;
    this.open = new OpenIncidents(o.incidents);
    // Incidents of pods known from before (a restart, the last leader) close as those pods recover or go.
    for (const key of this.open.keys()) {
      const [, cluster, ns, pod, reason] = key.split(':');
      if (reason === 'NotReady' || pod === undefined) continue;
      for (const c of clusters.contexts()) {
        if (clusters.clusterOf(c.name) !== cluster) continue;
        const id = `${c.name}/${ns}/${pod}`;
        this.podKeys.set(id, new Set([...(this.podKeys.get(id) ?? []), key]));
      }
    }
  }

  start(): void {
    if (this.running.length > 0) return;
    const namespaces = this.clusters.allowedNamespaces();
    for (const c of this.clusters.contexts()) {
      const port = this.clusters.port(c.name);
      const scopes = namespaces ?? [undefined];
      for (const ns of scopes) {
        this.launch(port, 'pod', ns);
        this.launch(port, 'event', ns);
      }
      this.launch(port, 'node', undefined);
    }
  }

  async stop(): Promise<void> {
    this.ctl.abort();
    await Promise.allSettled(this.running);
  }

  status(): WatchStatus {
    const contexts: Record<string, StreamState> = {};
    for (const s of this.streams) {
      const cur = contexts[s.context];
      if (!cur || cur.state === 'up' || (cur.state === 'starting' && s.state.state === 'down'))
        contexts[s.context] = s.state;
    }
    return { up: this.streams.length > 0 && this.streams.every((s) => s.state.state === 'up'), contexts };
  }

  private launch(port: KubePort, kind: WatchKind, namespace: string | undefined): void {
    const stream: Stream = {
      context: port.context,
      kind,
      ...(namespace ? { namespace } : {}),
      state: { state: 'starting' },
    };
    this.streams.push(stream);
    this.running.push(this.loop(port, stream));
  }

  /** list → watch → resume …; re-list on 410 Gone; back off while the API is unreachable. */
  private async loop(port: KubePort, s: Stream): Promise<void> {
    const signal = this.ctl.signal;
    const fieldSelector = s.kind === 'event' ? 'type=Warning' : undefined;
    let rv: string | undefined;
    let delay = this.backoff.initial;
    let goneInARow = 0;
    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await port.list(s.kind, s.namespace, { signal, ...(fieldSelector ? { fieldSelector } : {}) });
          rv = list.resourceVersion;
          this.sync(port.context, s, list.items);
          s.state = { state: 'up' };
        }
        const started = Date.now();
        const onOpen = () => {
          s.state = { state: 'up' };
          delay = this.backoff.initial;
        };
        await port.watch(
          s.kind,
          s.namespace,
          {
            resourceVersion: rv,
            timeoutSeconds: this.timeoutSeconds,
            signal,
            onOpen,
            ...(fieldSelector ? { fieldSelector } : {}),
          },
          (e) => {
            rv = e.object.metadata?.resourceVersion ?? rv;
            if (e.type !== 'BOOKMARK') this.handle(port.context, s.kind, e);
          },
        );
        goneInARow = 0;
        // A stream that ends at once, again and again, must not spin.
        if (Date.now() - started < 1000) await sleep(this.backoff.initial, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof KubeApiError && e.failure === 'gone') {
          rv = undefined;
          // Re-list at once; only a server that keeps saying Gone gets the backoff.
          if (++goneInARow > 1) {
            await sleep(delay, signal);
            delay = Math.min(delay * 2, this.backoff.max);
          }
          continue;
        }
        const detail = e instanceof Error ? e.message : String(e);
        if (s.state.state !== 'down' || s.state.detail !== detail)
          this.log.warn(
            { context: s.context, kind: s.kind, namespace: s.namespace, err: detail },
            'kubernetes watch failed; retrying',
          );
        s.state = { state: 'down', detail };
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.backoff.max);
      }
    }
  }

  /** A fresh list: the current state replaces what the stream knew. */
  private sync(context: string, s: Stream, items: readonly (V1Pod | V1Node | CoreV1Event)[]): void {
    if (s.kind === 'pod') {
      const live = new Set(items.map((p) => podId(context, p as V1Pod)));
      const prefix = s.namespace ? `${context}/${s.namespace}/` : `${context}/`;
      for (const id of [...this.podKeys.keys()]) if (id.startsWith(prefix) && !live.has(id)) this.closePod(id);
      for (const p of items) this.pod(context, p as V1Pod);
    } else if (s.kind === 'node') {
      for (const n of items) this.node(context, n as V1Node);
    } else {
      // Listed warning events are history: they open incidents silently; new ones raise alerts.
      for (const e of items) this.schedulingEvent(context, e as CoreV1Event);
    }
  }

  private handle(context: string, kind: WatchKind, e: WatchEvent): void {
    try {
      if (kind === 'pod') {
        const p = e.object as V1Pod;
        if (e.type === 'DELETED') this.closePod(podId(context, p));
        else this.pod(context, p);
      } else if (kind === 'node') {
        this.node(context, e.object as V1Node, e.type === 'DELETED');
      } else if (e.type !== 'DELETED') {
        this.event(context, e.object as CoreV1Event);
      }
    } catch (err) {
      this.log.warn({ err, context, kind }, 'could not evaluate a kubernetes watch event');
    }
  }

  private pod(context: string, p: V1Pod): void {
    const ns = p.metadata?.namespace ?? '';
    const name = p.metadata?.name ?? '';
    const id = podId(context, p);
    const cluster = this.clusters.clusterOf(context);
    const now = new Set<string>();
    for (const issue of podIssues(p)) {
      const key = alertKey(cluster, ns, name, issue.reason);
      now.add(key);
      const instance = issue.instance ?? '';
      if (this.open.get(key) === instance) continue;
      this.openKey(key, instance);
      this.raisePod(context, ns, name, issue, p);
    }
    // A scheduling failure known from events lasts until the pod has a node.
    const scheduling = alertKey(cluster, ns, name, 'FailedScheduling');
    for (const k of this.podKeys.get(id) ?? []) {
      if (now.has(k) || (k === scheduling && !p.spec?.nodeName && this.open.has(k))) now.add(k);
      else this.open.delete(k);
    }
    if (now.size) this.podKeys.set(id, now);
    else this.podKeys.delete(id);
  }

  private closePod(id: string): void {
    for (const k of this.podKeys.get(id) ?? []) this.open.delete(k);
    this.podKeys.delete(id);
  }

  private node(context: string, n: V1Node, deleted = false): void {
    const name = n.metadata?.name ?? '';
    const key = `k8s:${this.clusters.clusterOf(context)}:node:${name}:NotReady`;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (deleted || !ready || ready.status === 'True') {
      this.open.delete(key);
      return;
    }
    if (this.open.has(key)) return;
    this.openKey(key, '');
    const blocks: Block[] = [
      line(
        '🔴 ',
        text('Node '),
        value(name),
        text(' @ '),
        value(context),
        text(' is '),
        value(ready.status === 'False' ? 'NotReady' : 'Unknown'),
      ),
      ...(ready.message ? [line(value(clip(ready.message, 300)))] : []),
    ];
    this.sink.raise({
      source: SOURCE,
      key,
      place: placeOf(context, ''),
      result: result(blocks, {
        buttons: [[{ label: '🔎 Describe', action: 'k8s.describe', params: { context, kind: 'node', name } }]],
      }),
    });
  }

  /** FailedScheduling from a warning event; false when that incident is already open. */
  private schedulingEvent(context: string, e: CoreV1Event): { ns: string; name: string } | undefined {
    if (e.type !== 'Warning' || e.reason !== 'FailedScheduling' || e.involvedObject?.kind !== 'Pod') return undefined;
    const ns = e.involvedObject.namespace ?? e.metadata?.namespace ?? '';
    const name = e.involvedObject.name ?? '';
    const key = alertKey(this.clusters.clusterOf(context), ns, name, 'FailedScheduling');
    if (this.open.has(key)) return undefined;
    this.openKey(key, '');
    const id = `${context}/${ns}/${name}`;
    this.podKeys.set(id, new Set([...(this.podKeys.get(id) ?? []), key]));
    return { ns, name };
  }

  private event(context: string, e: CoreV1Event): void {
    const opened = this.schedulingEvent(context, e);
    if (opened)
      this.raisePod(context, opened.ns, opened.name, {
        reason: 'FailedScheduling',
        message: e.message ?? 'no node fits the pod',
      });
  }

  private openKey(key: string, instance: string): void {
    if (this.open.size >= MAX_REMEMBERED) this.open.clear();
    this.open.set(key, instance);
  }

  private raisePod(context: string, ns: string, name: string, issue: PodIssue, p?: V1Pod): void {
    const restarts = p?.status?.containerStatuses?.find((c) => c.name === issue.container)?.restartCount;
    const blocks: Block[] = [
      line('🔴 ', value(issue.reason), text(': pod '), value(`${ns}/${name}`), text(' @ '), value(context)),
      line(
        ...(issue.container ? [text('container '), value(issue.container), text(': ')] : []),
        value(clip(issue.message, 300)),
        ...(restarts !== undefined ? [text(` · ${counted(restarts, 'restart')}`)] : []),
      ),
    ];
    const scope = { context, namespace: ns };
    const crashed = issue.reason === 'CrashLoopBackOff' || issue.reason === 'OOMKilled';
    const buttons: Button[][] = [
      [
        {
          label: '📜 Logs',
          action: 'k8s.logs',
          params: {
            ...scope,
            pod: name,
            ...(issue.container ? { container: issue.container } : {}),
            ...(crashed ? { previous: true } : {}),
          },
        },
        { label: '🔎 Describe', action: 'k8s.describe', params: { ...scope, kind: 'pod', name } },
      ],
    ];
    const key = alertKey(this.clusters.clusterOf(context), ns, name, issue.reason);
    if (!crashed || !issue.container || this.logLines === 0) {
      this.sink.raise({ source: SOURCE, key, place: placeOf(context, ns), result: result(blocks, { buttons }) });
      return;
    }
    void this.withLastLines(context, ns, name, issue.container, blocks).then((all) => {
      try {
        this.sink.raise({ source: SOURCE, key, place: placeOf(context, ns), result: result(all, { buttons }) });
      } catch (err) {
        this.log.warn({ err, key }, 'alert sink failed');
      }
    });
  }

  /** The alert's blocks plus the crashed container's last lines, when they can be had quickly. */
  private async withLastLines(
    context: string,
    ns: string,
    pod: string,
    container: string,
    blocks: Block[],
  ): Promise<Block[]> {
    try {
      const tail = await this.lastLines(context, ns, pod, container);
      return tail ? [...blocks, line(text('Last lines before it stopped:')), pre(tail)] : blocks;
    } catch {
      return blocks;
    }
  }

  /** The crashed container's last lines, best effort and quickly. */
  private async lastLines(context: string, ns: string, pod: string, container: string): Promise<string> {
    const port = this.clusters.port(context);
    const read = async (signal: AbortSignal): Promise<string> => {
      const limits = { tailLines: this.logLines, limitBytes: 16 * 1024, streamTimeoutMs: 3000 };
      const stream = await port.logs(ns, pod, { container, previous: true, ...limits, signal });
      const lines: string[] = [];
      for await (const l of createInterface({ input: stream, crlfDelay: Infinity })) lines.push(stripAnsi(l));
      return lines.join('\n').trimEnd();
    };
    return withDeadline(`last lines of ${pod}`, 3000, read, this.ctl.signal);
  }
}

const podId = (context: string, p: V1Pod) => `${context}/${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

/** One incident's key (by cluster, named for its first context): the router coalesces repeats of it. */
const alertKey = (cluster: string, namespace: string, pod: string, reason: string): string =>
  `k8s:${cluster}:${namespace}:${pod}:${reason}`;
