/**
 * The mutating actions — scale, restart, rollback, delete pod — all destructive: each shows
 * a server-side dry run on the approval card, then acts, then follows the rollout (bounded)
 * and reports the final state. They do not exist at all under K8S_READ_ONLY.
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { z } from 'zod';
import { defineAction, type ActionContext, type AnyAction } from '../../core/action.js';
import { UsageError } from '../../core/commands.js';
import { bold, line, result, text, value, type Block, type Button, type Result } from '../../core/result.js';
import { counted, formatDuration, truncate } from '../../core/text.js';
import { clip } from '../../core/redact.js';
import {
  flags,
  objectNameSchema,
  rolloutOptions,
  scopeOf,
  scopeParams,
  scopeShape,
  subjectOf,
  TARGET,
  type KubeActionDeps,
} from './common.js';
import { images } from './format.js';
import { noMore, parseKindName } from './names.js';
import type { Workload, WorkloadKind } from './port.js';
import {
  followPods,
  followRollout,
  imageChanges,
  planRollback,
  replacementFor,
  type FollowResult,
  type OwnerKind,
  type Replacement,
  type RolloutState,
} from './rollout.js';
import type { Scope } from './scope.js';

const id = (s: Pick<Scope, 'namespace'>, kind: string, name: string) => `${kind} ${s.namespace}/${name}`;
const title = (verb: string, s: Scope, kind: string, name: string): Block =>
  line(bold(`${verb} `), value(id(s, kind, name)), text(' @ '), value(s.context));
const dryRunOk = (extra = ''): Block => line(text(`✔ The API server accepted a dry run of this change${extra}.`));

type Follow =
  | { readonly kind: 'rollout'; readonly workload: WorkloadKind }
  | { readonly kind: 'pods'; readonly owner: OwnerKind; readonly name: string; readonly deletedUid?: string }
  | { readonly kind: 'none' };

/**
 * The button that undoes a change: the same kind of request back to where it was, for the
 * exact context, namespace and object (so it asks for approval like any other). None when
 * what came before is not known.
 */
const undoButton = (action: string, params: Record<string, unknown>): Button => ({
  label: '↩️ Undo',
  action,
  params,
});

/** The revision a deployment is at, as its controller numbers them; undefined before the first. */
const revisionNow = (d: V1Deployment): number | undefined => {
  const r = Number(d.metadata?.annotations?.['deployment.kubernetes.io/revision']);
  return Number.isSafeInteger(r) && r > 0 ? r : undefined;
};

/**
 * Follows what the change set off and turns it into the reply; the change itself already
 * happened. In a chat the reply is a live card, returned at once and edited until the
 * rollout ends, so the chat is free meanwhile; the console and the LLM wait for the end
 * (the console shows no live cards, and the LLM answers from the outcome).
 */
async function report(
  deps: KubeActionDeps,
  ctx: ActionContext,
  s: Scope,
  target: { kind: string; name: string },
  follow: Follow,
  what: string,
  undo?: Button,
): Promise<Result> {
  const subject = [value(id(s, target.kind, target.name)), text(' @ '), value(s.context)];
  // Every version of the reply, live or not, carries the Undo.
  const extra = undo ? { buttons: [[undo]] } : {};
  if (follow.kind === 'none') return result([line('✅ ', ...subject, text(`: ${what}.`))], extra);
  const finish = async (signal: AbortSignal, onProgress?: (st: RolloutState) => void): Promise<Block[]> => {
    let f: FollowResult;
    try {
      const o = { ...rolloutOptions(deps, signal), ...(onProgress ? { onProgress } : {}) };
      f =
        follow.kind === 'rollout'
          ? await followRollout(s.port, follow.workload, s.namespace, target.name, o)
          : await followPods(s.port, follow.owner, s.namespace, follow.name, follow.deletedUid, o);
    } catch (e) {
      if (signal.aborted)
        return [line('⏹ ', ...subject, text(`: ${what}; stopped following the rollout (teleops is stopping).`))];
      return [
        line(
          '⚠️ ',
          ...subject,
          text(`: ${what}, but following the rollout failed: `),
          value(e instanceof Error ? clip(e.message, 200) : String(e)),
        ),
      ];
    }
    const took = formatDuration(f.waitedMs);
    const head = f.done
      ? line('✅ ', ...subject, text(`: ${what}; rollout complete in ${took}: ${f.summary}.`))
      : f.failed !== undefined
        ? line('❌ ', ...subject, text(`: ${what}; rollout failed after ${took} (${f.summary}): `), value(f.failed))
        : line('⏳ ', ...subject, text(`: ${what}; rollout not finished after ${took}: ${f.summary}.`));
    return [head, ...f.problems.map((p) => line(text('  • '), value(p)))];
  };
  if (ctx.origin === 'console' || ctx.origin === 'ai') return result(await finish(ctx.signal), extra);
  if (deps.live.full)
    return result(
      [
        line(
          '✅ ',
          ...subject,
          text(
            `: ${what}. Not following its rollout: ` +
              `already following ${counted(deps.live.max, 'rollout')}, the most at once.`,
          ),
        ),
      ],
      extra,
    );
  const key = deps.live.newKey();
  const card = (blocks: Block[], final = false): Result =>
    result(blocks, { ...extra, card: { key, title: `${target.kind} ${target.name}`, ...(final ? { final } : {}) } });
  const rolling = (summary?: string) =>
    card([line('🔄 ', ...subject, text(`: ${what}; rolling out…${summary ? ` ${summary}` : ''}`))]);
  // A look that saw nothing new changes nothing on the card.
  let seen = '';
  const moved = (progress: (c: Result) => void) => (st: RolloutState) => {
    if (st.summary === seen) return;
    seen = st.summary;
    progress(rolling(st.summary));
  };
  return deps.live.follow(rolling(), {
    run: async (signal, progress) => card(await finish(signal, moved(progress)), true),
  });
}

