/**
 * KubePort: the small surface the Kubernetes actions and watchers use, for one kubeconfig
 * context; `client.ts` implements it over @kubernetes/client-node.
 */
import type {
  CoreV1Event,
  V1DaemonSet,
  V1Deployment,
  V1Namespace,
  V1Node,
  V1Pod,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1Scale,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { Readable } from 'node:stream';

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
/** The first items of a list by name, as a list action shows them, and how many there are. */
export interface Page<T> {
  readonly total: number;
  readonly items: T[];
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
 * One line of a watch stream. Objects are the raw JSON: timestamps are strings here, as in
 * lists, unlike in reads (where the client library turns them into Dates).
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
  /** The first `n` by name (natural order, equal names in list order), without building the rest. */
  listFirst<K extends ObjectKind>(
    kind: K,
    namespace: string | undefined,
    n: number,
    o?: ListOptions,
  ): Promise<Page<KubeObjects[K]>>;
  read<K extends ObjectKind>(
    kind: K,
    namespace: string | undefined,
    name: string,
    o?: CallOptions,
  ): Promise<KubeObjects[K]>;
  readScale(kind: ScalableKind, namespace: string, name: string, o?: CallOptions): Promise<V1Scale>;
  /** Merge patch of the scale subresource, as `kubectl scale` does. */
  scale(kind: ScalableKind, namespace: string, name: string, replicas: number, o?: MutateOptions): Promise<V1Scale>;
  /** Strategic merge patch of the pod template's restartedAt annotation, as `kubectl rollout restart`. */
  restart(kind: WorkloadKind, namespace: string, name: string, at: string, o?: MutateOptions): Promise<Workload>;
  /**
   * Replaces a deployment's pod template (`kubectl rollout undo`), only if the deployment is
   * still at `resourceVersion` (else a 409 conflict).
   */
  setTemplate(
    namespace: string,
    name: string,
    template: V1PodTemplateSpec,
    resourceVersion: string,
    o?: MutateOptions,
  ): Promise<V1Deployment>;
  deletePod(namespace: string, name: string, o?: MutateOptions): Promise<V1Pod>;
  /** A bounded log stream (follow=false). */
  logs(namespace: string, pod: string, o: LogOptions): Promise<Readable>;
  /**
   * Streams changes to `onEvent` until the server ends the stream (resolves) or it fails
   * (rejects with a KubeApiError; `failure: 'gone'` when the resourceVersion is too old).
   * Aborting `signal` resolves.
   */
  watch(
    kind: WatchKind,
    namespace: string | undefined,
    o: WatchOptions,
    onEvent: (e: WatchEvent) => void,
  ): Promise<void>;
}
