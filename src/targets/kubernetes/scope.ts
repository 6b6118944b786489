/**
 * Which cluster and namespace a request acts on: the `-c/-n` flags, else the chat's current
 * context and namespace (`/k8s use`), else the kubeconfig's. Allow-lists (K8S_CONTEXTS,
 * K8S_NAMESPACES) are enforced here, for every action, whatever asked.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ActionError, type ChatState, type Operator } from '../../core/action.js';
import { identityOf, type Impersonation } from './impersonate.js';
import { forContext, KubeConfigError } from './kubeconfig.js';
import { isContextName, isDnsLabel } from './names.js';
import { createKubePort } from './client.js';
import type { KubePort } from './port.js';

export const CHAT_CONTEXT = 'k8s.context';
export const CHAT_NAMESPACE = 'k8s.namespace';

/** The Kubernetes settings, as config.ts reads them (names in DESIGN.md §3). */
export interface KubeSettings {
  /** KUBECONFIG: path list; unset means ~/.kube/config, else in-cluster. */
  readonly kubeconfig?: string;
  /** K8S_CONTEXTS: allowed contexts; unset or empty means every context in the kubeconfig. */
  readonly contexts?: readonly string[];
  /** K8S_NAMESPACES: allowed namespaces; unset or empty means all. */
  readonly namespaces?: readonly string[];
  /** K8S_READ_ONLY: no mutating action exists at all. */
  readonly readOnly: boolean;
  /** K8S_MAX_REPLICAS: the most replicas /k8s scale may set. */
  readonly maxReplicas: number;
  /** K8S_IMPERSONATE: whom each Telegram user acts as; unset or empty: the kubeconfig's own account. */
  readonly impersonate?: Impersonation;
}

export const KUBE_DEFAULTS = { readOnly: false, maxReplicas: 50 } as const;

export interface KubeContextInfo {
  readonly name: string;
  readonly cluster: string;
  readonly server: string;
  readonly namespace?: string;
}

export interface Scope {
  readonly context: string;
  readonly namespace: string;
  readonly port: KubePort;
}

/**
 * The allowed contexts of a kubeconfig, with one port (client) per context and identity, made
 * on first use.
 */
export class KubeClusters {
  private readonly allowed: KubeContextInfo[];
  private readonly ports = new Map<string, KubePort>();
  private readonly namespaces?: ReadonlySet<string>;
  private readonly impersonate: Impersonation;

  constructor(
    private readonly kc: KubeConfig,
    settings: Pick<KubeSettings, 'contexts' | 'namespaces' | 'impersonate'>,
    private readonly portOptions: { timeoutMs?: number } = {},
  ) {
    this.impersonate = settings.impersonate ?? new Map();
    const all = kc.getContexts().filter((c) => isContextName(c.name));
    const wanted = settings.contexts?.length ? settings.contexts : undefined;
    if (wanted) {
      const unknown = wanted.filter((w) => !all.some((c) => c.name === w));
      if (unknown.length) {
        throw new KubeConfigError(
          `K8S_CONTEXTS names contexts that are not in the kubeconfig: ${unknown.join(', ')} ` +
            `(known: ${all.map((c) => c.name).join(', ') || 'none'})`,
        );
      }
    }
    const bad = (settings.namespaces ?? []).filter((n) => !isDnsLabel(n));
    if (bad.length) throw new KubeConfigError(`K8S_NAMESPACES has invalid namespace names: ${bad.join(', ')}`);
    if (settings.namespaces?.length) this.namespaces = new Set(settings.namespaces);
    this.allowed = all
      .filter((c) => !wanted || wanted.includes(c.name))
      .map((c) => ({
        name: c.name,
        cluster: c.cluster,
        server: kc.getCluster(c.cluster)?.server ?? '',
        ...(c.namespace ? { namespace: c.namespace } : {}),
      }));
  }

  contexts(): readonly KubeContextInfo[] {
    return this.allowed;
  }

  info(name: string): KubeContextInfo | undefined {
    return this.allowed.find((c) => c.name === name);
  }

  /**
   * The first allowed context that reaches the same API server as this one: contexts that
   * share a cluster (another user, another default namespace) share its incidents.
   */
  clusterOf(context: string): string {
    const server = this.info(context)?.server;
    return (server && this.allowed.find((c) => c.server === server)?.name) || context;
  }

