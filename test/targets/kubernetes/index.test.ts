import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/log.js';
import { createKubeTarget, KubeConfigError, type KubeSettings } from '../../../src/targets/kubernetes/index.js';
import { Alerts, startEnv, type Env } from './harness.js';

let env: Env;
let home: string;
beforeAll(async () => {
  env = await startEnv();
  home = await mkdtemp(path.join(tmpdir(), 'teleops-home-'));
});
afterAll(async () => {
  await env.close();
  await rm(home, { recursive: true, force: true });
});

const settings: KubeSettings = { readOnly: false, maxReplicas: 50 };

describe('createKubeTarget', () => {
  it('is absent (null) without a kubeconfig and outside a cluster', () => {
    expect(createKubeTarget(settings, new Alerts(), silentLogger(), { locate: { home, env: {} } })).toBeNull();
    expect(
      createKubeTarget(settings, new Alerts(), silentLogger(), {
        locate: { home, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountToken: path.join(home, 'nope') },
      }),
    ).toBeNull();
  });

  it('reads ~/.kube/config when KUBECONFIG is not set', async () => {
    await mkdir(path.join(home, '.kube'));
    await writeFile(path.join(home, '.kube', 'config'), await readFile(env.kubeconfig, 'utf8'));
    const t = createKubeTarget(settings, new Alerts(), silentLogger(), { locate: { home, env: {} } });
    expect(t?.source).toBe(path.join(home, '.kube', 'config'));
    expect(t?.clusters.contexts().map((c) => c.name)).toEqual([
      'prod',
      'staging',
      'prod-viewer',
      'prod-stranger',
      'offline',
    ]);
  });

  it('merges a KUBECONFIG path list, and refuses one naming no file', () => {
    const t = createKubeTarget(
      { ...settings, kubeconfig: `${path.join(home, 'missing')}${path.delimiter}${env.kubeconfig}` },
      new Alerts(),
      silentLogger(),
    );
    expect(t?.source).toBe(env.kubeconfig);
    expect(() =>
      createKubeTarget({ ...settings, kubeconfig: path.join(home, 'missing') }, new Alerts(), silentLogger()),
    ).toThrow(KubeConfigError);
    expect(() =>
      createKubeTarget(
        { ...settings, kubeconfig: env.kubeconfig, namespaces: ['Bad_NS'] },
        new Alerts(),
        silentLogger(),
      ),
    ).toThrow('K8S_NAMESPACES has invalid namespace names: Bad_NS');
  });

  it('reports health per allowed context', async () => {
    const t = createKubeTarget(
      { ...settings, kubeconfig: env.kubeconfig, contexts: ['prod', 'offline'] },
      new Alerts(),
      silentLogger(),
      { timeoutMs: 1000 },
    );
    const h = await t!.integration.check(AbortSignal.timeout(2000));
    expect(t!.integration.name).toBe('kubernetes');
    expect(h).toEqual({ state: 'down', detail: 'Kubernetes API unreachable (ECONNREFUSED) (context offline)' });
  });
});
