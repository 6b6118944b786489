/** Label and field selectors as the API server evaluates them (the subset clients send). */
import type { KObj } from './types.js';

type Requirement = (labels: Record<string, string>) => boolean;

/** Parses a label selector; throws on syntax the real server would refuse. */
export function labelMatcher(selector: string): (o: KObj) => boolean {
  const reqs: Requirement[] = [];
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((s) => s.trim()));
      reqs.push(
        op === 'in' ? (l) => l[k] !== undefined && values.has(l[k]) : (l) => l[k] === undefined || !values.has(l[k]),
      );
    } else if ((m = /^(!?)([\w./-]+)$/.exec(p))) {
      const [, not, k] = m as unknown as [string, string, string];
      reqs.push(not ? (l) => !(k in l) : (l) => k in l);
    } else {
      throw new Error(`unable to parse requirement: ${p}`);
    }
  }
  return (o) => reqs.every((r) => r(o.metadata.labels ?? {}));
}

const FIELD_PATHS = new Set([
  'metadata.name',
  'metadata.namespace',
  'involvedObject.name',
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.uid',
  'type',
  'reason',
  'spec.nodeName',
  'status.phase',
]);

/** Field selectors support `=`, `==` and `!=` on a fixed list of fields, like the real server. */
export function fieldMatcher(selector: string): (o: KObj) => boolean {
  const reqs = selector
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((p) => {
      const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(p.trim());
      if (!m || !FIELD_PATHS.has(m[1]!)) throw new Error(`field label not supported: ${p}`);
      const [, path, op, v] = m as unknown as [string, string, string, string];
      return (o: KObj) => {
        const actual = String(
          path
            .split('.')
            .reduce<unknown>(
              (acc, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[k] : undefined),
              o,
            ) ?? '',
        );
        return op === '!=' ? actual !== v : actual === v;
      };
    });
  return (o) => reqs.every((r) => r(o));
}
