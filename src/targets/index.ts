import { homedir } from 'node:os';
import type { TargetFactory } from '../app.js';
import { TmuxWatchedRepo } from '../store/tmux-watched.js';
import { createDockerTarget } from './docker/index.js';
import { KUBE_DISABLED, locateKubeConfig } from './kubernetes/locate.js';
import { shellActions } from './shell/index.js';
import { createTmuxTarget } from './tmux/index.js';
import { DEFAULT_ERROR_PATTERNS, DEFAULT_WAIT_PATTERNS } from './tmux/classify.js';
import { tmuxSettings } from './tmux/settings.js';

export const dockerTarget: TargetFactory = ({ config: c, alerts, log, redactor }) =>
  c.DOCKER_ENABLED
    ? createDockerTarget({ host: c.DOCKER_HOST, timeoutMs: c.DOCKER_TIMEOUT_SECONDS * 1000 }, alerts, log, { redactor })
    : { actions: [], integration: { name: 'docker', check: async () => ({ state: 'disabled', detail: 'DOCKER_ENABLED=false' }) } };

export const tmuxTarget: TargetFactory = ({ config: c, alerts, log, db, redactor }) => {
  if (!c.TMUX_ENABLED) return { actions: [], integration: { name: 'tmux', check: async () => ({ state: 'disabled', detail: 'TMUX_ENABLED=false' }) } };
  const settings = tmuxSettings({
    ...(c.TMUX_SOCKET ? { socket: c.TMUX_SOCKET } : {}),
    ...(c.TMUX_SESSION_FILTER ? { sessionFilter: c.TMUX_SESSION_FILTER } : {}),
    defaultCwd: c.TMUX_DEFAULT_CWD || homedir(),
    logLines: c.TMUX_LOG_LINES,
    pollMs: Math.round(c.TMUX_POLL_SECONDS * 1000),
    stuckMs: Math.round(c.TMUX_STUCK_MINUTES * 60_000),
    alertCooldownMs: c.TMUX_ALERT_COOLDOWN_SECONDS * 1000,
    cardLines: c.TMUX_CARD_LINES,
    waitPatterns: c.TMUX_WAIT_PATTERNS ? [...DEFAULT_WAIT_PATTERNS, c.TMUX_WAIT_PATTERNS] : DEFAULT_WAIT_PATTERNS,
    errorPatterns: c.TMUX_ERROR_PATTERNS ? [...DEFAULT_ERROR_PATTERNS, c.TMUX_ERROR_PATTERNS] : DEFAULT_ERROR_PATTERNS,
  });
  return createTmuxTarget(settings, { store: new TmuxWatchedRepo(db), alerts, log, redact: redactor.redact });
};

/**
 * Kubernetes is there when a kubeconfig (or in-cluster account) is; /status says so either
 * way. The client library is loaded only then.
 */
export const kubernetesTarget: TargetFactory = async ({ config: c, alerts, log }) => {
  const disabled = { name: 'kubernetes', check: async () => KUBE_DISABLED };
  if (!locateKubeConfig(c.KUBECONFIG ? { kubeconfig: c.KUBECONFIG } : {})) return { actions: [], integration: disabled };
  const { createKubeTarget } = await import('./kubernetes/index.js');
  const kube = createKubeTarget(
    {
      ...(c.KUBECONFIG ? { kubeconfig: c.KUBECONFIG } : {}),
      contexts: c.K8S_CONTEXTS,
      namespaces: c.K8S_NAMESPACES,
      readOnly: c.K8S_READ_ONLY,
      maxReplicas: c.K8S_MAX_REPLICAS,
    },
    alerts,
    log,
  );
  if (!kube) return { actions: [], integration: disabled };
  return {
    actions: kube.actions,
    integration: kube.integration,
    start: async () => kube.start(),
    stop: () => kube.stop(),
  };
};

/** `/shell` exists only with SHELL_ENABLED=true. */
export const shellTarget: TargetFactory = ({ config: c }) =>
  c.SHELL_ENABLED ? { actions: shellActions({ timeoutMs: c.SHELL_TIMEOUT_SECONDS * 1000, ...(c.TMUX_DEFAULT_CWD ? { cwd: c.TMUX_DEFAULT_CWD } : {}) }) } : null;

/** Every target teleops can operate; each decides from the config whether it is enabled. */
export const TARGETS: readonly TargetFactory[] = [dockerTarget, tmuxTarget, kubernetesTarget, shellTarget];
