/**
 * Strict parsing of everything an operator (or the LLM) types about Kubernetes objects:
 * object names, kinds, label selectors and the `-c/-n` flags. Nothing loosely checked
 * reaches the API; a value starting with `-` is never taken as a value.
 */
import { UsageError } from '../../core/commands.js';

const LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
export const DNS_LABEL = new RegExp(`^${LABEL}$`);
export const DNS_SUBDOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,252}$/;

/** RFC 1123 label: namespaces, container names, service names. */
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);

/** RFC 1123 subdomain: pods, deployments, nodes and most other object names. */
export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && DNS_SUBDOMAIN.test(s);

/**
 * Kubeconfig context names are free-form in kubectl; real ones look like "prod",
 * "gke_project_zone_name" or "arn:aws:eks:region:acct:cluster/name". Anything else is refused.
 */
export const isContextName = (s: string): boolean => CONTEXT_NAME.test(s);

export type DescribeKind = 'pod' | 'deployment' | 'statefulset' | 'daemonset' | 'service' | 'node';
export const DESCRIBE_KINDS: readonly DescribeKind[] = [
  'pod',
  'deployment',
  'statefulset',
  'daemonset',
  'service',
  'node',
];

/** Each kind as the API spells it in an event's `involvedObject.kind`. */
export const EVENT_KIND: Readonly<Record<DescribeKind, string>> = {
  pod: 'Pod',
  deployment: 'Deployment',
  statefulset: 'StatefulSet',
  daemonset: 'DaemonSet',
  service: 'Service',
  node: 'Node',
};

const KIND_ALIASES: Readonly<Record<string, DescribeKind>> = {
  pod: 'pod',
  pods: 'pod',
  po: 'pod',
  deployment: 'deployment',
  deployments: 'deployment',
  deploy: 'deployment',
  statefulset: 'statefulset',
  statefulsets: 'statefulset',
  sts: 'statefulset',
  daemonset: 'daemonset',
  daemonsets: 'daemonset',
  ds: 'daemonset',
  service: 'service',
  services: 'service',
  svc: 'service',
  node: 'node',
  nodes: 'node',
  no: 'node',
};

const APPS_KINDS: ReadonlySet<DescribeKind> = new Set(['deployment', 'statefulset', 'daemonset']);

/** "deploy", "deployments.apps", "STS" → the canonical kind, or undefined. */
export function normalizeKind(word: string): DescribeKind | undefined {
  const lower = word.toLowerCase();
  const [base, group, ...more] = lower.split('.');
  if (base === undefined || more.length > 0) return undefined;
  const kind = Object.hasOwn(KIND_ALIASES, base) ? KIND_ALIASES[base] : undefined;
  if (!kind) return undefined;
  if (group === undefined) return kind;
  return group === 'apps' && APPS_KINDS.has(kind) ? kind : undefined;
}

export interface KindName {
  readonly kind: DescribeKind;
  readonly name: string;
}

/** Object names of a kind: nodes and pods are subdomains, services are labels. */
export const isObjectName = (kind: DescribeKind, name: string): boolean =>
  kind === 'service' ? isDnsLabel(name) : isDnsSubdomain(name);

/**
 * "deploy/web" → {kind: 'deployment', name: 'web'}. The kind must be one of `allowed`;
 * the error says which are, so a phone user can correct it in one go.
 */
export function parseKindName(s: string, allowed: readonly DescribeKind[] = DESCRIBE_KINDS): KindName {
  const slash = s.indexOf('/');
  if (slash <= 0 || slash !== s.lastIndexOf('/')) {
    throw new UsageError(`expected <kind>/<name>, e.g. ${example(allowed)}`);
  }
  const kind = normalizeKind(s.slice(0, slash));
  const name = s.slice(slash + 1);
  if (!kind || !allowed.includes(kind)) {
    throw new UsageError(`kind must be one of ${allowed.join(', ')} (as in ${example(allowed)})`);
  }
  if (!isObjectName(kind, name)) throw new UsageError(`"${shorten(name)}" is not a valid ${kind} name`);
  return { kind, name };
}

const example = (allowed: readonly DescribeKind[]) => `${allowed[0] === 'deployment' ? 'deploy' : allowed[0]}/web`;
const shorten = (s: string) => (s.length > 40 ? `${s.slice(0, 39)}…` : s);

