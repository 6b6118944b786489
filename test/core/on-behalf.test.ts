import { afterEach, describe, expect, it } from 'vitest';
import type { Operator } from '../../src/core/action.js';
import { onBehalf, type OnBehalfRequest } from '../../src/core/on-behalf.js';
import type { PendingApproval } from '../../src/core/outcome.js';
import { runs } from '../support/test-target.js';
import { testApp, type TestApp } from '../support/app.js';

const ops: Operator = { userId: 10, chatId: 10, role: 'operator', display: '@ops' };
const boss: Operator = { userId: 20, chatId: 10, role: 'admin', display: '@boss' };

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

/** The app, with a surface that shows cards on someone's behalf and keeps what it was offered. */
async function withSurface(
  opts: { offer?: (p: PendingApproval) => Promise<boolean>; env?: Record<string, string> } = {},
) {
  t = await testApp({ RATE_LIMIT_PER_MINUTE: '2', ...opts.env });
  const offered: { chatId: number; p: PendingApproval; place?: string }[] = [];
  t.app.dispatcher.approvals.cards({
    readRef: () => undefined,
    show: () => undefined,
    offer: (chatId, p, place) => {
      offered.push({ chatId, p, ...(place === undefined ? {} : { place }) });
      return opts.offer ? opts.offer(p) : Promise.resolve(true);
    },
  });
  const ask = onBehalf(t.app.dispatcher);
  const request = (r: Partial<OnBehalfRequest> = {}): OnBehalfRequest => ({
    operator: ops,
    action: 'test.touch',
    params: { name: 'a' },
    signal: new AbortController().signal,
    ...r,
  });
  /** The card offered, once it is. */
  const card = async (): Promise<PendingApproval> => {
    await expect.poll(() => offered.length).toBeGreaterThan(0);
    return offered.at(-1)!.p;
  };
  const decide = async (d: 'approve' | 'deny', by: Operator = boss) => {
    const p = await card();
    return t.app.dispatcher.approvals.decide(by, p.id, p.token, d);
  };
  return { ask, request, offered, card, decide };
}

describe('onBehalf', () => {
  it('asks with a card in the requester’s chat, beside the live card it names, and is a yes once it ran', async () => {
    const s = await withSurface();
    const asked = s.ask(s.request({ place: 'agent:build' }));
    await s.decide('approve');
    expect(await asked).toEqual({ approved: true, by: '@boss' });
    expect(s.offered.map((o) => [o.chatId, o.place])).toEqual([[10, 'agent:build']]);
    expect(runs(t.runsFile, 'touch')).toBe(1);
  });

  it('is a no, saying who, when the card is denied', async () => {
    const s = await withSurface();
    const asked = s.ask(s.request());
    await s.decide('deny');
    expect(await asked).toEqual({ approved: false, reason: 'denied by @boss' });
    expect(runs(t.runsFile, 'touch')).toBe(0);
  });

  it('is a no when approved but the action did not run to the end', async () => {
    const s = await withSurface();
    const asked = s.ask(s.request({ action: 'test.boom', params: {} }));
    await s.decide('approve');
    expect(await asked).toEqual({ approved: false, reason: 'approved, but it did not run' });
  });

  it('is a yes when the card is approved, and its action run, while the card is still being sent', async () => {
    const s = await withSurface({
      offer: async (p) => {
        expect((await t.app.dispatcher.approvals.decide(boss, p.id, p.token, 'approve')).kind).toBe('done');
        return true;
      },
    });
    expect(await s.ask(s.request())).toEqual({ approved: true, by: '@boss' });
    expect(runs(t.runsFile, 'touch')).toBe(1);
  });

  it('is a no, naming nobody, when nobody answers in time', async () => {
    const s = await withSurface({ env: { CONFIRM_TTL_SECONDS: '1' } });
    expect(await s.ask(s.request())).toEqual({ approved: false, reason: 'expired' });
    expect(s.offered).toHaveLength(1);
    expect(runs(t.runsFile, 'touch')).toBe(0);
  });

  it('asks nothing when the question is moot already', async () => {
    const s = await withSurface();
    const before = t.app.audit.count();
    expect(await s.ask(s.request({ signal: AbortSignal.abort() }))).toEqual({ approved: false, reason: 'withdrawn' });
    expect(s.offered).toEqual([]);
    expect(t.app.audit.count()).toBe(before);
  });

  it('withdraws the card, audited, when the question becomes moot while it waits', async () => {
    const s = await withSurface();
    const ac = new AbortController();
    const asked = s.ask(s.request({ signal: ac.signal }));
    const p = await s.card();
    ac.abort();
    expect(await asked).toEqual({ approved: false, reason: 'cancelled by teleops' });
    expect(t.app.audit.recent(1)[0]).toMatchObject({
      outcome: 'cancelled',
      detail: `approval ${p.id}: no longer asked`,
    });
    expect((await s.decide('approve')).kind).toBe('refused');
    expect(runs(t.runsFile, 'touch')).toBe(0);
  });

  it('withdraws a card that became moot while it was being sent', async () => {
    const ac = new AbortController();
    const s = await withSurface({
      offer: () => {
        ac.abort();
        return Promise.resolve(true);
      },
    });
    expect(await s.ask(s.request({ signal: ac.signal }))).toEqual({ approved: false, reason: 'cancelled by teleops' });
    expect((await s.decide('approve')).kind).toBe('refused');
  });

  it('withdraws a card that became moot before it was made', async () => {
    const s = await withSurface();
    const ac = new AbortController();
    const asked = s.ask(s.request({ signal: ac.signal }));
    ac.abort();
    expect(await asked).toEqual({ approved: false, reason: 'cancelled by teleops' });
    const p = await s.card();
    expect(t.app.audit.recent(1)[0]).toMatchObject({
      outcome: 'cancelled',
      detail: `approval ${p.id}: no longer asked`,
    });
    expect((await s.decide('approve')).kind).toBe('refused');
    expect(runs(t.runsFile, 'touch')).toBe(0);
  });

  it('says why no card was made when its preview fails', async () => {
    const s = await withSurface();
    expect(await s.ask(s.request({ action: 'test.destroy', params: { name: 'missing' } }))).toEqual({
      approved: false,
      reason: 'no thing named missing',
    });
    expect(s.offered).toEqual([]);
  });

  it('says why no card was made: unknown action, role, invalid params, rate limit', async () => {
    const s = await withSurface();
    const no = async (r: Partial<OnBehalfRequest>) => (await s.ask(s.request(r))) as { reason: string };
    expect(await no({ action: 'test.nope' })).toEqual({ approved: false, reason: 'Unknown action test.nope.' });
    expect((await no({ operator: { ...ops, role: 'viewer' } })).reason).toMatch(/needs the operator role/);
    expect((await no({ params: { name: '../x' } })).reason).toMatch(/^Invalid input for test.touch: name:/);
    expect((await no({})).reason).toMatch(/^rate limited; retry in \d+s$/);
    expect(s.offered).toEqual([]);
  });
});
