/** Read actions (contexts, ns, pods, deploy, nodes, events), and `use`, which changes only this chat's scope. */
import type { CoreV1Event, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from '../../core/action.js';
import { UsageError } from '../../core/commands.js';
import { bold, line, result, say, text, value, type Block, type Button } from '../../core/result.js';
import { truncate } from '../../core/text.js';
import { clip } from '../../core/redact.js';
import {
  contextSchema,
  flags,
  MAX_BUTTON_ROWS,
  MAX_LIST,
  namespaceSchema,
  scopeOf,
  scopeParams,
  scopeShape,
  short,
  TARGET,
  where,
  type KubeActionDeps,
} from './common.js';
import { KubeApiError } from './errors.js';
import {
  age,
  HEALTH_ICON,
  images,
  involved,
  nodeProblems,
  nodeReady,
  nodeRoles,
  sortEvents,
  summarizePod,
  type Health,
} from './format.js';
import { EVENT_KIND, isDnsSubdomain, noMore, parseFlags, parseKindName, parseLabelSelector } from './names.js';
import { placeOf } from './places.js';
import { CHAT_CONTEXT, CHAT_NAMESPACE } from './scope.js';

const MAX_EVENTS = 20;

const scopeOnly = z.object(scopeShape).strict();

/** Commands that take only `-c/-n`. */
const scopeOnlyParse = (tokens: readonly string[]) => {
  const a = flags(tokens);
  noMore(a, 0);
  return scopeParams(a);
};

/** `/k8s nodes`: only `-c`. Nodes belong to no namespace, so a `-n` is a mistake worth saying. */
const nodesParse = (tokens: readonly string[]) => {
  const a = flags(tokens);
  noMore(a, 0);
  if (a.values.namespace !== undefined) throw new UsageError('nodes have no namespace: -n does not apply');
  return scopeParams(a);
};

const more = (shown: number, total: number): Block[] =>
  total > shown ? [line(text(`… and ${total - shown} more`))] : [];

export function readActions(deps: KubeActionDeps): AnyAction[] {
  const now = () => (deps.now ?? Date.now)();

  const contexts = defineAction({
    name: 'k8s.contexts',
    summary: 'List the Kubernetes contexts (clusters) this bot may use, and this chat’s current one',
    target: TARGET,
    risk: 'read',
    params: z.object({}).strict(),
    command: {
      path: ['k8s', 'contexts'],
      usage: '',
      parse: (tokens) => {
        noMore(parseFlags(tokens, {}), 0);
        return {};
      },
    },
    // Lists only the contexts the chat's scope holds something of.
    where: () => [],
    run: async (ctx) => {
      const list = deps.clusters.contexts().filter((c) => ctx.within?.(placeOf(c.name, '*')) ?? true);
      const current = ctx.chat.get(CHAT_CONTEXT) ?? deps.clusters.defaultContext();
      const currentNs = ctx.chat.get(CHAT_NAMESPACE);
      const blocks: Block[] = [line(bold('Kubernetes contexts'))];
      for (const c of list) {
        const ns = c.name === current && currentNs ? currentNs : deps.clusters.defaultNamespace(c.name);
        blocks.push(
          line(
            c.name === current ? '▶ ' : '• ',
            value(c.name),
            text(' — namespace '),
            value(ns),
            text(' — '),
            value(c.server),
          ),
        );
      }
      const buttons = list
        .slice(0, 12)
        .map((c): Button => ({ label: `Use ${short(c.name)}`, action: 'k8s.use', params: { context: c.name } }));
      return result(blocks, { buttons: chunk(buttons, 2) });
    },
  });

  const use = defineAction({
    name: 'k8s.use',
    summary: 'Set this chat’s current Kubernetes context and namespace (used when -c/-n are not given)',
    target: TARGET,
    // The chat's context and namespace steer every later command there: a change, not a read.
    risk: 'write',
    params: z.object({ context: contextSchema, namespace: namespaceSchema.optional() }).strict(),
    subject: (p) => `context ${p.context}${p.namespace ? `, namespace ${p.namespace}` : ''}`,
    command: {
      path: ['k8s', 'use'],
      usage: '<context> [namespace]',
      parse: (tokens) => {
        const a = flags(tokens);
        if (a.values.context !== undefined) throw new UsageError('give the context as the first argument');
        const [context, namespace] = a.positionals;
        if (context === undefined) throw new UsageError('which context? /k8s contexts lists them');
        if (namespace !== undefined && a.values.namespace !== undefined) throw new UsageError('namespace given twice');
        noMore(a, 2);
        const ns = namespace ?? a.values.namespace;
        return { context, ...(ns !== undefined ? { namespace: ns } : {}) };
      },
    },
    run: async (ctx, p) => {
      deps.clusters.checkContext(p.context, 'flag');
      const namespace = p.namespace ?? deps.clusters.defaultNamespace(p.context);
      deps.clusters.checkNamespace(namespace);
      ctx.chat.set(CHAT_CONTEXT, p.context);
      ctx.chat.set(CHAT_NAMESPACE, namespace);
      return say('This chat now uses context ', value(p.context), ', namespace ', value(namespace), '.');
    },
  });

  const ns = defineAction({
    name: 'k8s.ns',
    summary: 'List the namespaces of the current context (tap one to use it)',
    target: TARGET,
    risk: 'read',
    params: scopeOnly,
    command: { path: ['k8s', 'ns'], usage: '[-c context]', parse: scopeOnlyParse },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const allowed = deps.clusters.allowedNamespaces();
      let names: string[];
      try {
        const list = await s.port.list('namespace', undefined, { signal: ctx.signal });
        names = list.items
          .map((n) => n.metadata?.name ?? '')
          .filter((n) => n !== '' && deps.clusters.namespaceAllowed(n));
      } catch (e) {
        // Listing namespaces needs a cluster-wide permission many service accounts lack.
        if (!(e instanceof KubeApiError && e.failure === 'forbidden' && allowed)) throw e;
        names = [...allowed];
      }
      names = names.filter((n) => ctx.within?.(placeOf(s.context, n)) ?? true);
      names.sort();
      const blocks: Block[] = [line(bold('Namespaces'), text(' @ '), value(s.context))];
      for (const n of names.slice(0, MAX_LIST)) blocks.push(line(n === s.namespace ? '▶ ' : '• ', value(n)));
      blocks.push(...more(Math.min(names.length, MAX_LIST), names.length));
      if (names.length === 0) blocks.push(line('none that this bot may use'));
      const buttons = names
        .slice(0, 12)
        .map((n): Button => ({ label: short(n), action: 'k8s.use', params: { context: s.context, namespace: n } }));
      return result(blocks, { buttons: chunk(buttons, 3) });
    },
  });

  const pods = defineAction({
    name: 'k8s.pods',
    summary: 'List pods: ready, status (CrashLoopBackOff, OOMKilled, …), restarts, age, node',
    target: TARGET,
    risk: 'read',
    params: z
      .object({
        ...scopeShape,
        selector: z
          .string()
          .max(1024)
          .refine((s) => parseLabelSelector(s) !== undefined, 'not a valid label selector')
          .optional()
          .describe('label selector, e.g. app=web'),
      })
      .strict(),
    command: {
      path: ['k8s', 'pods'],
      usage: '[selector] [-c context] [-n namespace]',
      aliases: [['pods'], ['k8s']],
      parse: (tokens) => {
        const a = flags(tokens, { values: { '-l': 'selector', '--selector': 'selector' } });
        const positional = a.positionals.join(' ');
        if (positional && a.values.selector !== undefined) throw new UsageError('selector given twice');
        const selector = a.values.selector ?? (positional || undefined);
        if (selector !== undefined && a.values.selector === undefined && !/[=!]|\s(not)?in\s/.test(selector)) {
          throw new UsageError(
            `"${truncate(selector, 40)}" is not a command or a label selector (e.g. app=web; /k8s verbs: contexts, ` +
              `use, ns, pods, deploy, nodes, events, logs, ` +
              `describe${deps.readOnly ? '' : ', scale, restart, rollback, delete'})`,
          );
        }
        return { ...scopeParams(a), ...(selector !== undefined ? { selector } : {}) };
      },
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const selector = p.selector === undefined ? undefined : parseLabelSelector(p.selector);
      const { total, items } = await s.port.listFirst('pod', s.namespace, MAX_LIST, {
        signal: ctx.signal,
        ...(selector ? { labelSelector: selector } : {}),
      });
      const head = line(
        bold('Pods'),
        ...where(s),
        ...(selector ? [text(' matching '), value(selector)] : []),
        text(` — ${total}`),
      );
      if (total === 0) return result([head, line('No pods.')]);
      const blocks: Block[] = [head, ...items.map((pod) => podLine(pod, now()))];
      blocks.push(...more(items.length, total));
      const scope = { context: s.context, namespace: s.namespace };
      const buttons = items.slice(0, MAX_BUTTON_ROWS).map((pod): Button[] => {
        const name = pod.metadata?.name ?? '';
        return [
          { label: `📜 ${short(name)}`, action: 'k8s.logs', params: { ...scope, pod: name } },
          { label: '🔎 Describe', action: 'k8s.describe', params: { ...scope, kind: 'pod', name } },
          ...(deps.readOnly ? [] : [{ label: '🗑 Delete', action: 'k8s.delete', params: { ...scope, pod: name } }]),
        ];
      });
      return result(blocks, { buttons });
    },
  });

  const deploy = defineAction({
    name: 'k8s.deploy',
    summary: 'List deployments: desired/ready/up-to-date/available and images',
    target: TARGET,
    risk: 'read',
    params: scopeOnly,
    command: { path: ['k8s', 'deploy'], usage: '[-c context] [-n namespace]', parse: scopeOnlyParse },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const { total, items } = await s.port.listFirst('deployment', s.namespace, MAX_LIST, { signal: ctx.signal });
      const head = line(bold('Deployments'), ...where(s), text(` — ${total}`));
      if (total === 0) return result([head, line('No deployments.')]);
      const blocks: Block[] = [head, ...items.map(deploymentLine)];
      blocks.push(...more(items.length, total));
      if (deps.readOnly) return result(blocks);
      const scope = { context: s.context, namespace: s.namespace };
      const buttons = items.slice(0, MAX_BUTTON_ROWS).map((d): Button[] => {
        const name = d.metadata?.name ?? '';
        const n = d.spec?.replicas ?? 1;
        const target = { ...scope, kind: 'deployment', name };
        return [
          ...(n > 0
            ? [{ label: `➖ ${short(name)} → ${n - 1}`, action: 'k8s.scale', params: { ...target, replicas: n - 1 } }]
            : []),
          ...(n < deps.maxReplicas
            ? [
                {
                  label: `➕ ${n > 0 ? '' : `${short(name)} `}→ ${n + 1}`,
                  action: 'k8s.scale',
                  params: { ...target, replicas: n + 1 },
                },
              ]
            : []),
          { label: '🔄 Restart', action: 'k8s.restart', params: target },
        ];
      });
      return result(blocks, { buttons });
    },
  });

  const nodes = defineAction({
    name: 'k8s.nodes',
    summary: 'List nodes: ready, roles, version, pressure conditions, age',
    target: TARGET,
    risk: 'read',
    params: scopeOnly,
    command: { path: ['k8s', 'nodes'], usage: '[-c context]', parse: nodesParse },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const { total, items } = await s.port.listFirst('node', undefined, MAX_LIST, { signal: ctx.signal });
      const blocks: Block[] = [line(bold('Nodes'), text(' @ '), value(s.context), text(` — ${total}`))];
      for (const n of items) {
        const ready = nodeReady(n);
        const problems = nodeProblems(n);
        const health: Health = ready !== 'Ready' ? 'bad' : problems.length ? 'pending' : 'ok';
        blocks.push(
          line(
            `${HEALTH_ICON[health]} `,
            value(n.metadata?.name ?? '?'),
            text(' '),
            value(ready),
            text(' · '),
            value(nodeRoles(n)),
            text(' · '),
            value(n.status?.nodeInfo?.kubeletVersion ?? '?'),
            text(` · ${age(n.metadata?.creationTimestamp, now())}`),
            ...(problems.length ? [text(' · ⚠️ '), value(problems.join(', '))] : []),
          ),
        );
      }
      blocks.push(...more(Math.min(total, MAX_LIST), total));
      return result(blocks);
    },
  });

  const events = defineAction({
    name: 'k8s.events',
    summary: 'Recent events, warnings first, newest first; optionally of one object (kind/name or name)',
    target: TARGET,
    risk: 'read',
    params: z
      .object({
        ...scopeShape,
        object: z
          .string()
          .max(300)
          .regex(/^(?:[a-z.]+\/)?[a-z0-9.-]+$/, 'expected <kind>/<name> or <name>')
          .optional()
          .describe('only events about this object, e.g. pod/web-1 or deploy/web'),
      })
      .strict(),
    command: {
      path: ['k8s', 'events'],
      usage: '[object] [-c context] [-n namespace]',
      parse: (tokens) => {
        const a = flags(tokens);
        noMore(a, 1);
        const object = a.positionals[0];
        return { ...scopeParams(a), ...(object !== undefined ? { object } : {}) };
      },
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const fieldSelector = p.object === undefined ? undefined : objectSelector(p.object);
      const list = await s.port.list('event', s.namespace, {
        signal: ctx.signal,
        ...(fieldSelector ? { fieldSelector } : {}),
      });
      const sorted = sortEvents(list.items);
      const head = line(
        bold('Events'),
        ...(p.object ? [text(' of '), value(p.object)] : []),
        ...where(s),
        text(` — ${sorted.length}`),
      );
      if (sorted.length === 0) return result([head, line('No events.')]);
      const blocks: Block[] = [head, ...sorted.slice(0, MAX_EVENTS).map((e) => eventLine(e, now()))];
      blocks.push(...more(Math.min(sorted.length, MAX_EVENTS), sorted.length));
      return result(blocks);
    },
  });

  return [contexts, use, ns, pods, deploy, nodes, events];
}

