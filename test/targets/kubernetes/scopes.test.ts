/**
 * Per-chat scopes over Kubernetes contexts and namespaces, through the real app (dispatcher,
 * SQLite chat state and audit) against the fake Kubernetes API: the group -100 may read
 * prod/payments and change nothing there, and use staging whole; user 10's private chat has
 * no scope. The chat's current context and namespace are bound before the scope is asked, so
 * a request without flags is judged where it would run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/core/policy.js';
import { kubernetes } from '../../../src/targets/kubernetes/module.js';
import { testApp, type TestApp } from '../../support/app.js';
import { startEnv, type Env } from './harness.js';
import { outcomeText } from '../../support/outcome.js';

const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };
const unscoped: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };

const text = outcomeText;

describe('per-chat scopes over Kubernetes', { timeout: 60_000 }, () => {
  let env: Env;
  let t: TestApp;
  const say = async (line: string, who: Principal = group): Promise<string> =>
    text(await t.app.dispatcher.command(who, 'command', line));

  beforeAll(async () => {
    env = await startEnv([]);
    t = await testApp(
      { KUBECONFIG: env.kubeconfig, SCOPES: '-100=k8s:prod/payments:ro;k8s:staging', RATE_LIMIT_PER_MINUTE: '1000' },
      [kubernetes],
    );
  });
  afterAll(async () => {
    await t?.close();
    await env?.close();
  });

  it('refuses the kubeconfig’s default namespace when the scope does not hold it, naming it', async () => {
    // prod's own namespace is shop: outside the scope until the chat chooses payments.
    expect(await say('/k8s pods')).toBe("k8s.pods: k8s prod/shop is not in this chat's scope.");
    expect(await say('/k8s pods -n payments')).toContain('billing');
    expect(await say('/k8s pods', unscoped)).toContain('web');
  });

  it('lists only the contexts and namespaces in scope', async () => {
    expect(await say('/k8s use prod payments')).toBe('k8s.use: k8s prod/payments is read-only in this chat.');
    const contexts = await say('/k8s contexts');
    expect(contexts).toContain('prod');
    expect(contexts).toContain('staging');
    const ns = await say('/k8s ns -n payments');
    expect(ns).toContain('payments');
    expect(ns).not.toMatch(/shop|kube-system|default/);
    expect(await say('/k8s ns -n shop', unscoped)).toMatch(/kube-system/);
  });

  it('refuses a change where the scope is read-only, and cluster-wide reads a namespace grant does not hold', async () => {
    expect(await say('/k8s scale deploy/billing 0 -n payments')).toBe(
      'k8s.scale: k8s prod/payments is read-only in this chat.',
    );
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'k8s.scale', outcome: 'forbidden', chat: -100 });
    expect(await say('/k8s nodes -c prod')).toBe("k8s.nodes: k8s prod/ is not in this chat's scope.");
    expect(await say('/k8s describe node/node-1 -c prod -n payments')).toBe(
      "k8s.describe: k8s prod/ is not in this chat's scope.",
    );
    // staging is granted whole: nodes, any namespace, changes .
    expect(await say('/k8s nodes -c staging')).toMatch(/node/);
    const scaled = await say('/k8s scale deploy/frontend 2 -c staging -n web');
    expect(scaled).toMatch(/frontend/);
    expect(scaled).not.toContain('this chat');
  });

  it('judges a button by where its params say, whatever chat showed it', async () => {
    const o = await t.app.dispatcher.dispatch(group, 'button', 'k8s.logs', {
      context: 'prod',
      namespace: 'shop',
      pod: 'web-0',
    });
    expect(text(o)).toBe("k8s.logs: k8s prod/shop is not in this chat's scope.");
    const ai = await t.app.dispatcher.dispatch(group, 'ai', 'k8s.deploy', {
      context: 'prod',
      namespace: 'kube-system',
    });
    expect(text(ai)).toBe("k8s.deploy: k8s prod/kube-system is not in this chat's scope.");
  });
});
