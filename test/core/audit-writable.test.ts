/**
 * AuditWritable on its own, against a real audit log in a real SQLite file: what it says and
 * alerts when a write fails, and how its probe resumes. The full state directory is a small
 * tmpfs of its own, filled (test/core/audit-disk-full.test.ts drives the same through the app).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../src/core/alerts.js';
import { AuditLog, type AuditEntryInput } from '../../src/core/audit.js';
import { AuditWritable, PROBE_EVERY_MS, type Resume } from '../../src/core/audit-writable.js';
import { plainText } from '../../src/core/result.js';
import { openDb } from '../../src/store/db.js';
import { tmpfsUnavailable } from '../support/tmpfs.js';

const T0 = '2026-12-06T12:00:00.000Z';

const cleanups: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A state directory with a real audit log, a logger and an alert sink that keep what they get. */
function harness(stateDir = join(mkdtempSync(join(tmpdir(), 'teleops-writable-')), 'state'), unwritable?: string) {
  const db = openDb(stateDir);
  const audit = new AuditLog(db, { anchorPath: join(stateDir, 'audit.anchor'), ...(unwritable ? { unwritable } : {}) });
  cleanups.push(() => {
    audit.close();
    db.close();
  });
  const logs: { level: number; msg: string; err?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const alerts: Alert[] = [];
  const reopens: number[] = [];
  const resume: Resume = {
    reopen: () => {
      reopens.push(Date.now());
      audit.reopen();
    },
    append: (e) => audit.append(e),
  };
  return { stateDir, audit, log, logs, alerts, sink: { raise: (a: Alert) => void alerts.push(a) }, resume, reopens };
}

const entry: AuditEntryInput = {
  operator: 'tg:10',
  chat: 10,
  origin: 'command',
  action: 'test.touch',
  target: 'test',
  params: {},
  outcome: 'ok',
};

const unwritableAlert = (why: string) =>
  `🛑 The audit log cannot be written: ${why}\n` +
  'Mutating actions are refused until it can; reads still answer. Free space in the state directory (STATE_DIR) ' +
  'or make it writable again.';
const writableAlert = '✅ The audit log can be written again: mutating actions run again.';

describe('AuditWritable', () => {
  it('while writes succeed: no failure, no health line, and the refusals still read as whole sentences', () => {
    const h = harness();
    const w = new AuditWritable({ log: h.log, alerts: h.sink });
    expect(w.attempt(() => h.audit.append(entry))).toBe(true);
    expect(w.failing).toBeUndefined();
    expect(w.health()).toBeUndefined();
    expect(w.refusal('docker.restart')).toBe(
      'docker.restart was not run: the audit log cannot be written (unknown error), and nothing runs unaudited. ' +
        'Reads still work.',
    );
    expect(w.undecided('docker.restart')).toBe(
      'Not decided: the audit log cannot be written (unknown error). docker.restart did not run; ' +
        'the approval stays open, to be decided once it can.',
    );
    expect([h.alerts, h.logs]).toEqual([[], []]);
  });

  it('a failed append: its first line is the failure, alerted and logged once, until an append succeeds', () => {
    const h = harness();
    const w = new AuditWritable({ log: h.log, alerts: h.sink });
    const failing = () => {
      throw new Error('database or disk is full\n    at Statement.run');
    };
    expect(w.attempt(failing)).toBe(false);
    expect(w.failing).toBe('database or disk is full');
    expect(w.health()).toEqual({
      state: 'down',
      detail: 'cannot write: database or disk is full; mutating actions are refused',
      stillWorks: true,
    });
    expect(w.refusal('docker.restart')).toBe(
      'docker.restart was not run: the audit log cannot be written (database or disk is full), and nothing runs ' +
        'unaudited. Reads still work.',
    );
    expect(w.undecided('docker.restart')).toBe(
      'Not decided: the audit log cannot be written (database or disk is full). docker.restart did not run; ' +
        'the approval stays open, to be decided once it can.',
    );
    // A second failure, of another kind, is the one named; it is not alerted again.
    h.audit.close();
    expect(w.attempt(() => h.audit.append(entry))).toBe(false);
    expect(w.failing).toBe('the audit log is closed');
    // A write that is no audit entry ends nothing, even when it succeeds.
    expect(w.write(() => h.audit.reopen())).toBe(true);
    expect(w.failing).toBe('the audit log is closed');
    expect(w.attempt(() => h.audit.append(entry))).toBe(true);
    expect(w.failing).toBeUndefined();
    expect(w.health()).toBeUndefined();
    expect(h.alerts.map((a) => [a.source, a.key, plainText(a.result)])).toEqual([
      ['audit', 'audit:unwritable', unwritableAlert('database or disk is full')],
      ['audit', 'audit:writable', writableAlert],
    ]);
    expect(h.logs.map(({ level, msg, err }) => ({ level, msg, err }))).toEqual([
      {
        level: 50,
        msg: 'the audit log cannot be written: mutating actions are refused',
        err: 'database or disk is full',
      },
      { level: 30, msg: 'the audit log is writable again', err: undefined },
    ]);
    expect(h.audit.count()).toBe(1);
  });

  it('a failed write that is no audit entry is remembered as a failure of the audit log', () => {
    const h = harness();
    const w = new AuditWritable({ log: h.log, alerts: h.sink });
    expect(
      w.write(() => {
        throw 'SQLITE_READONLY';
      }),
    ).toBe(false);
    expect(w.failing).toBe('SQLITE_READONLY');
    expect(h.alerts.map((a) => a.key)).toEqual(['audit:unwritable']);
  });

  it('works with nowhere to send alerts (the dispatcher alone)', () => {
    const h = harness();
    const w = new AuditWritable({ log: h.log });
    expect(
      w.attempt(() => {
        throw new Error('disk I/O error');
      }),
    ).toBe(false);
    expect(w.attempt(() => h.audit.append(entry))).toBe(true);
    expect(h.logs.map((l) => l.msg)).toEqual([
      'the audit log cannot be written: mutating actions are refused',
      'the audit log is writable again',
    ]);
  });

  it('a failure known at start: watch alerts it, and the probe resumes with an entry saying since when', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date(T0));
    const why = 'the state directory is on a read-only filesystem';
    const h = harness(undefined, why);
    const w = new AuditWritable({ log: h.log, alerts: h.sink, failing: why });
    expect(w.failing).toBe(why);
    expect(h.alerts).toEqual([]);
    w.watch(h.resume);
    cleanups.push(() => w.stop());
    expect(h.alerts.map((a) => plainText(a.result))).toEqual([unwritableAlert(why)]);
    // A person's attempt in the meantime fails again: named anew, not alerted, the start time kept.
    vi.advanceTimersByTime(1_000);
    expect(w.attempt(() => h.audit.append(entry))).toBe(false);
    expect(w.failing).toBe(why);
    expect(h.reopens).toEqual([]);

    vi.advanceTimersByTime(PROBE_EVERY_MS - 1_000);
    expect(h.reopens).toEqual([Date.parse(T0) + PROBE_EVERY_MS]);
    expect(w.failing).toBeUndefined();
    const [resumed] = h.audit.recent(1);
    expect(resumed).toEqual({
      seq: 1,
      ts: '2026-12-06T12:00:05.000Z',
      operator: 'teleops',
      chat: null,
      origin: 'system',
      action: 'audit.writable',
      target: '',
      params: {},
      outcome: 'info',
      detail: `could not be written since ${T0} (${why}); nothing that needs an entry ran meanwhile`,
    });
    expect(h.alerts.map((a) => plainText(a.result))).toEqual([unwritableAlert(why), writableAlert]);
    // Nothing to resume any more: the probe leaves the state alone.
    vi.advanceTimersByTime(3 * PROBE_EVERY_MS);
    expect([h.reopens.length, h.audit.count()]).toEqual([1, 1]);
  });

  it('watching a log that can be written: no alert, and the probe touches nothing', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const h = harness();
    const w = new AuditWritable({ log: h.log, alerts: h.sink, dir: h.stateDir });
    w.watch(h.resume);
    cleanups.push(() => w.stop());
    vi.advanceTimersByTime(3 * PROBE_EVERY_MS);
    expect([h.alerts, h.logs, h.reopens, h.audit.count()]).toEqual([[], [], [], 0]);
  });

  it('stop ends the probe', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    const h = harness(undefined, 'full');
    const w = new AuditWritable({ log: h.log, alerts: h.sink, failing: 'full' });
    w.watch(h.resume);
    expect(vi.getTimerCount()).toBe(1);
    w.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(3 * PROBE_EVERY_MS);
    expect([h.reopens, h.audit.count(), w.failing]).toEqual([[], 0, 'full']);
  });

  const missing = tmpfsUnavailable();
  if (missing && process.env.CI === 'true') throw new Error(`these tests need a tmpfs under CI=true: ${missing}`);

  it.skipIf(missing !== undefined)(
    'on a full state directory: names it, and probes until a byte fits there before resuming',
    () => {
      const mountpoint = mkdtempSync('/tmp/taw-');
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountpoint]);
      cleanups.push(() => {
        execFileSync('umount', ['-l', mountpoint]);
        rmSync(mountpoint, { recursive: true, force: true });
      });
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
      vi.setSystemTime(new Date(T0));
      const h = harness(join(mountpoint, 'state'));
      const w = new AuditWritable({ log: h.log, alerts: h.sink, dir: h.stateDir });
      w.watch(h.resume);
      cleanups.push(() => w.stop());
      expect(w.attempt(() => h.audit.append(entry))).toBe(true);

      const filler = join(mountpoint, 'filler');
      const fd = openSync(filler, 'w');
      try {
        for (;;) writeSync(fd, Buffer.alloc(512, 1));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      expect(w.attempt(() => h.audit.append(entry))).toBe(false);
      // SQLite or the anchor says what failed; the filesystem says why, once.
      const why = w.failing!;
      expect(why).toMatch(new RegExp(`^[^\\n]+: ${h.stateDir} is full$`));
      // Told again in the words of the directory itself: not repeated.
      expect(
        w.attempt(() => {
          throw new Error(`${h.stateDir} is full`);
        }),
      ).toBe(false);
      expect(w.failing).toBe(`${h.stateDir} is full`);

      vi.advanceTimersByTime(2 * PROBE_EVERY_MS);
      expect(h.reopens).toEqual([]);
      unlinkSync(filler);
      vi.advanceTimersByTime(PROBE_EVERY_MS);
      expect(h.reopens).toHaveLength(1);
      expect(w.failing).toBeUndefined();
      expect(h.audit.recent(1)[0]!.detail).toBe(
        `could not be written since ${T0} (${h.stateDir} is full); nothing that needs an entry ran meanwhile`,
      );
      expect(h.alerts.map((a) => plainText(a.result))).toEqual([unwritableAlert(why), writableAlert]);
    },
  );
});
