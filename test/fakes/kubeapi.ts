/**
 * Fake Kubernetes API server for tests (see test/fakes/kubeapi/): two clusters, "prod" and
 * "staging", behind one 127.0.0.1 port, bearer tokens with a small RBAC table each, and a
 * kubeconfig that points the real client library at them.
 *
 *   const kube = await startFakeKube();
 *   const file = await writeKubeconfig(dir, kube);   // contexts prod (ns shop), staging (ns web)
 *   kube.cluster('prod').crashLoop('shop', pod);      // make things happen
 *   await kube.close();
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClusterState } from './kubeapi/cluster.js';
import { seedProd, seedStaging } from './kubeapi/seed.js';
import { ADMIN, FakeKubeApi, VIEWER, type Identity } from './kubeapi/server.js';

export { ClusterState } from './kubeapi/cluster.js';
export { seedScale } from './kubeapi/seed.js';
export { REVISION, templateHash } from './kubeapi/controllers.js';
export {
  ADMIN,
  FakeKubeApi,
  statusObject,
  VIEWER,
  type Fault,
  type Identity,
  type RequestRecord,
  type Rule,
} from './kubeapi/server.js';
export type { KObj } from './kubeapi/types.js';

export const TOKENS = {
  prodAdmin: 'prod-admin-token',
  prodViewer: 'prod-viewer-token',
  stagingAdmin: 'staging-admin-token',
} as const;

export interface StartOptions {
  /** Delay before controllers react to a change (ms). */
  readonly rolloutDelayMs?: number;
}

/** Starts the fake with clusters prod and staging, seeded, and three tokens. */
export async function startFakeKube(o: StartOptions = {}): Promise<FakeKubeApi> {
  const prod = new ClusterState('prod', o.rolloutDelayMs);
  const staging = new ClusterState('staging', o.rolloutDelayMs);
  seedProd(prod);
  seedStaging(staging);
  const tokens = new Map<string, Identity>([
    [TOKENS.prodAdmin, { user: 'admin@prod', cluster: 'prod', rules: ADMIN }],
    [TOKENS.prodViewer, { user: 'system:serviceaccount:ops:teleops-viewer', cluster: 'prod', rules: VIEWER }],
    [TOKENS.stagingAdmin, { user: 'admin@staging', cluster: 'staging', rules: ADMIN }],
  ]);
  return FakeKubeApi.start({
    clusters: new Map([
      ['prod', prod],
      ['staging', staging],
    ]),
    tokens,
  });
}

export interface ContextSpec {
  readonly name: string;
  /** A cluster of the fake, or a server URL of its own (e.g. a closed port, for "unreachable"). */
  readonly cluster: string;
  readonly token: string;
  readonly namespace?: string;
}

export const DEFAULT_CONTEXTS: readonly ContextSpec[] = [
  { name: 'prod', cluster: 'prod', token: TOKENS.prodAdmin, namespace: 'shop' },
  { name: 'staging', cluster: 'staging', token: TOKENS.stagingAdmin, namespace: 'web' },
];

/**
 * Writes a kubeconfig (JSON is YAML) with contexts prod and staging — plus `extra` — pointing
 * at the fake over http (hence insecure-skip-tls-verify, which the client requires for http).
 */
export async function writeKubeconfig(
  dir: string,
  api: FakeKubeApi,
  extra: readonly ContextSpec[] = [],
  current = 'prod',
): Promise<string> {
  const specs = [...DEFAULT_CONTEXTS, ...extra];
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': current,
    clusters: specs.map((s) => ({
      name: `${s.name}-cluster`,
      cluster: {
        server: s.cluster.startsWith('http') ? s.cluster : api.serverUrl(s.cluster),
        'insecure-skip-tls-verify': true,
      },
    })),
    users: specs.map((s) => ({ name: `${s.name}-user`, user: { token: s.token } })),
    contexts: specs.map((s) => ({
      name: s.name,
      context: {
        cluster: `${s.name}-cluster`,
        user: `${s.name}-user`,
        ...(s.namespace ? { namespace: s.namespace } : {}),
      },
    })),
  };
  const file = path.join(dir, 'kubeconfig');
  await writeFile(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
