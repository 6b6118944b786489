import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Operator } from '../../src/core/action.js';
import { ApprovalService, type ApprovedRun, type CardChange } from '../../src/core/approval-service.js';
import { approvalToken, type ApprovalRow } from '../../src/core/approvals.js';
import { AuditLog } from '../../src/core/audit.js';
import { AuditWritable } from '../../src/core/audit-writable.js';
import { createMetrics } from '../../src/core/metrics.js';
import { quorumOf, type QuorumRule } from '../../src/core/quorum.js';
import { createRedactor } from '../../src/core/redact.js';
import type { Outcome, PendingApproval } from '../../src/core/outcome.js';
import { plainText, pre, say } from '../../src/core/result.js';
import { openDb, type Db } from '../../src/store/db.js';
import { ApprovalRepo } from '../../src/store/approvals.js';

const T0 = Date.UTC(2026, 11, 6, 12);
const TTL = 60_000;
const RUN_GRACE = 90_000;
const alice: Operator = { userId: 1, chatId: -100, role: 'operator', display: '@alice' };
const bob: Operator = { userId: 2, chatId: -100, role: 'admin', display: '@bob' };
const viewer: Operator = { userId: 3, chatId: -100, role: 'viewer', display: '@vic' };

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Entry {
  seq: number;
  operator: string;
  chat: number;
  origin: string;
  action: string;
  target: string;
  params: unknown;
  outcome: string;
  detail?: string;
}

