import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ContextSpec } from '../../fakes/kubeapi.js';
import {
  action,
  context,
  FAST,
  failure,
  firstLine,
  MemoryChatState,
  parse,
  preview,
  run,
  startEnv,
  target,
  text,
  toEnd,
  until,
  type Env,
} from './harness.js';
import type { Result } from '../../../src/core/result.js';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env.close();
});

const prod = () => env.api.cluster('prod');
const web = () => prod().get('deployments', 'shop', 'web')!;
const podNames = (app: string) =>
  prod()
    .list('pods', 'shop')
    .filter((p) => p.metadata.labels?.app === app)
    .map((p) => p.metadata.name);
const writes = () => env.api.requests.filter((r) => r.method !== 'GET');

describe('/k8s scale', () => {
  beforeEach(async () => {
    await prod().settle();
  });

  it('previews with a server-side dry run and changes nothing until it runs', async () => {
    const t = target(env);
    const before = writes().length;
    const card = await preview(t, '/k8s scale deploy/web 5');
    expect(card).toBe(
      'Scale deployment shop/web @ prod\nreplicas 3 → 5\n✔ The API server accepted a dry run of this change.',
    );
    const dry = writes().slice(before);
    expect(dry).toHaveLength(1);
    expect(dry[0]).toMatchObject({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/shop/deployments/web/scale',
      query: { dryRun: 'All' },
      contentType: 'application/merge-patch+json',
    });
    expect(web().spec?.replicas).toBe(3);
    await prod().settle();
    expect(podNames('web')).toHaveLength(3);

    const r = await run(t, '/k8s scale deploy/web 5');
    expect(firstLine(r)).toMatch(
      /^✅ deployment shop\/web @ prod: scaled 3 → 5; rollout complete in \d+s: 5\/5 ready, 5 updated, 5 available\.$/,
    );
    expect(web().spec?.replicas).toBe(5);
    expect(podNames('web')).toHaveLength(5);
    await run(t, '/k8s scale deploy/web 3');
    expect(podNames('web')).toHaveLength(3);
  });

  it('says when nothing would change, and scales statefulsets', async () => {
    const t = target(env);
    expect(await preview(t, '/k8s scale deploy/web 3')).toContain('Already at 3 replicas: nothing will change.');
    expect(prod().get('pods', 'shop', 'db-1')).toBeUndefined();
    const r = await run(t, '/k8s scale sts/db 2 -n shop -c prod');
    expect(firstLine(r)).toMatch(/statefulset shop\/db @ prod: scaled 1 → 2; rollout complete .*2\/2 ready/);
    expect(prod().get('pods', 'shop', 'db-1')).toBeDefined();
    await run(t, '/k8s scale sts/db 1');
    expect(prod().get('pods', 'shop', 'db-1')).toBeUndefined();
  });

  it('keeps replicas within 0..K8S_MAX_REPLICAS and kinds to deployments and statefulsets', async () => {
    const t = target(env, { maxReplicas: 10 });
    expect(() => parse(t, '/k8s scale deploy/web 11')).toThrow('replicas: at most 10 replicas (K8S_MAX_REPLICAS)');
    expect(() => parse(t, '/k8s scale deploy/web -1')).toThrow('replicas cannot be negative');
    expect(() => parse(t, '/k8s scale deploy/web 2.5')).toThrow('replicas must be a whole number');
    expect(() => parse(t, '/k8s scale deploy/web lots')).toThrow('replicas must be a whole number');
    expect(() => parse(t, '/k8s scale svc/web 2')).toThrow('kind must be one of deployment, statefulset');
    expect(() => parse(t, '/k8s scale ds/log-agent 2')).toThrow('kind must be one of deployment, statefulset');
    expect(() => parse(t, '/k8s scale deploy/Web 2')).toThrow('is not a valid deployment name');
    expect(() => action(t, 'k8s.scale').params.parse({ kind: 'deployment', name: 'web', replicas: 11 })).toThrow();
    expect(parse(t, '/k8s scale deploy/web 10').params).toEqual({ kind: 'deployment', name: 'web', replicas: 10 });
    expect(web().spec?.replicas).toBe(3);
  });

  it('pins the chat’s scope before approval, so the approved request acts where the card said', async () => {
    const t = target(env);
    const chat = new MemoryChatState();
    const inv = parse(t, '/k8s scale deploy/web 4');
    const pinned = t.pin(inv.action.name, context(chat), inv.params);
    expect(pinned).toEqual({ context: 'prod', namespace: 'shop', kind: 'deployment', name: 'web', replicas: 4 });
    expect(inv.action.subject?.(pinned)).toBe('deployment shop/web @ prod');
    // The chat moves to staging while the card waits; the approved request still acts on prod.
    await run(t, '/k8s use staging', context(chat));
    expect(firstLine(await toEnd(t, () => inv.action.run(context(chat), pinned)))).toMatch(
      /^✅ deployment shop\/web @ prod: scaled 3 → 4/,
    );
    expect(web().spec?.replicas).toBe(4);
    await run(t, '/k8s scale deploy/web 3');
    // Flags win over the chat; actions without a scope are left alone.
    expect(t.pin('k8s.pods', context(chat), { context: 'prod' })).toEqual({ context: 'prod', namespace: 'shop' });
    expect(t.pin('k8s.pods', context(chat), {})).toEqual({ context: 'staging', namespace: 'web' });
    expect(t.pin('k8s.contexts', context(chat), {})).toEqual({});
    expect(t.pin('k8s.use', context(chat), { context: 'prod' })).toEqual({ context: 'prod' });
    expect(() =>
      t.pin('k8s.scale', context(chat), { context: 'nowhere', kind: 'deployment', name: 'web', replicas: 1 }),
    ).toThrow('unknown or not allowed context nowhere');
  });

  it('reports an unfinished rollout with the pods in trouble', async () => {
    const t = target(env, {}, undefined, { timeoutMs: 2000, rolloutTimeoutMs: 300, rolloutPollMs: 25 });
    prod().autoRollout = false;
    try {
      const [pod] = podNames('web');
      prod().crashLoop('shop', pod!);
      const r = await run(t, '/k8s scale deploy/web 4');
      expect(firstLine(r)).toMatch(
        /^⏳ deployment shop\/web @ prod: scaled 3 → 4; rollout not finished after \d+s: 3\/4 ready/,
      );
      expect(text(r)).toContain(`• ${pod}: CrashLoopBackOff`);
      prod().heal('shop', pod!);
    } finally {
      prod().autoRollout = true;
      prod().progress();
    }
    await run(target(env), '/k8s scale deploy/web 3');
  });
});

