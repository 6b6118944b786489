import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Result, Span } from '../../../src/core/result.js';
import { KubeConfigError } from '../../../src/targets/kubernetes/index.js';
import { context, failure, MemoryChatState, parse, run, startEnv, target, text, type Env } from './harness.js';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
});
afterAll(async () => {
  await env.close();
});

const podNames = (app: string, cluster = 'prod', ns = 'shop') =>
  env.api
    .cluster(cluster)
    .list('pods', ns)
    .filter((p) => p.metadata.labels?.app === app)
    .map((p) => p.metadata.name);

const spans = (r: Result): Span[] => r.blocks.flatMap((b) => (b.kind === 'line' ? [...b.spans] : []));

describe('contexts and per-chat scope', () => {
  it('lists only the allowed contexts, marking the current one', async () => {
    const t = target(env, { contexts: ['prod', 'staging'] });
    const r = await run(t, '/k8s contexts');
    const out = text(r);
    expect(out).toContain('▶ prod — namespace shop');
    expect(out).toContain('• staging — namespace web');
    expect(out).not.toContain('offline');
    expect(out).not.toContain('prod-viewer');
    expect(r.buttons?.flat().map((b) => [b.action, b.params.context])).toEqual([
      ['k8s.use', 'prod'],
      ['k8s.use', 'staging'],
    ]);
  });

  it('refuses K8S_CONTEXTS naming a context the kubeconfig lacks', () => {
    expect(() => target(env, { contexts: ['prod', 'nope'] })).toThrow(KubeConfigError);
    expect(() => target(env, { contexts: ['prod', 'nope'] })).toThrow(/nope/);
  });

  it('/k8s use sets the chat’s context and namespace, which later commands use', async () => {
    const t = target(env);
    const chat = new MemoryChatState();
    expect(text(await run(t, '/k8s use staging', context(chat)))).toBe(
      'This chat now uses context staging, namespace web.',
    );
    expect(chat.values).toEqual(
      new Map([
        ['k8s.context', 'staging'],
        ['k8s.namespace', 'web'],
      ]),
    );
    // A new request (a new context object) with the same stored chat state: as after a restart.
    const out = text(await run(t, '/pods', context(chat)));
    expect(out).toContain('Pods in web @ staging — 2');
    for (const p of podNames('frontend', 'staging', 'web')) expect(out).toContain(p);
    // Another chat is unaffected.
    expect(text(await run(t, '/pods', context()))).toContain('Pods in shop @ prod');
  });

  it('-c and -n override the chat’s choice; a context switch takes that context’s namespace', async () => {
    const t = target(env);
    const chat = new MemoryChatState();
    await run(t, '/k8s use prod payments', context(chat));
    expect(text(await run(t, '/pods', context(chat)))).toContain('Pods in payments @ prod — 1');
    expect(text(await run(t, '/pods -c staging', context(chat)))).toContain('Pods in web @ staging');
    expect(text(await run(t, '/k8s pods -n shop', context(chat)))).toContain('Pods in shop @ prod');
    expect(text(await run(t, '/k8s pods --context=staging --namespace=default', context(chat)))).toContain(
      'Pods in default @ staging — 0',
    );
    expect(chat.values.get('k8s.namespace')).toBe('payments');
  });

  it('enforces K8S_NAMESPACES everywhere', async () => {
    const t = target(env, { namespaces: ['shop'] });
    expect(await failure(t, '/pods -n payments')).toBe('namespace payments is not allowed; allowed: shop');
    expect(await failure(t, '/k8s use prod kube-system')).toBe('namespace kube-system is not allowed; allowed: shop');
    // staging's own namespace (web) is not allowed, so the first allowed one is used.
    expect(text(await run(t, '/pods -c staging'))).toContain('Pods in shop @ staging — 0');
    const ns = text(await run(t, '/k8s ns'));
    expect(ns).toContain('▶ shop');
    expect(ns).not.toContain('payments');
  });

  it('refuses unknown contexts, and says so when a chat’s stored context is gone', async () => {
    const t = target(env, { contexts: ['prod', 'staging'] });
    expect(await failure(t, '/pods -c offline')).toBe('unknown or not allowed context offline; allowed: prod, staging');
    expect(await failure(t, '/k8s use nowhere')).toContain('unknown or not allowed context nowhere');
    const chat = new MemoryChatState();
    chat.set('k8s.context', 'offline');
    expect(await failure(t, '/pods', context(chat))).toContain(
      'this chat uses context offline, which is no longer allowed; choose another with /k8s use',
    );
  });

  it('/k8s ns lists namespaces with buttons that switch to them', async () => {
    const t = target(env);
    const r = await run(t, '/k8s ns');
    expect(text(r)).toContain('Namespaces @ prod');
    expect(text(r)).toMatch(/▶ shop/);
    expect(r.buttons?.flat().find((b) => b.label === 'payments')).toMatchObject({
      action: 'k8s.use',
      params: { context: 'prod', namespace: 'payments' },
    });
  });
});

