/**
 * Where the cluster credentials are, found the way kubectl finds them: `KUBECONFIG` (a path
 * list), else `~/.kube/config`, else the pod's service account. Kept apart from the client
 * library so that a machine without Kubernetes never loads it (it costs ~75 MB of memory).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Health } from '../../core/health.js';

export const KUBE_DISABLED: Health = {
  state: 'disabled',
  detail: 'no kubeconfig (KUBECONFIG, ~/.kube/config) and not running in a cluster',
};

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface LocateOptions {
  /** The `KUBECONFIG` setting. */
  readonly kubeconfig?: string;
  readonly home?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly serviceAccountToken?: string;
}

export type Located =
  | { readonly kind: 'files'; readonly files: readonly string[] }
  | { readonly kind: 'in-cluster' }
  /** KUBECONFIG was set but names no existing file: a settings error, not "no cluster". */
  | { readonly kind: 'missing'; readonly list: readonly string[] };

export function locateKubeConfig(o: LocateOptions = {}): Located | null {
  const env = o.env ?? process.env;
  const list = (o.kubeconfig ?? '').split(path.delimiter).filter((f) => f !== '');
  if (list.length > 0) {
    const files = list.filter((f) => existsSync(f));
    return files.length > 0 ? { kind: 'files', files } : { kind: 'missing', list };
  }
  const home = path.join(o.home ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return { kind: 'files', files: [home] };
  if (env.KUBERNETES_SERVICE_HOST && existsSync(o.serviceAccountToken ?? SERVICE_ACCOUNT_TOKEN))
    return { kind: 'in-cluster' };
  return null;
}