function podLine(pod: V1Pod, now: number): Block {
  const s = summarizePod(pod);
  return line(
    `${HEALTH_ICON[s.health]} `,
    value(pod.metadata?.name ?? '?'),
    text(' '),
    value(s.ready),
    text(' '),
    value(s.status),
    ...(s.lastTermination ? [text(' (last: '), value(s.lastTermination), text(')')] : []),
    text(` · ${s.restarts}↻ · ${age(pod.metadata?.creationTimestamp, now)} · `),
    value(pod.spec?.nodeName ?? '-'),
  );
}

function deploymentLine(d: V1Deployment): Block {
  const want = d.spec?.replicas ?? 1;
  const ready = d.status?.readyReplicas ?? 0;
  const health: Health = ready >= want ? 'ok' : ready === 0 && want > 0 ? 'bad' : 'pending';
  return line(
    `${HEALTH_ICON[health]} `,
    value(d.metadata?.name ?? '?'),
    text(
      ` ${ready}/${want} ready · ${d.status?.updatedReplicas ?? 0} up-to-date ` +
        `· ${d.status?.availableReplicas ?? 0} available · `,
    ),
    value(images(d.spec?.template)),
  );
}

function eventLine(e: CoreV1Event, now: number): Block {
  const count = e.count ?? 1;
  return line(
    e.type === 'Warning' ? '⚠️ ' : 'ℹ️ ',
    value(e.reason ?? '?'),
    text(' '),
    value(involved(e)),
    text(
      ` · ${age(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp, now)}` +
        (count > 1 ? ` ×${count}: ` : ': '),
    ),
    value(clip((e.message ?? '').trim(), 300)),
  );
}

/** "pod/web-1" → involvedObject.kind=Pod,involvedObject.name=web-1; "web-1" → by name only. */
function objectSelector(object: string): string {
  if (object.includes('/')) {
    try {
      const k = parseKindName(object);
      return `involvedObject.kind=${EVENT_KIND[k.kind]},involvedObject.name=${k.name}`;
    } catch (e) {
      throw new ActionError(e instanceof Error ? e.message : String(e));
    }
  }
  if (!isDnsSubdomain(object)) throw new ActionError(`"${truncate(object, 40)}" is not a valid object name`);
  return `involvedObject.name=${object}`;
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
