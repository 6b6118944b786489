/**
 * KubePort: the small surface the Kubernetes actions and watchers use, and its
 * implementation over @kubernetes/client-node for one kubeconfig context.
 *
 * Every call has a timeout. Request/response calls go through the generated client with a
 * middleware that sets the abort signal and, for patches, the content type. Log and watch
 * streams use the kubeconfig's own transport options (auth, CA, agent) on a plain
 * node:http request, because the library's `Log` and `Watch` cannot be aborted before the
 * response headers arrive and drop the `Status` body of a refusal.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { Transform, type Readable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  Observable,
  PatchStrategy,
  VersionApi,
  type ConfigurationOptions,
  type CoreV1Event,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1DaemonSet,
  type V1Deployment,
  type V1ListMeta,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
  type V1Scale,
  type V1Service,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { failureFromStatus, KubeApiError, toKubeError, type Op } from './errors.js';

export interface KubeObjects {
  pod: V1Pod;
  deployment: V1Deployment;
  statefulset: V1StatefulSet;
  daemonset: V1DaemonSet;
  replicaset: V1ReplicaSet;
  service: V1Service;
  node: V1Node;
  namespace: V1Namespace;
  event: CoreV1Event;
}
export type ObjectKind = keyof KubeObjects;
export type ScalableKind = 'deployment' | 'statefulset';
export type WorkloadKind = 'deployment' | 'statefulset' | 'daemonset';
export type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

export interface CallOptions {
  readonly signal?: AbortSignal;
}
export interface ListOptions extends CallOptions {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}
export interface MutateOptions extends CallOptions {
  /** Server-side dry run (`dryRun=All`): validated and admitted, never persisted. */
  readonly dryRun?: boolean;
}
export interface Listed<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}
export interface LogOptions extends CallOptions {
  readonly container: string;
  readonly tailLines?: number;
  readonly sinceSeconds?: number;
  readonly previous?: boolean;
  /** Asked of the server and enforced here as well. */
  readonly limitBytes: number;
  /** The whole stream ends (with an error) after this long. */
  readonly streamTimeoutMs?: number;
}

export type WatchKind = 'pod' | 'event' | 'node';
/**
 * One line of a watch stream. Objects are the raw JSON: timestamps are strings here,
 * unlike in list/read results (where the client library turns them into Dates).
 */
export interface WatchEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  readonly object: KubeObjects[WatchKind];
}
export interface WatchOptions {
  readonly resourceVersion?: string;
  readonly fieldSelector?: string;
  /** Asked of the server; the stream is also dropped if silent for this long plus a margin. */
  readonly timeoutSeconds: number;
  readonly signal: AbortSignal;
  /** Called once the server has accepted the watch (headers received). */
  readonly onOpen?: () => void;
}