  /** The kubeconfig's current context when allowed, else the first allowed one. */
  defaultContext(): string {
    const current = this.kc.getCurrentContext();
    const c = this.info(current) ?? this.allowed[0];
    if (!c) throw new ActionError('no Kubernetes context is allowed (check K8S_CONTEXTS and the kubeconfig)');
    return c.name;
  }

  allowedNamespaces(): readonly string[] | undefined {
    return this.namespaces ? [...this.namespaces] : undefined;
  }

  namespaceAllowed(ns: string): boolean {
    return !this.namespaces || this.namespaces.has(ns);
  }

  /** The context's own namespace (or "default"), if allowed; else the first allowed one. */
  defaultNamespace(context: string): string {
    const ns = this.info(context)?.namespace ?? 'default';
    if (this.namespaceAllowed(ns)) return ns;
    return [...this.namespaces!][0]!;
  }

  /**
   * The port of `context` acting as `operator` (K8S_IMPERSONATE), or, without an operator, as the
   * bot's own account (watchers, health checks).
   */
  port(context: string, operator?: Pick<Operator, 'userId' | 'display'>): KubePort {
    const actAs = operator && identityOf(this.impersonate, operator);
    const key = actAs ? `${context}\n${actAs.user}\n${actAs.group ?? ''}` : context;
    let p = this.ports.get(key);
    if (!p) {
      if (!this.info(context)) throw new ActionError(`context ${context} is not allowed`);
      p = createKubePort(forContext(this.kc, context), context, { ...this.portOptions, ...(actAs ? { actAs } : {}) });
      this.ports.set(key, p);
    }
    return p;
  }

  /** Refuses a context that is unknown or not allowed, listing the ones that are. */
  checkContext(name: string, from: 'flag' | 'chat'): void {
    if (this.info(name)) return;
    const known = this.allowed.map((c) => c.name).join(', ');
    if (from === 'chat')
      throw new ActionError(
        `this chat uses context ${name}, which is no longer allowed; choose another with /k8s use <context> (${known})`,
      );
    throw new ActionError(`unknown or not allowed context ${name}; allowed: ${known}`);
  }

  checkNamespace(ns: string): void {
    if (!isDnsLabel(ns)) throw new ActionError(`"${ns.slice(0, 64)}" is not a valid namespace name`);
    if (!this.namespaceAllowed(ns))
      throw new ActionError(`namespace ${ns} is not allowed; allowed: ${[...this.namespaces!].join(', ')}`);
  }
}

export interface ScopeParams {
  readonly context?: string | undefined;
  readonly namespace?: string | undefined;
}

/**
 * Flags first, then the chat's choice, then the kubeconfig's defaults; always allow-listed. The
 * port acts as `operator` where K8S_IMPERSONATE maps them (and refuses them where it does not).
 */
export function resolveScope(
  clusters: KubeClusters,
  chat: ChatState,
  p: ScopeParams,
  operator: Pick<Operator, 'userId' | 'display'>,
): Scope {
  const chatContext = chat.get(CHAT_CONTEXT);
  let context: string;
  if (p.context !== undefined) {
    clusters.checkContext(p.context, 'flag');
    context = p.context;
  } else if (chatContext !== undefined) {
    clusters.checkContext(chatContext, 'chat');
    context = chatContext;
  } else {
    context = clusters.defaultContext();
  }
  const chatNamespace = context === chatContext ? chat.get(CHAT_NAMESPACE) : undefined;
  const namespace = p.namespace ?? chatNamespace ?? clusters.defaultNamespace(context);
  clusters.checkNamespace(namespace);
  return { context, namespace, port: clusters.port(context, operator) };
}

/**
 * The request with the context and namespace it will act on written in, from the flags or
 * the chat. Applied before an approval is stored, it makes the approved request run exactly
 * where the card said, even if the chat switches context in between.
 */
export function pinScope<P extends ScopeParams>(
  clusters: KubeClusters,
  chat: ChatState,
  p: P,
  operator: Pick<Operator, 'userId' | 'display'>,
): P & { context: string; namespace: string } {
  const s = resolveScope(clusters, chat, p, operator);
  return { ...p, context: s.context, namespace: s.namespace };
}
