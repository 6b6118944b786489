import { bool, int, list, text } from '../../core/settings.js';
import { defineTarget, disabled } from '../../core/target.js';
import { impersonationSetting } from './impersonate.js';
import { KUBE_DISABLED, locateKubeConfig } from './locate.js';
import { isDnsLabel } from './names.js';
import { kubeScoping } from './places.js';
import { incidentStore, MIGRATIONS, POSTGRES } from './incidents.js';

/** Namespace names, checked here so that a typo is reported even while Kubernetes is off. */
const namespaces = list.refine((ns) => ns.every(isDnsLabel), {
  error: (iss) =>
    `not a namespace name: ${(iss.input as string[])
      .filter((n) => !isDnsLabel(n))
      .map((n) => JSON.stringify(n.slice(0, 64)))
      .join(', ')}`,
});

/**
 * Kubernetes is there when a kubeconfig (or in-cluster account) is; /status says so either
 * way. The client library is loaded only then.
 */
export const kubernetes = defineTarget({
  name: 'kubernetes',
  settings: {
    KUBECONFIG: {
      doc: 'Kubeconfig path(s); unset: ~/.kube/config, or the in-cluster service account',
      default: '',
      schema: text,
    },
    K8S_CONTEXTS: { doc: 'Allowed kubeconfig contexts, comma-separated (empty: all)', default: '', schema: list },
    K8S_NAMESPACES: { doc: 'Allowed namespaces, comma-separated (empty: all)', default: '', schema: namespaces },
    K8S_READ_ONLY: { doc: 'Remove every mutating Kubernetes action', default: 'false', schema: bool },
    K8S_MAX_REPLICAS: { doc: 'Most replicas /k8s scale may set', default: '50', schema: int(0, 10_000) },
    K8S_IMPERSONATE: {
      doc:
        'Act as the person who asked, e.g. 1001:alice,1002:bob:group=sre (<telegram user id>:<kubernetes user>' +
        "[:group=<group>]): a mapped user's requests impersonate them, others are refused (empty: the bot's account)",
      default: '',
      schema: impersonationSetting,
    },
  },
  scope: kubeScoping,
  fix: 'check KUBECONFIG, K8S_CONTEXTS and that the API server is reachable',
  prompt: 'Kubernetes workloads',
  migrations: MIGRATIONS,
  postgres: POSTGRES,
  create: async ({ config: c, alerts, log, db }) => {
    const off = disabled(KUBE_DISABLED.detail);
    if (!locateKubeConfig(c.KUBECONFIG ? { kubeconfig: c.KUBECONFIG } : {})) return off;
    const { createKubeTarget } = await import('./index.js');
    const kube = createKubeTarget(
      {
        ...(c.KUBECONFIG ? { kubeconfig: c.KUBECONFIG } : {}),
        contexts: c.K8S_CONTEXTS,
        namespaces: c.K8S_NAMESPACES,
        readOnly: c.K8S_READ_ONLY,
        maxReplicas: c.K8S_MAX_REPLICAS,
        impersonate: c.K8S_IMPERSONATE,
      },
      alerts,
      log,
      { watch: { incidents: incidentStore(db) } },
    );
    if (!kube) return off;
    return {
      actions: kube.actions,
      integration: kube.integration,
      onCard: (listener) => kube.onCard(listener),
      cards: () => kube.cards(),
      start: async () => kube.start(),
      stop: () => kube.stop(),
    };
  },
});
