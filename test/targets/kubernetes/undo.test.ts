/**
 * One-tap Undo after a Kubernetes change, through the real app (dispatcher, approvals, audit)
 * against the fake Kubernetes API: the reply to a scale, a rollback or a restart carries an Undo
 * button bound to the exact context, namespace and object and to the state before; pressing
 * it is a request like any other, so it asks for approval, and once approved puts things back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/core/outcome.js';
import type { Principal } from '../../../src/core/policy.js';
import { plainText, type Button } from '../../../src/core/result.js';
import { kubernetes } from '../../../src/targets/kubernetes/module.js';
import { testApp, type TestApp } from '../../support/app.js';
import { startEnv, type Env } from './harness.js';

const alice: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@alice' };
const bob: Principal = { transport: 'tg', userId: 11, chatId: -100, chatKind: 'group', name: '@bob' };

describe('Undo after a Kubernetes change', { timeout: 60_000 }, () => {
  let env: Env;
  let t: TestApp;
  const prod = () => env.api.cluster('prod');
  const web = () => prod().get('deployments', 'shop', 'web')!;
  const revision = () => Number(web().metadata.annotations?.['deployment.kubernetes.io/revision']);
  const image = () => web().spec?.template?.spec.containers[0]?.image;

  /** Bob approves what alice asked (in console origin, so the reply waits for the rollout). */
  const approved = async (o: Outcome): Promise<Outcome> => {
    if (o.kind !== 'approval') throw new Error(`expected an approval card, got ${JSON.stringify(o).slice(0, 300)}`);
    return t.app.dispatcher.decide(bob, o.approval.id, o.approval.token, 'approve');
  };
  const undoOf = (o: Outcome): Button => {
    if (o.kind !== 'done') throw new Error(`expected a result, got ${JSON.stringify(o).slice(0, 300)}`);
    const undo = o.result.buttons?.flat().find((b) => b.label.includes('Undo'));
    if (!undo) throw new Error(`no Undo on: ${plainText(o.result)}`);
    return undo;
  };
  const press = (b: Button) => t.app.dispatcher.dispatch(alice, 'button', b.action, b.params);

  beforeAll(async () => {
    env = await startEnv([]);
    t = await testApp({ KUBECONFIG: env.kubeconfig, RATE_LIMIT_PER_MINUTE: '1000' }, [kubernetes]);
  });
  beforeEach(async () => {
    await prod().settle();
  });
  afterAll(async () => {
    await t?.close();
    await env?.close();
  });

  it('scales back to the replica count before, with its own approval card', async () => {
    expect(web().spec?.replicas).toBe(3);
    const done = await approved(await t.app.dispatcher.command(alice, 'console', '/k8s scale deploy/web 5'));
    expect(web().spec?.replicas).toBe(5);
    const undo = undoOf(done);
    expect(undo).toEqual({
      label: '↩️ Undo',
      action: 'k8s.scale',
      params: { context: 'prod', namespace: 'shop', kind: 'deployment', name: 'web', replicas: 3 },
    });
    const card = await press(undo);
    expect(card.kind).toBe('approval');
    expect(card.kind === 'approval' && plainText(card.approval.card)).toContain('replicas 5 → 3');
    expect(web().spec?.replicas).toBe(5);
    await approved(card);
    expect(web().spec?.replicas).toBe(3);
  });

  it('rolls a rollback back to the revision it left, and a restart to the revision before it', async () => {
    // The fake starts web at nginx:1.25, one revision after nginx:1.24.
    expect(image()).toBe('nginx:1.25');
    const before = revision();
    const back = await approved(await t.app.dispatcher.command(alice, 'console', '/k8s rollback deploy/web'));
    expect(image()).toBe('nginx:1.24');
    const undo = undoOf(back);
    expect(undo.params).toEqual({ context: 'prod', namespace: 'shop', name: 'web', revision: before });
    await approved(await press(undo));
    expect(image()).toBe('nginx:1.25');
    // The button's reply is a live card: let its rollout end before counting revisions.
    await prod().settle();

    const atRestart = revision();
    const restarted = await approved(await t.app.dispatcher.command(alice, 'console', '/k8s restart deploy/web'));
    expect(revision()).toBe(atRestart + 1);
    expect(undoOf(restarted)).toMatchObject({ action: 'k8s.rollback', params: { revision: atRestart } });
  });

  it('offers no Undo where nothing changed or nothing can be put back', async () => {
    const same = await approved(await t.app.dispatcher.command(alice, 'console', '/k8s scale deploy/web 3'));
    expect(same.kind === 'done' && same.result.buttons).toBeFalsy();
    const sts = await approved(await t.app.dispatcher.command(alice, 'console', '/k8s restart sts/db'));
    expect(sts.kind === 'done' && sts.result.buttons).toBeFalsy();
  });
});
