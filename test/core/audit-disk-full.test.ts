/**
 * The state directory fills up, before or while teleops runs: an action that cannot be
 * audited does not run (a clear refusal), reads keep answering, /health's audit check says why
 * (degraded, not down), one alert goes out, and all of it ends once space is back (one alert). The state
 * lives on a small tmpfs of its own (mounted here, as root), filled with a file: the real
 * errors of a full filesystem, nothing else on the machine touched.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/core/audit-verify.js';
import { checkAll } from '../../src/core/health.js';
import type { Principal } from '../../src/core/policy.js';
import { plainText, type Result } from '../../src/core/result.js';
import type { Outcome } from '../../src/core/dispatcher.js';
import { testApp, type TestApp } from '../support/app.js';
import { runTeleops } from '../support/process.js';
import { runs } from '../support/test-target.js';
import { tmpfsUnavailable } from '../support/tmpfs.js';

const operator: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private' };

const missing = tmpfsUnavailable();
if (missing && process.env.CI === 'true') throw new Error(`the disk-full test needs a tmpfs under CI=true: ${missing}`);
if (missing) console.warn(`[disk-full tests skipped] ${missing}`);

const text = (o: Outcome): string => {
  if (o.kind === 'done') return plainText(o.result);
  if (o.kind === 'refused' || o.kind === 'failed') return o.message;
  return o.kind;
};

describe.skipIf(missing !== undefined)('a full state directory', () => {
  let mountpoint: string;
  let t: TestApp | undefined;
  const alerts: Result[] = [];
  const filler = () => join(mountpoint, 'filler');

  beforeEach(() => {
    mountpoint = mkdtempSync('/tmp/tdf-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountpoint]);
    alerts.length = 0;
  });

  afterEach(async () => {
    await t?.close();
    t = undefined;
    execFileSync('umount', ['-l', mountpoint]);
    rmSync(mountpoint, { recursive: true, force: true });
  });

  /** Writes until the filesystem says no space is left. */
  function fill(): void {
    const fd = openSync(filler(), 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(fd);
    }
    // The last partial chunk too.
    const one = openSync(filler(), 'a');
    try {
      for (;;) writeSync(one, Buffer.alloc(512, 1));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    } finally {
      closeSync(one);
    }
  }

  async function auditHealth(): Promise<{ state: string; detail: string; stillWorks?: boolean }> {
    return (await checkAll(t!.app.integrations.filter((i) => i.name === 'audit'))).audit!;
  }

  async function start(): Promise<TestApp> {
    t = await testApp({ ALERT_COOLDOWN_SECONDS: '0' }, [], mountpoint);
    t.app.setAlertDelivery(async (r) => void alerts.push(r));
    return t;
  }

  const cmd = (line: string) => t!.app.dispatcher.command(operator, 'command', line);

  it('disk full while running: refuses mutations, answers reads, degraded + one alert, recovers', async () => {
    await start();
    expect(text(await cmd('/test touch before'))).toBe('touched before');
    fill();
    const refused = text(await cmd('/test touch full'));
    expect(refused).toMatch(/^test\.touch was not run: the audit log cannot be written \(.+\), and nothing runs/);
    expect(refused).not.toContain('\n');
    expect(text(await cmd('/test destroy full'))).toMatch(
      /^test\.destroy was not run: the audit log cannot be written/,
    );
    expect(text(await cmd('/test echo still here'))).toBe('echo: still here');
    expect(text(await cmd('/whoami'))).toMatch(/role operator/);
    const health = await auditHealth();
    expect(health).toMatchObject({ state: 'down', stillWorks: true });
    expect(health.detail).toMatch(/^cannot write: .+; mutating actions are refused$/);
    await new Promise((r) => setImmediate(r));
    expect(alerts.map((a) => plainText(a))).toEqual([expect.stringMatching(/The audit log cannot be written/)]);
    expect(runs(t!.runsFile, 'touch')).toBe(1);
    expect(runs(t!.runsFile, 'destroy')).toBe(0);

    unlinkSync(filler());
    expect(text(await cmd('/test touch after'))).toBe('touched after');
    expect((await auditHealth()).state).toBe('up');
    expect(runs(t!.runsFile, 'touch')).toBe(2);
    // The write that succeeded ended it, with one alert saying so.
    expect(alerts.map((a) => plainText(a))).toEqual([
      expect.stringMatching(/cannot be written/),
      expect.stringMatching(/^✅ The audit log can be written again/),
    ]);
    const report = verifyAudit(t!.app.db, { anchorPath: join(mountpoint, 'audit.anchor') });
    console.log(
      `disk full (tmpfs 4 MiB, filled): mutations refused while full, reads answered, 1 alert; ` +
        `after space returned: 1 "writable again" alert, audit ${report.ok ? 'intact' : 'BROKEN'}`,
    );
    expect(report.ok).toBe(true);
  });

  it('Approve pressed while the disk is full: refused, nothing runs, the approval stays open and is decided later', async () => {
    await start();
    const asked = await cmd('/test destroy later');
    if (asked.kind !== 'approval') throw new Error(`expected an approval card, got ${text(asked)}`);
    const { id, token } = asked.approval;
    fill();
    const press = () => t!.app.dispatcher.decide(operator, id, token, 'approve');
    for (const attempt of [1, 2]) {
      const refused = text(await press());
      expect(refused, `press ${attempt}`).toMatch(
        /^Not decided: the audit log cannot be written \(.+\)\. test\.destroy did not run; the approval stays open/,
      );
      expect(refused).not.toContain('\n');
    }
    expect(runs(t!.runsFile, 'destroy')).toBe(0);
    const state = () => t!.app.db.prepare('SELECT state FROM approvals WHERE id = ?').pluck().get(id);
    expect(state()).toBe('pending');

    unlinkSync(filler());
    expect(text(await press())).toBe('destroyed later');
    expect(state()).toBe('approved');
    expect(runs(t!.runsFile, 'destroy')).toBe(1);
    expect(text(await press())).toMatch(/^Already approved by /);
    expect(verifyAudit(t!.app.db, { anchorPath: join(mountpoint, 'audit.anchor') }).ok).toBe(true);
  });

  it('disk fills between the approved and the started entries: reopened, the same Approve runs it once with space', async () => {
    await start();
    const asked = await cmd('/test destroy between');
    if (asked.kind !== 'approval') throw new Error(`expected an approval card, got ${text(asked)}`);
    const { id, token } = asked.approval;
    // The disk fills the moment the `approved` entry is in: the `started` entry finds it full.
    let filled = false;
    t!.app.audit.onAppend((e) => {
      if (e.outcome !== 'approved' || filled) return;
      filled = true;
      fill();
    });
    const press = () => t!.app.dispatcher.decide(operator, id, token, 'approve');
    const first = text(await press());
    expect(filled).toBe(true);
    expect(first).toMatch(/^Not decided: the audit log cannot be written \(.+\)\. test\.destroy did not run/);
    expect(runs(t!.runsFile, 'destroy')).toBe(0);
    const state = () => t!.app.db.prepare('SELECT state FROM approvals WHERE id = ?').pluck().get(id);
    // Going back to pending is a write too: it lands now if SQLite finds room, else at the next press.
    const meanwhile = state();
    expect(['pending', 'approved']).toContain(meanwhile);
    expect(text(await press())).toMatch(/^Not decided: the audit log cannot be written/);

    unlinkSync(filler());
    expect(text(await press())).toBe('destroyed between');
    expect(text(await press())).toMatch(/^Already approved by /);
    expect(state()).toBe('approved');
    expect(runs(t!.runsFile, 'destroy')).toBe(1);
    await t!.close();
    t = undefined;
    const verify = runTeleops(['audit', 'verify', '--state-dir', mountpoint], {});
    const code = await verify.exited;
    console.log(
      `disk filled between "approved" and "started": Approve refused (approval ${meanwhile} in the table until the ` +
        `next press), 0 runs; with space the same Approve ran it once, audit verify exit ${code}`,
    );
    expect(code, verify.output()).toBe(0);
  });

  it('disk already full at start: comes up answering reads, refuses mutations, alerts; resumes once there is space', async () => {
    await start();
    expect(text(await cmd('/test touch first'))).toBe('touched first');
    await t!.close();
    t = undefined;
    fill();
    await start();
    // Alerts the failure known at start (the transport is listening by then) and starts the probe.
    await t!.app.startBackground();
    expect(text(await cmd('/whoami'))).toMatch(/role operator/);
    expect(text(await cmd('/test echo while full'))).toBe('echo: while full');
    const refused = text(await cmd('/test touch full'));
    expect(refused).toMatch(
      /^test\.touch was not run: the audit log cannot be written \(\S+ is full\), and nothing runs/,
    );
    expect(refused).not.toContain('\n');
    expect(text(await cmd('/test destroy full'))).toMatch(
      /^test\.destroy was not run: the audit log cannot be written/,
    );
    const health = await auditHealth();
    expect(health).toMatchObject({ state: 'down', stillWorks: true });
    expect(health.detail).toMatch(/^cannot write: \S+ is full; mutating actions are refused$/);
    expect(alerts.map((a) => plainText(a))).toEqual([
      expect.stringMatching(/The audit log cannot be written: \S+ is full/),
    ]);
    expect(runs(t!.runsFile, 'touch')).toBe(1);

    // Space returns: the probe finds it, the database on disk replaces the copy, no restart.
    unlinkSync(filler());
    for (let i = 0; i < 300 && (await auditHealth()).state !== 'up'; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await auditHealth()).state).toBe('up');
    expect(alerts.map((a) => plainText(a))).toEqual([
      expect.stringMatching(/cannot be written/),
      expect.stringMatching(/^✅ The audit log can be written again/),
    ]);
    expect(text(await cmd('/test touch back'))).toBe('touched back');
    expect(runs(t!.runsFile, 'touch')).toBe(2);
    const [gap] = t!.app.audit.recent(3).filter((e) => e.action === 'audit.writable');
    expect(gap?.detail).toMatch(/^could not be written since \S+ \(\S+ is full\); nothing that needs an entry ran/);
    expect(verifyAudit(t!.app.db, { anchorPath: join(mountpoint, 'audit.anchor') }).ok).toBe(true);
    console.log(
      `disk full at start: came up degraded (reads answered, mutations refused, ${alerts.length - 1} alert); ` +
        `space freed while running: resumed without a restart, 1 "writable again" alert, audit intact`,
    );
  });
});
