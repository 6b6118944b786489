import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requestHash } from '../../src/core/approvals.js';
import type { Outcome } from '../../src/core/dispatcher.js';
import type { Principal } from '../../src/core/policy.js';
import { plainText } from '../../src/core/result.js';
import { verifyAudit } from '../../src/core/audit-verify.js';
import { docker as dockerModule } from '../../src/targets/docker/module.js';
import { shell as shellModule } from '../../src/targets/shell/module.js';
import { runs } from '../support/test-target.js';
import { tempDir, testApp, type TestApp } from '../support/app.js';

const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };
const op2InGroup: Principal = { transport: 'tg', userId: 11, chatId: -100, chatKind: 'group' };
const opInGroup: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group' };
const viewer: Principal = { transport: 'tg', userId: 30, chatId: 30, chatKind: 'private' };
const viewerInGroup: Principal = { transport: 'tg', userId: 30, chatId: -100, chatKind: 'group' };
const stranger: Principal = { transport: 'tg', userId: 999, chatId: 999, chatKind: 'private' };
const admin: Principal = { transport: 'tg', userId: 20, chatId: 20, chatKind: 'private' };

let t: TestApp;
afterEach(async () => {
  vi.useRealTimers();
  await t?.close();
});

const text = (o: Outcome): string =>
  o.kind === 'done' ? plainText(o.result) : o.kind === 'refused' ? o.message : o.kind === 'failed' ? o.message : o.kind;