describe('/k8s pods', () => {
  it('shows ready, status reasons, restarts, age and node, with Logs · Describe · Delete buttons', async () => {
    const t = target(env);
    const prod = env.api.cluster('prod');
    const [crash, oom] = podNames('web');
    const [pull] = podNames('api');
    prod.crashLoop('shop', crash!);
    prod.crashLoop('shop', crash!);
    prod.oomKill('shop', oom!);
    prod.imagePullBackOff('shop', pull!, 'envoy');
    const r = await run(t, '/pods');
    const out = text(r);
    expect(out).toMatch(new RegExp(`🔴 ${crash} 0/1 CrashLoopBackOff · 2↻ · \\d+[smhd].* · node-`));
    expect(out).toMatch(new RegExp(`🟢 ${oom} 1/1 Running \\(last: OOMKilled\\) · 1↻`));
    expect(out).toMatch(new RegExp(`🔴 ${pull} 1/2 ImagePullBackOff`));
    expect(out).toContain('db-0 1/1 Running');
    const row = r.buttons?.find((b) => b[0]?.params.pod === crash);
    expect(row?.map((b) => b.action)).toEqual(['k8s.logs', 'k8s.describe', 'k8s.delete']);
    expect(row?.[2]?.params).toEqual({ context: 'prod', namespace: 'shop', pod: crash });
    // Names and statuses from the cluster are values, never formatting.
    const s = spans(r);
    expect(s.find((x) => x.text === crash)?.kind).toBe('value');
    expect(s.find((x) => x.text === 'CrashLoopBackOff')?.kind).toBe('value');
    prod.heal('shop', crash!);
    prod.heal('shop', pull!);
    await prod.settle();
  });

  it('filters by label selector (positional or -l), and bare /k8s lists pods', async () => {
    const t = target(env);
    const out = text(await run(t, '/k8s pods app=web'));
    expect(out).toContain('matching app=web — 3');
    expect(out).not.toContain('db-0');
    expect(text(await run(t, '/pods -l app=db'))).toContain('matching app=db — 1');
    expect(text(await run(t, '/pods "app in (db, api)"'))).toContain('matching app in (db,api) — 3');
    expect(text(await run(t, '/k8s'))).toContain('Pods in shop @ prod');
  });

  it('lists over one kept-alive connection, not a new one (and TLS handshake) per request', async () => {
    const t = target(env);
    await run(t, '/pods');
    const before = env.api.connections;
    for (let i = 0; i < 5; i++) expect(text(await run(t, '/pods'))).toContain('Pods in shop @ prod');
    expect(env.api.connections - before).toBe(0);
  });

  it('over many pods: the first 40 in name order (numbers as numbers) of all of them, the count of all', async () => {
    const t = target(env);
    const prod = env.api.cluster('prod');
    prod.put('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'batch', uid: prod.uid(), resourceVersion: '', creationTimestamp: new Date().toISOString() },
    });
    prod.put('statefulsets', {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: {
        name: 'job',
        namespace: 'batch',
        uid: prod.uid(),
        resourceVersion: '',
        creationTimestamp: new Date().toISOString(),
        generation: 1,
      },
      spec: {
        replicas: 45,
        serviceName: 'job',
        selector: { matchLabels: { app: 'job' } },
        template: { metadata: { labels: { app: 'job' } }, spec: { containers: [{ name: 'w', image: 'busybox' }] } },
      },
      status: {},
    });
    prod.progress();
    try {
      // The API answers in its own order (job-1, job-10, …, job-2, …): job-5 … job-9 come last there.
      const listed = prod.list('pods', 'batch').map((p) => p.metadata.name);
      expect(listed.indexOf('job-5')).toBeGreaterThanOrEqual(40);
      const r = await run(t, '/pods -n batch');
      const lines = text(r).split('\n');
      expect(lines[0]).toBe('Pods in batch @ prod — 45');
      expect(lines.slice(1, 41).map((l) => l.split(' ')[1])).toEqual(Array.from({ length: 40 }, (_, i) => `job-${i}`));
      expect(lines.slice(41)).toEqual(['… and 5 more']);
      expect(r.buttons?.map((row) => row[0]?.params.pod)).toEqual(Array.from({ length: 8 }, (_, i) => `job-${i}`));
      expect(
        spans(r)
          .filter((x) => x.text.startsWith('job-'))
          .every((x) => x.kind === 'value'),
      ).toBe(true);
    } finally {
      prod.remove('statefulsets', 'batch', 'job');
      for (const name of prod.list('pods', 'batch').map((p) => p.metadata.name)) prod.remove('pods', 'batch', name);
      prod.remove('namespaces', undefined, 'batch');
    }
  });

  it('refuses bad selectors and unknown words', async () => {
    const t = target(env);
    expect(await failure(t, '/k8s typo')).toMatch(/^\/k8s typo is not a command\. Try one of: contexts, /);
    expect(await failure(t, '/k8s dscribe pod/x')).toContain('Did you mean /k8s describe?');
    expect(await failure(t, '/pods typo')).toContain('"typo" is not a command or a label selector');
    expect(await failure(t, '/pods "app=we b"')).toContain('not a valid label selector');
    expect(await failure(t, '/pods -x')).toContain('unknown option -x');
    expect(await failure(t, '/pods -c')).toContain('-c needs a value');
    expect(await failure(t, '/pods -n -c')).toContain('-n needs a value');
    expect(await failure(t, '/k8s nodes -n kube-system')).toContain('nodes have no namespace: -n does not apply');
  });
});

