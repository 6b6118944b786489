/**
 * deploy/kubernetes as `kubectl kustomize` renders it: every object valid against the
 * Kubernetes schemas (kubernetes-models), the restricted Pod Security settings in place, and
 * each overlay's ClusterRoles equal to what the registry's Kubernetes actions (and the alert
 * watchers) actually call — observed at the fake API server, which enforces the very rules
 * rendered here. An action without a scenario, or one calling something the role lacks,
 * fails; so does a rule that nothing uses.
 */
import { loadAllYaml } from '@kubernetes/client-node';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/config.js';
import type { Setting } from '../../src/core/settings.js';
import { impersonationSetting } from '../../src/targets/kubernetes/impersonate.js';
import type { Rule } from '../fakes/kubeapi.js';
import { writeKubeconfig } from '../fakes/kubeapi.js';
import { Alerts, context, parse, startEnv, target, until, type Env } from '../targets/kubernetes/harness.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const OVERLAYS = ['read-only', 'operator'] as const;
const KUBECTL = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('kubectl is required under CI=true (for kubectl kustomize)');
    console.warn('[kubernetes manifest tests skipped] kubectl not installed');
    return false;
  }
})();

interface KObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

/** The schema of each kind the manifests may contain; another kind fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
};

async function render(overlay: string): Promise<KObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', join(ROOT, 'deploy/kubernetes/overlays', overlay)]);
  return loadAllYaml(stdout) as KObject[];
}

/** "verb resource" pairs a set of ClusterRole rules grants (resources with subresource). */
function granted(objects: KObject[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects.filter((x) => x.kind === 'ClusterRole')) {
    for (const r of (o as unknown as { rules: { verbs: string[]; resources: string[] }[] }).rules) {
      for (const v of r.verbs) for (const res of r.resources) out.add(`${v} ${res}`);
    }
  }
  return out;
}

/** The RBAC verb and resource of a request the fake API server recorded. */
function verbOf(method: string, path: string, query: Readonly<Record<string, string>>): string | undefined {
  const m = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)\/(.*)$/.exec(path);
  if (!m) return undefined;
  let parts = m[1]!.split('/');
  if (parts[0] === 'namespaces' && parts.length > 2) parts = parts.slice(2);
  const [resource, name, sub] = parts;
  const res = sub ? `${resource}/${sub}` : resource!;
  const verb = {
    GET: query.watch === 'true' ? 'watch' : name ? 'get' : 'list',
    PATCH: 'patch',
    DELETE: 'delete',
    POST: 'create',
    PUT: 'update',
  }[method];
  return `${verb} ${res}`;
}

/**
 * What every overlay shares: each object valid against its schema, the namespace under the
 * restricted Pod Security standard, a pod that satisfies it, probes on /health, a NetworkPolicy
 * for both directions, and ClusterRoles without secrets, configmaps, exec or wildcards.
 */
