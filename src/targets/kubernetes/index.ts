/**
 * The Kubernetes target, ready to wire: actions for the registry, an alert watcher, and a
 * health check. `createKubeTarget` returns null when this machine has no kubeconfig (and
 * is not in a cluster): Kubernetes is then simply absent.
 */
import type { ActionContext, AnyAction } from '../../core/action.js';
import type { AlertSink } from '../../core/alerts.js';
import type { Health, Integration } from '../../core/health.js';
import type { Logger } from '../../core/log.js';
import type { Result } from '../../core/result.js';
import { kubeActions } from './actions.js';
import { KubeWatcher, type KubeWatchOptions, type WatchStatus } from './alerts.js';
import { loadKubeConfig, type LocateOptions } from './kubeconfig.js';
import { LiveRollouts } from './live.js';
import { placeOf } from './places.js';
import { KubeClusters, pinScope, type KubeSettings } from './scope.js';

export { KubeConfigError } from './kubeconfig.js';
export { KUBE_DEFAULTS, type KubeSettings } from './scope.js';
export { KubeApiError } from './errors.js';

export interface KubeTargetOptions {
  /** Per API call (default 10 s). */
  readonly timeoutMs?: number;
  readonly watch?: KubeWatchOptions;
  /** How long mutating actions follow a rollout (default 60 s) and how often they look (2 s). */
  readonly rolloutTimeoutMs?: number;
  readonly rolloutPollMs?: number;
  /** Most rollouts followed at once (default 16). */
  readonly maxFollowed?: number;
  /** Where to look for the kubeconfig besides `settings.kubeconfig` (tests). */
  readonly locate?: Omit<LocateOptions, 'kubeconfig'>;
}

export interface KubeTarget {
  readonly actions: AnyAction[];
  /** Where the credentials came from: kubeconfig path(s) or "in-cluster service account". */
  readonly source: string;
  readonly clusters: KubeClusters;
  /** For /health and `teleops doctor`: asks each allowed context for its version. */
  readonly integration: Integration;
  /**
   * Writes the chat's current context and namespace into a Kubernetes action's validated
   * params (unless -c/-n gave them); params of other actions come back unchanged. The
   * actions' `bind` calls it, so an approved request acts where its card said.
   */
  pin(
    action: string,
    ctx: Pick<ActionContext, 'chat' | 'operator'>,
    params: Record<string, unknown>,
  ): Record<string, unknown>;
  /** Rollouts followed after a change, as live cards (results with a `card` key) as they change. */
  onCard(listener: (card: Result) => void): () => void;
  /** The cards of the rollouts followed now. */
  cards(): Result[];
  /** Starts the alert watchers. */
  start(): void;
  /** Stops the alert watchers and every rollout followed. */
  stop(): Promise<void>;
  watchStatus(): WatchStatus;
}

export { KUBE_DISABLED } from './locate.js';

/**
 * Throws KubeConfigError (one line) when the settings name things that are not there:
 * a KUBECONFIG without files, unknown K8S_CONTEXTS, invalid K8S_NAMESPACES.
 */
export function createKubeTarget(
  settings: KubeSettings,
  sink: AlertSink,
  log: Logger,
  o: KubeTargetOptions = {},
): KubeTarget | null {
  const loaded = loadKubeConfig({
    ...o.locate,
    ...(settings.kubeconfig !== undefined ? { kubeconfig: settings.kubeconfig } : {}),
  });
  if (!loaded) return null;
  const clusters = new KubeClusters(loaded.kc, settings, o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {});
  const live = new LiveRollouts(o.maxFollowed);
  const unbound = kubeActions({
    clusters,
    live,
    readOnly: settings.readOnly,
    maxReplicas: settings.maxReplicas,
    ...(o.rolloutTimeoutMs !== undefined ? { rolloutTimeoutMs: o.rolloutTimeoutMs } : {}),
    ...(o.rolloutPollMs !== undefined ? { rolloutPollMs: o.rolloutPollMs } : {}),
  });
  const watcher = new KubeWatcher(clusters, sink, log, o.watch);
  // Actions whose params take a scope (all but k8s.contexts and k8s.use).
  const scoped = new Set(
    unbound
      .filter((a) => 'namespace' in ((a.params as { shape?: object }).shape ?? {}) && a.name !== 'k8s.use')
      .map((a) => a.name),
  );
  const pin = (action: string, ctx: Pick<ActionContext, 'chat' | 'operator'>, params: Record<string, unknown>) =>
    scoped.has(action)
      ? pinScope(clusters, ctx.chat, params as { context?: string; namespace?: string }, ctx.operator)
      : params;
  // The dispatcher binds the chat's scope into every request before approval, then asks where it acts.
  const actions: AnyAction[] = unbound.map((a) =>
    scoped.has(a.name)
      ? {
          ...a,
          bind: (ctx: ActionContext, p: Record<string, unknown>) => pin(a.name, ctx, p),
          where: (_ctx: ActionContext, p: { context: string; namespace: string; kind?: string }) => [
            placeOf(p.context, a.name === 'k8s.nodes' || p.kind === 'node' ? '' : p.namespace),
          ],
        }
      : a.name === 'k8s.use'
        ? {
            ...a,
            where: (_ctx: ActionContext, p: { context: string; namespace?: string }) => [
              placeOf(p.context, p.namespace ?? clusters.defaultNamespace(p.context)),
            ],
          }
        : a,
  );
  let started = false;

  const check = async (signal: AbortSignal): Promise<Health> => {
    const results = await Promise.all(
      clusters.contexts().map(async (c) => {
        try {
          return { ok: true, text: `${c.name} ${await clusters.port(c.name).version({ signal })}` };
        } catch (e) {
          return { ok: false, text: e instanceof Error ? e.message : String(e) };
        }
      }),
    );
    const watch = started ? watcher.status() : undefined;
    const watchDown = watch ? Object.entries(watch.contexts).filter(([, s]) => s.state === 'down') : [];
    const notes = watchDown.map(([ctx, s]) => `alerts for ${ctx}: ${s.state === 'down' ? s.detail : ''}`);
    if (results.length === 0) return { state: 'down', detail: 'no allowed context in the kubeconfig' };
    const bad = results.filter((r) => !r.ok);
    if (bad.length) return { state: 'down', detail: [...bad.map((r) => r.text), ...notes].join('; ') };
    return { state: 'up', detail: [results.map((r) => r.text).join(', '), ...notes].join('; ') };
  };

  return {
    actions,
    source: loaded.source,
    clusters,
    integration: { name: 'kubernetes', check },
    pin,
    onCard: (listener) => live.onCard(listener),
    cards: () => live.cards(),
    start: () => {
      started = true;
      watcher.start();
    },
    stop: async () => {
      await Promise.all([watcher.stop(), live.stop()]);
    },
    watchStatus: () => watcher.status(),
  };
}
