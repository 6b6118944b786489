import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeTarget } from '../../../src/targets/kubernetes/index.js';
import { openDb } from '../../../src/store/db.js';
import { incidentStore } from '../../../src/targets/kubernetes/incidents.js';
import { kubernetes } from '../../../src/targets/kubernetes/module.js';
import { tempDir } from '../../support/app.js';
import { Alerts, EXTRA_CONTEXTS, FAST, startEnv, target, text, until, type Env } from './harness.js';

let env: Env;
beforeAll(async () => {
  // prod-viewer: a second context on the prod cluster.
  env = await startEnv(EXTRA_CONTEXTS.filter((c) => c.name === 'prod-viewer'));
});
afterAll(async () => {
  await env.close();
});

let running: KubeTarget | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

const prod = () => env.api.cluster('prod');
const podNames = (app: string, ns = 'shop') =>
  prod()
    .list('pods', ns)
    .filter((p) => p.metadata.labels?.app === app)
    .map((p) => p.metadata.name);

/** Starts watching and waits until every stream has listed and is watching. */
async function watch(settings: Parameters<typeof target>[1] = {}): Promise<Alerts> {
  const alerts = new Alerts();
  running = target(env, settings, alerts);
  running.start();
  await until(() => running!.watchStatus().up, 5000, 'watch streams up');
  return alerts;
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('kubernetes alerts', () => {
  it('raises one CrashLoopBackOff alert per incident, with the last log lines and Logs · Describe buttons', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    const [pod] = podNames('web');
    prod().setLogs('shop', pod!, 'nginx', ['starting', 'panic: config missing'], { previous: true });
    prod().crashLoop('shop', pod!);
    const key = `k8s:prod:shop:${pod}:CrashLoopBackOff`;
    await until(() => alerts.keys().includes(key), 3000, 'alert');
    const a = alerts.raised.find((x) => x.key === key)!;
    expect(a.source).toBe('kubernetes');
    // Per-chat scopes route it by its namespace (core/scopes.ts).
    expect(a.place).toBe('prod/shop');
    expect(text(a.result)).toBe(
      `🔴 CrashLoopBackOff: pod shop/${pod} @ prod\ncontainer nginx: back-off 40s restarting failed container=nginx pod=${pod} · 1 restart\nLast lines before it stopped:\nstarting\npanic: config missing`,
    );
    expect(a.result.buttons).toEqual([
      [
        {
          label: '📜 Logs',
          action: 'k8s.logs',
          params: { context: 'prod', namespace: 'shop', pod, container: 'nginx', previous: true },
        },
        {
          label: '🔎 Describe',
          action: 'k8s.describe',
          params: { context: 'prod', namespace: 'shop', kind: 'pod', name: pod },
        },
      ],
    ]);
    // Still crash-looping: more restarts, same incident.
    prod().crashLoop('shop', pod!);
    prod().crashLoop('shop', pod!);
    await settle();
    expect(alerts.keys().filter((k) => k === key)).toHaveLength(1);
    // Healthy, then crashing again: a new incident.
    prod().heal('shop', pod!);
    await settle();
    prod().crashLoop('shop', pod!);
    await until(() => alerts.keys().filter((k) => k === key).length === 2, 3000, 'second alert');
    prod().heal('shop', pod!);
  });

  it('the next watcher on the same database (a restart, a new leader) repeats no open incident and misses none', async () => {
    const dir = tempDir();
    const db = openDb(dir.path, { modules: [kubernetes] });
    const watchOn = async (): Promise<Alerts> => {
      const alerts = new Alerts();
      running = target(env, { contexts: ['prod'] }, alerts, {
        ...FAST,
        watch: { ...FAST.watch, incidents: incidentStore(db) },
      });
      running.start();
      await until(() => running!.watchStatus().up, 5000, 'watch streams up');
      return alerts;
    };
    try {
      const [a, b] = podNames('api');
      const key = (pod: string) => `k8s:prod:shop:${pod}:CrashLoopBackOff`;
      const first = await watchOn();
      prod().crashLoop('shop', a!);
      await until(() => first.keys().includes(key(a!)), 3000, 'the first watcher’s alert');
      await running!.stop();
      // Nobody watches: b starts crashing, a recovers.
      prod().crashLoop('shop', b!);
      prod().heal('shop', a!);
      const next = await watchOn();
      await until(() => next.keys().includes(key(b!)), 3000, 'the crash that began in between');
      await settle();
      expect(next.keys().filter((k) => k === key(a!))).toHaveLength(0);
      // a's incident, known from the last watcher, closed as it recovered: its next crash is news.
      prod().crashLoop('shop', a!);
      await until(() => next.keys().includes(key(a!)), 3000, 'a new incident of a');
      prod().heal('shop', a!);
      prod().heal('shop', b!);
    } finally {
      await running?.stop();
      running = undefined;
      db.close();
      dir.remove();
    }
  });

  it('re-lists after 410 Gone and carries on without repeating alerts', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    const [a, b] = podNames('api');
    prod().crashLoop('shop', a!);
    await until(() => alerts.keys().includes(`k8s:prod:shop:${a}:CrashLoopBackOff`), 3000, 'first alert');
    const lists = () =>
      env.api.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/pods' && r.query.watch === undefined)
        .length;
    const listsBefore = lists();
    // History compacted and every stream cut: the resume gets 410 Gone and must list again.
    prod().compact();
    const floor = prod().resourceVersion;
    env.api.endWatches();
    const resumed = () =>
      env.api.requests.filter(
        (r) => r.query.watch === 'true' && r.path === '/api/v1/pods' && Number(r.query.resourceVersion) >= floor,
      );
    await until(
      () => lists() > listsBefore && resumed().length > 0,
      3000,
      're-list and watch from the new resourceVersion',
    );
    prod().imagePullBackOff('shop', b!, 'envoy');
    await until(() => alerts.keys().includes(`k8s:prod:shop:${b}:ImagePullBackOff`), 3000, 'alert after re-list');
    expect(alerts.keys().filter((k) => k === `k8s:prod:shop:${a}:CrashLoopBackOff`)).toHaveLength(1);
    prod().heal('shop', a!);
    prod().heal('shop', b!);
  });

  it('resumes from the last resourceVersion when a stream simply ends', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    const [pod] = podNames('web');
    env.api.endWatches();
    prod().oomKill('shop', pod!);
    await until(() => alerts.keys().includes(`k8s:prod:shop:${pod}:OOMKilled`), 3000, 'OOMKilled alert');
    expect(text(alerts.raised.find((x) => x.key.endsWith(':OOMKilled'))!.result)).toContain(
      'killed for using too much memory (exit 137)',
    );
    // Another OOM kill of the same pod, later, is another incident.
    prod().oomKill('shop', pod!, undefined, new Date(Date.now() + 60_000));
    await until(
      () => alerts.keys().filter((k) => k.endsWith(`${pod}:OOMKilled`)).length === 2,
      3000,
      'second OOMKilled alert',
    );
  });

  it('a watch connection cut mid-event resumes from the last resourceVersion seen; what happened meanwhile alerts once', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    const [a, b] = podNames('api');
    prod().crashLoop('shop', a!);
    const crashKey = `k8s:prod:shop:${a}:CrashLoopBackOff`;
    await until(() => alerts.keys().includes(crashKey), 3000, 'first alert');
    // The newest pod change is the last event the pod stream saw (the counter also counts events).
    const seen = Math.max(
      ...prod()
        .list('pods')
        .map((p) => Number(p.metadata.resourceVersion)),
    );
    const lists = () => env.api.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length;
    const listsBefore = lists();
    const from = env.api.requests.length;
    env.api.cutWatches();
    // Before the watcher can be back: only the resume can tell it.
    prod().oomKill('shop', b!);
    const oomKey = `k8s:prod:shop:${b}:OOMKilled`;
    await until(() => alerts.keys().includes(oomKey), 3000, 'the alert of what happened while cut');
    const resumes = env.api.requests
      .slice(from)
      .filter((r) => r.path === '/api/v1/pods' && r.query.watch === 'true')
      .map((r) => r.query.resourceVersion);
    // Neither the half-written event's resourceVersion nor a re-list: the last one it saw.
    expect(resumes[0]).toBe(String(seen));
    expect(lists()).toBe(listsBefore);
    await settle();
    expect(alerts.keys().filter((k) => k === crashKey)).toHaveLength(1);
    expect(alerts.keys().filter((k) => k === oomKey)).toHaveLength(1);
    prod().heal('shop', a!);
    prod().heal('shop', b!);
  });

  it('410 Gone after a cut: the re-list reports what happened in the gap, once, and repeats nothing', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    const [a, b] = podNames('api');
    prod().crashLoop('shop', a!);
    const crashKey = `k8s:prod:shop:${a}:CrashLoopBackOff`;
    await until(() => alerts.keys().includes(crashKey), 3000, 'first alert');
    prod().compact();
    env.api.cutWatches();
    // In the gap, and older than the history the resume asks for: only the re-list can show it.
    prod().imagePullBackOff('shop', b!, 'envoy');
    const pullKey = `k8s:prod:shop:${b}:ImagePullBackOff`;
    await until(() => alerts.keys().includes(pullKey), 3000, 'the alert of the gap, from the re-list');
    await settle();
    expect(alerts.keys().filter((k) => k === crashKey)).toHaveLength(1);
    expect(alerts.keys().filter((k) => k === pullKey)).toHaveLength(1);
    prod().heal('shop', a!);
    prod().heal('shop', b!);
  });

  it('reports an unreachable API, and recovers when it is back', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    await env.api.down();
    try {
      await until(() => running!.watchStatus().contexts.prod?.state === 'down', 3000, 'down');
      const s = running!.watchStatus().contexts.prod;
      expect(s?.state === 'down' && s.detail).toMatch(
        /^Kubernetes API unreachable \(ECONN(REFUSED|RESET)\) \(context prod\)$/,
      );
    } finally {
      await env.api.up();
    }
    await until(
      () => running!.watchStatus().up,
      3000,
      () => `up again: ${JSON.stringify(running!.watchStatus())}`,
    );
    const [pod] = podNames('billing', 'payments');
    prod().imagePullBackOff('payments', pod!);
    await until(
      () => alerts.keys().includes(`k8s:prod:payments:${pod}:ImagePullBackOff`),
      3000,
      'alert after recovery',
    );
    prod().heal('payments', pod!);
  });

  it('backs off instead of hammering an API that keeps failing', async () => {
    await watch({ contexts: ['prod'] });
    env.api.failNext({ code: 503, times: 100_000 });
    try {
      env.api.endWatches();
      await until(() => running!.watchStatus().contexts.prod?.state === 'down', 3000, 'down');
      const from = env.api.requests.length;
      // Three streams, backoff 50 ms doubling to 200 ms (FAST). Bounded by the work: a few
      // tries of each stream, spaced at least by the backoff, which has doubled to its cap.
      const STREAMS = ['/api/v1/pods', '/api/v1/events', '/api/v1/nodes'];
      const tries = (path: string) =>
        env.api.requests
          .slice(from)
          .filter((r) => r.path === path)
          .map((r) => r.at);
      await until(
        () => STREAMS.every((p) => tries(p).length >= 6),
        10_000,
        () => `six tries of each stream: ${STREAMS.map((p) => tries(p).length).join(', ')}`,
      );
      // Timers fire on whole milliseconds: a little slack below each bound.
      const EARLY = 5;
      for (const p of STREAMS) {
        const gaps = tries(p)
          .slice(1, 6)
          .map((t, i) => t - tries(p)[i]!);
        for (const g of gaps) expect(g, p).toBeGreaterThanOrEqual(50 - EARLY);
        for (const g of gaps.slice(-2)) expect(g, p).toBeGreaterThanOrEqual(200 - EARLY);
      }
      const s = running!.watchStatus().contexts.prod;
      expect(s?.state === 'down' && s.detail).toMatch(
        /^Kubernetes API error 503 ServiceUnavailable on watch (pods|events|nodes) \(context prod\)$/,
      );
    } finally {
      env.api.clearFaults();
    }
    await until(() => running!.watchStatus().up, 3000, 'up again');
  });

  it('alerts on FailedScheduling warning events and on nodes turning NotReady', async () => {
    const alerts = await watch({ contexts: ['prod'] });
    prod().addEvent({
      namespace: 'shop',
      involved: { kind: 'Pod', name: 'web-pending-1' },
      type: 'Warning',
      reason: 'FailedScheduling',
      message: '0/3 nodes are available: 3 Insufficient cpu.',
    });
    await until(
      () => alerts.keys().includes('k8s:prod:shop:web-pending-1:FailedScheduling'),
      3000,
      'FailedScheduling alert',
    );
    // By key: alerts of pods earlier tests left behind may arrive after it.
    const raised = (key: string) => alerts.raised.find((a) => a.key === key)!;
    expect(text(raised('k8s:prod:shop:web-pending-1:FailedScheduling').result)).toContain(
      '0/3 nodes are available: 3 Insufficient cpu.',
    );
    prod().addEvent({
      namespace: 'shop',
      involved: { kind: 'Pod', name: 'web-pending-1' },
      type: 'Warning',
      reason: 'FailedScheduling',
      message: 'again',
    });
    prod().setNodeReady('node-2', false);
    await until(() => alerts.keys().includes('k8s:prod:node:node-2:NotReady'), 3000, 'NotReady alert');
    // A node is in no namespace: only a scope holding the whole context gets it.
    expect(raised('k8s:prod:node:node-2:NotReady').place).toBe('prod/');
    expect(raised('k8s:prod:node:node-2:NotReady').result.buttons?.[0]?.[0]).toEqual({
      label: '🔎 Describe',
      action: 'k8s.describe',
      params: { context: 'prod', kind: 'node', name: 'node-2' },
    });
    expect(alerts.keys().filter((k) => k.endsWith(':FailedScheduling'))).toHaveLength(1);
    prod().setNodeReady('node-2', true);
    await settle();
    prod().setNodeReady('node-2', false);
    await until(
      () => alerts.keys().filter((k) => k === 'k8s:prod:node:node-2:NotReady').length === 2,
      3000,
      'second NotReady alert',
    );
    prod().setNodeReady('node-2', true);
  });

  it('raises one alert per incident when two allowed contexts reach the same cluster', async () => {
    const alerts = await watch({ contexts: ['prod', 'prod-viewer'], namespaces: ['shop'] });
    const [pod] = podNames('web');
    prod().crashLoop('shop', pod!);
    await until(() => alerts.keys().includes(`k8s:prod:shop:${pod}:CrashLoopBackOff`), 3000, 'alert');
    prod().setNodeReady('node-2', false);
    await until(() => alerts.keys().includes('k8s:prod:node:node-2:NotReady'), 3000, 'NotReady alert');
    await settle();
    for (const key of [`k8s:prod:shop:${pod}:CrashLoopBackOff`, 'k8s:prod:node:node-2:NotReady'])
      expect(alerts.keys().filter((k) => k === key)).toHaveLength(1);
    expect(alerts.keys().filter((k) => k.startsWith('k8s:prod-viewer:'))).toEqual([]);
    prod().heal('shop', pod!);
    prod().setNodeReady('node-2', true);
  });

  it('watches only the allowed contexts and namespaces', async () => {
    const from = env.api.requests.length;
    const alerts = await watch({ contexts: ['prod', 'staging'], namespaces: ['shop'] });
    expect(Object.keys(running!.watchStatus().contexts).sort()).toEqual(['prod', 'staging']);
    await until(() => env.api.openWatches >= 6, 3000, 'six watches');
    const paths = new Set(
      env.api.requests
        .slice(from)
        .filter((r) => r.query.watch === 'true')
        .map((r) => `${r.cluster}${r.path}`),
    );
    expect([...paths].sort()).toEqual([
      'prod/api/v1/namespaces/shop/events',
      'prod/api/v1/namespaces/shop/pods',
      'prod/api/v1/nodes',
      'staging/api/v1/namespaces/shop/events',
      'staging/api/v1/namespaces/shop/pods',
      'staging/api/v1/nodes',
    ]);
    const [billing] = podNames('billing', 'payments');
    prod().crashLoop('payments', billing!);
    const [db] = ['db-0'];
    prod().crashLoop('shop', db!);
    await until(() => alerts.keys().includes(`k8s:prod:shop:${db}:CrashLoopBackOff`), 3000, 'alert in shop');
    await settle();
    expect(alerts.keys().some((k) => k.includes(':payments:'))).toBe(false);
    prod().heal('payments', billing!);
    prod().heal('shop', db!);
  });
});
