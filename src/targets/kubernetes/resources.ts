import type {
  AppsV1Api,
  ConfigurationOptions,
  CoreV1Api,
  ObservableMiddleware,
  V1ListMeta,
} from '@kubernetes/client-node';
import type { KubeObjects, ObjectKind, WorkloadKind } from './port.js';

/** The kinds the port reads: how RBAC and URLs spell each, and which generated calls list and read it. */

export interface Apis {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
}
export type Cfg = ConfigurationOptions<ObservableMiddleware>;
export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
}
type ListAnswer<K extends ObjectKind> = { items: KubeObjects[K][]; metadata?: V1ListMeta };

export interface Resource<K extends ObjectKind> {
  /** Plural, as RBAC and the URL spell it. */
  readonly plural: string;
  readonly namespaced: boolean;
  list(a: Apis, ns: string | undefined, q: ListQuery, cfg: Cfg): Promise<ListAnswer<K>>;
  read(a: Apis, ns: string, name: string, cfg: Cfg): Promise<KubeObjects[K]>;
}

export const RESOURCES: { [K in ObjectKind]: Resource<K> } = {
  pod: {
    plural: 'pods',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.core.listNamespacedPod({ namespace: ns, ...q }, c) : a.core.listPodForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.core.readNamespacedPod({ namespace: ns, name }, c),
  },
  deployment: {
    plural: 'deployments',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.apps.listNamespacedDeployment({ namespace: ns, ...q }, c) : a.apps.listDeploymentForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.apps.readNamespacedDeployment({ namespace: ns, name }, c),
  },
  statefulset: {
    plural: 'statefulsets',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.apps.listNamespacedStatefulSet({ namespace: ns, ...q }, c) : a.apps.listStatefulSetForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.apps.readNamespacedStatefulSet({ namespace: ns, name }, c),
  },
  daemonset: {
    plural: 'daemonsets',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.apps.listNamespacedDaemonSet({ namespace: ns, ...q }, c) : a.apps.listDaemonSetForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.apps.readNamespacedDaemonSet({ namespace: ns, name }, c),
  },
  replicaset: {
    plural: 'replicasets',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.apps.listNamespacedReplicaSet({ namespace: ns, ...q }, c) : a.apps.listReplicaSetForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.apps.readNamespacedReplicaSet({ namespace: ns, name }, c),
  },
  service: {
    plural: 'services',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.core.listNamespacedService({ namespace: ns, ...q }, c) : a.core.listServiceForAllNamespaces(q, c),
    read: (a, ns, name, c) => a.core.readNamespacedService({ namespace: ns, name }, c),
  },
  event: {
    plural: 'events',
    namespaced: true,
    list: (a, ns, q, c) =>
      ns ? a.core.listNamespacedEvent({ namespace: ns, ...q }, c) : a.core.listEventForAllNamespaces(q, c),
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

export const WORKLOAD_PLURAL: Record<WorkloadKind, string> = {
  deployment: 'deployments',
  statefulset: 'statefulsets',
  daemonset: 'daemonsets',
};