describe('/k8s logs', () => {
  it('shows up to 200 lines inline, ANSI stripped, in a pre block', async () => {
    const t = target(env);
    const [pod] = podNames('web');
    env.api.cluster('prod').setLogs(
      'shop',
      pod!,
      'nginx',
      Array.from({ length: 300 }, (_, i) => `\u001b[32mGET /item/${i}\u001b[0m 200`),
    );
    const r = await run(t, `/k8s logs ${pod} 20`);
    expect(text(r.blocks[0] ? { blocks: [r.blocks[0]] } : r)).toBe(
      `Logs of pod shop/${pod}, container nginx @ prod — last 20 lines`,
    );
    const body = r.blocks[1];
    expect(body?.kind).toBe('pre');
    const lines = body?.kind === 'pre' ? body.text.split('\n') : [];
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('GET /item/280 200');
    expect(lines[19]).toBe('GET /item/299 200');
    expect(r.attachment).toBeUndefined();
  });

  it('streams more than 200 lines as a file', async () => {
    const t = target(env);
    const [pod] = podNames('web');
    env.api.cluster('prod').setLogs(
      'shop',
      pod!,
      'nginx',
      Array.from({ length: 3000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`),
    );
    const r = await run(t, `/k8s logs ${pod} 2500`);
    expect(text(r)).toContain('Sent as a file.');
    expect(r.attachment?.filename).toBe(`${pod}.nginx.log`);
    let content = '';
    for await (const chunk of r.attachment!.content as AsyncIterable<string>) content += chunk;
    const lines = content.trimEnd().split('\n');
    expect(lines).toHaveLength(2500);
    expect(lines[0]).toMatch(/^line 500 /);
    expect(lines[2499]).toMatch(/^line 2999 /);
  });

  it('picks the default container, honours container, --previous and since, and names bad containers', async () => {
    const t = target(env);
    const prod = env.api.cluster('prod');
    const [api] = podNames('api');
    prod.setLogs('shop', api!, 'api', ['api says hi']);
    prod.setLogs('shop', api!, 'envoy', ['envoy says hi']);
    prod.setLogs('shop', api!, 'api', ['the crash: panic'], { previous: true });
    prod.setLogs('shop', api!, 'envoy', ['old', 'older', 'recent'], {
      start: new Date(Date.now() - 3_600_000),
      stepMs: 1_790_000,
    });
    expect(text(await run(t, `/k8s logs ${api}`))).toContain('container api @ prod — last 100 lines\napi says hi');
    expect(text(await run(t, `/k8s logs ${api} envoy 5`))).toContain('envoy');
    expect(text(await run(t, `/k8s logs ${api} --previous`))).toContain('previous container\nthe crash: panic');
    expect(text(await run(t, `/k8s logs ${api} envoy 10m`))).toMatch(/since 10m\nrecent$/);
    expect(await failure(t, `/k8s logs ${api} sidecar`)).toBe(
      `pod shop/${api} has no container sidecar; containers: api, envoy`,
    );
    expect(await failure(t, `/k8s logs ${api} envoy --previous`)).toContain(
      `previous terminated container "envoy" in pod "${api}" not found (context prod)`,
    );
    expect(await failure(t, '/k8s logs nope-1')).toBe('pod shop/nope-1 not found (context prod)');
    expect(await failure(t, '/k8s logs Bad_Name')).toContain('not a valid object name');
  });
});

describe('/k8s describe, events, nodes, deploy', () => {
  it('describes a pod with containers, conditions and recent events', async () => {
    const t = target(env);
    const prod = env.api.cluster('prod');
    const pod = podNames('web')[2];
    prod.oomKill('shop', pod!);
    prod.addEvent({
      namespace: 'shop',
      involved: { kind: 'Pod', name: pod! },
      type: 'Warning',
      reason: 'Unhealthy',
      message: 'Readiness probe failed: HTTP 503',
    });
    const r = await run(t, `/k8s describe pod/${pod}`);
    const out = text(r);
    expect(out).toContain(`Pod shop/${pod} @ prod`);
    expect(out).toMatch(/Status: Running · ready 1\/1 · 1 restart · /);
    expect(out).toContain('Controlled by: ReplicaSet web-');
    expect(out).toMatch(/• nginx: nginx:1.25 — running for \d+s, ready, 1 restart$/m);
    expect(out).toContain('last terminated: OOMKilled (exit 137)');
    expect(out).toContain('Conditions: PodScheduled=True');
    expect(out).toMatch(/Events:\n {2}⚠️ \d+s Unhealthy: Readiness probe failed: HTTP 503/);
    expect(r.buttons?.flat().map((b) => b.action)).toEqual(['k8s.logs', 'k8s.delete']);
  });

  it('describes deployments, statefulsets, daemonsets, services and nodes', async () => {
    const t = target(env);
    const deploy = text(await run(t, '/k8s describe deploy/web'));
    expect(deploy).toContain('Replicas: 3 desired · 3 updated · 3 ready · 3 available');
    expect(deploy).toContain('Strategy: RollingUpdate (maxUnavailable 25%, maxSurge 25%) · revision 2');
    expect(deploy).toContain('• nginx: nginx:1.25');
    expect(deploy).toContain('Available=True');
    expect(deploy).toMatch(/ScalingReplicaSet: Scaled (up|down) replica set web-/);
    expect(text(await run(t, '/k8s describe sts/db'))).toContain('Replicas: 1 desired · 1 ready · 1 updated');
    expect(text(await run(t, '/k8s describe ds/log-agent'))).toContain('Pods: 3 desired · 3 current · 3 ready');
    const svc = text(await run(t, '/k8s describe svc/web'));
    expect(svc).toContain('Ports: http 80→8080/TCP');
    expect(svc).toContain('Selector: app=web');
    const node = text(await run(t, '/k8s describe node/node-1'));
    expect(node).toContain('Node node-1 @ prod');
    expect(node).toContain('Roles: control-plane · v1.31.2');
    expect(node).toContain('Ready=True');
    expect(await failure(t, '/k8s describe secret/db-password')).toContain(
      'kind must be one of pod, deployment, statefulset, daemonset, service, node',
    );
    expect(await failure(t, '/k8s describe deploy/nope')).toBe('deployment shop/nope not found (context prod)');
  });

  it('lists events warnings first, newest first, optionally for one object', async () => {
    const t = target(env);
    const [pod] = podNames('web');
    env.api.cluster('prod').crashLoop('shop', pod!);
    const all = text(await run(t, '/k8s events'));
    const lines = all.split('\n');
    expect(lines[0]).toMatch(/^Events in shop @ prod — \d+$/);
    expect(lines[1]).toMatch(/^⚠️ BackOff pod\//);
    expect(all.indexOf('ℹ️')).toBeGreaterThan(all.lastIndexOf('⚠️'));
    const one = text(await run(t, `/k8s events pod/${pod}`));
    expect(one).toContain(`Events of pod/${pod} in shop @ prod`);
    expect(
      one
        .split('\n')
        .slice(1)
        .every((l) => l.includes(`pod/${pod}`)),
    ).toBe(true);
    env.api.cluster('prod').heal('shop', pod!);
    // The deployment's status catches up a moment later; the next tests read it.
    await env.api.cluster('prod').settle();
  });

  it('lists nodes with readiness, roles, version and pressure', async () => {
    const t = target(env);
    const prod = env.api.cluster('prod');
    prod.setNodeReady('node-3', false);
    const out = text(await run(t, '/k8s nodes'));
    expect(out).toContain('Nodes @ prod — 3');
    expect(out).toMatch(/🟢 node-1 Ready · control-plane · v1.31.2 · \d+d/);
    expect(out).toMatch(/🔴 node-3 NotReady · <none>/);
    prod.setNodeReady('node-3', true);
  });

  it('lists deployments with Scale ± and Restart buttons (none when read-only)', async () => {
    const t = target(env);
    const r = await run(t, '/k8s deploy');
    expect(text(r)).toContain('web 3/3 ready · 3 up-to-date · 3 available · nginx:1.25');
    expect(text(r)).toContain('api 2/2 ready');
    const row = r.buttons?.find((b) => b[0]?.params.name === 'web');
    expect(row?.map((b) => [b.action, b.params.replicas])).toEqual([
      ['k8s.scale', 2],
      ['k8s.scale', 4],
      ['k8s.restart', undefined],
    ]);
    expect(row?.[0]?.params).toMatchObject({ context: 'prod', namespace: 'shop', kind: 'deployment' });
    const ro = target(env, { readOnly: true });
    expect((await run(ro, '/k8s deploy')).buttons).toBeUndefined();
    expect((await run(ro, '/pods')).buttons?.flat().some((b) => b.action === 'k8s.delete')).toBe(false);
  });

  it('accepts the parameters buttons and the LLM send, validated by the schema', async () => {
    const t = target(env);
    const inv = parse(t, '/k8s logs x');
    expect(() => inv.action.params.parse({ pod: 'x', lines: 0 })).toThrow();
    expect(() => inv.action.params.parse({ pod: 'x', extra: 1 })).toThrow();
    expect(inv.action.params.parse({ pod: 'web-1' })).toEqual({ pod: 'web-1', lines: 100, previous: false });
  });
});
