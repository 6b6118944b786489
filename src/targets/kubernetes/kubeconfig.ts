/**
 * Finds the cluster credentials the way kubectl does: `KUBECONFIG` (a path list), else
 * `~/.kube/config`, else the pod's service account when running in a cluster. Unlike the
 * client library's `loadFromDefault`, it never falls back to an unauthenticated
 * localhost:8080, and a KUBECONFIG naming only missing files is an error, not "no cluster".
 */
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { locateKubeConfig, type LocateOptions } from './locate.js';

export type { LocateOptions };

export interface KubeConfigSource {
  readonly kc: KubeConfig;
  /** Where it came from, for /health and doctor: a file list or "in-cluster". */
  readonly source: string;
}

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/** Loads the kubeconfig, or returns null when this machine has none (Kubernetes disabled). */
export function loadKubeConfig(o: LocateOptions = {}): KubeConfigSource | null {
  const found = locateKubeConfig(o);
  if (!found) return null;
  switch (found.kind) {
    case 'missing':
      throw new KubeConfigError(`KUBECONFIG names no existing file (${found.list.join(path.delimiter)})`);
    case 'files':
      return { kc: fromFiles(found.files), source: found.files.join(path.delimiter) };
    case 'in-cluster': {
      const kc = new KubeConfig();
      kc.loadFromCluster();
      return { kc, source: 'in-cluster service account' };
    }
  }
}

function fromFiles(files: readonly string[]): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(files[0]!);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      // Like kubectl: the first file that sets current-context wins; duplicates are skipped.
      if (!kc.currentContext && more.currentContext) kc.setCurrentContext(more.currentContext);
      for (const c of more.getClusters()) if (!kc.getCluster(c.name)) kc.addCluster(c);
      for (const u of more.getUsers()) if (!kc.getUser(u.name)) kc.addUser(u);
      for (const c of more.getContexts()) if (!kc.getContextObject(c.name)) kc.addContext(c);
    }
  } catch (e) {
    throw new KubeConfigError(
      `cannot read kubeconfig ${files.join(path.delimiter)}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
    );
  }
  return kc;
}

/** A KubeConfig whose current context is `context`: one per context, so calls never race. */
export function forContext(kc: KubeConfig, context: string): KubeConfig {
  const c = new KubeConfig();
  c.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: context,
  });
  return c;
}