/** The service over a real SQLite store and audit log; the audit, metrics, cards and log are read back. */
function harness(
  o: { runApproved?: (row: ApprovalRow) => ApprovedRun; ttlMs?: number; quorum?: readonly QuorumRule[] } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-approval-service-'));
  const db: Db = openDb(dir);
  const store = new ApprovalRepo(db);
  const audit = new AuditLog(db, { anchorPath: join(dir, 'audit.anchor') });
  const clock = { now: T0 };
  const auditFails = { on: false };
  const logged: { level: number; msg: string }[] = [];
  const log = pino(
    new Writable({
      write(chunk: Buffer, _e, cb) {
        logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
        cb();
      },
    }),
  );
  const metrics = createMetrics();
  const ran: string[] = [];
  const service = (store: ApprovalRepo) =>
    new ApprovalService({
      store,
      record: (...entries) => {
        if (auditFails.on) return false;
        audit.appendAll(entries);
        return true;
      },
      writable: new AuditWritable({ log }),
      actorOf: (op) => `tg:${op.userId} ${op.display}`,
      runApproved:
        o.runApproved ??
        ((row) => ({
          run: (began) => {
            began();
            ran.push(row.id);
            return Promise.resolve({ kind: 'done', action: row.action, result: say(`stopped ${row.subject}`) });
          },
        })),
      redact: createRedactor([]).redact,
      metrics,
      log,
      ttlMs: o.ttlMs ?? TTL,
      retentionMs: 3_600_000,
      now: () => clock.now,
      quorumOf: (action, params) => quorumOf(o.quorum ?? [], action, params),
      runGraceMs: () => RUN_GRACE,
    });
  const svc = service(store);
  const changes: CardChange[] = [];
  svc.onCardChanged((c) => changes.push(c));
  cleanups.push(() => {
    svc.stop();
    audit.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const entries = (): Entry[] =>
    db
      .prepare<[], { entry: string }>('SELECT entry FROM audit ORDER BY seq')
      .all()
      .map((r) => JSON.parse(r.entry) as Entry);
  const approvals = async (): Promise<Record<string, number>> =>
    Object.fromEntries((await metrics.approvals.get()).values.map((v) => [String(v.labels.outcome), v.value]));
  const ask = (op: Operator = alice, subject = 'web'): PendingApproval =>
    svc.request({
      operator: op,
      origin: 'command',
      action: 'docker.stop',
      params: { container: subject },
      subject,
      minRole: 'operator',
      preview: [],
    });
  /** The seqs of the last group of entries written in one commit (AuditLog keeps its anchor lines). */
  const lastGroup = (): number[] =>
    readFileSync(join(dir, 'audit.anchor.group'), 'latin1')
      .split('\n\n')[0]!
      .split('\n')
      .map((l) => Number(l.split(' ')[0]));
  /** The status line of each card change, in order. */
  const statuses = (): string[] => changes.map((c) => plainText(c.card).split('\n').at(-1)!);
  /** The same state directory opened again by a new service, as after a restart. */
  const restart = () => {
    const again = openDb(dir);
    const next = service(new ApprovalRepo(again));
    cleanups.push(() => {
      next.stop();
      again.close();
    });
    return next;
  };
  return {
    db,
    store,
    svc,
    restart,
    clock,
    auditFails,
    logged,
    entries,
    lastGroup,
    approvals,
    ask,
    ran,
    changes,
    statuses,
  };
}

describe('ApprovalService', () => {
  it('stores a request as pending, audits it as asked and counts it', async () => {
    const h = harness();
    const p = h.ask();
    const row = h.store.get(p.id)!;
    expect(row).toMatchObject({ state: 'pending', requester: '@alice', expiresAt: T0 + TTL, chatId: -100 });
    expect(p.token).toBe(approvalToken(row.requestHash));
    expect(p.expiresAt).toBe(T0 + TTL);
    expect(plainText(p.card)).toContain('⏳ Waiting for approval · expires in 1m');
    expect(h.entries()).toEqual([
      {
        ...h.entries()[0],
        operator: 'tg:1 @alice',
        chat: -100,
        origin: 'command',
        action: 'docker.stop',
        target: 'web',
        params: { container: 'web' },
        outcome: 'approval_requested',
        detail: `approval ${p.id}`,
      },
    ]);
    expect(await h.approvals()).toEqual({ requested: 1 });
  });

  it('refuses and audits a press with a forged token, an unknown id or from another chat', async () => {
    const h = harness();
    const p = h.ask();
    const refused = {
      kind: 'refused',
      message: 'This approval is not valid here (unknown, or too old); nothing was done.',
    };
    expect(await h.svc.decide(bob, p.id, 'x'.repeat(16), 'approve')).toEqual(refused);
    expect(await h.svc.decide(bob, 'nope', p.token, 'deny')).toEqual(refused);
    expect(await h.svc.decide({ ...bob, chatId: -200 }, p.id, p.token, 'approve')).toEqual(refused);
    const forged = h.entries().slice(1);
    expect(
      forged.map((e) => [e.operator, e.chat, e.origin, e.action, e.target, e.params, e.outcome, e.detail]),
    ).toEqual([
      ['tg:2 @bob', -100, 'button', 'approval.approve', p.id, {}, 'denied', 'unknown or forged approval'],
      ['tg:2 @bob', -100, 'button', 'approval.deny', 'nope', {}, 'denied', 'unknown or forged approval'],
      ['tg:2 @bob', -200, 'button', 'approval.approve', p.id, {}, 'denied', 'unknown or forged approval'],
    ]);
    expect(h.store.get(p.id)!.state).toBe('pending');
  });

  it('refuses and audits a press by a role below the one the action needs', async () => {
    const h = harness();
    const p = h.ask();
    expect(await h.svc.decide(viewer, p.id, p.token, 'approve')).toEqual({
      kind: 'refused',
      message: 'Only a user with the operator role can decide this.',
    });
    expect(h.entries()[1]).toMatchObject({
      operator: 'tg:3 @vic',
      origin: 'button',
      action: 'docker.stop',
      target: 'web',
      params: { container: 'web' },
      outcome: 'forbidden',
      detail: 'approval needs operator',
    });
    expect(h.store.get(p.id)!.state).toBe('pending');
  });

  it('denies once: audited as rejected, counted, shown, settled; a second press is told who denied', async () => {
    const h = harness();
    const p = h.ask();
    const settled = h.svc.settled(p.id);
    expect(h.svc.settled(p.id)).toBe(settled);
    expect(await h.svc.decide(bob, p.id, p.token, 'deny')).toEqual({
      kind: 'done',
      action: 'docker.stop',
      result: say('❌ Denied: nothing was done.'),
    });
    expect(await settled).toEqual({ state: 'denied', by: '@bob' });
    expect(h.entries()[1]).toMatchObject({ outcome: 'rejected', detail: `approval ${p.id}`, origin: 'button' });
    expect(h.statuses()).toEqual(['❌ Denied by @bob; nothing was done.']);
    expect(h.changes[0]!.approval).toMatchObject({ state: 'denied', decidedBy: '@bob', decidedAt: T0 });
    expect(await h.svc.decide(alice, p.id, p.token, 'approve')).toEqual({
      kind: 'refused',
      message: 'Already denied by @bob.',
    });
    expect(h.ran).toEqual([]);
    expect(await h.approvals()).toEqual({ requested: 1, denied: 1 });
    expect(await h.svc.settled(p.id)).toEqual({ state: 'denied', by: '@bob' });
  });

  it('approves once and runs: running, then done with the first line of the result', async () => {
    const h = harness();
    const p = h.ask();
    const settled = h.svc.settled(p.id);
    const outcome = await h.svc.decide(bob, p.id, p.token, 'approve');
    expect(outcome).toEqual({ kind: 'done', action: 'docker.stop', result: say('stopped web') });
    expect(await settled).toEqual({ state: 'approved', by: '@bob', outcome });
    expect(h.ran).toEqual([p.id]);
    expect(h.statuses()).toEqual(['▶️ Approved by @bob · running…', '✅ Approved by @bob · done: stopped web']);
    expect(h.entries()[1]).toMatchObject({ outcome: 'approved', detail: `approval ${p.id}` });
    expect(await h.svc.decide(alice, p.id, p.token, 'approve')).toEqual({
      kind: 'refused',
      message: 'Already approved by @bob.',
    });
    expect(h.ran).toEqual([p.id]);
    expect(await h.approvals()).toEqual({ requested: 1, approved: 1 });
    expect(await h.svc.settled(p.id)).toEqual({ state: 'approved', by: '@bob' });
  });

  it('settles a waiter only once the approved run has finished', async () => {
    let finish!: (o: Outcome) => void;
    const h = harness({
      runApproved: () => ({
        run: (began) => {
          began();
          return new Promise<Outcome>((r) => (finish = r));
        },
      }),
    });
    const p = h.ask();
    const deciding = h.svc.decide(bob, p.id, p.token, 'approve');
    await expect.poll(() => h.statuses().length).toBe(1);
    let settledWith: unknown;
    void h.svc.settled(p.id).then((s) => (settledWith = s));
    await new Promise((r) => setTimeout(r, 20));
    expect(settledWith).toBeUndefined();
    const failed: Outcome = { kind: 'failed', action: 'docker.stop', message: 'no such container' };
    finish(failed);
    expect(await deciding).toBe(failed);
    await expect.poll(() => settledWith).toEqual({ state: 'approved', by: '@bob', outcome: failed });
    expect(h.statuses().at(-1)).toBe('⚠️ Approved by @bob · failed: no such container');
  });

  it.each([
    ['a pre block, by its first line', { blocks: [pre('line one\nline two')] }, '✅ Approved by @bob · done: line one'],
    ['an empty result, as ok', { blocks: [] }, '✅ Approved by @bob · done: ok'],
  ])('summarises %s', async (_what, result, status) => {
    const h = harness({
      runApproved: (row) => ({ run: () => Promise.resolve({ kind: 'done', action: row.action, result }) }),
    });
    const p = h.ask();
    await h.svc.decide(bob, p.id, p.token, 'approve');
    expect(h.statuses().at(-1)).toBe(status);
  });

  it('hides a secret in what the run said before the card escapes it and the approvals table keeps it', async () => {
    const h = harness({
      runApproved: (row) => ({
        run: () => Promise.resolve({ kind: 'done', action: row.action, result: say('password:     s3cr3t-Pa55') }),
      }),
    });
    const p = h.ask();
    await h.svc.decide(bob, p.id, p.token, 'approve');
    expect(h.statuses().at(-1)).toBe('✅ Approved by @bob · done: password:⟨5 spaces⟩[REDACTED]');
    expect(h.store.get(p.id)?.ran).toEqual({ ok: true, summary: 'password:     [REDACTED]' });
  });

  it('names the outcome kind when the run was neither done nor failed', async () => {
    const h = harness({
      runApproved: () => ({ run: () => Promise.resolve({ kind: 'refused', message: 'rate limited' }) }),
    });
    const p = h.ask();
    await h.svc.decide(bob, p.id, p.token, 'approve');
    expect(h.statuses().at(-1)).toBe('⚠️ Approved by @bob · failed: refused');
  });

  it('shows and settles an approved request that can no longer run, without running it', async () => {
    const h = harness({ runApproved: () => ({ refused: 'the container is gone' }) });
    const p = h.ask();
    const settled = h.svc.settled(p.id);
    const refused = { kind: 'refused', message: 'the container is gone' };
    expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual(refused);
    expect(await settled).toEqual({ state: 'approved', by: '@bob', outcome: refused });
    expect(h.statuses()).toEqual(['⚠️ Approved by @bob · failed: the container is gone']);
  });

  it('takes no decision the audit cannot show: back to pending, and the same button works later', async () => {
    const h = harness();
    const p = h.ask();
    h.auditFails.on = true;
    const out = await h.svc.decide(bob, p.id, p.token, 'approve');
    expect(out.kind).toBe('refused');
    expect(h.store.get(p.id)).toMatchObject({ state: 'pending', decidedBy: null });
    expect(h.ran).toEqual([]);
    h.auditFails.on = false;
    expect((await h.svc.decide(bob, p.id, p.token, 'approve')).kind).toBe('done');
    expect(h.ran).toEqual([p.id]);
  });

  it("/cancel withdraws only the operator's own pending approvals in this chat, audited and shown", async () => {
    const h = harness();
    const mine = h.ask(alice, 'a');
    const other = h.ask(bob, 'b');
    const also = h.ask(alice, 'c');
    const settled = h.svc.settled(mine.id);
    expect(h.svc.cancelPending(alice).map((a) => a.id)).toEqual([mine.id, also.id]);
    expect(await settled).toEqual({ state: 'cancelled', by: '@alice' });
    const withdrawn = h.entries().slice(-2);
    expect(withdrawn).toMatchObject(
      [mine, also].map((p, i) => ({
        operator: 'tg:1 @alice',
        origin: 'command',
        target: 'ac'[i],
        outcome: 'cancelled',
        detail: `approval ${p.id}`,
      })),
    );
    // Withdrawn by one /cancel: one group.
    expect(h.lastGroup()).toEqual(withdrawn.map((e) => e.seq));
    expect(h.statuses()).toEqual(Array(2).fill('🚫 Cancelled by @alice; nothing was done.'));
    expect(h.store.get(other.id)!.state).toBe('pending');
    expect(await h.approvals()).toEqual({ requested: 3, cancelled: 2 });
    expect(h.svc.cancelPending(alice)).toEqual([]);
  });

  it('withdraws a card that could not be shown, under its requester, with the reason', async () => {
    const h = harness();
    const p = h.ask();
    h.svc.withdraw(p.id, 'the document did not go out');
    expect(h.entries().at(-1)).toMatchObject({
      operator: 'tg:1 @alice',
      origin: 'command',
      outcome: 'cancelled',
      detail: `approval ${p.id}: the document did not go out`,
    });
    expect(h.statuses()).toEqual(['🚫 Cancelled by teleops; nothing was done.']);
    expect(await h.approvals()).toEqual({ requested: 1, cancelled: 1 });
    h.svc.withdraw(p.id, 'again');
    expect(h.entries()).toHaveLength(2);
    expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual({
      kind: 'refused',
      message: 'Cancelled by teleops.',
    });
  });

  it('expires a pending approval on time: audited under its requester, shown, settled, counted', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness();
    const p = h.ask();
    const settled = h.svc.settled(p.id);
    h.clock.now = T0 + TTL - 1;
    vi.advanceTimersByTime(TTL - 1);
    expect(h.store.get(p.id)!.state).toBe('pending');
    h.clock.now = T0 + TTL;
    vi.advanceTimersByTime(1);
    expect(h.store.get(p.id)!.state).toBe('expired');
    expect(await settled).toEqual({ state: 'expired' });
    expect(h.entries().at(-1)).toMatchObject({
      operator: 'tg:1 @alice',
      outcome: 'expired',
      detail: `approval ${p.id}`,
    });
    expect(h.statuses()).toEqual(['⌛ Expired; nothing was done.']);
    expect(await h.approvals()).toEqual({ requested: 1, expired: 1 });
    expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual({
      kind: 'refused',
      message: 'This approval expired; nothing was done. Ask again.',
    });
  });

  it('audits approvals that fall due together as one group, before their cards change', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness();
    const asked = [h.ask(alice, 'a'), h.ask(bob, 'b'), h.ask(alice, 'c')];
    const seen: number[] = [];
    h.svc.onCardChanged(() => seen.push(h.entries().length));
    h.clock.now = T0 + TTL;
    vi.advanceTimersByTime(TTL);
    const expired = h.entries().slice(-3);
    expect(expired.map((e) => [e.target, e.outcome, e.detail])).toEqual(
      asked.map((p, i) => ['abc'[i], 'expired', `approval ${p.id}`]),
    );
    expect(h.lastGroup()).toEqual(expired.map((e) => e.seq));
    // Every card changed after all three entries were in.
    expect(seen).toEqual([h.entries().length, h.entries().length, h.entries().length]);
    expect(h.statuses()).toEqual(Array(3).fill('⌛ Expired; nothing was done.'));
  });

  describe('replicas: a waiter learns from the store what another replica decided', () => {
    // `h.restart()` is a second service on the same database: another replica, its waiters its own.
    const tick = () => vi.advanceTimersByTimeAsync(1000);

    it('a denial made there, within a second', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const h = harness();
      const other = h.restart();
      const p = h.ask();
      let got: unknown;
      void h.svc.settled(p.id).then((s) => (got = s));
      await other.decide(bob, p.id, p.token, 'deny');
      expect(got).toBeUndefined();
      await tick();
      expect(got).toEqual({ state: 'denied', by: '@bob' });
    });

    it('an approval run there: settled with how the run ended, as that replica recorded it', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const h = harness({
        runApproved: (row) => ({
          run: () =>
            Promise.resolve<Outcome>(
              row.subject === 'db'
                ? { kind: 'failed', action: row.action, message: 'no such container' }
                : { kind: 'done', action: row.action, result: say(`stopped ${row.subject}`) },
            ),
        }),
      });
      const other = h.restart();
      const [web, db] = [h.ask(), h.ask(alice, 'db')];
      const got: unknown[] = [];
      for (const p of [web, db]) void h.svc.settled(p.id).then((s) => got.push(s));
      await other.decide(bob, web.id, web.token, 'approve');
      await other.decide(bob, db.id, db.token, 'approve');
      await tick();
      expect(got).toEqual([
        {
          state: 'approved',
          by: '@bob',
          outcome: { kind: 'done', action: 'docker.stop', result: say('stopped web') },
        },
        {
          state: 'approved',
          by: '@bob',
          outcome: { kind: 'failed', action: 'docker.stop', message: 'no such container' },
        },
      ]);
    });

    it('a run there that never says how it ended (that replica died): approved, no outcome, after the grace', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const h = harness({ runApproved: () => ({ run: () => new Promise<Outcome>(() => {}) }) });
      const other = h.restart();
      const p = h.ask();
      let got: unknown;
      void h.svc.settled(p.id).then((s) => (got = s));
      void other.decide(bob, p.id, p.token, 'approve');
      await tick();
      expect(got).toBeUndefined();
      h.clock.now = T0 + RUN_GRACE;
      await tick();
      expect(got).toEqual({ state: 'approved', by: '@bob' });
    });

    it('pending past its expiry, the replica that armed for it gone: expired here, once, and audited', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const h = harness();
      const other = h.restart();
      const p = other.request({
        operator: alice,
        origin: 'command',
        action: 'docker.stop',
        params: { container: 'web' },
        subject: 'web',
        minRole: 'operator',
        preview: [],
      });
      other.stop();
      let got: unknown;
      void h.svc.settled(p.id).then((s) => (got = s));
      await tick();
      expect(got).toBeUndefined();
      h.clock.now = T0 + TTL;
      await tick();
      expect(got).toEqual({ state: 'expired' });
      expect(h.entries().map((e) => e.outcome)).toEqual(['approval_requested', 'expired']);
    });

    it('looks no more once nobody waits', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const h = harness();
      const p = h.ask();
      // The expiry's timer, then the look's while someone waits, then the expiry's alone.
      expect(vi.getTimerCount()).toBe(1);
      void h.svc.settled(p.id);
      expect(vi.getTimerCount()).toBe(2);
      await h.svc.decide(bob, p.id, p.token, 'deny');
      await tick();
      expect(vi.getTimerCount()).toBe(1);
    });
  });

  it('re-arms its one timer for the earliest expiry, also for approvals stored before a restart', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness();
    const first = h.ask();
    h.clock.now = T0 + 10_000;
    const second = h.ask(bob);
    expect(vi.getTimerCount()).toBe(1);
    h.svc.stop();
    expect(vi.getTimerCount()).toBe(0);
    // A new service over the same store (a restart) arms for what is pending.
    const again = new ApprovalService({
      store: h.store,
      record: () => true,
      writable: new AuditWritable({ log: pino({ level: 'silent' }) }),
      actorOf: (op) => op.display,
      runApproved: () => ({ refused: 'x' }),
      redact: (t) => t,
      metrics: createMetrics(),
      log: pino({ level: 'silent' }),
      ttlMs: TTL,
      retentionMs: 0,
      now: () => h.clock.now,
      runGraceMs: () => RUN_GRACE,
    });
    cleanups.push(() => again.stop());
    h.clock.now = T0 + TTL;
    vi.advanceTimersByTime(TTL - 10_000);
    expect(h.store.get(first.id)!.state).toBe('expired');
    expect(h.store.get(second.id)!.state).toBe('pending');
    expect(vi.getTimerCount()).toBe(1);
    h.clock.now = T0 + TTL + 10_000;
    vi.advanceTimersByTime(10_000);
    expect(h.store.get(second.id)!.state).toBe('expired');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms no timer once stopped', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness();
    h.svc.stop();
    const p = h.ask();
    expect(vi.getTimerCount()).toBe(0);
    h.clock.now = T0 + TTL;
    vi.advanceTimersByTime(TTL);
    expect(h.store.get(p.id)!.state).toBe('pending');
  });

  it('logs an expiry that could not be written and tries again later, not in a loop', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const h = harness();
    const p = h.ask();
    // The write fails as on a full disk; reads still work.
    h.db.exec(
      "CREATE TRIGGER full BEFORE UPDATE ON approvals BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    );
    h.clock.now = T0 + TTL;
    vi.advanceTimersByTime(TTL);
    const failures = () => h.logged.filter((l) => l.msg === 'approval expiry failed').length;
    expect(failures()).toBe(1);
    vi.advanceTimersByTime(4999);
    expect(failures()).toBe(1);
    h.db.exec('DROP TRIGGER full');
    vi.advanceTimersByTime(1);
    expect(h.store.get(p.id)!.state).toBe('expired');
    expect(failures()).toBe(1);
  });

  it('prunes approvals decided before the retention, never pending ones', async () => {
    const h = harness();
    const decided = h.ask();
    const pending = h.ask(bob);
    await h.svc.decide(bob, decided.id, decided.token, 'deny');
    h.clock.now = T0 + 3_600_000;
    expect(h.svc.prune()).toBe(0);
    h.clock.now = T0 + 3_600_001;
    expect(h.svc.prune()).toBe(1);
    expect(h.store.get(decided.id)).toBeUndefined();
    expect(h.store.get(pending.id)).toBeDefined();
    expect(await h.svc.settled(decided.id)).toEqual({ state: 'gone' });
  });

  describe('card surfaces', () => {
    type Ref = { msg: number };
    function surface(h: ReturnType<typeof harness>, offer?: (chatId: number, p: PendingApproval) => Promise<boolean>) {
      const shown: [number, string][] = [];
      const desk = h.svc.cards<Ref>({
        readRef: (s) => (typeof s === 'object' && s !== null && 'msg' in s ? (s as Ref) : undefined),
        show: (ref, c) => shown.push([ref.msg, plainText(c.card).split('\n').at(-1)!]),
        ...(offer ? { offer } : {}),
      });
      return { desk, shown };
    }

    it('shows each change of a card it showed, where it showed it, until closed', async () => {
      const h = harness();
      const s = surface(h);
      const p = h.ask();
      const unshown = h.ask(bob);
      s.desk.shown(p.id, { msg: 7 });
      expect(h.store.get(p.id)!.card).toEqual({ msg: 7 });
      await h.svc.decide(bob, p.id, p.token, 'deny');
      await h.svc.decide(alice, unshown.id, unshown.token, 'deny');
      expect(s.shown).toEqual([[7, '❌ Denied by @bob; nothing was done.']]);
      s.desk.close();
      const later = h.ask();
      s.desk.shown(later.id, { msg: 8 });
      h.svc.withdraw(later.id, 'x');
      expect(s.shown).toHaveLength(1);
    });

    it('shows at once a card that was closed while it was being sent', async () => {
      const h = harness();
      const s = surface(h);
      const p = h.ask();
      await h.svc.decide(bob, p.id, p.token, 'deny');
      s.desk.shown(p.id, { msg: 9 });
      expect(s.shown).toEqual([[9, '❌ Denied by @bob; nothing was done.']]);
      const open = h.ask();
      s.desk.shown(open.id, { msg: 10 });
      expect(s.shown).toHaveLength(1);
    });

    it('shows the rest of a card decided before it was stored (pressed while its send was answered)', async () => {
      let finish = () => {};
      const h = harness({
        runApproved: (row) => ({
          run: async (began) => {
            began();
            await new Promise<void>((r) => (finish = r));
            return { kind: 'done', action: row.action, result: say(`stopped ${row.subject}`) };
          },
        }),
      });
      const s = surface(h);
      const p = h.ask();
      const decided = h.svc.decide(bob, p.id, p.token, 'approve');
      await vi.waitFor(() => expect(h.store.get(p.id)!.state).toBe('approved'));
      s.desk.shown(p.id, { msg: 11 });
      finish();
      await decided;
      expect(s.shown.at(-1)).toEqual([11, '✅ Approved by @bob · done: stopped web']);
    });

    it('shows the end of a card run to the end before it was stored (decided on another replica)', async () => {
      const h = harness();
      const s = surface(h);
      const p = h.ask();
      await h.svc.decide(bob, p.id, p.token, 'approve');
      expect(s.shown).toEqual([]);
      s.desk.shown(p.id, { msg: 12 });
      await vi.waitFor(() => expect(s.shown).toEqual([[12, '✅ Approved by @bob · done: stopped web']]), 5000);
    });

    it('presents a card asked for on behalf of someone where a surface can offer it, else withdraws it', async () => {
      const h = harness();
      const p = h.ask();
      expect(await h.svc.present(p, -100)).toBe(false);
      expect(h.entries().at(-1)).toMatchObject({ detail: `approval ${p.id}: no chat could show its card` });
      const offered: [number, string][] = [];
      const s = surface(h, (chatId, q) => {
        offered.push([chatId, q.id]);
        return Promise.resolve(true);
      });
      const q = h.ask();
      expect(await h.svc.present(q, -100)).toBe(true);
      expect(offered).toEqual([[-100, q.id]]);
      expect(h.store.get(q.id)!.state).toBe('pending');
      s.desk.close();
      const r = h.ask();
      expect(await h.svc.present(r, -100)).toBe(false);
      expect(offered).toHaveLength(1);
    });
  });

  describe('two-person approval (APPROVAL_QUORUM)', () => {
    const carol: Operator = { userId: 4, chatId: -100, role: 'operator', display: '@carol' };
    const TWO = [{ action: 'docker.stop' }];
    const WAITING_BOB = '✅ 1 of 2: approved by @bob · waiting for a second operator · expires in 1m';

    /** bob gives the first approval of alice's request. */
    async function firstOfTwo() {
      const h = harness({ quorum: TWO });
      const p = h.ask(alice);
      expect(plainText(p.card)).toContain('⏳ Waiting for approval by two operators (0 of 2) · expires in 1m');
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual({
        kind: 'done',
        action: 'docker.stop',
        result: say('✅ 1 of 2: approved by @bob · waiting for a second operator.'),
      });
      return { h, p };
    }

    it('needs one approval for a request no rule names', async () => {
      const h = harness({ quorum: [{ action: 'docker.stop', place: 'prod' }] });
      const p = h.ask(alice);
      expect(h.store.get(p.id)!.quorum).toBe(1);
      await h.svc.decide(bob, p.id, p.token, 'approve');
      expect(h.ran).toEqual([p.id]);
    });

    it('records the first approval, audited as 1 of 2, the card kept open; the second runs it, naming both', async () => {
      const { h, p } = await firstOfTwo();
      expect(h.ran).toEqual([]);
      expect(h.store.get(p.id)).toMatchObject({
        state: 'pending',
        quorum: 2,
        firstVote: { userId: 2, by: '@bob', at: T0 },
      });
      expect(h.entries()[1]).toMatchObject({
        operator: 'tg:2 @bob',
        origin: 'button',
        outcome: 'approved',
        detail: `approval ${p.id}: 1 of 2, approved by @bob`,
      });
      expect(h.statuses()).toEqual([WAITING_BOB]);
      expect(h.changes[0]!.approval.state).toBe('pending');

      expect(await h.svc.decide(carol, p.id, p.token, 'approve')).toMatchObject({ kind: 'done' });
      expect(h.ran).toEqual([p.id]);
      expect(h.entries()[2]).toMatchObject({
        operator: 'tg:4 @carol',
        outcome: 'approved',
        detail: `approval ${p.id}: 2 of 2, approved by @bob and @carol`,
      });
      expect(h.statuses().slice(1)).toEqual([
        '▶️ Approved by @bob and @carol · running…',
        '✅ Approved by @bob and @carol · done: stopped web',
      ]);
      expect(h.store.get(p.id)).toMatchObject({ state: 'approved', decidedBy: '@bob and @carol' });
      expect(await h.svc.settled(p.id)).toEqual({ state: 'approved', by: '@bob and @carol' });
      expect(await h.approvals()).toEqual({ requested: 1, voted: 1, approved: 1 });
    });

    it('counts the same operator pressing twice as one approval (also a replayed button)', async () => {
      const { h, p } = await firstOfTwo();
      const again = { kind: 'refused', message: 'You already approved this; a second operator must approve it.' };
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual(again);
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual(again);
      expect(h.ran).toEqual([]);
      expect(h.store.get(p.id)).toMatchObject({ state: 'pending', firstVote: { userId: 2 } });
      expect(h.statuses()).toEqual([WAITING_BOB]);
    });

    it('never lets the requester approve: neither first nor second, audited as forbidden', async () => {
      const h = harness({ quorum: TWO });
      const p = h.ask(alice);
      const own = { kind: 'refused', message: 'You asked for this: two other operators must approve it.' };
      expect(await h.svc.decide(alice, p.id, p.token, 'approve')).toEqual(own);
      expect(h.store.get(p.id)).toMatchObject({ state: 'pending', firstVote: null });
      await h.svc.decide(bob, p.id, p.token, 'approve');
      expect(await h.svc.decide(alice, p.id, p.token, 'approve')).toEqual(own);
      expect(h.ran).toEqual([]);
      expect(h.entries().filter((e) => e.outcome === 'forbidden')).toHaveLength(2);
      expect(h.entries()[1]).toMatchObject({
        operator: 'tg:1 @alice',
        detail: `approval ${p.id}: the requester cannot approve it`,
      });
    });

    it('two presses at once: one is first, the other second (distinct) or told (the same person)', async () => {
      const h = harness({ quorum: TWO });
      const p = h.ask(alice);
      const [b, c] = await Promise.all([
        h.svc.decide(bob, p.id, p.token, 'approve'),
        h.svc.decide(carol, p.id, p.token, 'approve'),
      ]);
      expect(b).toMatchObject({
        kind: 'done',
        result: say('✅ 1 of 2: approved by @bob · waiting for a second operator.'),
      });
      expect(c).toMatchObject({ kind: 'done', result: say('stopped web') });
      expect(h.ran).toEqual([p.id]);

      const q = h.ask(alice);
      const twice = await Promise.all([
        h.svc.decide(carol, q.id, q.token, 'approve'),
        h.svc.decide(carol, q.id, q.token, 'approve'),
      ]);
      expect(twice.map((o) => o.kind)).toEqual(['done', 'refused']);
      expect(h.ran).toEqual([p.id]);
      expect(h.store.get(q.id)).toMatchObject({ state: 'pending', firstVote: { userId: 4 } });
    });

    it('refuses a forged button, or the real one from another chat, after the first approval', async () => {
      const { h, p } = await firstOfTwo();
      const invalid = {
        kind: 'refused',
        message: 'This approval is not valid here (unknown, or too old); nothing was done.',
      };
      expect(await h.svc.decide(carol, p.id, 'x'.repeat(16), 'approve')).toEqual(invalid);
      expect(await h.svc.decide({ ...carol, chatId: -200 }, p.id, p.token, 'approve')).toEqual(invalid);
      expect(h.ran).toEqual([]);
      expect(h.store.get(p.id)!.state).toBe('pending');
    });

    it('is denied by anyone with the role after the first approval; nothing runs', async () => {
      const { h, p } = await firstOfTwo();
      expect(await h.svc.decide(carol, p.id, p.token, 'deny')).toMatchObject({ kind: 'done' });
      expect(h.statuses().at(-1)).toBe('❌ Denied by @carol; nothing was done.');
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toEqual({
        kind: 'refused',
        message: 'Already denied by @carol.',
      });
      expect(h.ran).toEqual([]);
    });

    it('expires after one approval as any pending one does; a later second press runs nothing', async () => {
      vi.useFakeTimers({ now: T0 });
      const { h, p } = await firstOfTwo();
      h.clock.now = T0 + TTL;
      vi.advanceTimersByTime(TTL);
      expect(h.store.get(p.id)!.state).toBe('expired');
      expect(h.statuses().at(-1)).toBe('⌛ Expired; nothing was done.');
      expect(await h.svc.decide(carol, p.id, p.token, 'approve')).toEqual({
        kind: 'refused',
        message: 'This approval expired; nothing was done. Ask again.',
      });
      expect(h.ran).toEqual([]);
    });

    it('keeps the first approval across a restart: the same operator is still one vote, another runs it', async () => {
      const { h, p } = await firstOfTwo();
      h.svc.stop();
      const after = h.restart();
      expect(await after.decide(bob, p.id, p.token, 'approve')).toMatchObject({ kind: 'refused' });
      expect(await after.decide(carol, p.id, p.token, 'approve')).toMatchObject({ kind: 'done' });
      expect(h.ran).toEqual([p.id]);
    });

    it('takes no first approval the audit cannot show: the same press works once it can', async () => {
      const h = harness({ quorum: TWO });
      const p = h.ask(alice);
      h.auditFails.on = true;
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toMatchObject({ kind: 'refused' });
      expect(h.store.get(p.id)!.firstVote).toBeNull();
      h.auditFails.on = false;
      expect(await h.svc.decide(bob, p.id, p.token, 'approve')).toMatchObject({ kind: 'done' });
      expect(h.store.get(p.id)!.firstVote).toMatchObject({ userId: 2 });
    });
  });
});
