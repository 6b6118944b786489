import type { AppsV1Api, ConfigurationOptions, CoreV1Api, ObservableMiddleware } from '@kubernetes/client-node';
import type { KubeObjects, ObjectKind, WorkloadKind } from './port.js';

/** The kinds the port reads: how RBAC and URLs spell each, and which generated call reads one. */
export interface Apis {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}
export type Cfg = ConfigurationOptions<ObservableMiddleware>;
export interface Resource<K extends ObjectKind> {
  /** Plural, as RBAC and the URL spell it. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Where its API group is served. */
  readonly api: '/api/v1' | '/apis/apps/v1';
  read(a: Apis, ns: string, name: string, cfg: Cfg): Promise<KubeObjects[K]>;
}

/** The URL path of a kind's collection, in one namespace or across all. */
export function collectionPath(r: Resource<ObjectKind>, ns: string | undefined): string {
  return ns ? `${r.api}/namespaces/${encodeURIComponent(ns)}/${r.plural}` : `${r.api}/${r.plural}`;
}

export const RESOURCES: { [K in ObjectKind]: Resource<K> } = {
  pod: {
    plural: 'pods',
    namespaced: true,
    api: '/api/v1',
    read: (a, ns, name, c) => a.core.readNamespacedPod({ namespace: ns, name }, c),
  },
  deployment: {
    plural: 'deployments',
    namespaced: true,
    api: '/apis/apps/v1',
    read: (a, ns, name, c) => a.apps.readNamespacedDeployment({ namespace: ns, name }, c),
  },
  statefulset: {
    plural: 'statefulsets',
    namespaced: true,
    api: '/apis/apps/v1',
    read: (a, ns, name, c) => a.apps.readNamespacedStatefulSet({ namespace: ns, name }, c),
  },
  daemonset: {
    plural: 'daemonsets',
    namespaced: true,
    api: '/apis/apps/v1',
    read: (a, ns, name, c) => a.apps.readNamespacedDaemonSet({ namespace: ns, name }, c),
  },
  replicaset: {
    plural: 'replicasets',
    namespaced: true,
    api: '/apis/apps/v1',
    read: (a, ns, name, c) => a.apps.readNamespacedReplicaSet({ namespace: ns, name }, c),
  },
  service: {
    plural: 'services',
    namespaced: true,
    api: '/api/v1',
    read: (a, ns, name, c) => a.core.readNamespacedService({ namespace: ns, name }, c),
  },
  event: {
    plural: 'events',
    namespaced: true,
    api: '/api/v1',
    read: (a, ns, name, c) => a.core.readNamespacedEvent({ namespace: ns, name }, c),
  },
  node: {
    plural: 'nodes',
    namespaced: false,
    api: '/api/v1',
    read: (a, _ns, name, c) => a.core.readNode({ name }, c),
  },
  namespace: {
    plural: 'namespaces',
    namespaced: false,
    api: '/api/v1',
    read: (a, _ns, name, c) => a.core.readNamespace({ name }, c),
  },
};

export const WORKLOAD_PLURAL: Record<WorkloadKind, string> = {
  deployment: 'deployments',
  statefulset: 'statefulsets',
  daemonset: 'daemonsets',
};
