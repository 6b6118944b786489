import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionContext } from '../../../src/core/action.js';
import { impersonationSetting } from '../../../src/targets/kubernetes/impersonate.js';
import { ADMIN, type RequestRecord } from '../../fakes/kubeapi.js';
import { context, EXTRA_CONTEXTS, failure, MemoryChatState, run, startEnv, target, text, type Env } from './harness.js';

const parse = (s: string) => impersonationSetting.safeParse(s);

describe('K8S_IMPERSONATE', () => {
  it('maps Telegram user ids to Kubernetes users, with at most one group', () => {
    const r = parse(' 1001:alice , 1002:bob@example.com:group=sre,0:system:serviceaccount:ops:root ');
    expect(r.success && [...r.data]).toEqual([
      [1001, { user: 'alice' }],
      [1002, { user: 'bob@example.com', group: 'sre' }],
      [0, { user: 'system:serviceaccount:ops:root' }],
    ]);
    expect(parse('').data?.size).toBe(0);
  });

  it.each([
    ['alice', 'is not <telegram user id>'],
    ['-1:alice', 'is not <telegram user id>'],
    ['1:', 'is not <telegram user id>'],
    ['1:al ice', 'is not a Kubernetes user name'],
    ['1:alice\r\nImpersonate-Group: system:masters', 'is not <telegram user id>'],
    ['1:-alice', 'is not a Kubernetes user name'],
    ['1:alice:group=', 'is not a Kubernetes group name'],
    ['1:alice:group=sre:group=masters', 'is not a Kubernetes group name'],
    ['1:alice,1:bob', 'user id 1 is mapped twice'],
  ])('refuses %j in one line', (value, message) => {
    const r = parse(value);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain(message);
  });

  it('reads back every well-formed entry, and never yields a name a header could not carry', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@:+/-]{0,30}$/);
    let grouped = 0;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.nat({ max: 1e12 }), name, fc.option(name, { nil: undefined })), {
          selector: ([id]) => id,
          maxLength: 8,
          size: 'max',
        }),
        (entries) => {
          const s = entries.map(([id, u, g]) => `${id}:${u}${g === undefined ? '' : `:group=${g}`}`).join(',');
          const r = parse(s);
          expect(r.success).toBe(true);
          for (const [id, user, group] of entries) {
            if (group !== undefined) grouped++;
            expect(r.data?.get(id)).toEqual(group === undefined ? { user } : { user, group });
          }
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300, size: 'max' }), (s) => {
        const r = parse(s);
        for (const id of r.success ? r.data.values() : [])
          for (const v of [id.user, id.group ?? 'x']) {
            // Printable ASCII without spaces, commas or "=": what a header and this syntax can carry.
            expect(v).toMatch(/^[!-~]+$/);
            expect(v).not.toMatch(/[,=]/);
          }
      }),
    );
    expect(grouped).toBeGreaterThan(0);
  });
});

describe('acting as the person who asked', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv([
      ...EXTRA_CONTEXTS,
      // The bot's account in the second context may impersonate alice only.
      { name: 'prod-narrow', cluster: 'prod', token: 'narrow-token', namespace: 'shop' },
    ]);
    env.api.setToken('narrow-token', {
      user: 'system:serviceaccount:ops:teleops',
      cluster: 'prod',
      rules: [{ verbs: ['impersonate'], resources: ['users'], names: ['alice'] }],
    });
    env.api.setSubject('user', 'alice', [{ verbs: ['get', 'list', 'watch'], resources: ['*'] }]);
    env.api.setSubject('group', 'sre', ADMIN);
  });
  afterAll(async () => {
    await env.close();
  });

  const as = (userId: number, display: string): ActionContext => ({
    ...context(new MemoryChatState()),
    operator: { userId, chatId: userId, role: 'admin', display },
  });
  const alice = as(1001, '@alice');
  const bob = as(1002, '@bob');
  const carol = as(1003, '@carol');
  const impersonate = parse('1001:alice,1002:bob:group=sre').data!;
  const since = (n: number): RequestRecord[] => env.api.requests.slice(n);

  it('sends every request of a mapped user as that user: lists, reads, logs and changes', async () => {
    const t = target(env, { impersonate });
    const n = env.api.requests.length;
    expect(text(await run(t, '/k8s pods', alice))).toContain('web-');
    const pod = env.api
      .cluster('prod')
      .list('pods', 'shop')
      .find((p) => p.metadata.labels?.app === 'web')!.metadata.name;
    await run(t, `/k8s logs ${pod} 5`, alice);
    await run(t, '/k8s describe deploy/web', alice);
    await run(t, '/k8s scale deploy/web 3', bob);
    const seen = since(n);
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.filter((r) => r.user === 'alice').map((r) => r.path)).toContain(
      `/api/v1/namespaces/shop/pods/${pod}/log`,
    );
    expect(seen.filter((r) => r.method === 'PATCH').map((r) => [r.user, r.groups, r.impersonator])).toEqual([
      ['bob', ['sre'], 'admin@prod'],
    ]);
    expect(seen.every((r) => r.impersonator === 'admin@prod' && (r.user === 'alice' || r.user === 'bob'))).toBe(true);
  });

  it("lets the cluster's RBAC decide, and names the person it refused", async () => {
    const t = target(env, { impersonate });
    expect(await failure(t, '/k8s scale deploy/web 2', alice)).toBe(
      'forbidden: Kubernetes user alice cannot patch deployments/scale in namespace shop (context prod)',
    );
    expect(env.api.cluster('prod').get('deployments', 'shop', 'web')?.spec).not.toMatchObject({ replicas: 2 });
  });

  it('refuses someone it has no identity for, before asking the cluster anything', async () => {
    const t = target(env, { impersonate });
    const n = env.api.requests.length;
    expect(await failure(t, '/k8s pods', carol)).toBe(
      '@carol has no Kubernetes identity: K8S_IMPERSONATE maps Telegram user ids to Kubernetes users',
    );
    expect(() => t.pin('k8s.pods', carol, {})).toThrow('@carol has no Kubernetes identity');
    expect(since(n)).toEqual([]);
  });

  it("says so when the bot's own account may not impersonate that person", async () => {
    const t = target(env, { impersonate });
    expect(await failure(t, '/k8s pods -c prod-narrow', bob)).toBe(
      'forbidden: the bot\'s account may not impersonate user bob: give it "impersonate" on users/bob ' +
        '(K8S_IMPERSONATE) (context prod-narrow)',
    );
    expect(text(await run(t, '/k8s pods -c prod-narrow', alice))).toContain('web-');
  });

  it("keeps the bot's own account for its background work, and everyone's without the setting", async () => {
    const mapped = target(env, { impersonate, contexts: ['prod', 'staging'] });
    const n = env.api.requests.length;
    expect((await mapped.integration.check(AbortSignal.timeout(5000))).state).toBe('up');
    expect(since(n).length).toBeGreaterThan(0);
    expect(since(n).every((r) => r.impersonator === undefined)).toBe(true);

    const plain = target(env);
    const m = env.api.requests.length;
    await run(plain, '/k8s pods', carol);
    expect(since(m).map((r) => [r.user, r.impersonator])).toEqual([['admin@prod', undefined]]);
  });
});
