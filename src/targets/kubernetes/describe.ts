/** /k8s describe <kind>/<name>: a readable summary with conditions and recent events, not YAML. */
import type {
  V1ContainerState,
  V1DaemonSet,
  V1Deployment,
  V1Node,
  V1Pod,
  V1PodTemplateSpec,
  V1Service,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from '../../core/action.js';
import { UsageError } from '../../core/commands.js';
import { bold, line, result, text, value, type Block, type Button, type Span } from '../../core/result.js';
import { counted, truncate } from '../../core/text.js';
import { clip } from '../../core/redact.js';
import { flags, objectNameSchema, scopeOf, scopeParams, scopeShape, TARGET, type KubeActionDeps } from './common.js';
import { age, eventTime, involved, nodeProblems, nodeReady, nodeRoles, sortEvents, summarizePod } from './format.js';
import { DESCRIBE_KINDS, EVENT_KIND, isObjectName, noMore, parseKindName, type DescribeKind } from './names.js';
import type { KubePort } from './port.js';
import { REVISION } from './rollout.js';
import type { Scope } from './scope.js';

const RECENT_EVENTS = 5;

type Row = (string | Span)[];
const field = (label: string, ...rest: (string | Span)[]): Block => line(bold(`${label}: `), ...rest);

/** Conditions as "Ready=True, MemoryPressure=False (KubeletHasSufficientMemory)". */
function conditions(list: readonly { type: string; status: string; reason?: string }[] | undefined): Block[] {
  if (!list?.length) return [];
  const spans: Row = [];
  list.forEach((c, i) => {
    if (i > 0) spans.push(text(', '));
    spans.push(value(`${c.type}=${c.status}${c.reason && c.status !== 'True' ? ` (${c.reason})` : ''}`));
  });
  return [field('Conditions', ...spans)];
}

function templateImages(t: V1PodTemplateSpec | undefined): Block[] {
  return (t?.spec?.containers ?? []).map((c) => line(text('  • '), value(c.name), text(': '), value(c.image ?? '?')));
}

function stateText(s: V1ContainerState | undefined, now: number): string {
  if (s?.running) return `running for ${age(s.running.startedAt, now)}`;
  if (s?.waiting)
    return `waiting: ${s.waiting.reason ?? '?'}${s.waiting.message ? ` — ${clip(s.waiting.message, 160)}` : ''}`;
  if (s?.terminated) return `terminated: ${s.terminated.reason ?? '?'} (exit ${s.terminated.exitCode})`;
  return 'unknown';
}

function describePod(p: V1Pod, now: number): Block[] {
  const s = summarizePod(p);
  const owner = p.metadata?.ownerReferences?.find((r) => r.controller);
  const blocks: Block[] = [
    field(
      'Status',
      value(s.status),
      text(` · ready ${s.ready} · ${counted(s.restarts, 'restart')} · age ${age(p.metadata?.creationTimestamp, now)}`),
    ),
    field('Node', value(p.spec?.nodeName ?? '(not scheduled)'), text(' · IP '), value(p.status?.podIP ?? '-')),
  ];
  if (owner) blocks.push(field('Controlled by', value(`${owner.kind} ${owner.name}`)));
  blocks.push(line(bold('Containers:')));
  const statuses = new Map((p.status?.containerStatuses ?? []).map((c) => [c.name, c]));
  for (const c of p.spec?.containers ?? []) {
    const st = statuses.get(c.name);
    blocks.push(
      line(
        text('  • '),
        value(c.name),
        text(': '),
        value(c.image ?? '?'),
        text(' — '),
        value(stateText(st?.state, now)),
        text(`${st?.ready ? ', ready' : ', not ready'}, ${counted(st?.restartCount ?? 0, 'restart')}`),
      ),
    );
    const last = st?.lastState?.terminated;
    if (last)
      blocks.push(
        line(
          text('      last terminated: '),
          value(`${last.reason ?? '?'} (exit ${last.exitCode})`),
          text(last.finishedAt ? ` ${age(last.finishedAt, now)} ago` : ''),
        ),
      );
  }
  blocks.push(...conditions(p.status?.conditions));
  return blocks;
}

function describeDeployment(d: V1Deployment): Block[] {
  const st = d.status;
  const ru = d.spec?.strategy?.rollingUpdate;
  const strategy = d.spec?.strategy?.type ?? 'RollingUpdate';
  return [
    field(
      'Replicas',
      text(
        `${d.spec?.replicas ?? 1} desired · ${st?.updatedReplicas ?? 0} updated · ${st?.readyReplicas ?? 0} ready ` +
          `· ${st?.availableReplicas ?? 0} available`,
      ),
    ),
    field(
      'Strategy',
      value(strategy),
      ...(ru
        ? [
            text(' (maxUnavailable '),
            value(String(ru.maxUnavailable ?? '25%')),
            text(', maxSurge '),
            value(String(ru.maxSurge ?? '25%')),
            text(')'),
          ]
        : []),
      text(' · revision '),
      value(d.metadata?.annotations?.[REVISION] ?? '?'),
    ),
    field('Selector', value(labels(d.spec?.selector?.matchLabels))),
    line(bold('Images:')),
    ...templateImages(d.spec?.template),
    ...conditions(st?.conditions),
  ];
}

function describeStatefulSet(s: V1StatefulSet): Block[] {
  const st = s.status;
  return [
    field(
      'Replicas',
      text(`${s.spec?.replicas ?? 1} desired · ${st?.readyReplicas ?? 0} ready · ${st?.updatedReplicas ?? 0} updated`),
    ),
    field(
      'Revision',
      value(st?.currentRevision ?? '?'),
      ...(st?.updateRevision && st.updateRevision !== st.currentRevision
        ? [text(' → '), value(st.updateRevision)]
        : []),
    ),
    field('Selector', value(labels(s.spec?.selector?.matchLabels))),
    line(bold('Images:')),
    ...templateImages(s.spec?.template),
    ...conditions(st?.conditions),
  ];
}

function describeDaemonSet(d: V1DaemonSet): Block[] {
  const st = d.status;
  return [
    field(
      'Pods',
      text(
        `${st?.desiredNumberScheduled ?? 0} desired · ${st?.currentNumberScheduled ?? 0} current ` +
          `· ${st?.numberReady ?? 0} ready · ${st?.updatedNumberScheduled ?? 0} updated ` +
          `· ${st?.numberAvailable ?? 0} available`,
      ),
    ),
    field('Selector', value(labels(d.spec?.selector?.matchLabels))),
    line(bold('Images:')),
    ...templateImages(d.spec?.template),
    ...conditions(st?.conditions),
  ];
}

function describeService(s: V1Service): Block[] {
  const ports = (s.spec?.ports ?? []).map(
    (p) =>
      `${p.name ? `${p.name} ` : ''}${p.port}→${p.targetPort ?? p.port}/${p.protocol ?? 'TCP'}` +
      (p.nodePort ? ` (node ${p.nodePort})` : ''),
  );
  const ingress = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '?');
  return [
    field('Type', value(s.spec?.type ?? 'ClusterIP'), text(' · cluster IP '), value(s.spec?.clusterIP ?? '-')),
    field('Ports', value(ports.join(', ') || '-')),
    field('Selector', value(labels(s.spec?.selector))),
    ...(ingress.length ? [field('External', value(ingress.join(', ')))] : []),
  ];
}