describe('a rollout followed in the background, as a live card', () => {
  beforeEach(async () => {
    await prod().settle();
  });

  it('returns at once, edits the card as the rollout moves, and ends it with the final state', async () => {
    const t = target(env);
    const cards: Result[] = [];
    t.onCard((c) => cards.push(c));
    prod().autoRollout = false;
    try {
      const inv = parse(t, '/k8s scale deploy/web 5');
      const first = await inv.action.run(context(), inv.params);
      // The change is made, the rollout is not: the action did not wait for it.
      expect(web().spec?.replicas).toBe(5);
      expect(text(first)).toBe('🔄 deployment shop/web @ prod: scaled 3 → 5; rolling out…');
      const key = first.card!.key;
      expect(first.card).toEqual({ key, title: 'deployment web' });
      await until(() => cards.some((c) => c.card?.key === key), 5000, 'a progress card');
      expect(text(cards[0]!)).toBe(
        '🔄 deployment shop/web @ prod: scaled 3 → 5; rolling out… 3/5 ready, 3 updated, 3 available',
      );
      expect(cards.every((c) => !c.card?.final)).toBe(true);
      prod().progress();
      await until(() => cards.some((c) => c.card?.final), 5000, 'the final card');
      const last = cards.at(-1)!;
      expect(last.card).toEqual({ key, title: 'deployment web', final: true });
      expect(firstLine(last)).toMatch(
        /^✅ deployment shop\/web @ prod: scaled 3 → 5; rollout complete in .*: 5\/5 ready/,
      );
      expect(t.cards()).toEqual([]);
    } finally {
      prod().autoRollout = true;
      prod().progress();
    }
    await run(t, '/k8s scale deploy/web 3');
  });

  it('ends the card when the controller gives up (progress deadline exceeded), with the pods in trouble', async () => {
    const t = target(env);
    prod().autoRollout = false;
    try {
      const [pod] = podNames('web');
      prod().crashLoop('shop', pod!);
      const inv = parse(t, '/k8s scale deploy/web 4');
      const cards: Result[] = [];
      t.onCard((c) => cards.push(c));
      const first = await inv.action.run(context(), inv.params);
      const d = web();
      d.status = {
        ...d.status,
        observedGeneration: d.metadata.generation,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-1" has timed out progressing.',
          },
        ],
      };
      prod().put('deployments', d);
      await until(() => cards.some((c) => c.card?.final), 5000, 'the final card');
      const last = cards.at(-1)!;
      expect(last.card?.key).toBe(first.card!.key);
      expect(text(last)).toMatch(
        /^❌ deployment shop\/web @ prod: scaled 3 → 4; rollout failed after \d+s \(.*\): ReplicaSet "web-1" has timed out progressing\.\n {2}• /,
      );
      expect(text(last)).toContain(`• ${pod}: CrashLoopBackOff`);
      prod().heal('shop', pod!);
    } finally {
      prod().autoRollout = true;
      prod().progress();
    }
    await run(t, '/k8s scale deploy/web 3');
  });

  it('follows a bounded number at once; past it the change is still made and says it is not followed', async () => {
    const t = target(env, {}, undefined, { ...FAST, maxFollowed: 1 });
    prod().autoRollout = false;
    try {
      const scale = parse(t, '/k8s scale deploy/web 4');
      expect((await scale.action.run(context(), scale.params)).card).toBeDefined();
      const restart = parse(t, '/k8s restart deploy/api');
      const second = await restart.action.run(context(), restart.params);
      expect(second.card).toBeUndefined();
      expect(text(second)).toBe(
        '✅ deployment shop/api @ prod: restarted. Not following its rollout: already following 1 rollout, the most at once.',
      );
      await t.stop();
    } finally {
      prod().autoRollout = true;
      prod().progress();
    }
    await run(target(env), '/k8s scale deploy/web 3');
  });

  it('the console and the LLM wait for the end instead (neither shows live cards)', async () => {
    const t = target(env);
    for (const origin of ['console', 'ai'] as const) {
      const inv = parse(t, `/k8s scale deploy/web ${origin === 'ai' ? 3 : 4}`);
      const r = await inv.action.run(context(new MemoryChatState(), origin), inv.params);
      expect(r.card).toBeUndefined();
      expect(firstLine(r)).toMatch(/^✅ deployment shop\/web @ prod: scaled .*; rollout complete in /);
    }
  });

  it('stops following when teleops stops: each card ends saying so', async () => {
    const t = target(env);
    const cards: Result[] = [];
    t.onCard((c) => cards.push(c));
    prod().autoRollout = false;
    try {
      const inv = parse(t, '/k8s restart deploy/api');
      const first = await inv.action.run(context(), inv.params);
      expect(t.cards().map((c) => c.card?.key)).toEqual([first.card!.key]);
      await t.stop();
      const last = cards.at(-1)!;
      expect(last.card).toMatchObject({ key: first.card!.key, final: true });
      expect(text(last)).toBe(
        '⏹ deployment shop/api @ prod: restarted; stopped following the rollout (teleops is stopping).',
      );
      expect(t.cards()).toEqual([]);
    } finally {
      prod().autoRollout = true;
      prod().progress();
    }
  });
});

