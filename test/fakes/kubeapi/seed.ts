/** The two clusters the fake starts with: "prod" (namespaces shop, payments) and "staging". */
import { setCondition, type ClusterState } from './cluster.js';
import type { Container, KObj, PodTemplate, Resource } from './types.js';
import { apiVersionOf, KIND } from './types.js';

function meta(
  c: ClusterState,
  name: string,
  namespace?: string,
  extra: Partial<KObj['metadata']> = {},
): KObj['metadata'] {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    uid: c.uid(),
    resourceVersion: '',
    creationTimestamp: new Date(Date.now() - 3 * 86_400_000).toISOString(),
    ...extra,
  };
}

const template = (app: string, containers: Container[], annotations?: Record<string, string>): PodTemplate => ({
  metadata: { labels: { app }, ...(annotations ? { annotations } : {}) },
  spec: { containers },
});

function add(
  c: ClusterState,
  resource: Resource,
  name: string,
  namespace: string | undefined,
  rest: Omit<KObj, 'apiVersion' | 'kind' | 'metadata'>,
  metaExtra: Partial<KObj['metadata']> = {},
): KObj {
  return c.put(resource, {
    apiVersion: apiVersionOf(resource),
    kind: KIND[resource],
    metadata: meta(c, name, namespace, metaExtra),
    ...rest,
  });
}

function node(c: ClusterState, name: string, role?: string): void {
  const conditions = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'].reduce(
    (acc, t) => setCondition(acc, t, false),
    setCondition(undefined, 'Ready', true, 'KubeletReady'),
  );
  add(
    c,
    'nodes',
    name,
    undefined,
    {
      spec: {},
      status: {
        conditions,
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        capacity: { cpu: '4', memory: '16Gi', pods: '110' },
        allocatable: { cpu: '3800m', memory: '15Gi', pods: '110' },
        nodeInfo: {
          kubeletVersion: 'v1.31.2',
          osImage: 'Debian GNU/Linux 12 (bookworm)',
          containerRuntimeVersion: 'containerd://1.7.22',
          kernelVersion: '6.1.0',
          architecture: 'amd64',
          operatingSystem: 'linux',
        },
      },
    },
    { labels: { 'kubernetes.io/hostname': name, ...(role ? { [`node-role.kubernetes.io/${role}`]: '' } : {}) } },
  );
}

function deployment(c: ClusterState, ns: string, name: string, replicas: number, tpl: PodTemplate): KObj {
  return add(
    c,
    'deployments',
    name,
    ns,
    {
      spec: {
        replicas,
        selector: { matchLabels: tpl.metadata!.labels! },
        template: tpl,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
        revisionHistoryLimit: 10,
      },
      status: {},
    },
    { generation: 1, labels: { app: name } },
  );
}

function service(c: ClusterState, ns: string, name: string, port: number, targetPort: number): void {
  add(c, 'services', name, ns, {
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.96.0.${10 + (port % 200)}`,
      ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }],
      selector: { app: name },
    },
    status: { loadBalancer: {} },
  });
}

/** prod: three nodes; shop has web (revisions 1 and 2), api (two containers), db, log-agent. */
export function seedProd(c: ClusterState): void {
  for (const ns of ['default', 'kube-system', 'shop', 'payments'])
    add(c, 'namespaces', ns, undefined, { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  node(c, 'node-1', 'control-plane');
  node(c, 'node-2');
  node(c, 'node-3');
  const web = deployment(
    c,
    'shop',
    'web',
    3,
    template('web', [{ name: 'nginx', image: 'nginx:1.24', ports: [{ containerPort: 8080, protocol: 'TCP' }] }]),
  );
  c.progress();
  // A second revision, so there is something to roll back to.
  const v2 = c.get('deployments', 'shop', 'web')!;
  v2.spec!.template!.spec.containers[0]!.image = 'nginx:1.25';
  v2.metadata.generation = (web.metadata.generation ?? 1) + 1;
  c.put('deployments', v2);
  deployment(
    c,
    'shop',
    'api',
    2,
    template(
      'api',
      [
        { name: 'api', image: 'ghcr.io/acme/api:2.3.1' },
        { name: 'envoy', image: 'envoyproxy/envoy:v1.31' },
      ],
      { 'kubectl.kubernetes.io/default-container': 'api' },
    ),
  );
  add(
    c,
    'statefulsets',
    'db',
    'shop',
    {
      spec: {
        replicas: 1,
        serviceName: 'db',
        selector: { matchLabels: { app: 'db' } },
        template: template('db', [{ name: 'postgres', image: 'postgres:16' }]),
      },
      status: {},
    },
    { generation: 1 },
  );
  add(
    c,
    'daemonsets',
    'log-agent',
    'shop',
    {
      spec: {
        selector: { matchLabels: { app: 'log-agent' } },
        template: template('log-agent', [{ name: 'fluent-bit', image: 'fluent/fluent-bit:3.0' }]),
      },
      status: {},
    },
    { generation: 1 },
  );
  service(c, 'shop', 'web', 80, 8080);
  service(c, 'shop', 'api', 8080, 8080);
  deployment(
    c,
    'payments',
    'billing',
    1,
    template('billing', [{ name: 'billing', image: 'ghcr.io/acme/billing:1.0.0' }]),
  );
  c.progress();
}

/** staging: one node; namespace web has frontend. */
export function seedStaging(c: ClusterState): void {
  for (const ns of ['default', 'web']) add(c, 'namespaces', ns, undefined, { spec: {}, status: { phase: 'Active' } });
  node(c, 'staging-node-1', 'control-plane');
  deployment(
    c,
    'web',
    'frontend',
    2,
    template('frontend', [{ name: 'frontend', image: 'ghcr.io/acme/frontend:0.9.0' }]),
  );
  c.progress();
}

/** A namespace holding one deployment of `replicas` running pods (for the list benchmark). */
export function seedScale(c: ClusterState, ns: string, replicas: number): void {
  add(c, 'namespaces', ns, undefined, { spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  deployment(c, ns, 'fleet', replicas, template('fleet', [{ name: 'app', image: 'ghcr.io/acme/fleet:1.0' }]));
  c.progress();
}