function kindNameArgs(tokens: readonly string[], allowed: Parameters<typeof parseKindName>[1], extra: number) {
  const a = flags(tokens);
  const target = a.positionals[0];
  if (target === undefined)
    throw new UsageError(`which one? e.g. ${allowed![0] === 'deployment' ? 'deploy' : allowed![0]}/web`);
  noMore(a, 1 + extra);
  return { a, ...parseKindName(target, allowed) };
}

export function mutatingActions(deps: KubeActionDeps): AnyAction[] {
  const timeoutMs = (deps.rolloutTimeoutMs ?? 60_000) + 30_000;

  const scale = defineAction({
    name: 'k8s.scale',
    summary: `Scale a deployment or statefulset to n replicas (0–${deps.maxReplicas}); shows a dry run first`,
    target: TARGET,
    risk: 'destructive',
    timeoutMs,
    params: z
      .object({
        ...scopeShape,
        kind: z.enum(['deployment', 'statefulset']),
        name: objectNameSchema,
        replicas: z
          .number()
          .int('replicas must be a whole number')
          .min(0, 'replicas cannot be negative')
          .max(deps.maxReplicas, `at most ${deps.maxReplicas} replicas (K8S_MAX_REPLICAS)`),
      })
      .strict(),
    command: {
      path: ['k8s', 'scale'],
      usage: '<deploy|sts>/<name> <replicas> [-c context] [-n namespace]',
      parse: (tokens) => {
        const { a, kind, name } = kindNameArgs(tokens, ['deployment', 'statefulset'], 1);
        const n = a.positionals[1];
        if (n === undefined) throw new UsageError('how many replicas?');
        if (!/^-?\d{1,9}$/.test(n)) throw new UsageError(`replicas must be a whole number, not "${truncate(n, 20)}"`);
        return { ...scopeParams(a), kind, name, replicas: Number(n) };
      },
    },
    subject: (p) => subjectOf(p.kind, p.name, p),
    preview: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const current = await s.port.readScale(p.kind, s.namespace, p.name, { signal: ctx.signal });
      const from = current.spec?.replicas ?? 0;
      if (from === p.replicas)
        return [title('Scale', s, p.kind, p.name), line(text(`Already at ${from} replicas: nothing will change.`))];
      const dry = await s.port.scale(p.kind, s.namespace, p.name, p.replicas, { dryRun: true, signal: ctx.signal });
      return [
        title('Scale', s, p.kind, p.name),
        line(text('replicas '), value(from), text(' → '), value(dry.spec?.replicas ?? p.replicas)),
        dryRunOk(),
      ];
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const before = await s.port.readScale(p.kind, s.namespace, p.name, { signal: ctx.signal });
      await s.port.scale(p.kind, s.namespace, p.name, p.replicas, { signal: ctx.signal });
      const was = before.spec?.replicas;
      const where = { context: s.context, namespace: s.namespace, kind: p.kind, name: p.name };
      return report(
        deps,
        ctx,
        s,
        p,
        { kind: 'rollout', workload: p.kind },
        `scaled ${was ?? '?'} → ${p.replicas}`,
        was !== undefined && was !== p.replicas ? undoButton('k8s.scale', { ...where, replicas: was }) : undefined,
      );
    },
  });

  const restart = defineAction({
    name: 'k8s.restart',
    summary:
      'Rollout restart of a deployment, statefulset or daemonset (replaces its pods, as kubectl rollout restart)',
    target: TARGET,
    risk: 'destructive',
    timeoutMs,
    params: z
      .object({ ...scopeShape, kind: z.enum(['deployment', 'statefulset', 'daemonset']), name: objectNameSchema })
      .strict(),
    command: {
      path: ['k8s', 'restart'],
      usage: '<deploy|sts|ds>/<name> [-c context] [-n namespace]',
      parse: (tokens) => {
        const { a, kind, name } = kindNameArgs(tokens, ['deployment', 'statefulset', 'daemonset'], 0);
        return { ...scopeParams(a), kind, name };
      },
    },
    subject: (p) => subjectOf(p.kind, p.name, p),
    preview: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const current = await s.port.read(p.kind, s.namespace, p.name, { signal: ctx.signal });
      const dry = await s.port.restart(p.kind, s.namespace, p.name, new Date().toISOString(), {
        dryRun: true,
        signal: ctx.signal,
      });
      return [
        title('Rollout restart of', s, p.kind, p.name),
        line(text(restartPlan(p.kind, current))),
        line(text('images stay '), value(images(current.spec?.template))),
        dryRunOk(` (generation ${current.metadata?.generation ?? '?'} → ${dry.metadata?.generation ?? '?'})`),
      ];
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      // A deployment's restart is a new revision: Undo rolls back to the one before it.
      const was =
        p.kind === 'deployment'
          ? revisionNow((await s.port.read('deployment', s.namespace, p.name, { signal: ctx.signal })) as V1Deployment)
          : undefined;
      await s.port.restart(p.kind, s.namespace, p.name, new Date().toISOString(), { signal: ctx.signal });
      const where = { context: s.context, namespace: s.namespace, name: p.name };
      const undo = was !== undefined ? undoButton('k8s.rollback', { ...where, revision: was }) : undefined;
      return report(deps, ctx, s, p, { kind: 'rollout', workload: p.kind }, 'restarted', undo);
    },
  });

  const rollback = defineAction({
    name: 'k8s.rollback',
    summary: 'Roll a deployment back to its previous revision, or to a given one (as kubectl rollout undo)',
    target: TARGET,
    risk: 'destructive',
    timeoutMs,
    params: z
      .object({
        ...scopeShape,
        name: objectNameSchema,
        revision: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .optional()
          .describe('revision to return to; default: the previous one'),
      })
      .strict(),
    command: {
      path: ['k8s', 'rollback'],
      usage: '<deploy>/<name> [revision] [-c context] [-n namespace]',
      parse: (tokens) => {
        const { a, name } = kindNameArgs(tokens, ['deployment'], 1);
        const r = a.positionals[1];
        if (r !== undefined && !/^\d{1,7}$/.test(r))
          throw new UsageError(`revision must be a number, not "${truncate(r, 20)}"`);
        return { ...scopeParams(a), name, ...(r !== undefined ? { revision: Number(r) } : {}) };
      },
    },
    subject: (p) => subjectOf('deployment', p.name, p),
    // "The previous revision" is the card's: a deploy between card and press does not move it.
    settle: async (ctx, p) => {
      if (p.revision !== undefined) return p;
      const s = scopeOf(deps, ctx, p);
      return { ...p, revision: (await planRollback(s.port, s.namespace, p.name, undefined, ctx.signal)).toRevision };
    },
    preview: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const plan = await planRollback(s.port, s.namespace, p.name, p.revision, ctx.signal);
      await s.port.setTemplate(s.namespace, p.name, plan.template, plan.deployment.metadata?.resourceVersion ?? '', {
        dryRun: true,
        signal: ctx.signal,
      });
      const changes = imageChanges(plan.deployment.spec?.template, plan.template);
      return [
        title('Rollback of', s, 'deployment', p.name),
        line(
          text('revision '),
          value(plan.fromRevision),
          text(' → '),
          value(plan.toRevision),
          text(' (ReplicaSet '),
          value(plan.replicaSet),
          text(')'),
        ),
        ...(changes.length
          ? changes.map((c) => line(text('  • '), value(c)))
          : [line(text('images unchanged (other template fields differ)'))]),
        dryRunOk(),
      ];
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const plan = await planRollback(s.port, s.namespace, p.name, p.revision, ctx.signal);
      await s.port.setTemplate(s.namespace, p.name, plan.template, plan.deployment.metadata?.resourceVersion ?? '', {
        signal: ctx.signal,
      });
      return report(
        deps,
        ctx,
        s,
        { kind: 'deployment', name: p.name },
        { kind: 'rollout', workload: 'deployment' },
        `rolled back from revision ${plan.fromRevision} to ${plan.toRevision}`,
        undoButton('k8s.rollback', {
          context: s.context,
          namespace: s.namespace,
          name: p.name,
          revision: plan.fromRevision,
        }),
      );
    },
  });

  const del = defineAction({
    name: 'k8s.delete',
    summary: 'Delete one pod (its controller replaces it); never namespaces, nodes, or anything by label selector',
    target: TARGET,
    risk: 'destructive',
    timeoutMs,
    params: z.object({ ...scopeShape, pod: objectNameSchema.describe('pod name') }).strict(),
    command: {
      path: ['k8s', 'delete'],
      usage: 'pod/<name> [-c context] [-n namespace]',
      parse: (tokens) => {
        const refusal =
          'only single pods can be deleted, as pod/<name>: never namespaces, nodes, or anything by label selector';
        if (tokens.some((t) => /^(-l|--selector|--all|-A|--all-namespaces)(=|$)/.test(t) || t.includes('=')))
          throw new UsageError(refusal);
        const a = flags(tokens);
        const target = a.positionals[0];
        if (target === undefined) throw new UsageError('which pod? e.g. /k8s delete pod/web-1');
        noMore(a, 1);
        if (!target.includes('/')) throw new UsageError(`say pod/${truncate(target, 40)} to delete a pod; ${refusal}`);
        const k = parseKindName(target);
        if (k.kind !== 'pod') throw new UsageError(refusal);
        return { ...scopeParams(a), pod: k.name };
      },
    },
    subject: (p) => subjectOf('pod', p.pod, p),
    preview: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const pod = await s.port.read('pod', s.namespace, p.pod, { signal: ctx.signal });
      const who = await replacementFor(s.port, pod, ctx.signal);
      await s.port.deletePod(s.namespace, p.pod, { dryRun: true, signal: ctx.signal });
      return [
        title('Delete', s, 'pod', p.pod),
        line(text('The pod will be deleted; '), ...replacementSpans(who)),
        dryRunOk(),
      ];
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const pod = await s.port.read('pod', s.namespace, p.pod, { signal: ctx.signal });
      const who = await replacementFor(s.port, pod, ctx.signal);
      await s.port.deletePod(s.namespace, p.pod, { signal: ctx.signal });
      const uid = pod.metadata?.uid;
      const follow: Follow =
        who.kind === 'replicaset' || who.kind === 'statefulset' || who.kind === 'daemonset'
          ? { kind: 'pods', owner: who.kind, name: who.name, ...(uid ? { deletedUid: uid } : {}) }
          : { kind: 'none' };
      const what =
        who.kind === 'none'
          ? 'deleted (it had no controller, so nothing replaces it)'
          : who.kind === 'job' || who.kind === 'other'
            ? `deleted; its ${who.ownerKind} ${who.name} decides whether a new pod starts`
            : `deleted; ${who.kind === 'replicaset' ? `ReplicaSet ${who.name}` : `${who.ownerKind} ${who.name}`} ` +
              `replaces it`;
      return report(deps, ctx, s, { kind: 'pod', name: p.pod }, follow, what);
    },
  });

  return [scale, restart, rollback, del];
}

