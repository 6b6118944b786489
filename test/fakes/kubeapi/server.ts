/**
 * A fake Kubernetes API server over plain HTTP on 127.0.0.1, speaking the real wire format
 * for the subset teleops uses. Several clusters share one port under `/clusters/<name>`;
 * the kubeconfig's server URL carries the prefix, so the client library never knows.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { canonical, clone, type ClusterState } from './cluster.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { apiVersionOf, GROUP, KIND, qualified, type Json, type KObj, type Resource } from './types.js';

export interface Rule {
  readonly verbs: readonly string[];
  /** Plural resources, with subresource where it applies ("deployments/scale"), or "*". */
  readonly resources: readonly string[];
  readonly namespaces?: readonly string[];
  /** Object names the rule is limited to (RBAC resourceNames), e.g. the users one may impersonate. */
  readonly names?: readonly string[];
}

export interface Identity {
  readonly user: string;
  readonly cluster: string;
  readonly rules: readonly Rule[];
}

export const ADMIN: readonly Rule[] = [{ verbs: ['*'], resources: ['*'] }];
export const VIEWER: readonly Rule[] = [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }];

export interface RequestRecord {
  readonly cluster: string;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly contentType?: string;
  /** Who the request acted as: the token's user, or the one it impersonated. */
  readonly user?: string;
  /** The Impersonate-Group headers honoured. */
  readonly groups?: readonly string[];
  /** The token's user, when it impersonated someone. */
  readonly impersonator?: string;
  /** Arrival, ms since the epoch. */
  readonly at: number;
}

/** Makes the next matching request(s) fail with a Status of `code` (e.g. 409 from a concurrent writer). */
export interface Fault {
  readonly method?: string;
  readonly resource?: string;
  readonly name?: string;
  readonly code: number;
  times?: number;
}

interface Route {
  readonly resource: Resource;
  readonly namespace?: string;
  readonly name?: string;
  readonly sub?: 'scale' | 'log';
}

export function statusObject(code: number, reason: string, message: string, details?: Record<string, string>): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function details(r: Route, name = r.name): Record<string, string> {
  return { ...(name ? { name } : {}), ...(GROUP[r.resource] ? { group: GROUP[r.resource] } : {}), kind: r.resource };
}

const CORE_NAMED = /^\/api\/v1\/(namespaces|nodes)(?:\/([^/]+))?$/;
const CORE_NS = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|services|events)(?:\/([^/]+)(?:\/(log))?)?$/;
const CORE_ALL = /^\/api\/v1\/(pods|services|events)$/;
const APPS_NS =
  /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets|daemonsets|replicasets)(?:\/([^/]+)(?:\/(scale))?)?$/;
const APPS_ALL = /^\/apis\/apps\/v1\/(deployments|statefulsets|daemonsets|replicasets)$/;

function route(path: string): Route | undefined {
  let m: RegExpExecArray | null;
  const d = decodeURIComponent;
  if ((m = CORE_NAMED.exec(path))) return { resource: m[1] as Resource, ...(m[2] ? { name: d(m[2]) } : {}) };
  if ((m = CORE_NS.exec(path))) {
    if (m[4] && m[2] !== 'pods') return undefined;
    return {
      resource: m[2] as Resource,
      namespace: d(m[1]!),
      ...(m[3] ? { name: d(m[3]) } : {}),
      ...(m[4] ? { sub: 'log' as const } : {}),
    };
  }
  if ((m = CORE_ALL.exec(path))) return { resource: m[1] as Resource };
  if ((m = APPS_NS.exec(path))) {
    if (m[4] && m[2] !== 'deployments' && m[2] !== 'statefulsets') return undefined;
    return {
      resource: m[2] as Resource,
      namespace: d(m[1]!),
      ...(m[3] ? { name: d(m[3]) } : {}),
      ...(m[4] ? { sub: 'scale' as const } : {}),
    };
  }
  if ((m = APPS_ALL.exec(path))) return { resource: m[1] as Resource };
  return undefined;
}

const allows = (rules: readonly Rule[], verb: string, resource: string, ns?: string, name?: string) =>
  rules.some(
    (r) =>
      (r.verbs.includes('*') || r.verbs.includes(verb)) &&
      (r.resources.includes('*') || r.resources.includes(resource)) &&
      (!r.namespaces || (ns !== undefined && r.namespaces.includes(ns))) &&
      (!r.names || (name !== undefined && r.names.includes(name))),
  );