describe('dispatcher', () => {
  it('runs a read command at once and audits it once, with its outcome', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test echo hello world');
    expect(text(o)).toBe('echo: hello world');
    const [e] = t.app.audit.recent(1);
    expect(e).toMatchObject({ operator: 'tg:10', chat: 10, origin: 'command', action: 'test.echo', outcome: 'ok' });
  });

  it('gives strangers nothing, and audits them in aggregate', async () => {
    t = await testApp();
    for (let i = 0; i < 50; i++)
      expect(await t.app.dispatcher.command(stranger, 'command', '/test touch x')).toEqual({ kind: 'ignored' });
    expect(runs(t.runsFile, 'touch')).toBe(0);
    const entries = t.app.audit.recent(100).filter((e) => e.outcome === 'unauthorized');
    expect(entries).toHaveLength(1);
    expect(await t.app.metrics.registry.getSingleMetricAsString('teleops_unauthorized_updates_total')).toMatch(/ 50$/m);
  });

  it('refuses an authorized user in a chat that is not authorized', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(
      { transport: 'tg', userId: 10, chatId: -555, chatKind: 'group' },
      'command',
      '/test echo hi',
    );
    expect(o).toEqual({ kind: 'ignored' });
  });

  it('enforces roles from the action risk', async () => {
    t = await testApp();
    expect(text(await t.app.dispatcher.command(viewer, 'command', '/test echo ok'))).toBe('echo: ok');
    const o = await t.app.dispatcher.command(viewer, 'command', '/test touch x');
    expect(o.kind).toBe('refused');
    expect(text(o)).toMatch(/needs the operator role; you are viewer/);
    expect(runs(t.runsFile, 'touch')).toBe(0);
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'test.touch', outcome: 'forbidden' });
  });

  it('gives files only to an action that takes them: any other refuses them, audited, and nothing is read', async () => {
    t = await testApp();
    let reads = 0;
    const upload = {
      name: '../../etc/passwd',
      mime: 'text/plain',
      size: 4,
      photo: false,
      read: async () => {
        reads++;
        return Buffer.from('evil');
      },
    };
    const o = await t.app.dispatcher.command(op, 'command', '/test touch x', undefined, [upload]);
    expect(o).toEqual({ kind: 'refused', message: 'test.touch takes no files.' });
    expect(await t.app.dispatcher.dispatch(op, 'button', 'test.echo', { text: 'hi' }, [upload])).toMatchObject({
      kind: 'refused',
    });
    expect(runs(t.runsFile, 'touch')).toBe(0);
    expect(reads).toBe(0);
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'test.echo', outcome: 'invalid' });
  });

  it('validates parameters before anything runs', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test touch ../../etc');
    expect(o.kind).toBe('refused');
    expect(text(o)).toMatch(/^Invalid input for test.touch: name:/);
    expect(runs(t.runsFile, 'touch')).toBe(0);
    expect(text(await t.app.dispatcher.command(op, 'command', '/test touch a b'))).toMatch(
      /unexpected argument "b"\. Usage: \/test touch <name>/,
    );
    expect(text(await t.app.dispatcher.command(op, 'command', '/nope'))).toMatch(/\/nope is not a command/);
  });

  it('prints the usage line, from the registry, whenever a typed argument is missing or invalid', async () => {
    t = await testApp();
    expect(text(await t.app.dispatcher.command(op, 'command', '/test touch'))).toBe(
      'Invalid input for test.touch: name: missing. Usage: /test touch <name>',
    );
    expect(text(await t.app.dispatcher.command(op, 'command', '/test slow soon'))).toMatch(
      /^Invalid input for test.slow: ms: .*\. Usage: \/test slow <ms>$/,
    );
    // A button or a tool call has no usage line to show: its parameters are not typed.
    expect(text(await t.app.dispatcher.dispatch(op, 'button', 'test.touch', {}))).toBe(
      'Invalid input for test.touch: name: missing',
    );
  });

  it('answers /help <group> with that group, and a mistyped group with a suggestion', async () => {
    t = await testApp();
    const help = text(await t.app.dispatcher.command(op, 'command', '/help test'));
    expect(help).toContain('/test echo [text...] — Echo text back');
    expect(help).not.toContain('/status');
    expect(text(await t.app.dispatcher.command(op, 'command', '/help /TEST'))).toContain('/test touch <name>');
    expect(text(await t.app.dispatcher.command(op, 'command', '/help tset'))).toMatch(
      /^No command group "tset"\. Did you mean test\? Groups: .*test/,
    );
    // A viewer is not told about groups it cannot use.
    expect(text(await t.app.dispatcher.command(viewer, 'command', '/help'))).not.toContain('/test touch');
  });

  it('without an LLM, its spellings say that an LLM is needed; a mistyped verb is not a ps filter', async () => {
    // Docker on a socket that does not exist: nothing below may reach the engine.
    t = await testApp({ DOCKER_ENABLED: 'true', DOCKER_HOST: 'unix:///nonexistent/docker.sock', AI_PROVIDER: 'none' }, [
      dockerModule,
    ]);
    const ask = async (line: string) => text(await t.app.dispatcher.command(op, 'command', line));
    expect(await ask('/docker summary web')).toBe(
      '/docker summary needs an LLM, and none is configured (AI_PROVIDER=none).',
    );
    expect(await ask('/docker logs web 200 summarize')).toBe(
      '/docker logs … summarize needs an LLM, and none is configured (AI_PROVIDER=none).',
    );
    expect(await ask('/reset')).toBe('/reset needs an LLM, and none is configured (AI_PROVIDER=none).');
    expect(await ask('/docker foo')).toMatch(/^\/docker foo is not a command\. Try one of: ps, /);
    expect(await ask('/docker lgos web')).toMatch(
      /^\/docker lgos is not a command\. Did you mean \/docker logs\? Try one of: /,
    );
    expect(await ask('/dock')).toMatch(/^\/dock is not a command\. Did you mean \/docker\?/);
    expect(await ask('/docker logs')).toBe(
      'Invalid input for docker.logs: container: missing. Usage: /docker logs <container> [lines] [since] [grep...]',
    );
    expect(await ask('/help docker')).toContain('/docker logs <container>');
    expect(t.app.audit.recent(50).filter((e) => e.action.startsWith('docker.') && e.outcome !== 'invalid')).toEqual([]);
  });

  it('runs a write at once, audited before and after', async () => {
    t = await testApp();
    expect(text(await t.app.dispatcher.command(op, 'command', '/test touch a'))).toBe('touched a');
    expect(runs(t.runsFile, 'touch')).toBe(1);
    expect(t.app.audit.recent(2).map((e) => e.outcome)).toEqual(['ok', 'started']);
  });

  it('asks for approval before a destructive action, and runs it once after Approve', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error(`expected approval, got ${o.kind}`);
    const card = plainText(o.approval.card);
    expect(card).toContain('test.destroy');
    expect(card).toContain('thing db');
    expect(card).toContain('Parameters:\nname: db\n');
    expect(card).toContain('Current runs: 0');
    expect(runs(t.runsFile, 'destroy')).toBe(0);
    const updates: string[] = [];
    t.app.dispatcher.approvals.onCardChanged((u) => updates.push(plainText(u.card).split('\n').at(-1)!));
    const d = await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve');
    expect(text(d)).toBe('destroyed db');
    expect(runs(t.runsFile, 'destroy')).toBe(1);
    expect(updates[0]).toMatch(/Approved by @ops · running/);
    expect(updates[1]).toMatch(/Approved by @ops · done/);
    expect(t.app.audit.recent(4).map((e) => e.outcome)).toEqual(['ok', 'started', 'approved', 'approval_requested']);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toBe(
      'Already approved by @ops.',
    );
    expect(runs(t.runsFile, 'destroy')).toBe(1);
  });

  it('an approval whose card could not be shown is withdrawn: cancelled, audited, and Approve does nothing', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error(`expected approval, got ${o.kind}`);
    const updates: string[] = [];
    t.app.dispatcher.approvals.onCardChanged((u) =>
      updates.push(`${u.approval.state}: ${plainText(u.card).split('\n').at(-1)!}`),
    );
    t.app.dispatcher.approvals.withdraw(o.approval.id, 'its card could not be shown in full');
    t.app.dispatcher.approvals.withdraw(o.approval.id, 'its card could not be shown in full');
    expect(updates).toEqual(['cancelled: 🚫 Cancelled by teleops; nothing was done.']);
    expect(t.app.audit.recent(2).map((e) => [e.outcome, e.detail])).toEqual([
      ['cancelled', `approval ${o.approval.id}: its card could not be shown in full`],
      ['approval_requested', `approval ${o.approval.id}`],
    ]);
    expect((await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve')).kind).toBe('refused');
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('runs once when two operators press Approve at the same moment', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(opInGroup, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    const presses = await Promise.all([
      t.app.dispatcher.decide(opInGroup, o.approval.id, o.approval.token, 'approve'),
      t.app.dispatcher.decide(op2InGroup, o.approval.id, o.approval.token, 'approve'),
      t.app.dispatcher.decide(op2InGroup, o.approval.id, o.approval.token, 'deny'),
    ]);
    expect(presses.filter((p) => p.kind === 'done' && text(p) === 'destroyed db')).toHaveLength(1);
    expect(presses.filter((p) => p.kind === 'refused')).toHaveLength(2);
    expect(runs(t.runsFile, 'destroy')).toBe(1);
  });

  it('Deny leaves the target untouched', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'deny'))).toMatch(/Denied/);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toMatch(
      /Already denied/,
    );
    expect(runs(t.runsFile, 'destroy')).toBe(0);
    expect(t.app.audit.recent(1)[0]).toMatchObject({ outcome: 'rejected' });
  });

  it('refuses forged tokens, other chats, and viewers', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(opInGroup, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    const forged = o.approval.token.replace(/./, (c) => (c === '0' ? '1' : '0'));
    expect(text(await t.app.dispatcher.decide(opInGroup, o.approval.id, forged, 'approve'))).toMatch(/not valid/);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toMatch(/not valid/);
    expect(text(await t.app.dispatcher.decide(viewerInGroup, o.approval.id, o.approval.token, 'approve'))).toMatch(
      /operator role/,
    );
    expect(
      await t.app.dispatcher.decide(
        { transport: 'tg', userId: 999, chatId: -100, chatKind: 'group' },
        o.approval.id,
        o.approval.token,
        'approve',
      ),
    ).toEqual({ kind: 'ignored' });
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('a pending approval changed in the database by someone with write access to the state directory runs nothing', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    const row = t.app.db
      .prepare<[string], { params: string }>('SELECT params FROM approvals WHERE id = ?')
      .get(o.approval.id)!;
    const params = JSON.stringify({ ...(JSON.parse(row.params) as object), name: 'prod' });
    // Params changed, hash left alone: the stored request no longer matches its hash.
    t.app.db.prepare('UPDATE approvals SET params = ? WHERE id = ?').run(params, o.approval.id);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toMatch(/not valid/);
    // The hash recomputed too (no key is involved): the token on the card's buttons no longer matches.
    const rehashed = requestHash({
      id: o.approval.id,
      action: 'test.destroy',
      params: JSON.parse(params) as Record<string, unknown>,
      requesterId: 10,
      chatId: 10,
    });
    t.app.db.prepare('UPDATE approvals SET request_hash = ? WHERE id = ?').run(rehashed, o.approval.id);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toMatch(/not valid/);
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('an approval expires after CONFIRM_TTL_SECONDS, by its one timer: audited, its card edited, and then it cannot run', async () => {
    t = await testApp({ CONFIRM_TTL_SECONDS: '10' });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    const closed: string[] = [];
    t.app.dispatcher.approvals.onCardChanged((u) =>
      closed.push(`${u.approval.state}: ${plainText(u.card).split('\n').at(-1)!}`),
    );
    const settled = t.app.dispatcher.approvals.settled(o.approval.id);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(closed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closed).toEqual(['expired: ⌛ Expired; nothing was done.']);
    expect(await settled).toEqual({ state: 'expired' });
    expect(t.app.audit.recent(1)[0]).toMatchObject({
      operator: 'tg:10',
      outcome: 'expired',
      detail: `approval ${o.approval.id}`,
    });
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toBe(
      'This approval expired; nothing was done. Ask again.',
    );
    expect(closed).toHaveLength(1);
    expect(t.app.audit.recent(10).filter((e) => e.outcome === 'expired')).toHaveLength(1);
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('past its expiry an approval can never be approved, even before its timer has run', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    t.app.db.prepare('UPDATE approvals SET expires_at = ? WHERE id = ?').run(Date.now() - 1, o.approval.id);
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toBe(
      'This approval expired; nothing was done. Ask again.',
    );
    expect(runs(t.runsFile, 'destroy')).toBe(0);
    expect(t.app.audit.recent(1)[0]).toMatchObject({ outcome: 'approval_requested' });
  });

  it('a card that expired before it was shown is edited as soon as it is shown', async () => {
    t = await testApp({ CONFIRM_TTL_SECONDS: '10' });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    await vi.advanceTimersByTimeAsync(10_000);
    const shown: { ref: { messageId: number }; last: string }[] = [];
    const desk = t.app.dispatcher.approvals.cards<{ messageId: number }>({
      readRef: (stored) =>
        typeof stored === 'object' && stored !== null && 'messageId' in stored
          ? { messageId: Number(stored.messageId) }
          : undefined,
      show: (ref, c) => shown.push({ ref, last: plainText(c.card).split('\n').at(-1)! }),
    });
    desk.shown(o.approval.id, { messageId: 5 });
    expect(shown).toEqual([{ ref: { messageId: 5 }, last: '⌛ Expired; nothing was done.' }]);
    desk.close();
  });

  it('settled(id) tells the requester how an approval ended, with the outcome once approved and run', async () => {
    t = await testApp();
    const a = await t.app.dispatcher.command(op, 'command', '/test destroy one');
    const b = await t.app.dispatcher.command(op, 'command', '/test destroy two');
    if (a.kind !== 'approval' || b.kind !== 'approval') throw new Error('expected approvals');
    const approved = t.app.dispatcher.approvals.settled(a.approval.id);
    const denied = t.app.dispatcher.approvals.settled(b.approval.id);
    await t.app.dispatcher.decide(op, a.approval.id, a.approval.token, 'approve');
    await t.app.dispatcher.decide(op, b.approval.id, b.approval.token, 'deny');
    const s = await approved;
    expect(s).toMatchObject({ state: 'approved', by: '@ops', outcome: { kind: 'done' } });
    expect(s.state === 'approved' && s.outcome?.kind === 'done' && plainText(s.outcome.result)).toBe('destroyed one');
    expect(await denied).toEqual({ state: 'denied', by: '@ops' });
    // Asked once settled, it answers from the store; an id it never made is gone.
    expect(await t.app.dispatcher.approvals.settled(b.approval.id)).toEqual({ state: 'denied', by: '@ops' });
    expect(await t.app.dispatcher.approvals.settled('AAAAAAAAAAAAAAAA')).toEqual({ state: 'gone' });
  });

  it('prunes approvals decided longer ago than APPROVAL_RETENTION_DAYS, every hour, never a pending one', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    t = await testApp({ APPROVAL_RETENTION_DAYS: '2' });
    const ids: string[] = [];
    for (const name of ['old', 'recent', 'pending']) {
      const o = await t.app.dispatcher.command(op, 'command', `/test destroy ${name}`);
      if (o.kind !== 'approval') throw new Error('expected approval');
      ids.push(o.approval.id);
      if (name !== 'pending') await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'deny');
    }
    const day = 24 * 3600_000;
    const set = t.app.db.prepare('UPDATE approvals SET created_at = ?, decided_at = ? WHERE id = ?');
    set.run(Date.now() - 10 * day, Date.now() - 3 * day, ids[0]);
    set.run(Date.now() - 10 * day, Date.now() - day, ids[1]);
    // Pending since long ago (a far expiry): still pending, so it stays.
    t.app.db.prepare('UPDATE approvals SET created_at = 0 WHERE id = ?').run(ids[2]);
    const left = () => t.app.db.prepare<[], string>('SELECT id FROM approvals ORDER BY created_at').pluck().all();
    expect(left()).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(3600_000);
    expect(left()).toEqual([ids[2], ids[1]]);
    expect(t.app.dispatcher.approvals.prune()).toBe(0);
    // The audit keeps the history of the pruned one.
    expect(
      t.app.audit
        .recent(20)
        .filter((e) => e.detail === `approval ${ids[0]}`)
        .map((e) => e.outcome),
    ).toEqual(['rejected', 'approval_requested']);
  });

  it("a pruned approval's button is answered with one clear line, and nothing runs", async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'deny');
    t.app.db.prepare('UPDATE approvals SET decided_at = 0 WHERE id = ?').run(o.approval.id);
    expect(t.app.dispatcher.approvals.prune()).toBe(1);
    for (const decision of ['approve', 'deny'] as const) {
      const answer = await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, decision);
      expect(answer).toEqual({
        kind: 'refused',
        message: 'This approval is not valid here (unknown, or too old); nothing was done.',
      });
    }
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('a pending approval survives a restart', async () => {
    const dir = tempDir();
    try {
      t = await testApp({}, [], dir.path);
      const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
      if (o.kind !== 'approval') throw new Error('expected approval');
      await t.close();
      t = await testApp({}, [], dir.path);
      expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toBe('destroyed db');
      expect(runs(t.runsFile, 'destroy')).toBe(1);
      const v = verifyAudit(t.app.db, { anchorPath: t.app.config.auditAnchorPath });
      expect(v.ok).toBe(true);
    } finally {
      await t.close();
      dir.remove();
    }
  });

  it("/cancel withdraws the operator's pending approvals", async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error('expected approval');
    expect(text(await t.app.dispatcher.command(op, 'command', '/cancel'))).toBe('Cancelled 1 pending approval.');
    expect(text(await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve'))).toMatch(/Cancelled by/);
    expect(runs(t.runsFile, 'destroy')).toBe(0);
  });

  it('a failing preview refuses the request instead of showing a card', async () => {
    t = await testApp();
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy missing');
    expect(o).toMatchObject({ kind: 'failed', message: 'no thing named missing' });
  });

  it('rate-limits per operator, telling them once per window', async () => {
    t = await testApp({ RATE_LIMIT_PER_MINUTE: '3' });
    const outs = [];
    for (let i = 0; i < 6; i++) outs.push(await t.app.dispatcher.command(op, 'command', '/test echo x'));
    expect(outs.slice(0, 3).every((o) => o.kind === 'done')).toBe(true);
    expect(outs.slice(3).map((o) => (o.kind === 'rate_limited' ? o.notify : o.kind))).toEqual([true, false, false]);
    expect((await t.app.dispatcher.command(viewer, 'command', '/test echo x')).kind).toBe('done');
    expect(t.app.audit.recent(10).filter((e) => e.outcome === 'rate_limited')).toHaveLength(1);
    expect(await t.app.metrics.registry.getSingleMetricAsString('teleops_rate_limited_total')).toMatch(/ 3$/m);
  });

  it('times out a slow action, and hides internal errors behind a reference', async () => {
    t = await testApp();
    expect(await t.app.dispatcher.command(op, 'command', '/test slow 5000')).toMatchObject({
      kind: 'failed',
      message: 'test.slow timed out after 2s',
    });
    const boom = await t.app.dispatcher.command(op, 'command', '/test boom');
    expect(text(boom)).toMatch(/^test.boom failed unexpectedly \(ref [0-9a-f]{8}; details in the log\)\.$/);
  });

  it('never writes a secret into the audit log', async () => {
    t = await testApp({ AUDIT_HMAC_KEY: 'k3y-that-is-secret' });
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db password=hunter2hunter2');
    if (o.kind !== 'approval') throw new Error(`expected approval, got ${o.kind}`);
    // A secret's own characters: hidden on the card as the secret they are.
    expect(plainText(o.approval.card)).toContain('secret: password=[REDACTED]');
    const rows = t.app.db.prepare('SELECT entry FROM audit').all() as { entry: string }[];
    expect(rows.map((r) => r.entry).join('\n')).not.toContain('hunter2hunter2');
  });

  it('asks for approval for any mutation the LLM requests', async () => {
    t = await testApp();
    expect((await t.app.dispatcher.dispatch(op, 'ai', 'test.touch', { name: 'x' })).kind).toBe('approval');
    expect((await t.app.dispatcher.dispatch(op, 'ai', 'test.echo', { text: 'x' })).kind).toBe('done');
    expect(runs(t.runsFile, 'touch')).toBe(0);
  });

  it('never runs an action kept from the LLM when the request comes from it, even with mutations allowed', async () => {
    t = await testApp({ SHELL_ENABLED: 'true', AI_DESTRUCTIVE_ALLOWED: 'true' }, [shellModule]);
    const o = await t.app.dispatcher.dispatch(admin, 'ai', 'shell.run', { command: `touch ${join(t.dir, 'pwned')}` });
    expect(o).toEqual({ kind: 'refused', message: 'shell.run is not available to the LLM agent.' });
    expect(existsSync(join(t.dir, 'pwned'))).toBe(false);
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'shell.run', origin: 'ai', outcome: 'forbidden' });
    // The same request typed by the admin still asks for approval.
    expect((await t.app.dispatcher.dispatch(admin, 'command', 'shell.run', { command: 'true' })).kind).toBe('approval');
  });

  it('/help lists what the role may use, grouped by target', async () => {
    t = await testApp();
    const v = text(await t.app.dispatcher.command(viewer, 'command', '/help'));
    expect(v).toContain('/test echo [text...]');
    expect(v).not.toContain('/test destroy');
    const o = text(await t.app.dispatcher.command(op, 'command', '/help'));
    expect(o).toContain('/test destroy <name> [secret] 🔒');
    expect(o).toMatch(/^core$/m);
  });

  it('/whoami, /status, /audit and /audit verify', async () => {
    t = await testApp();
    expect(text(await t.app.dispatcher.command(op, 'command', '/whoami'))).toBe('User 10 · chat 10 · role operator');
    expect(text(await t.app.dispatcher.command(op, 'command', '/status'))).toMatch(/🟢 audit: up/);
    await t.app.dispatcher.command(op, 'command', '/test touch a');
    expect(text(await t.app.dispatcher.command(op, 'command', '/audit 2'))).toMatch(
      /Last 2 audit entries[\s\S]*test.touch thing a → ok/,
    );
    expect(text(await t.app.dispatcher.command(op, 'command', '/audit verify'))).toMatch(
      /^✅ Audit log intact: \d+ entries/,
    );
    const { seq } = t.app.db.prepare(`SELECT min(seq) AS seq FROM audit WHERE entry LIKE '%thing a%'`).get() as {
      seq: number;
    };
    t.app.db.prepare(`UPDATE audit SET entry = replace(entry, 'thing a', 'thing b') WHERE seq = ?`).run(seq);
    expect(text(await t.app.dispatcher.command(op, 'command', '/audit verify'))).toContain(
      `❌ Audit log broken at #${seq} (modified)`,
    );
    const last = t.app.db.prepare(`SELECT entry FROM audit ORDER BY seq DESC LIMIT 1`).pluck().get() as string;
    expect(JSON.parse(last)).toMatchObject({
      action: 'audit.verify',
      outcome: 'failed',
      detail: expect.stringContaining(`broken at #${seq} (modified)`),
    });
  });
});
