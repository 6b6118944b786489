/**
 * The KubePort over @kubernetes/client-node for one kubeconfig context. Every call has a
 * deadline. Request/response calls go through the generated client with a middleware that
 * sets the abort signal and, for patches, the content type; log and watch streams are
 * opened by `streams.ts`.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  Observable,
  PatchStrategy,
  VersionApi,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1ListMeta,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1Scale,
} from '@kubernetes/client-node';
import { readBody } from '../../core/body.js';
import { withDeadline } from '../../core/deadline.js';
import { KubeApiError, toKubeError, type Op } from './errors.js';
import { impersonationHeaders, type KubeIdentity } from './impersonate.js';
import type {
  CallOptions,
  KubeObjects,
  KubePort,
  Listed,
  ListOptions,
  LogOptions,
  MutateOptions,
  ObjectKind,
  Page,
  ScalableKind,
  WatchEvent,
  WatchKind,
  WatchOptions,
  Workload,
  WorkloadKind,
} from './port.js';
import { collectionPath, RESOURCES, WORKLOAD_PLURAL, type Apis, type Cfg, type Resource } from './resources.js';
import { firstByName, firstInBody } from './listing.js';
import { limitBytes, openStream, readWatch } from './streams.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** A list larger than this is refused, not read: tens of thousands of objects. */
const LIST_BODY_LIMIT = 64 * 1024 * 1024;
/** Twice as fast as Buffer#toString on a list of hundreds of objects (measured on Node 20). */
const UTF8 = new TextDecoder();

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

const notJson = (plural: string, context: string): KubeApiError =>
  new KubeApiError('other', `the ${plural} list from context ${context} is not JSON`);

function parseList<K extends ObjectKind>(
  body: Buffer,
  plural: string,
  context: string,
): { items?: KubeObjects[K][]; metadata?: V1ListMeta } {
  try {
    return JSON.parse(UTF8.decode(body)) as { items?: KubeObjects[K][]; metadata?: V1ListMeta };
  } catch {
    throw notJson(plural, context);
  }
}

export interface KubePortOptions {
  /** Per request/response call; also the time to wait for a stream's headers. */
  readonly timeoutMs?: number;
  /** Every request acts as this identity (K8S_IMPERSONATE); unset: the kubeconfig's own. */
  readonly actAs?: KubeIdentity;
}

export function createKubePort(kc: KubeConfig, context: string, options: KubePortOptions = {}): KubePort {
  return new ClientKubePort(kc, context, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.actAs);
}

class ClientKubePort implements KubePort {
  private readonly apis: Apis;
  private readonly versionApi: VersionApi;
  private readonly headers: Readonly<Record<string, string>>;
  /** Named in errors: a 403 is then about that person's rights, not the bot's. */
  private readonly as: Pick<Op, 'as'>;