function expectValidAndRestricted(objects: KObject[]): Deployment {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!Model) throw new Error(`no schema check for ${o.apiVersion} ${o.kind} ${o.metadata.name}`);
    expect(() => new Model(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
  }
  const ns = objects.find((o) => o.kind === 'Namespace')!;
  expect(ns.metadata).toMatchObject({
    name: 'teleops',
    labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
  });
  const d = new Deployment(objects.find((o) => o.kind === 'Deployment') as never);
  const pod = d.spec!.template.spec!;
  expect(pod.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  const c = pod.containers[0]!;
  expect(c.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
  expect(c.livenessProbe?.httpGet?.path).toBe('/health');
  expect(c.readinessProbe?.httpGet?.path).toBe('/health');
  expect(objects.find((o) => o.kind === 'NetworkPolicy')).toMatchObject({
    spec: { policyTypes: ['Ingress', 'Egress'] },
  });
  // A label of teleops' own pods in another pod's selector (kube-dns, a database) makes it
  // select nothing, and the traffic the rule was for is dropped.
  const own = Object.entries(d.spec!.template.metadata!.labels!);
  for (const np of objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => new NetworkPolicy(o as never))) {
    const peers = [
      ...(np.spec!.ingress ?? []).flatMap((r) => r.from ?? []),
      ...(np.spec!.egress ?? []).flatMap((r) => r.to ?? []),
    ];
    for (const p of peers) {
      const asks = Object.entries(p.podSelector?.matchLabels ?? {});
      expect(
        asks.filter(([k, v]) => own.some(([ok, ov]) => ok === k && ov === v)),
        `NetworkPolicy ${np.metadata!.name}: peer ${JSON.stringify(p.podSelector)}`,
      ).toEqual([]);
    }
  }
  for (const o of objects.filter((x) => x.kind === 'ClusterRole')) {
    const resources = (o as unknown as { rules: { resources: string[] }[] }).rules.flatMap((r) => r.resources);
    expect(resources, 'no secrets, configmaps, exec or wildcards').not.toEqual(
      expect.arrayContaining([expect.stringMatching(/^(secrets|configmaps|pods\/exec|\*)$/)]),
    );
  }
  return d;
}

/** One or more command lines per Kubernetes action, reaching every kind each one handles. */
const SCENARIOS: Record<string, readonly string[]> = {
  'k8s.contexts': ['/k8s contexts'],
  'k8s.use': ['/k8s use rbac shop'],
  'k8s.ns': ['/k8s ns'],
  'k8s.pods': ['/k8s pods', '/k8s pods app=web'],
  'k8s.deploy': ['/k8s deploy'],
  'k8s.nodes': ['/k8s nodes'],
  'k8s.events': ['/k8s events', '/k8s events deploy/web'],
  'k8s.logs': ['/k8s logs {pod} 5'],
  'k8s.describe': [
    '/k8s describe pod/{pod}',
    '/k8s describe deploy/web',
    '/k8s describe sts/db',
    '/k8s describe ds/log-agent',
    '/k8s describe svc/web',
    '/k8s describe node/node-1',
  ],
  'k8s.scale': ['/k8s scale deploy/web 4', '/k8s scale sts/db 2'],
  'k8s.restart': ['/k8s restart deploy/web', '/k8s restart sts/db', '/k8s restart ds/log-agent'],
  'k8s.rollback': ['/k8s rollback deploy/web'],
  'k8s.delete': ['/k8s delete pod/{pod}'],
};

describe.skipIf(!KUBECTL)('deploy/kubernetes', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv([]);
  });
  afterAll(async () => {
    await env.close();
  });

  for (const overlay of OVERLAYS) {
    it(`${overlay}: every rendered object is valid, the pod is restricted, one replica, recreated`, async () => {
      const objects = await render(overlay);
      const d = expectValidAndRestricted(objects);
      expect(d.spec?.replicas).toBe(1);
      expect(d.spec?.strategy?.type).toBe('Recreate');
      const c = d.spec!.template.spec!.containers[0]!;
      expect(c.env?.find((e) => e.name === 'K8S_READ_ONLY')?.value).toBe(overlay === 'read-only' ? 'true' : 'false');
    });

    it(`${overlay}: the ClusterRoles grant exactly what the registry's Kubernetes actions and watchers call`, async () => {
      const objects = await render(overlay);
      const grants = granted(objects);
      const rules: Rule[] = [...grants].map((g) => ({ verbs: [g.split(' ')[0]!], resources: [g.split(' ')[1]!] }));
      const token = `rbac-${overlay}-token`;
      env.api.setToken(token, { user: `system:serviceaccount:teleops:teleops-${overlay}`, cluster: 'prod', rules });
      const kubeconfig = await writeKubeconfig(
        env.dir,
        env.api,
        [{ name: 'rbac', cluster: 'prod', token, namespace: 'shop' }],
        'rbac',
      );
      const readOnly = overlay === 'read-only';
      const alerts = new Alerts();
      const t = target({ ...env, kubeconfig }, { readOnly, contexts: ['rbac'] }, alerts);
      const before = env.api.requests.length;
      t.start();
      const watching = (kind: string) =>
        env.api.requests
          .slice(before)
          .some(
            (r) => r.query.watch === 'true' && r.path.endsWith(`/${kind}`) && r.user?.endsWith(`teleops-${overlay}`),
          );
      await until(() => ['pods', 'events', 'nodes'].every(watching), 5000, 'the alert watchers to watch');
      await t.stop();

      const missing = t.actions.map((a) => a.name).filter((n) => !SCENARIOS[n]);
      expect(missing, 'every Kubernetes action needs a scenario here').toEqual([]);
      for (const a of t.actions) {
        for (const template of SCENARIOS[a.name]!) {
          const pod = env.api
            .cluster('prod')
            .list('pods', 'shop')
            .find((p) => p.metadata.labels?.app === 'web')!.metadata.name;
          const inv = parse(t, template.replace('{pod}', pod));
          const ctx = context();
          if (inv.action.preview) await inv.action.preview(ctx, inv.params);
          await inv.action.run(ctx, inv.params);
          await env.api.cluster('prod').settle();
        }
      }
      const used = new Set(
        env.api.requests
          .slice(before)
          .filter((r) => r.user?.endsWith(`teleops-${overlay}`))
          .map((r) => verbOf(r.method, r.path, r.query))
          .filter((v): v is string => v !== undefined),
      );
      expect([...used].sort(), 'called (so needed) ⊆ granted, and granted ⊆ called').toEqual([...grants].sort());
      if (readOnly) expect([...grants].filter((g) => !/^(get|list|watch) /.test(g))).toEqual([]);
    });
  }
});

