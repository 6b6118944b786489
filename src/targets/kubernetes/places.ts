import type { Scoping } from '../../core/scopes.js';
import { isContextName, isDnsLabel } from './names.js';

/**
 * A place as per-chat scopes name it: `<context>/<namespace>`; `<context>/` for what belongs to
 * no namespace (nodes); `<context>/*` asks whether anything of the context is in scope. The
 * namespace is after the last slash (context names may hold slashes; namespaces cannot).
 */
export const placeOf = (context: string, namespace: string): string => `${context}/${namespace}`;

const split = (s: string): [string, string | undefined] => {
  const i = s.lastIndexOf('/');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
};

/** How SCOPES names Kubernetes places: `prod` (the whole context) or `prod/payments`; either part may be `*`. */
export const kubeScoping: Scoping = {
  word: 'k8s',
  what: '<context>[/<namespace>], either may be *',
  check(pattern) {
    const [context, namespace] = split(pattern);
    if (context !== '*' && !isContextName(context)) return 'is not a context name';
    if (namespace !== undefined && namespace !== '*' && !isDnsLabel(namespace)) return 'is not a namespace name';
    return undefined;
  },
  covers(pattern, place) {
    const [pc, pn = '*'] = split(pattern);
    const [qc, qn] = split(place);
    if (pc !== '*' && pc !== qc) return false;
    return pn === '*' || qn === pn || qn === '*';
  },
};