  constructor(
    private readonly kc: KubeConfig,
    readonly context: string,
    private readonly timeoutMs: number,
    actAs: KubeIdentity | undefined,
  ) {
    this.apis = { core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
    this.versionApi = kc.makeApiClient(VersionApi);
    this.headers = impersonationHeaders(actAs);
    this.as = actAs ? { as: actAs.user } : {};
  }

  /** Opens a GET stream with this port's identity. */
  private open(path: string, q: URLSearchParams, op: Op, signal: AbortSignal | undefined) {
    return openStream(this.kc, path, q, op, this.timeoutMs, signal, this.headers);
  }

  private async call<T>(
    op: Omit<Op, 'context'>,
    o: CallOptions | undefined,
    headers: Record<string, string>,
    fn: (cfg: Cfg) => Promise<T>,
  ): Promise<T> {
    const what = `Kubernetes ${op.verb} ${op.resource}`;
    try {
      const all = { ...headers, ...this.headers };
      return await withDeadline(what, this.timeoutMs, (signal) => fn(requestOptions(signal, all)), o?.signal);
    } catch (e) {
      throw toKubeError(e, { ...op, context: this.context, ...this.as });
    }
  }

  async version(o?: CallOptions): Promise<string> {
    const op = { verb: 'get', resource: 'version' };
    const v = await this.call(op, o, {}, (c) => this.versionApi.getCode(undefined, c));
    return v.gitVersion;
  }

  /**
   * A list over plain HTTP, parsed with JSON.parse: the generated client's model classes cost
   * more than the API's own answer on a list of hundreds (timestamps stay strings, as in
   * watches). Bounded in bytes and, body included, in time.
   */
  async list<K extends ObjectKind>(
    kind: K,
    namespace: string | undefined,
    o: ListOptions = {},
  ): Promise<Listed<KubeObjects[K]>> {
    return this.listBody(kind, namespace, o, (body, plural) => {
      const list = parseList<K>(body, plural, this.context);
      return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
    });
  }

  async listFirst<K extends ObjectKind>(
    kind: K,
    namespace: string | undefined,
    n: number,
    o: ListOptions = {},
  ): Promise<Page<KubeObjects[K]>> {
    return this.listBody(kind, namespace, o, (body, plural) => {
      let page: Page<KubeObjects[K]> | undefined;
      try {
        page = firstInBody<KubeObjects[K]>(body, n);
      } catch {
        throw notJson(plural, this.context);
      }
      if (page) return page;
      const items = parseList<K>(body, plural, this.context).items ?? [];
      return { total: items.length, items: firstByName(items, n) };
    });
  }

  /** Reads a list's body, bounded, and hands it to `use`, all within the deadline. */
  private async listBody<K extends ObjectKind, R>(
    kind: K,
    namespace: string | undefined,
    o: ListOptions,
    use: (body: Buffer, plural: string) => R,
  ): Promise<R> {
    const r = RESOURCES[kind] as Resource<K>;
    const ns = r.namespaced ? namespace : undefined;
    const q = new URLSearchParams();
    if (o.labelSelector) q.set('labelSelector', o.labelSelector);
    if (o.fieldSelector) q.set('fieldSelector', o.fieldSelector);
    const op: Op = {
      context: this.context,
      verb: 'list',
      resource: r.plural,
      ...(ns ? { namespace: ns } : {}),
      ...this.as,
    };
    const read = async (signal: AbortSignal) => {
      const res = await this.open(collectionPath(r, ns), q, op, signal);
      const body = await readBody(res, LIST_BODY_LIMIT);
      if (body.truncated)
        throw new KubeApiError('other', `the ${r.plural} list is over ${LIST_BODY_LIMIT >> 20} MB: narrow it`);
      return use(body.bytes, r.plural);
    };
    try {
      return await withDeadline(`Kubernetes list ${r.plural}`, this.timeoutMs, read, o.signal);
    } catch (e) {
      throw toKubeError(e, op);
    }
  }

  async read<K extends ObjectKind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    o?: CallOptions,
  ): Promise<KubeObjects[K]> {
    const r = RESOURCES[kind] as Resource<K>;
    const ns = r.namespaced ? namespace : undefined;
    if (r.namespaced && !ns) {
      throw new KubeApiError('invalid', `${kind} ${name}: a namespace is needed (context ${this.context})`);
    }
    const op = { verb: 'get', resource: r.plural, kind, name, ...(ns ? { namespace: ns } : {}) };
    return this.call(op, o, {}, (c) => r.read(this.apis, ns ?? '', name, c));
  }

  readScale(kind: ScalableKind, namespace: string, name: string, o?: CallOptions): Promise<V1Scale> {
    const op = { verb: 'get', resource: `${WORKLOAD_PLURAL[kind]}/scale`, kind, namespace, name };
    return this.call(op, o, {}, (c) =>
      kind === 'deployment'
        ? this.apis.apps.readNamespacedDeploymentScale({ namespace, name }, c)
        : this.apis.apps.readNamespacedStatefulSetScale({ namespace, name }, c),
    );
  }

  scale(
    kind: ScalableKind,
    namespace: string,
    name: string,
    replicas: number,
    o: MutateOptions = {},
  ): Promise<V1Scale> {
    const op = { verb: 'patch', resource: `${WORKLOAD_PLURAL[kind]}/scale`, kind, namespace, name };
    const req = { namespace, name, body: { spec: { replicas } }, ...dry(o) };
    return this.call(op, o, { 'Content-Type': PatchStrategy.MergePatch }, (c) =>
      kind === 'deployment'
        ? this.apis.apps.patchNamespacedDeploymentScale(req, c)
        : this.apis.apps.patchNamespacedStatefulSetScale(req, c),
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

  setTemplate(
    namespace: string,
    name: string,
    template: V1PodTemplateSpec,
    resourceVersion: string,
    o: MutateOptions = {},
  ): Promise<V1Deployment> {
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
    const op: Op = {
      context: this.context,
      verb: 'get',
      resource: 'pods/log',
      kind: 'pod',
      namespace,
      name: pod,
      ...this.as,
    };
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
      if (!bounded.writableEnded) bounded.destroy(toKubeError(e, op));
    });
    bounded.on('close', () => {
      clearTimeout(timer);
      res.destroy();
    });
    return res.pipe(bounded);
  }

  async watch(
    kind: WatchKind,
    namespace: string | undefined,
    o: WatchOptions,
    onEvent: (e: WatchEvent) => void,
  ): Promise<void> {
    const r = RESOURCES[kind];
    const ns = r.namespaced ? namespace : undefined;
    const op: Op = {
      context: this.context,
      verb: 'watch',
      resource: r.plural,
      ...(ns ? { namespace: ns } : {}),
      ...this.as,
    };
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true' });
    q.set('timeoutSeconds', String(o.timeoutSeconds));
    if (o.resourceVersion) q.set('resourceVersion', o.resourceVersion);
    if (o.fieldSelector) q.set('fieldSelector', o.fieldSelector);
    const path = collectionPath(r, ns);
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
    res.on('close', () => clearTimeout(timer));
    return readWatch(res, op, o.signal, onEvent);
  }
}

const dry = (o: MutateOptions) => (o.dryRun ? { dryRun: 'All' } : {});