function restartPlan(kind: WorkloadKind, o: Workload): string {
  if (kind === 'deployment') {
    const d = o as V1Deployment;
    const n = d.spec?.replicas ?? 1;
    const ru = d.spec?.strategy?.rollingUpdate;
    return d.spec?.strategy?.type === 'Recreate'
      ? `All ${counted(n, 'pod')} will be stopped, then recreated (strategy Recreate).`
      : `All ${counted(n, 'pod')} will be replaced, a few at a time (RollingUpdate, ` +
          `maxUnavailable ${String(ru?.maxUnavailable ?? '25%')}, maxSurge ${String(ru?.maxSurge ?? '25%')}).`;
  }
  if (kind === 'statefulset')
    return (
      `All ${counted((o as V1StatefulSet).spec?.replicas ?? 1, 'pod')} will be replaced one at a time, ` +
      `highest ordinal first.`
    );
  return 'The pod on every node will be replaced, node by node.';
}

function replacementSpans(r: Replacement) {
  switch (r.kind) {
    case 'replicaset':
      return [
        text('its ReplicaSet '),
        value(r.name),
        ...(r.deployment ? [text(' (deployment '), value(r.deployment), text(')')] : []),
        text(' will replace it.'),
      ];
    case 'statefulset':
      return [text('its StatefulSet '), value(r.name), text(' will recreate it under the same name.')];
    case 'daemonset':
      return [text('its DaemonSet '), value(r.name), text(' will recreate it on the same node.')];
    case 'job':
      return [text('its Job '), value(r.name), text(' may start a new pod, depending on its backoff limit.')];
    case 'other':
      return [text('its controller '), value(`${r.ownerKind} ${r.name}`), text(' decides whether it comes back.')];
    case 'none':
      return [text('⚠️ it has no controller: nothing will replace it.')];
  }
}