function describeNode(n: V1Node, now: number): Block[] {
  const info = n.status?.nodeInfo;
  const cap = n.status?.capacity ?? {};
  const alloc = n.status?.allocatable ?? {};
  const problems = nodeProblems(n);
  return [
    field(
      'Status',
      value(nodeReady(n)),
      ...(n.spec?.unschedulable ? [text(' · '), value('SchedulingDisabled')] : []),
      ...(problems.length ? [text(' · ⚠️ '), value(problems.join(', '))] : []),
      text(` · age ${age(n.metadata?.creationTimestamp, now)}`),
    ),
    field('Roles', value(nodeRoles(n)), text(' · '), value(info?.kubeletVersion ?? '?')),
    field(
      'System',
      value(`${info?.osImage ?? '?'} · ${info?.containerRuntimeVersion ?? '?'} · kernel ${info?.kernelVersion ?? '?'}`),
    ),
    field(
      'Capacity',
      value(`cpu ${cap.cpu ?? '?'}, memory ${cap.memory ?? '?'}, pods ${cap.pods ?? '?'}`),
      text(' · allocatable '),
      value(`cpu ${alloc.cpu ?? '?'}, memory ${alloc.memory ?? '?'}`),
    ),
    field('Addresses', value((n.status?.addresses ?? []).map((a) => `${a.type} ${a.address}`).join(', ') || '-')),
    ...((n.spec?.taints ?? []).length
      ? [
          field(
            'Taints',
            value((n.spec?.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ')),
          ),
        ]
      : []),
    ...conditions(n.status?.conditions),
  ];
}

const labels = (m: Record<string, string> | undefined): string =>
  Object.entries(m ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

/** Recent events about the object; a failure here never spoils the description. */
async function recentEvents(
  port: KubePort,
  kind: DescribeKind,
  namespace: string | undefined,
  name: string,
  signal: AbortSignal,
  now: number,
): Promise<Block[]> {
  try {
    const list = await port.list('event', namespace, {
      signal,
      fieldSelector: `involvedObject.kind=${EVENT_KIND[kind]},involvedObject.name=${name}`,
    });
    const events = sortEvents(list.items).slice(0, RECENT_EVENTS);
    if (events.length === 0) return [field('Events', text('none recently'))];
    return [
      line(bold('Events:')),
      ...events.map((e) =>
        line(
          text(`  ${e.type === 'Warning' ? '⚠️' : '•'} ${eventTime(e) ? age(new Date(eventTime(e)), now) : '?'} `),
          value(e.reason ?? '?'),
          text(`${(e.count ?? 1) > 1 ? ` ×${e.count}` : ''}: `),
          value(clip((e.message ?? '').trim(), 200)),
          ...(involved(e) !== `${kind}/${name}` ? [text(' ('), value(involved(e)), text(')')] : []),
        ),
      ),
    ];
  } catch (e) {
    return [field('Events', text(`not available (${e instanceof Error ? clip(e.message, 120) : 'error'})`))];
  }
}

export function describeAction(deps: KubeActionDeps): AnyAction {
  const now = () => (deps.now ?? Date.now)();
  return defineAction({
    name: 'k8s.describe',
    summary: 'Describe a pod, deployment, statefulset, daemonset, service or node: status, conditions, recent events',
    target: TARGET,
    risk: 'read',
    params: z.object({ ...scopeShape, kind: z.enum(DESCRIBE_KINDS), name: objectNameSchema }).strict(),
    command: {
      path: ['k8s', 'describe'],
      usage: '<kind>/<name> [-c context] [-n namespace]',
      parse: (tokens) => {
        const a = flags(tokens);
        const target = a.positionals[0];
        if (target === undefined) throw new UsageError('what? e.g. /k8s describe pod/web-1 or deploy/web');
        noMore(a, 1);
        return { ...scopeParams(a), ...parseKindName(target) };
      },
    },
    run: async (ctx, p) => {
      if (!isObjectName(p.kind, p.name))
        throw new ActionError(`"${truncate(p.name, 40)}" is not a valid ${p.kind} name`);
      const s: Scope = scopeOf(deps, ctx, p);
      const ns = p.kind === 'node' ? undefined : s.namespace;
      const signal = ctx.signal;
      const t = now();
      const title = line(
        bold(`${EVENT_KIND[p.kind]} `),
        value(ns ? `${ns}/${p.name}` : p.name),
        text(' @ '),
        value(s.context),
      );
      let body: Block[];
      switch (p.kind) {
        case 'pod':
          body = describePod(await s.port.read('pod', ns, p.name, { signal }), t);
          break;
        case 'deployment':
          body = describeDeployment(await s.port.read('deployment', ns, p.name, { signal }));
          break;
        case 'statefulset':
          body = describeStatefulSet(await s.port.read('statefulset', ns, p.name, { signal }));
          break;
        case 'daemonset':
          body = describeDaemonSet(await s.port.read('daemonset', ns, p.name, { signal }));
          break;
        case 'service':
          body = describeService(await s.port.read('service', ns, p.name, { signal }));
          break;
        case 'node':
          body = describeNode(await s.port.read('node', undefined, p.name, { signal }), t);
          break;
      }
      const events = await recentEvents(s.port, p.kind, ns, p.name, signal, t);
      return result([title, ...body, ...events], { buttons: describeButtons(deps, s, p.kind, p.name) });
    },
  });
}

function describeButtons(deps: KubeActionDeps, s: Scope, kind: DescribeKind, name: string): Button[][] {
  const scope = { context: s.context, namespace: s.namespace };
  if (kind === 'pod') {
    return [
      [
        { label: '📜 Logs', action: 'k8s.logs', params: { ...scope, pod: name } },
        ...(deps.readOnly ? [] : [{ label: '🗑 Delete', action: 'k8s.delete', params: { ...scope, pod: name } }]),
      ],
    ];
  }
  if (deps.readOnly || kind === 'service' || kind === 'node') return [];
  return [
    [
      { label: '🔄 Restart', action: 'k8s.restart', params: { ...scope, kind, name } },
      { label: '📋 Events', action: 'k8s.events', params: { ...scope, object: `${kind}/${name}` } },
    ],
  ];
}