describe.skipIf(!KUBECTL)('deploy/kubernetes/components/impersonate', () => {
  let env: Env;
  let dir: string;
  beforeAll(async () => {
    env = await startEnv([]);
    dir = await mkdtemp(join(tmpdir(), 'teleops-kustomize-'));
  });
  afterAll(async () => {
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The operator overlay with the component, as an operator would compose them. */
  async function renderWithComponent(): Promise<KObject[]> {
    const up = relative(dir, ROOT);
    await writeFile(
      join(dir, 'kustomization.yaml'),
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n' +
        `resources: [${up}/deploy/kubernetes/overlays/operator]\n` +
        `components: [${up}/deploy/kubernetes/components/impersonate]\n`,
    );
    const { stdout } = await run('kubectl', ['kustomize', dir]);
    return loadAllYaml(stdout) as KObject[];
  }

  interface RbacRule {
    apiGroups: string[];
    resources: string[];
    verbs: string[];
    resourceNames?: string[];
  }

  it('lets the bot impersonate exactly the named users and groups, and nobody else', async () => {
    const objects = await renderWithComponent();
    const rules = objects
      .filter((o) => o.kind === 'ClusterRole')
      .flatMap((o) => (o as unknown as { rules: RbacRule[] }).rules);
    const impersonating = rules.filter((r) => r.verbs.includes('impersonate'));
    expect(impersonating.length).toBeGreaterThan(0);
    for (const r of impersonating) {
      expect(r.verbs).toEqual(['impersonate']);
      expect(['users', 'groups']).toEqual(expect.arrayContaining(r.resources));
      expect(r.resourceNames?.length, 'an impersonate rule without names would allow anyone').toBeGreaterThan(0);
      expect(r.resourceNames).not.toContain('*');
    }
    for (const o of objects.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding')) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`]!;
      expect(() => new Model(o as never).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
    }

    // The fake API server enforces the rendered rules, names included, for the bot's token.
    const token = 'rbac-impersonate-token';
    const asFake: Rule[] = rules.map((r) => ({
      verbs: r.verbs,
      resources: r.resources,
      ...(r.resourceNames ? { names: r.resourceNames } : {}),
    }));
    env.api.setToken(token, { user: 'system:serviceaccount:teleops:teleops', cluster: 'prod', rules: asFake });
    env.api.setSubject('user', 'alice', [{ verbs: ['list'], resources: ['pods'] }]);
    const kubeconfig = await writeKubeconfig(env.dir, env.api, [{ name: 'rbac', cluster: 'prod', token }], 'rbac');
    const impersonate = impersonationSetting.parse('1001:alice,1002:bob:group=sre,1003:mallory');
    const t = target({ ...env, kubeconfig }, { contexts: ['rbac'], impersonate });
    const ctx = (userId: number) => ({
      ...context(),
      operator: { userId, chatId: userId, role: 'admin' as const, display: `#${userId}` },
    });
    const pods = parse(t, '/k8s pods');
    await expect(pods.action.run(ctx(1001), pods.params)).resolves.toBeDefined();
    await expect(pods.action.run(ctx(1002), pods.params)).rejects.toThrow(
      /^forbidden: Kubernetes user bob cannot list/,
    );
    await expect(pods.action.run(ctx(1003), pods.params)).rejects.toThrow(
      /^forbidden: the bot's account may not impersonate user mallory/,
    );
  });
});

describe.skipIf(!KUBECTL)('deploy/kubernetes/overlays/ha', () => {
  let objects: KObject[];
  let d: Deployment;
  let c: IContainer;
  let podLabels: Record<string, string>;
  beforeAll(async () => {
    objects = await render('ha');
    d = new Deployment(objects.find((o) => o.kind === 'Deployment') as never);
    c = d.spec!.template.spec!.containers[0]!;
    podLabels = d.spec!.template.metadata!.labels!;
  });

  const all = <T>(kind: string, Model: new (data: never) => T): T[] =>
    objects.filter((o) => o.kind === kind).map((o) => new Model(o as never));
  /** A label selector picks the Deployment's pods: not empty, and every label it asks for they have. */
  const selectsPods = (matchLabels: Record<string, string> | undefined): boolean =>
    Object.keys(matchLabels ?? {}).length > 0 && Object.entries(matchLabels!).every(([k, v]) => podLabels[k] === v);
  /** The container port a Service targetPort or NetworkPolicy port means: by name, or by number. */
  const containerPort = (port: string | number | undefined): number | undefined =>
    typeof port === 'number'
      ? c.ports?.find((p) => p.containerPort === port)?.containerPort
      : c.ports?.find((p) => p.name === port)?.containerPort;

  /** The filled-in secrets an operator would apply (the templates in git are empty). */
  const FILLED: Record<string, string> = {
    TELEGRAM_BOT_TOKEN: `123456:${'A'.repeat(35)}`,
    AUTHORIZED_USER_IDS: '1001',
    AUDIT_HMAC_KEY: 'k'.repeat(32),
    TELEGRAM_WEBHOOK_SECRET: 'w'.repeat(64),
    DATABASE_URL: 'postgres://teleops:pw@db.example:5432/teleops',
  };
  /** The container's environment as the kubelet assembles it, from the rendered Secrets' keys. */
  function podEnv(): Record<string, string> {
    const secret = (name: string) => {
      const s = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name) as
        { stringData: Record<string, string> } | undefined;
      if (!s) throw new Error(`Secret ${name} is not in the rendered manifests`);
      return s.stringData;
    };
    const filled = (name: string, key: string) => {
      if (!(key in secret(name))) throw new Error(`Secret ${name} has no key ${key}`);
      if (!(key in FILLED)) throw new Error(`no filled-in value for ${key} in this test`);
      return FILLED[key]!;
    };
    const env: Record<string, string> = {};
    for (const f of c.envFrom ?? []) {
      for (const key of Object.keys(secret(f.secretRef!.name!))) env[key] = filled(f.secretRef!.name!, key);
    }
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      env[e.name] = ref ? filled(ref.name!, ref.key) : e.value!;
    }
    return env;
  }

  it('every rendered object is valid, the pod is restricted, and the RBAC is the operator overlay’s', async () => {
    expectValidAndRestricted(objects);
    // Labels aside (the ha overlay labels everything it renders), the same roles bound the same way.
    const rbac = (xs: KObject[]) =>
      xs
        .filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')
        .map(({ metadata, ...rest }) => JSON.stringify({ name: metadata.name, ...rest }));
    expect(rbac(objects).sort()).toEqual(rbac(await render('operator')).sort());
  });

  it('its settings pass teleops’ own check: webhook mode, DATABASE_URL and the lease', () => {
    const env = podEnv();
    const r = loadConfig(env, 'start');
    expect(r.ok ? [] : r.problems).toEqual([]);
    expect(env).toMatchObject({ TELEGRAM_WEBHOOK_HOST: '0.0.0.0', LEADER_LEASE_SECONDS: '15' });
    expect(env.DATABASE_URL).toBe(FILLED.DATABASE_URL);
    expect(env.TELEGRAM_WEBHOOK_URL).toMatch(/^https:\/\//);
  });

  it('secret settings come from a Secret, never as plain values in the Deployment', () => {
    const secretNames = new Set([
      ...Object.entries(SETTINGS as Record<string, Setting>)
        .filter(([, s]) => s.secret)
        .map(([n]) => n),
      'DATABASE_URL',
    ]);
    const plain = (c.env ?? []).filter((e) => secretNames.has(e.name) && e.value !== undefined).map((e) => e.name);
    expect(plain).toEqual([]);
    for (const name of ['TELEGRAM_WEBHOOK_SECRET', 'DATABASE_URL']) {
      const ref = c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
      expect(ref, name).toBeDefined();
      const s = objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref!.name) as
        { stringData: Record<string, string> } | undefined;
      expect(s?.stringData, `${name} from Secret ${ref!.name}`).toHaveProperty([ref!.key], '');
    }
  });

  it('three replicas, spread over nodes, and a PodDisruptionBudget over exactly those pods', () => {
    expect(d.spec?.replicas).toBe(3);
    expect(selectsPods(d.spec!.selector.matchLabels)).toBe(true);
    const pdbs = all('PodDisruptionBudget', PodDisruptionBudget);
    expect(pdbs).toHaveLength(1);
    const pdb = pdbs[0]!.spec!;
    expect(pdb.selector?.matchLabels).toEqual(d.spec!.selector.matchLabels);
    const mayLeave =
      pdb.minAvailable !== undefined ? d.spec!.replicas! - Number(pdb.minAvailable) : Number(pdb.maxUnavailable);
    expect(mayLeave, 'a drain may take one pod at a time, and no more').toBe(1);

    const pod = d.spec!.template.spec!;
    const terms = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(
      terms.some(
        (t) =>
          t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' &&
          selectsPods(t.podAffinityTerm.labelSelector?.matchLabels),
      ),
      'a preferred anti-affinity to its own pods per node',
    ).toBe(true);
    for (const t of pod.topologySpreadConstraints ?? []) expect(selectsPods(t.labelSelector?.matchLabels)).toBe(true);
  });

  it('a rolling update keeps every replica ready: one new pod in before an old one goes', () => {
    const s = d.spec!.strategy!;
    expect(s.type).toBe('RollingUpdate');
    expect(s.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const pdb = all('PodDisruptionBudget', PodDisruptionBudget)[0]!.spec!;
    expect(d.spec!.replicas! - Number(s.rollingUpdate!.maxUnavailable)).toBeGreaterThanOrEqual(
      Number(pdb.minAvailable),
    );
  });

  it('no volume claim: the state directory is an emptyDir of each pod', () => {
    expect(objects.filter((o) => o.kind === 'PersistentVolumeClaim')).toEqual([]);
    const volumes = d.spec!.template.spec!.volumes ?? [];
    expect(volumes.filter((v) => v.persistentVolumeClaim)).toEqual([]);
    const stateDir = podEnv().STATE_DIR;
    const mount = c.volumeMounts?.find((m) => m.mountPath === stateDir);
    expect(mount, `a volume at STATE_DIR (${stateDir})`).toBeDefined();
    expect(volumes.find((v) => v.name === mount!.name)?.emptyDir).toBeDefined();
  });

  it('the Ingress and its Service route the webhook URL to the container’s webhook port, and nothing else', () => {
    const env = podEnv();
    const url = new URL(env.TELEGRAM_WEBHOOK_URL!);
    const webhookPort = Number(env.TELEGRAM_WEBHOOK_PORT);
    expect(webhookPort).not.toBe(Number(env.HTTP_PORT));
    const ingresses = all('Ingress', Ingress);
    expect(ingresses).toHaveLength(1);
    const ing = ingresses[0]!.spec!;
    expect(
      ing.tls?.flatMap((t) => t.hosts ?? []),
      'TLS for the URL’s host',
    ).toContain(url.hostname);
    const rule = ing.rules?.find((r) => r.host === url.hostname);
    expect(rule, `a rule for ${url.hostname}`).toBeDefined();
    const paths = rule!.http!.paths;
    expect(paths.map((p) => [p.path, p.pathType])).toEqual([[url.pathname, 'Exact']]);

    const backend = paths[0]!.backend.service!;
    const svc = all('Service', Service).find((s) => s.metadata?.name === backend.name);
    expect(svc, `Service ${backend.name}`).toBeDefined();
    expect(selectsPods(svc!.spec!.selector)).toBe(true);
    const port = svc!.spec!.ports!.find((p) =>
      backend.port?.name !== undefined ? p.name === backend.port.name : p.port === backend.port?.number,
    );
    expect(port, `port ${JSON.stringify(backend.port)} of Service ${backend.name}`).toBeDefined();
    expect(containerPort(port!.targetPort ?? port!.port), 'the target is the port teleops listens on').toBe(
      webhookPort,
    );
    expect(
      svc!.spec!.ports!.map((p) => containerPort(p.targetPort ?? p.port)),
      'the Ingress’s Service exposes the webhook alone',
    ).toEqual([webhookPort]);
  });

  it('the NetworkPolicies admit the webhook port and let the pods reach PostgreSQL', () => {
    const webhookPort = Number(podEnv().TELEGRAM_WEBHOOK_PORT);
    // A policy's empty podSelector means every pod of the namespace.
    const policies = all('NetworkPolicy', NetworkPolicy).filter((p) => {
      const labels = p.spec!.podSelector?.matchLabels ?? {};
      return Object.keys(labels).length === 0 || selectsPods(labels);
    });
    const admitted = policies
      .filter((p) => p.spec!.policyTypes?.includes('Ingress'))
      .flatMap((p) => p.spec!.ingress ?? [])
      .flatMap((r) => (r.ports ?? []).map((port) => containerPort(port.port)));
    expect(admitted).toContain(webhookPort);
    const dbPort = Number(new URL(FILLED.DATABASE_URL!).port);
    const egress = policies
      .filter((p) => p.spec!.policyTypes?.includes('Egress'))
      .flatMap((p) => p.spec!.egress ?? [])
      .filter((r) => (r.ports ?? []).some((port) => port.port === dbPort));
    expect(egress.length, `an egress rule to port ${dbPort}`).toBeGreaterThan(0);
  });
});
