/**
 * The fake API server keeps objects as the JSON the real one sends. These interfaces name
 * the fields the fake itself reads or writes; everything else rides along untouched.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerRef[];
  deletionTimestamp?: string;
  generateName?: string;
}

export interface Container {
  name: string;
  image: string;
  [k: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec: { containers: Container[]; [k: string]: unknown };
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastHeartbeatTime?: string;
}

export interface ContainerState {
  running?: { startedAt: string };
  waiting?: { reason: string; message?: string };
  terminated?: { reason: string; exitCode: number; startedAt?: string; finishedAt?: string; message?: string };
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
}

/** A superset of the spec fields of the kinds the fake serves. */
export interface Spec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
  template?: PodTemplate;
  containers?: Container[];
  nodeName?: string;
  [k: string]: unknown;
}

/** A superset of the status fields of the kinds the fake serves. */
export interface Status {
  phase?: string;
  reason?: string;
  message?: string;
  conditions?: Condition[];
  containerStatuses?: ContainerStatus[];
  replicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  updatedReplicas?: number;
  currentReplicas?: number;
  observedGeneration?: number;
  [k: string]: unknown;
}

export interface KObj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: Spec;
  status?: Status;
  [k: string]: unknown;
}

export type Resource =
  | 'pods'
  | 'deployments'
  | 'statefulsets'
  | 'daemonsets'
  | 'replicasets'
  | 'services'
  | 'nodes'
  | 'namespaces'
  | 'events';

export const RESOURCES: readonly Resource[] = [
  'pods',
  'deployments',
  'statefulsets',
  'daemonsets',
  'replicasets',
  'services',
  'nodes',
  'namespaces',
  'events',
];

export const GROUP: Readonly<Record<Resource, '' | 'apps'>> = {
  pods: '',
  services: '',
  nodes: '',
  namespaces: '',
  events: '',
  deployments: 'apps',
  statefulsets: 'apps',
  daemonsets: 'apps',
  replicasets: 'apps',
};

export const KIND: Readonly<Record<Resource, string>> = {
  pods: 'Pod',
  services: 'Service',
  nodes: 'Node',
  namespaces: 'Namespace',
  events: 'Event',
  deployments: 'Deployment',
  statefulsets: 'StatefulSet',
  daemonsets: 'DaemonSet',
  replicasets: 'ReplicaSet',
};

export const NAMESPACED: Readonly<Record<Resource, boolean>> = {
  pods: true,
  services: true,
  events: true,
  deployments: true,
  statefulsets: true,
  daemonsets: true,
  replicasets: true,
  nodes: false,
  namespaces: false,
};

/** "deployments.apps" as the API server names a resource in messages. */
export const qualified = (r: Resource): string => (GROUP[r] ? `${r}.${GROUP[r]}` : r);

export const apiVersionOf = (r: Resource): string => (GROUP[r] ? `${GROUP[r]}/v1` : 'v1');