// Label selectors: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/
const LABEL_NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_KEY = `(?:${LABEL}(?:\\.${LABEL})*/)?${LABEL_NAME}`;
const LABEL_VALUE = `(?:${LABEL_NAME})?`;
const KEY_RE = new RegExp(`^${LABEL_KEY}$`);
const EQ_RE = new RegExp(`^(${LABEL_KEY})\\s*(==|=|!=)\\s*(${LABEL_VALUE})$`);
const SET_RE = new RegExp(`^(${LABEL_KEY})\\s+(in|notin)\\s+\\(\\s*(${LABEL_NAME}(?:\\s*,\\s*${LABEL_NAME})*)\\s*\\)$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${LABEL_KEY})$`);

/** Prefix of a label key must be ≤ 253 characters; the regexes bound the rest. */
const keyOk = (key: string) => {
  const slash = key.indexOf('/');
  return KEY_RE.test(key) && (slash < 0 || slash <= 253);
};

/**
 * Validates a label selector (equality, set-based and existence requirements, comma-separated)
 * and returns it in canonical spacing, or undefined when it is not one.
 */
export function parseLabelSelector(input: string): string | undefined {
  if (input.length === 0 || input.length > 1024) return undefined;
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) return undefined;
  parts.push(cur);
  const out: string[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    const eq = EQ_RE.exec(p);
    if (eq) {
      if (!keyOk(eq[1]!)) return undefined;
      out.push(`${eq[1]}${eq[2] === '==' ? '=' : eq[2]}${eq[3]}`);
      continue;
    }
    const set = SET_RE.exec(p);
    if (set) {
      if (!keyOk(set[1]!)) return undefined;
      const values = set[3]!.split(',').map((v) => v.trim());
      out.push(`${set[1]} ${set[2]} (${values.join(',')})`);
      continue;
    }
    const ex = EXISTS_RE.exec(p);
    if (ex && keyOk(ex[2]!)) {
      out.push(`${ex[1]}${ex[2]}`);
      continue;
    }
    return undefined;
  }
  return out.join(',');
}

export interface ParsedArgs {
  readonly positionals: string[];
  readonly values: Record<string, string>;
  readonly switches: Set<string>;
}

export interface FlagSpec {
  /** Flags that take a value, spelled → canonical name: {'-c': 'context', '--context': 'context'}. */
  readonly values?: Readonly<Record<string, string>>;
  /** Flags without a value: {'--previous': 'previous', '-p': 'previous'}. */
  readonly switches?: Readonly<Record<string, string>>;
}

/** The flags every Kubernetes action takes. */
export const SCOPE_FLAGS: Readonly<Record<string, string>> = {
  '-c': 'context',
  '--context': 'context',
  '-n': 'namespace',
  '--namespace': 'namespace',
};

/**
 * Splits tokens into positionals and flags (`-c prod`, `--context=prod`, `--previous`).
 * Negative numbers stay positionals so that the schema can say what is wrong with them.
 */
export function parseFlags(tokens: readonly string[], spec: FlagSpec): ParsedArgs {
  const positionals: string[] = [];
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!t.startsWith('-') || /^-\d+$/.test(t)) {
      positionals.push(t);
      continue;
    }
    const eq = t.indexOf('=');
    const flag = eq > 0 ? t.slice(0, eq) : t;
    const valueName = spec.values && Object.hasOwn(spec.values, flag) ? spec.values[flag] : undefined;
    const switchName = spec.switches && Object.hasOwn(spec.switches, flag) ? spec.switches[flag] : undefined;
    if (valueName) {
      const v = eq > 0 ? t.slice(eq + 1) : tokens[++i];
      if (v === undefined || v === '' || v.startsWith('-')) throw new UsageError(`${flag} needs a value`);
      if (Object.hasOwn(values, valueName)) throw new UsageError(`${flag} given twice`);
      values[valueName] = v;
    } else if (switchName && eq < 0) {
      switches.add(switchName);
    } else {
      throw new UsageError(`unknown option ${shorten(flag)}`);
    }
  }
  return { positionals, values, switches };
}

/** `-c`/`-n` as raw params, only when given (so the schema's optionality holds). */
export function scopeParams(args: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  if (args.values.context !== undefined) out.context = args.values.context;
  if (args.values.namespace !== undefined) out.namespace = args.values.namespace;
  return out;
}

/** Refuses leftover positionals, so typos never pass silently. */
export function noMore(args: ParsedArgs, used: number): void {
  const extra = args.positionals[used];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${shorten(extra)}"`);
}