describe('/k8s restart', () => {
  it('previews (dry run), then sets the restartedAt template annotation and follows the rollout', async () => {
    const t = target(env);
    const oldPods = podNames('web');
    const card = await preview(t, '/k8s restart deploy/web');
    expect(card).toContain('Rollout restart of deployment shop/web @ prod');
    expect(card).toContain(
      'All 3 pods will be replaced, a few at a time (RollingUpdate, maxUnavailable 25%, maxSurge 25%).',
    );
    expect(card).toMatch(/accepted a dry run of this change \(generation (\d+) → (\d+)\)/);
    expect(web().spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeUndefined();

    const r = await run(t, '/k8s restart deploy/web');
    const patch = writes().at(-1);
    expect(patch).toMatchObject({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/shop/deployments/web',
      contentType: 'application/strategic-merge-patch+json',
    });
    const at = web().spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
    expect(Date.now() - Date.parse(at ?? '')).toBeLessThan(10_000);
    expect(web().spec?.template?.spec.containers[0]?.image).toBe('nginx:1.25');
    expect(firstLine(r)).toMatch(/^✅ deployment shop\/web @ prod: restarted; rollout complete .*3\/3 ready/);
    const newPods = podNames('web');
    expect(newPods).toHaveLength(3);
    expect(newPods.filter((p) => oldPods.includes(p))).toEqual([]);
  });

  it('restarts statefulsets and daemonsets too', async () => {
    const t = target(env);
    const dbUid = prod().get('pods', 'shop', 'db-0')!.metadata.uid;
    expect(firstLine(await run(t, '/k8s restart sts/db'))).toMatch(
      /statefulset shop\/db @ prod: restarted; rollout complete/,
    );
    expect(prod().get('pods', 'shop', 'db-0')!.metadata.uid).not.toBe(dbUid);
    expect(await preview(t, '/k8s restart ds/log-agent')).toContain(
      'The pod on every node will be replaced, node by node.',
    );
    expect(firstLine(await run(t, '/k8s restart ds/log-agent'))).toMatch(
      /daemonset shop\/log-agent @ prod: restarted; rollout complete .*3\/3 ready/,
    );
    expect(() => parse(t, '/k8s restart pod/db-0')).toThrow('kind must be one of deployment, statefulset, daemonset');
  });
});

describe('/k8s rollback', () => {
  const revision = () => Number(web().metadata.annotations?.['deployment.kubernetes.io/revision']);

  it('finds the ReplicaSet of a revision, previews the image change, and rolls back to it', async () => {
    const t = target(env);
    const billing = await run(t, '/k8s rollback deploy/billing -n payments').catch((e: Error) => e.message);
    expect(billing).toBe(
      'deployment payments/billing (context prod) has no earlier revision to roll back to (revisions: 1)',
    );

    const from = revision();
    const card = await preview(t, '/k8s rollback deploy/web 1');
    expect(card).toMatch(
      new RegExp(
        `^Rollback of deployment shop/web @ prod\\nrevision ${from} → 1 \\(ReplicaSet web-[0-9a-f]+\\)\\n  • nginx: nginx:1.25 → nginx:1.24\\n✔ The API server`,
      ),
    );
    expect(web().spec?.template?.spec.containers[0]?.image).toBe('nginx:1.25');

    const r = await run(t, '/k8s rollback deploy/web 1');
    const patch = writes().at(-1);
    expect(patch).toMatchObject({
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/shop/deployments/web',
      contentType: 'application/json-patch+json',
    });
    expect(firstLine(r)).toMatch(
      new RegExp(
        `^✅ deployment shop/web @ prod: rolled back from revision ${from} to 1; rollout complete .*3/3 ready`,
      ),
    );
    expect(web().spec?.template?.spec.containers[0]?.image).toBe('nginx:1.24');
    await until(() => revision() === from + 1, 5000, 'the new revision');
    expect(
      podNames('web').every((p) => prod().get('pods', 'shop', p)!.spec?.containers?.[0]?.image === 'nginx:1.24'),
    ).toBe(true);
  });

  it('goes back to the previous revision by default, and refuses unknown ones', async () => {
    const t = target(env);
    const from = revision();
    expect(await preview(t, '/k8s rollback deploy/web')).toContain(`revision ${from} → ${from - 1} `);
    await run(t, '/k8s rollback deploy/web');
    expect(web().spec?.template?.spec.containers[0]?.image).toBe('nginx:1.25');
    expect(await failure(t, '/k8s rollback deploy/web 99')).toMatch(
      /^deployment shop\/web \(context prod\) has no revision 99 \(revisions: [\d, ]+\)$/,
    );
    expect(await failure(t, `/k8s rollback deploy/web ${revision()}`)).toBe(
      `deployment shop/web (context prod) is already at revision ${revision()}`,
    );
    expect(() => parse(t, '/k8s rollback sts/db')).toThrow('kind must be one of deployment');
    expect(() => parse(t, '/k8s rollback deploy/web two')).toThrow('revision must be a number');
  });

  it('an approved rollback to "the previous revision" goes where its card said, though a deploy came in between', async () => {
    const t = target(env);
    const inv = parse(t, '/k8s rollback deploy/web');
    const from = revision();
    const settled = await inv.action.settle!(context(), inv.params);
    expect(settled).toMatchObject({ revision: from - 1 });
    const card = text({ blocks: [...(await inv.action.preview!(context(), settled))] });
    const shown = / → (\S+)$/m.exec(card)![1]!;
    // Between card and press, CI deploys: "the previous revision" is now the one the card went from.
    const template = structuredClone(web().spec!.template!);
    template.spec!.containers[0]!.image = 'nginx:1.27-ci';
    await t.clusters.port('prod').setTemplate('shop', 'web', template, web().metadata!.resourceVersion!, {
      signal: new AbortController().signal,
    });
    await until(() => revision() === from + 1, 5000, 'the new revision');
    expect(web().spec?.template?.spec.containers[0]?.image).not.toBe(shown);
    await toEnd(t, () => inv.action.run(context(), settled));
    expect(web().spec?.template?.spec.containers[0]?.image).toBe(shown);
  });

  it('turns a conflicting write into a one-line 409 answer', async () => {
    const t = target(env);
    env.api.failNext({ method: 'PATCH', resource: 'deployments', name: 'web', code: 409 });
    expect(await failure(t, '/k8s rollback deploy/web')).toBe(
      'conflict: deployment shop/web was changed by someone else meanwhile; look again and retry (context prod)',
    );
    // The real precondition: the template is replaced only at the resourceVersion read before.
    const port = t.clusters.port('prod');
    const d = await port.read('deployment', 'shop', 'web');
    await expect(port.setTemplate('shop', 'web', d.spec!.template, '1')).rejects.toThrow(
      /^conflict: deployment shop\/web was changed/,
    );
  });
});

describe('/k8s delete', () => {
  it('previews who replaces the pod (dry run), deletes it, and waits for the replacement', async () => {
    const t = target(env);
    const [pod] = podNames('web');
    const before = prod().get('pods', 'shop', pod!);
    const card = await preview(t, `/k8s delete pod/${pod}`);
    expect(card).toMatch(
      new RegExp(
        `^Delete pod shop/${pod} @ prod\\nThe pod will be deleted; its ReplicaSet web-[0-9a-f]+ \\(deployment web\\) will replace it\\.\\n✔`,
      ),
    );
    expect(writes().at(-1)).toMatchObject({
      method: 'DELETE',
      path: `/api/v1/namespaces/shop/pods/${pod}`,
      query: { dryRun: 'All' },
    });
    // The dry run left the pod exactly as it was.
    expect(prod().get('pods', 'shop', pod!)).toEqual(before);

    const r = await run(t, `/k8s delete pod/${pod}`);
    expect(firstLine(r)).toMatch(
      new RegExp(
        `^✅ pod shop/${pod} @ prod: deleted; ReplicaSet web-[0-9a-f]+ replaces it; rollout complete .*3/3 ready`,
      ),
    );
    expect(prod().get('pods', 'shop', pod!)).toBeUndefined();
    expect(podNames('web')).toHaveLength(3);
  });

  it('says when nothing will replace a pod, and follows a statefulset pod coming back', async () => {
    const t = target(env);
    prod().put('pods', {
      ...prod().get('pods', 'shop', 'db-0')!,
      metadata: { ...prod().get('pods', 'shop', 'db-0')!.metadata, name: 'debug', ownerReferences: [] },
    });
    expect(await preview(t, '/k8s delete pod/debug')).toContain('⚠️ it has no controller: nothing will replace it.');
    expect(firstLine(await run(t, '/k8s delete pod/debug'))).toBe(
      '✅ pod shop/debug @ prod: deleted (it had no controller, so nothing replaces it).',
    );
    expect(await preview(t, '/k8s delete pod/db-0')).toContain(
      'its StatefulSet db will recreate it under the same name.',
    );
    expect(firstLine(await run(t, '/k8s delete pod/db-0'))).toMatch(
      /deleted; StatefulSet db replaces it; rollout complete/,
    );
  });

  it('deletes only single pods: never namespaces, nodes, other kinds, or by selector', () => {
    const t = target(env);
    const sent = env.api.requests.length;
    const refusal =
      'only single pods can be deleted, as pod/<name>: never namespaces, nodes, or anything by label selector';
    for (const line of [
      '/k8s delete ns/shop',
      '/k8s delete namespace/shop',
      '/k8s delete node/node-1',
      '/k8s delete deploy/web',
      '/k8s delete svc/web',
    ]) {
      expect(() => parse(t, line), line).toThrow(/kind must be one of|only single pods/);
    }
    expect(() => parse(t, '/k8s delete node/node-1')).toThrow();
    expect(() => parse(t, '/k8s delete pod/x -l app=web')).toThrow(refusal);
    expect(() => parse(t, '/k8s delete -l app=web')).toThrow(refusal);
    expect(() => parse(t, '/k8s delete app=web')).toThrow(refusal);
    expect(() => parse(t, '/k8s delete --all')).toThrow(refusal);
    expect(() => parse(t, '/k8s delete web-1')).toThrow('say pod/web-1 to delete a pod');
    expect(() => action(t, 'k8s.delete').params.parse({ pod: 'web-1', selector: 'app=web' })).toThrow();
    expect(() => action(t, 'k8s.delete').params.parse({ namespace: 'shop', kind: 'namespace' })).toThrow();
    // Refused before anything reached the API.
    expect(env.api.requests.slice(sent)).toEqual([]);
  });
});

describe('read-only and failures', () => {
  it('K8S_READ_ONLY=true removes every mutating action', async () => {
    const t = target(env, { readOnly: true });
    expect(t.actions.map((a) => a.name).sort()).toEqual([
      'k8s.contexts',
      'k8s.deploy',
      'k8s.describe',
      'k8s.events',
      'k8s.logs',
      'k8s.nodes',
      'k8s.ns',
      'k8s.pods',
      'k8s.use',
    ]);
    // k8s.use changes only which context this chat reads from (a write to teleops, not to the cluster).
    expect(t.actions.filter((a) => a.risk !== 'read').map((a) => [a.name, a.risk])).toEqual([['k8s.use', 'write']]);
    expect(() => parse(t, '/k8s scale deploy/web 5')).toThrow(/not a command/);
    const rw = target(env);
    expect(rw.actions.filter((a) => a.risk === 'destructive').map((a) => a.name)).toEqual([
      'k8s.scale',
      'k8s.restart',
      'k8s.rollback',
      'k8s.delete',
    ]);
  });

  it('renders 403 with the missing permission, and 401', async () => {
    const t = target(env);
    const before = web().spec?.replicas;
    await expect(preview(t, '/k8s scale deploy/web 5 -c prod-viewer')).rejects.toThrow(
      'forbidden: cannot patch deployments/scale in namespace shop (context prod-viewer)',
    );
    expect(await failure(t, '/k8s delete pod/db-0 -c prod-viewer')).toBe(
      'forbidden: cannot delete pods in namespace shop (context prod-viewer)',
    );
    expect(await failure(t, '/k8s restart deploy/api -c prod-viewer')).toBe(
      'forbidden: cannot patch deployments in namespace shop (context prod-viewer)',
    );
    expect(text(await run(t, '/pods -c prod-viewer'))).toContain('Pods in shop @ prod-viewer');
    expect(await failure(t, '/pods -c prod-stranger')).toBe(
      'unauthorized: the API server rejected the credentials (context prod-stranger)',
    );
    expect(web().spec?.replicas).toBe(before);
  });

  it('renders 404 for a missing object', async () => {
    const t = target(env);
    await expect(preview(t, '/k8s scale deploy/nope 2')).rejects.toThrow(
      'deployment shop/nope not found (context prod)',
    );
    expect(await failure(t, '/k8s restart sts/nope')).toBe('statefulset shop/nope not found (context prod)');
    expect(await failure(t, '/k8s delete pod/nope')).toBe('pod shop/nope not found (context prod)');
  });

  it('answers in one line when the API server is down, and works again when it is back', async () => {
    const t = target(env);
    expect(await failure(t, '/pods -c offline')).toBe('Kubernetes API unreachable (ECONNREFUSED) (context offline)');
    await env.api.down();
    try {
      const msg = await failure(t, '/k8s scale deploy/web 2');
      expect(msg).toBe('Kubernetes API unreachable (ECONNREFUSED) (context prod)');
      expect(msg).not.toContain('\n');
      const health = await t.integration.check(AbortSignal.timeout(2000));
      expect(health.state).toBe('down');
      expect(health.detail).toContain('Kubernetes API unreachable (ECONNREFUSED) (context prod)');
    } finally {
      await env.api.up();
    }
    expect(text(await run(t, '/pods'))).toContain('Pods in shop @ prod');
    expect(await target(env, { contexts: ['prod', 'staging'] }).integration.check(AbortSignal.timeout(2000))).toEqual({
      state: 'up',
      detail: 'prod v1.31.2, staging v1.31.2',
    });
  });

  it('times out a call to an API server that never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const spec: ContextSpec = { name: 'hung', cluster: `http://127.0.0.1:${port}`, token: 'x', namespace: 'default' };
    const hung = await startEnv([spec]);
    try {
      const t = target(hung, {}, undefined, { timeoutMs: 300 });
      const started = Date.now();
      expect(await failure(t, '/pods -c hung')).toBe('Kubernetes API did not answer within 300 ms (context hung)');
      expect(await failure(t, '/k8s logs web-1 -c hung')).toBe(
        'Kubernetes API did not answer within 300 ms (context hung)',
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await hung.close();
    }
  });
});