export interface KubePort {
  readonly context: string;
  version(o?: CallOptions): Promise<string>;
  list<K extends ObjectKind>(kind: K, namespace: string | undefined, o?: ListOptions): Promise<Listed<KubeObjects[K]>>;
  read<K extends ObjectKind>(kind: K, namespace: string | undefined, name: string, o?: CallOptions): Promise<KubeObjects[K]>;
  readScale(kind: ScalableKind, namespace: string, name: string, o?: CallOptions): Promise<V1Scale>;
  /** Merge patch of the scale subresource, as `kubectl scale` does. */
  scale(kind: ScalableKind, namespace: string, name: string, replicas: number, o?: MutateOptions): Promise<V1Scale>;
  /** Strategic merge patch of the pod template's restartedAt annotation, as `kubectl rollout restart`. */
  restart(kind: WorkloadKind, namespace: string, name: string, at: string, o?: MutateOptions): Promise<Workload>;
  /**
   * Replaces a deployment's pod template (`kubectl rollout undo`), only if the deployment is
   * still at `resourceVersion` (else a 409 conflict).
   */
  setTemplate(namespace: string, name: string, template: V1PodTemplateSpec, resourceVersion: string, o?: MutateOptions): Promise<V1Deployment>;
  deletePod(namespace: string, name: string, o?: MutateOptions): Promise<V1Pod>;
  /** A bounded log stream (follow=false). */
  logs(namespace: string, pod: string, o: LogOptions): Promise<Readable>;
  /**
   * Streams changes to `onEvent` until the server ends the stream (resolves) or it fails
   * (rejects with a KubeApiError; `failure: 'gone'` when the resourceVersion is too old).
   * Aborting `signal` resolves.
   */
  watch(kind: WatchKind, namespace: string | undefined, o: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void>;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const STATUS_BODY_LIMIT = 64 * 1024;
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

interface Apis {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}
type Cfg = ConfigurationOptions<ObservableMiddleware>;
interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
}
interface Resource<K extends ObjectKind> {
  /** Plural, as RBAC and the URL spell it. */
  readonly plural: string;
  readonly namespaced: boolean;
  list(a: Apis, ns: string | undefined, q: ListQuery, cfg: Cfg): Promise<{ items: KubeObjects[K][]; metadata?: V1ListMeta }>;
  read(a: Apis, ns: string, name: string, cfg: Cfg): Promise<KubeObjects[K]>;
}

const RESOURCES: { [K in ObjectKind]: Resource<K> } = {
  pod: {
    plural: 'pods',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.core.listNamespacedPod({ namespace: ns, ...q }, c) : a.core.listPodForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.core.readNamespacedPod({ namespace: ns, name }, c),
  },
  deployment: {
    plural: 'deployments',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.apps.listNamespacedDeployment({ namespace: ns, ...q }, c) : a.apps.listDeploymentForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.apps.readNamespacedDeployment({ namespace: ns, name }, c),
  },
  statefulset: {
    plural: 'statefulsets',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.apps.listNamespacedStatefulSet({ namespace: ns, ...q }, c) : a.apps.listStatefulSetForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.apps.readNamespacedStatefulSet({ namespace: ns, name }, c),
  },
  daemonset: {
    plural: 'daemonsets',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.apps.listNamespacedDaemonSet({ namespace: ns, ...q }, c) : a.apps.listDaemonSetForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.apps.readNamespacedDaemonSet({ namespace: ns, name }, c),
  },
  replicaset: {
    plural: 'replicasets',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.apps.listNamespacedReplicaSet({ namespace: ns, ...q }, c) : a.apps.listReplicaSetForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.apps.readNamespacedReplicaSet({ namespace: ns, name }, c),
  },
  service: {
    plural: 'services',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.core.listNamespacedService({ namespace: ns, ...q }, c) : a.core.listServiceForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.core.readNamespacedService({ namespace: ns, name }, c),
  },
  event: {
    plural: 'events',
    namespaced: true,
    list: (a, ns, q, c) => (ns ? a.core.listNamespacedEvent({ namespace: ns, ...q }, c) : a.core.listEventForAllNamespaces(q, c)),
    read: (a, ns, name, c) => a.core.readNamespacedEvent({ namespace: ns, name }, c),
  },
  node: {
    plural: 'nodes',
    namespaced: false,
    list: (a, _ns, q, c) => a.core.listNode(q, c),
    read: (a, _ns, name, c) => a.core.readNode({ name }, c),
  },
  namespace: {
    plural: 'namespaces',
    namespaced: false,
    list: (a, _ns, q, c) => a.core.listNamespace(q, c),
    read: (a, _ns, name, c) => a.core.readNamespace({ name }, c),
  },
};

const WORKLOAD_PLURAL: Record<WorkloadKind, string> = { deployment: 'deployments', statefulset: 'statefulsets', daemonset: 'daemonsets' };

/** Sets the abort signal (and extra headers, e.g. a patch's content type) on one request. */
function requestOptions(signal: AbortSignal, headers: Readonly<Record<string, string>>): Cfg {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      for (const [k, v] of Object.entries(headers)) ctx.setHeaderParam(k, v);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** One abort signal for a call: the caller's, or ours after `ms`; says which one fired. */
function deadline(ms: number, outer?: AbortSignal) {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, ms);
  const onAbort = () => ctl.abort();
  if (outer?.aborted) ctl.abort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    /** Stops the timer; the signal stays usable for a stream that outlives the call. */
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

export interface KubePortOptions {
  /** Per request/response call; also the time to wait for a stream's headers. */
  readonly timeoutMs?: number;
}

export function createKubePort(kc: KubeConfig, context: string, options: KubePortOptions = {}): KubePort {
  return new ClientKubePort(kc, context, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

class ClientKubePort implements KubePort {
  private readonly apis: Apis;
  private readonly versionApi: VersionApi;

  constructor(
    private readonly kc: KubeConfig,
    readonly context: string,
    private readonly timeoutMs: number,
  ) {
    this.apis = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
    this.versionApi = kc.makeApiClient(VersionApi);
  }

  private async call<T>(op: Omit<Op, 'context'>, o: CallOptions | undefined, headers: Record<string, string>, fn: (cfg: Cfg) => Promise<T>): Promise<T> {
    const d = deadline(this.timeoutMs, o?.signal);
    try {
      return await fn(requestOptions(d.signal, headers));
    } catch (e) {
      throw toKubeError(e, { ...op, context: this.context }, this.timeoutMs, d.timedOut());
    } finally {
      d.done();
    }
  }

  async version(o?: CallOptions): Promise<string> {
    const v = await this.call({ verb: 'get', resource: 'version' }, o, {}, (c) => this.versionApi.getCode(undefined, c));
    return v.gitVersion;
  }

  async list<K extends ObjectKind>(kind: K, namespace: string | undefined, o: ListOptions = {}): Promise<Listed<KubeObjects[K]>> {
    const r = RESOURCES[kind] as Resource<K>;
    const ns = r.namespaced ? namespace : undefined;
    const q: ListQuery = {};
    if (o.labelSelector) q.labelSelector = o.labelSelector;
    if (o.fieldSelector) q.fieldSelector = o.fieldSelector;
    const res = await this.call({ verb: 'list', resource: r.plural, ...(ns ? { namespace: ns } : {}) }, o, {}, (c) => r.list(this.apis, ns, q, c));
    return { items: res.items, resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  async read<K extends ObjectKind>(kind: K, namespace: string | undefined, name: string, o?: CallOptions): Promise<KubeObjects[K]> {
    const r = RESOURCES[kind] as Resource<K>;
    const ns = r.namespaced ? namespace : undefined;
    if (r.namespaced && !ns) throw new KubeApiError('invalid', `${kind} ${name}: a namespace is needed (context ${this.context})`);
    return this.call({ verb: 'get', resource: r.plural, kind, name, ...(ns ? { namespace: ns } : {}) }, o, {}, (c) => r.read(this.apis, ns ?? '', name, c));
  }

  readScale(kind: ScalableKind, namespace: string, name: string, o?: CallOptions): Promise<V1Scale> {
    const op = { verb: 'get', resource: `${WORKLOAD_PLURAL[kind]}/scale`, kind, namespace, name };
    return this.call(op, o, {}, (c) =>
      kind === 'deployment'
        ? this.apis.apps.readNamespacedDeploymentScale({ namespace, name }, c)
        : this.apis.apps.readNamespacedStatefulSetScale({ namespace, name }, c),
    );
  }

  scale(kind: ScalableKind, namespace: string, name: string, replicas: number, o: MutateOptions = {}): Promise<V1Scale> {
    const op = { verb: 'patch', resource: `${WORKLOAD_PLURAL[kind]}/scale`, kind, namespace, name };
    const req = { namespace, name, body: { spec: { replicas } }, ...dry(o) };
    return this.call(op, o, { 'Content-Type': PatchStrategy.MergePatch }, (c) =>
      kind === 'deployment' ? this.apis.apps.patchNamespacedDeploymentScale(req, c) : this.apis.apps.patchNamespacedStatefulSetScale(req, c),
    );
  }

  restart(kind: WorkloadKind, namespace: string, name: string, at: string, o: MutateOptions = {}): Promise<Workload> {
    const op = { verb: 'patch', resource: WORKLOAD_PLURAL[kind], kind, namespace, name };
    const body = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } };
    const req = { namespace, name, body, ...dry(o) };
    return this.call<Workload>(op, o, { 'Content-Type': PatchStrategy.StrategicMergePatch }, (c) => {
      switch (kind) {
        case 'deployment':
          return this.apis.apps.patchNamespacedDeployment(req, c);
        case 'statefulset':
          return this.apis.apps.patchNamespacedStatefulSet(req, c);
        case 'daemonset':
          return this.apis.apps.patchNamespacedDaemonSet(req, c);
      }
    });
  }

  setTemplate(namespace: string, name: string, template: V1PodTemplateSpec, resourceVersion: string, o: MutateOptions = {}): Promise<V1Deployment> {
    const op = { verb: 'patch', resource: 'deployments', kind: 'deployment', namespace, name };
    // Setting the resourceVersion we read makes the API server refuse (409) if it changed since.
    const body = [
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion },
    ];
    return this.call(op, o, { 'Content-Type': PatchStrategy.JsonPatch }, (c) =>
      this.apis.apps.patchNamespacedDeployment({ namespace, name, body, ...dry(o) }, c),
    );
  }

  deletePod(namespace: string, name: string, o: MutateOptions = {}): Promise<V1Pod> {
    const op = { verb: 'delete', resource: 'pods', kind: 'pod', namespace, name };
    return this.call(op, o, {}, (c) => this.apis.core.deleteNamespacedPod({ namespace, name, ...dry(o) }, c));
  }

  async logs(namespace: string, pod: string, o: LogOptions): Promise<Readable> {
    const op: Op = { context: this.context, verb: 'get', resource: 'pods/log', kind: 'pod', namespace, name: pod };
    const q = new URLSearchParams({ container: o.container, follow: 'false', limitBytes: String(o.limitBytes) });
    if (o.tailLines !== undefined) q.set('tailLines', String(o.tailLines));
    if (o.sinceSeconds !== undefined) q.set('sinceSeconds', String(o.sinceSeconds));
    if (o.previous) q.set('previous', 'true');
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`;
    const res = await this.open(path, q, op, o.signal);
    const bounded = limitBytes(o.limitBytes);
    // A log that takes too long to arrive is cut, not failed: what came so far is still useful.
    const timer = setTimeout(() => {
      res.unpipe(bounded);
      bounded.end();
      res.destroy();
    }, o.streamTimeoutMs ?? 60_000);
    res.on('error', (e) => {
      if (!bounded.writableEnded) bounded.destroy(toKubeError(e, op, this.timeoutMs, false));
    });
    bounded.on('close', () => {
      clearTimeout(timer);
      res.destroy();
    });
    return res.pipe(bounded);
  }

  async watch(kind: WatchKind, namespace: string | undefined, o: WatchOptions, onEvent: (e: WatchEvent) => void): Promise<void> {
    const r = RESOURCES[kind];
    const ns = r.namespaced ? namespace : undefined;
    const op: Op = { context: this.context, verb: 'watch', resource: r.plural, ...(ns ? { namespace: ns } : {}) };
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(o.timeoutSeconds) });
    if (o.resourceVersion) q.set('resourceVersion', o.resourceVersion);
    if (o.fieldSelector) q.set('fieldSelector', o.fieldSelector);
    const path = ns ? `/api/v1/namespaces/${encodeURIComponent(ns)}/${r.plural}` : `/api/v1/${r.plural}`;
    let res: IncomingMessage;
    try {
      res = await this.open(path, q, op, o.signal);
    } catch (e) {
      if (o.signal.aborted) return;
      throw e;
    }
    o.onOpen?.();
    // The server ends the stream after timeoutSeconds; one that does not is cut a little later.
    const timer = setTimeout(() => res.destroy(), (o.timeoutSeconds + 30) * 1000);
    return new Promise<void>((resolve, reject) => {
      let failure: KubeApiError | undefined;
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      // readline re-emits the response's errors; they are handled on `res` below.
      lines.on('error', () => undefined);
      lines.on('line', (text) => {
        if (failure || text.trim() === '') return;
        let ev: { type?: unknown; object?: unknown };
        try {
          ev = JSON.parse(text) as typeof ev;
        } catch {
          return;
        }
        if (ev.type === 'ERROR') {
          failure = failureFromStatus(op, { code: Number((ev.object as { code?: unknown } | undefined)?.code ?? 500), body: ev.object });
          res.destroy();
          return;
        }
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED' || ev.type === 'BOOKMARK') {
          onEvent({ type: ev.type, object: ev.object as WatchEvent['object'] });
        }
      });
      res.on('error', (e) => {
        if (!failure && !o.signal.aborted && !isAbort(e)) failure = toKubeError(e, op, this.timeoutMs, false);
      });
      res.on('close', () => {
        clearTimeout(timer);
        lines.close();
        if (failure && !o.signal.aborted) reject(failure);
        else resolve();
      });
    });
  }

  /**
   * Opens a streaming GET with the kubeconfig's transport (auth header, CA, client cert).
   * Waits at most `timeoutMs` for the headers; after that the caller's signal still cuts it.
   */
  private async open(path: string, query: URLSearchParams, op: Op, outer: AbortSignal | undefined): Promise<IncomingMessage> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError('other', `context ${this.context} has no cluster in the kubeconfig`);
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    url.search = query.toString();
    const opts: https.RequestOptions = {};
    try {
      await this.kc.applyToHTTPSOptions(opts);
    } catch (e) {
      throw toKubeError(e, op, this.timeoutMs, false);
    }
    const ctl = new AbortController();
    let timedOut = false;
    const headerTimer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.timeoutMs);
    const onOuter = () => ctl.abort();
    if (outer?.aborted) ctl.abort();
    else outer?.addEventListener('abort', onOuter, { once: true });
    const end = () => {
      clearTimeout(headerTimer);
      outer?.removeEventListener('abort', onOuter);
    };
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { ...opts, method: 'GET', signal: ctl.signal, headers: { ...opts.headers, Accept: 'application/json' } }, (res) => {
        clearTimeout(headerTimer);
        if (res.statusCode === 200) {
          res.on('close', end);
          resolve(res);
          return;
        }
        readBounded(res, STATUS_BODY_LIMIT)
          .then((body) => reject(failureFromStatus(op, { code: res.statusCode ?? 500, body })))
          .catch((e: unknown) => reject(toKubeError(e, op, this.timeoutMs, timedOut)))
          .finally(end);
      });
      req.on('error', (e) => {
        end();
        reject(toKubeError(e, op, this.timeoutMs, timedOut));
      });
      req.end();
    });
  }
}

const isAbort = (e: unknown) => (e as { name?: unknown } | null)?.name === 'AbortError';

const dry = (o: MutateOptions) => (o.dryRun ? { dryRun: 'All' } : {});

function readBounded(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < max) chunks.push(c.subarray(0, max - size));
      size += c.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** Passes at most `max` bytes, then ends the stream: the server's limitBytes is advisory. */
function limitBytes(max: number): Transform {
  let left = max;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (left <= 0) return cb();
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      cb(null, part);
      if (left <= 0) this.end();
    },
  });
}