function send(res: ServerResponse, code: number, body: Json): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage, max = 3 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) reject(new Error('request body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** List items, as the real server sends them: without kind/apiVersion. */
const bare = (o: KObj): Json => {
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest as unknown as Json;
};

const scaleOf = (o: KObj): KObj => ({
  kind: 'Scale',
  apiVersion: 'autoscaling/v1',
  metadata: {
    name: o.metadata.name,
    namespace: o.metadata.namespace!,
    uid: o.metadata.uid,
    resourceVersion: o.metadata.resourceVersion,
    creationTimestamp: o.metadata.creationTimestamp,
  },
  spec: { replicas: o.spec?.replicas ?? 1 },
  status: {
    replicas: o.status?.replicas ?? 0,
    selector: Object.entries(
      (o.spec?.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {},
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  },
});

export interface FakeKubeApiOptions {
  readonly clusters: ReadonlyMap<string, ClusterState>;
  readonly tokens?: ReadonlyMap<string, Identity>;
}

export class FakeKubeApi {
  private server: http.Server;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far: clients that reuse theirs open few. */
  connections = 0;
  private readonly streams = new Set<ServerResponse>();
  private readonly tokens = new Map<string, Identity>();
  /** RBAC of users and groups that are only ever impersonated ("user:alice", "group:sre"). */
  private readonly subjects = new Map<string, readonly Rule[]>();
  private readonly faults: Fault[] = [];
  readonly requests: RequestRecord[] = [];
  private port = 0;

  private constructor(readonly clusters: ReadonlyMap<string, ClusterState>) {
    this.server = this.makeServer();
  }

  static async start(o: FakeKubeApiOptions): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(o.clusters);
    for (const [t, id] of o.tokens ?? []) api.tokens.set(t, id);
    await api.listen(0);
    return api;
  }

  private makeServer(): http.Server {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent)
          send(res, 500, statusObject(500, 'InternalError', `fake: ${e instanceof Error ? e.message : String(e)}`));
        else res.destroy();
      });
    });
    server.on('connection', (s) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** The server URL of a cluster, for a kubeconfig. */
  serverUrl(cluster: string): string {
    return `http://127.0.0.1:${this.port}/clusters/${cluster}`;
  }

  cluster(name: string): ClusterState {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`fake: no cluster ${name}`);
    return c;
  }

  setToken(token: string, id: Identity): void {
    this.tokens.set(token, id);
  }

  /** The rules of a user or group, for requests that impersonate it. */
  setSubject(kind: 'user' | 'group', name: string, rules: readonly Rule[]): void {
    this.subjects.set(`${kind}:${name}`, rules);
  }

  failNext(f: Fault): void {
    this.faults.push({ ...f, times: f.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Watch streams currently open. */
  get openWatches(): number {
    return this.streams.size;
  }

  /** Ends every open watch stream, as the server does when timeoutSeconds passes. */
  endWatches(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
  }

  /**
   * Cuts every open watch connection, as a load balancer or a network fault does: half of an
   * event's line is written first, then the socket is destroyed (no end of the chunked body).
   */
  cutWatches(): void {
    for (const s of this.streams) {
      s.write('{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"resourceVersion":"9999999');
      s.socket?.destroy();
    }
    this.streams.clear();
  }

  /** The API server goes away: connections reset, new ones refused. */
  async down(): Promise<void> {
    this.streams.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Back on the same port. */
  async up(): Promise<void> {
    this.server = this.makeServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const c of this.clusters.values()) c.stop();
    if (this.server.listening) await this.down();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/clusters\/([^/]+)(\/.*)$/.exec(url.pathname);
    const cluster = m ? this.clusters.get(m[1]!) : undefined;
    if (!m || !cluster)
      return send(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource', {}));
    const path = m[2]!;
    const query = Object.fromEntries(url.searchParams);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = auth ? this.tokens.get(auth[1]!) : undefined;
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const asUser = req.headers['impersonate-user'];
    // As the API server does: each Impersonate-Group header is one group (never split on commas).
    const asGroups = req.headersDistinct['impersonate-group'] ?? [];
    const id: Identity | undefined =
      token && typeof asUser === 'string'
        ? {
            user: asUser,
            cluster: token.cluster,
            rules: [asUser, ...asGroups.map((g) => `group:${g}`)].flatMap(
              (k) => this.subjects.get(k.startsWith('group:') ? k : `user:${k}`) ?? [],
            ),
          }
        : token;
    this.requests.push({
      cluster: cluster.name,
      method: req.method ?? 'GET',
      path,
      query,
      at: Date.now(),
      ...(contentType ? { contentType } : {}),
      ...(id ? { user: id.user } : {}),
      ...(token && id !== token ? { impersonator: token.user, groups: asGroups } : {}),
    });
    if (!token || !id || id.cluster !== cluster.name)
      return send(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
    if (token !== id) {
      const denied = [['users', asUser as string], ...asGroups.map((g) => ['groups', g] as const)].find(
        ([resource, name]) => !allows(token.rules, 'impersonate', resource, undefined, name),
      );
      if (denied) {
        const [resource, name] = denied;
        const message =
          `${resource} "${name}" is forbidden: User "${token.user}" cannot impersonate resource "${resource}" ` +
          `in API group "" at the cluster scope`;
        return send(res, 403, statusObject(403, 'Forbidden', message, { name, kind: resource }));
      }
    }

    if (path === '/version') {
      return send(res, 200, {
        major: '1',
        minor: '31',
        gitVersion: 'v1.31.2',
        gitCommit: '0000000',
        gitTreeState: 'clean',
        buildDate: '2024-10-22T20:28:14Z',
        goVersion: 'go1.22.8',
        compiler: 'gc',
        platform: 'linux/amd64',
      });
    }
    const r = route(path);
    if (!r)
      return send(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource', {}));
    const method = req.method ?? 'GET';
    const verb =
      method === 'GET'
        ? r.name
          ? 'get'
          : query.watch === 'true' || query.watch === '1'
            ? 'watch'
            : 'list'
        : method === 'PATCH'
          ? 'patch'
          : method === 'DELETE'
            ? 'delete'
            : '';
    if (!verb || (verb !== 'get' && verb !== 'list' && verb !== 'watch' && !r.name)) {
      return send(
        res,
        405,
        statusObject(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {}),
      );
    }
    const resource = r.sub ? `${r.resource}/${r.sub}` : r.resource;
    if (!allows(id.rules, verb, resource, r.namespace)) {
      const target = r.name
        ? `${qualified(r.resource)} "${r.name}" is forbidden`
        : `${qualified(r.resource)} is forbidden`;
      const scope = r.namespace ? `in the namespace "${r.namespace}"` : 'at the cluster scope';
      return send(
        res,
        403,
        statusObject(
          403,
          'Forbidden',
          `${target}: User "${id.user}" cannot ${verb} resource "${resource}" in API group "${GROUP[r.resource]}" ${scope}`,
          details(r),
        ),
      );
    }
    const fault = this.faults.find(
      (f) =>
        (!f.method || f.method === method) &&
        (!f.resource || f.resource === resource) &&
        (!f.name || f.name === r.name),
    );
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      return this.sendFault(res, fault.code, r);
    }
    if (query.dryRun !== undefined && query.dryRun !== 'All') {
      return send(res, 400, statusObject(400, 'BadRequest', `Invalid dry run value: ${query.dryRun}; must be "All"`));
    }
    switch (verb) {
      case 'list':
        return this.list(res, cluster, r, query);
      case 'watch':
        return this.watch(req, res, cluster, r, query);
      case 'get':
        return r.sub === 'log' ? this.log(res, cluster, r, query) : this.get(res, cluster, r);
      case 'patch':
        return this.patch(req, res, cluster, r, query, contentType);
      case 'delete':
        return this.delete(res, cluster, r, query);
    }
  }

  private sendFault(res: ServerResponse, code: number, r: Route): void {
    switch (code) {
      case 409:
        return send(
          res,
          409,
          statusObject(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${qualified(r.resource)} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`,
            details(r),
          ),
        );
      case 410:
        return send(
          res,
          410,
          statusObject(
            410,
            'Expired',
            'The provided continue parameter is too old to display a consistent list result.',
          ),
        );
      case 429:
        return send(res, 429, statusObject(429, 'TooManyRequests', 'too many requests'));
      default:
        return send(
          res,
          code,
          statusObject(code, code === 503 ? 'ServiceUnavailable' : 'InternalError', `fake fault ${code}`),
        );
    }
  }

  private notFound(res: ServerResponse, r: Route, name = r.name): void {
    send(res, 404, statusObject(404, 'NotFound', `${qualified(r.resource)} "${name}" not found`, details(r, name)));
  }

  private selectors(res: ServerResponse, query: Record<string, string>): ((o: KObj) => boolean) | undefined {
    try {
      const label = query.labelSelector ? labelMatcher(query.labelSelector) : () => true;
      const field = query.fieldSelector ? fieldMatcher(query.fieldSelector) : () => true;
      return (o) => label(o) && field(o);
    } catch (e) {
      send(res, 400, statusObject(400, 'BadRequest', e instanceof Error ? e.message : String(e)));
      return undefined;
    }
  }

  private list(res: ServerResponse, c: ClusterState, r: Route, query: Record<string, string>): void {
    const matches = this.selectors(res, query);
    if (!matches) return;
    let items = c.list(r.resource, r.namespace).filter(matches);
    const limit = Number(query.limit ?? 0);
    if (limit > 0) items = items.slice(0, limit);
    send(res, 200, {
      kind: `${KIND[r.resource]}List`,
      apiVersion: apiVersionOf(r.resource),
      metadata: { resourceVersion: String(c.resourceVersion) },
      items: items.map(bare),
    });
  }

  private get(res: ServerResponse, c: ClusterState, r: Route): void {
    const o = c.get(r.resource, r.namespace, r.name!);
    if (!o) return this.notFound(res, r);
    send(res, 200, (r.sub === 'scale' ? scaleOf(o) : o) as unknown as Json);
  }

  private watch(
    req: IncomingMessage,
    res: ServerResponse,
    c: ClusterState,
    r: Route,
    query: Record<string, string>,
  ): void {
    const matches = this.selectors(res, query);
    if (!matches) return;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // Like the real server: the client learns at once that the watch is open.
    res.flushHeaders();
    const write = (type: string, object: Json) => {
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    const rv = query.resourceVersion;
    const inScope = (o: KObj) => (!r.namespace || o.metadata.namespace === r.namespace) && matches(o);
    if (rv && rv !== '0') {
      const changes = c.changesSince(Number(rv));
      if (!changes) {
        write('ERROR', statusObject(410, 'Expired', `too old resource version: ${rv} (${c.oldestResourceVersion})`));
        res.end();
        return;
      }
      for (const ch of changes)
        if (ch.resource === r.resource && inScope(ch.object)) write(ch.type, ch.object as unknown as Json);
    } else {
      for (const o of c.list(r.resource, r.namespace)) if (matches(o)) write('ADDED', o as unknown as Json);
    }
    this.streams.add(res);
    const stop = c.watch({
      resource: r.resource,
      ...(r.namespace ? { namespace: r.namespace } : {}),
      matches,
      send: (type, o) => write(type, o as unknown as Json),
    });
    const timeout = Number(query.timeoutSeconds ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const cleanup = () => {
      stop();
      clearTimeout(timer);
      this.streams.delete(res);
    };
    res.on('close', cleanup);
    req.on('close', cleanup);
  }

  private log(res: ServerResponse, c: ClusterState, r: Route, query: Record<string, string>): void {
    const pod = c.get('pods', r.namespace, r.name!);
    if (!pod) return this.notFound(res, r);
    const names = (pod.spec?.containers ?? []).map((x) => x.name);
    const container = query.container || (names.length === 1 ? names[0]! : undefined);
    if (!container)
      return send(
        res,
        400,
        statusObject(
          400,
          'BadRequest',
          `a container name must be specified for pod ${r.name}, choose one of: [${names.join(' ')}]`,
        ),
      );
    if (!names.includes(container))
      return send(res, 400, statusObject(400, 'BadRequest', `container ${container} is not valid for pod ${r.name}`));
    const previous = query.previous === 'true';
    let lines = c.logsOf(r.namespace!, r.name!, container, previous);
    if (!lines)
      return send(
        res,
        400,
        statusObject(400, 'BadRequest', `previous terminated container "${container}" in pod "${r.name}" not found`),
      );
    if (query.sinceSeconds) {
      const since = Date.now() - Number(query.sinceSeconds) * 1000;
      lines = lines.filter((l) => l.time.getTime() >= since);
    }
    if (query.tailLines) lines = lines.slice(Math.max(0, lines.length - Number(query.tailLines)));
    const stamps = query.timestamps === 'true';
    let body = Buffer.from(lines.map((l) => `${stamps ? `${l.time.toISOString()} ` : ''}${l.text}\n`).join(''));
    if (query.limitBytes) body = body.subarray(0, Number(query.limitBytes));
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    // In chunks, as a kubelet streams it.
    const step = 8192;
    let at = 0;
    const pump = () => {
      if (res.destroyed) return;
      if (at >= body.length) return void res.end();
      res.write(body.subarray(at, at + step));
      at += step;
      setImmediate(pump);
    };
    pump();
  }

  private async patch(
    req: IncomingMessage,
    res: ServerResponse,
    c: ClusterState,
    r: Route,
    query: Record<string, string>,
    contentType: string | undefined,
  ): Promise<void> {
    const raw = await readBody(req);
    const obj = c.get(r.resource, r.namespace, r.name!);
    if (!obj) return this.notFound(res, r);
    let body: Json;
    try {
      body = JSON.parse(raw) as Json;
    } catch {
      return send(res, 400, statusObject(400, 'BadRequest', 'error decoding patch: invalid JSON'));
    }
    const apply = (target: KObj): KObj => {
      const t = target as unknown as Json;
      switch (contentType) {
        case 'application/merge-patch+json':
          return mergePatch(t, body) as unknown as KObj;
        case 'application/strategic-merge-patch+json':
          return strategicMergePatch(t, body) as unknown as KObj;
        case 'application/json-patch+json':
          return jsonPatch(t, body) as unknown as KObj;
        default:
          throw new UnsupportedMedia();
      }
    };
    const base = r.sub === 'scale' ? scaleOf(obj) : obj;
    let patched: KObj;
    try {
      patched = apply(clone(base));
    } catch (e) {
      if (e instanceof UnsupportedMedia) {
        return send(
          res,
          415,
          statusObject(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      }
      if (e instanceof PatchError) return send(res, 422, statusObject(422, 'Invalid', e.message, details(r)));
      throw e;
    }
    if (patched.metadata?.resourceVersion !== obj.metadata.resourceVersion) {
      return send(
        res,
        409,
        statusObject(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${qualified(r.resource)} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`,
          details(r),
        ),
      );
    }
    if (patched.metadata.name !== obj.metadata.name || patched.metadata.namespace !== obj.metadata.namespace) {
      return send(
        res,
        422,
        statusObject(
          422,
          'Invalid',
          `${KIND[r.resource]} "${r.name}" is invalid: metadata.name: Invalid value: field is immutable`,
          details(r),
        ),
      );
    }
    const replicas = patched.spec?.replicas;
    if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) {
      const who =
        r.sub === 'scale'
          ? `Scale.autoscaling "${r.name}"`
          : `${KIND[r.resource]}.${GROUP[r.resource] || 'core'} "${r.name}"`;
      return send(
        res,
        422,
        statusObject(
          422,
          'Invalid',
          `${who} is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
          details(r),
        ),
      );
    }
    let next: KObj =
      r.sub === 'scale' ? { ...obj, spec: { ...obj.spec, replicas: replicas ?? obj.spec?.replicas ?? 1 } } : patched;
    if (canonical(next.spec) !== canonical(obj.spec))
      next = { ...next, metadata: { ...next.metadata, generation: (obj.metadata.generation ?? 1) + 1 } };
    if (query.dryRun === 'All') {
      return send(res, 200, (r.sub === 'scale' ? scaleOf(next) : next) as unknown as Json);
    }
    const stored = c.put(r.resource, next);
    c.changed();
    send(res, 200, (r.sub === 'scale' ? scaleOf(stored) : stored) as unknown as Json);
  }

  private delete(res: ServerResponse, c: ClusterState, r: Route, query: Record<string, string>): void {
    const obj = c.get(r.resource, r.namespace, r.name!);
    if (!obj) return this.notFound(res, r);
    const shown: KObj = { ...obj, metadata: { ...obj.metadata, deletionTimestamp: new Date().toISOString() } };
    if (query.dryRun === 'All') return send(res, 200, shown as unknown as Json);
    c.remove(r.resource, r.namespace, r.name!);
    if (r.resource === 'pods') {
      c.addEvent({
        namespace: r.namespace!,
        involved: { kind: 'Pod', name: r.name!, uid: obj.metadata.uid },
        type: 'Normal',
        reason: 'Killing',
        message: `Stopping container ${obj.spec?.containers?.[0]?.name ?? ''}`,
      });
    }
    c.changed();
    send(res, 200, shown as unknown as Json);
  }
}

class UnsupportedMedia extends Error {}
