import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/core/alerts.js';
import { AuditLog, canonicalJson } from '../../src/core/audit.js';
import { AuditMonitor } from '../../src/core/audit-monitor.js';
import type { VerifyReport, WitnessedHead } from '../../src/core/audit-verify.js';
import { plainText } from '../../src/core/result.js';
import { openDb, type Db } from '../../src/store/db.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

interface Setup {
  db: Db;
  monitor: AuditMonitor;
  alerts: Alert[];
  logged: { level: number; msg: string; firstBadSeq?: number; kind?: string }[];
  heads: WitnessedHead[];
  clock: { now: number };
}

/** A real log of `n` entries in a temp dir, watched by a monitor whose alerts and log lines are kept. */
function setup(n: number, opts: { hmacKey?: string; verifyKey?: string; everyMs?: number } = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-audit-monitor-'));
  const db = openDb(dir);
  const anchorPath = join(dir, 'audit.anchor');
  const log = new AuditLog(db, { anchorPath, ...(opts.hmacKey ? { hmacKey: opts.hmacKey } : {}) });
  for (let i = 1; i <= n; i++)
    log.append({
      operator: 'tg:1',
      chat: 1,
      origin: 'command',
      action: 'docker.stop',
      target: 'docker',
      params: {},
      outcome: 'ok',
    });
  log.close();
  const alerts: Alert[] = [];
  const logged: Setup['logged'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged.push(JSON.parse(chunk.toString()) as Setup['logged'][number]);
      cb();
    },
  });
  const heads: WitnessedHead[] = [];
  const clock = { now: Date.UTC(2026, 11, 6, 9, 30, 15) };
  const monitor = new AuditMonitor({
    db,
    verify: { anchorPath, ...(opts.verifyKey ? { hmacKey: opts.verifyKey } : {}) },
    heads: () => heads,
    alerts: { raise: (a) => alerts.push(a) },
    log: pino({ level: 'info' }, sink),
    everyMs: opts.everyMs ?? 0,
    now: () => clock.now,
  });
  cleanups.push(() => {
    monitor.stop();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { db, monitor, alerts, logged, heads, clock };
}

function tamper(db: Db, seq: number): void {
  const row = db.prepare<[number], { entry: string }>('SELECT entry FROM audit WHERE seq = ?').get(seq)!;
  const e = JSON.parse(row.entry) as Record<string, unknown>;
  db.prepare('UPDATE audit SET entry = ? WHERE seq = ?').run(canonicalJson({ ...e, operator: 'tg:666' }), seq);
}

/** The report of a failed verification (the test fails if it passed). */
function failed(r: VerifyReport): Exclude<VerifyReport, { ok: true }> {
  if (r.ok) throw new Error('expected the verification to fail');
  return r;
}

describe('AuditMonitor', () => {
  it('says "not verified yet" until a verification has finished', () => {
    const s = setup(2);
    expect(s.monitor.lastVerification()).toBeUndefined();
    expect(s.monitor.health('2 entries')).toEqual({ state: 'up', detail: '2 entries; not verified yet' });
  });

  it('records an intact chain with its entry count and the time it finished, and raises nothing', async () => {
    const s = setup(3);
    const r = await s.monitor.verify();
    expect(r).toEqual({ ok: true, entries: 3, headSeq: 3 });
    expect(s.monitor.lastVerification()).toEqual({ status: 'intact', at: s.clock.now, entries: 3, message: 'intact' });
    expect(s.monitor.health('3 entries')).toEqual({
      state: 'up',
      detail: '3 entries; intact, 3 entries verified 2026-12-06 09:30:15 UTC',
    });
    expect(s.alerts).toEqual([]);
    expect(s.logged).toEqual([]);
  });

  it('says one entry in the singular', async () => {
    const s = setup(1);
    await s.monitor.verify();
    expect(s.monitor.health('s').detail).toBe('s; intact, 1 entry verified 2026-12-06 09:30:15 UTC');
  });

  it('reports a tampered row as down (yet working), logs it as an error and raises one alert naming the row', async () => {
    const s = setup(4);
    tamper(s.db, 3);
    const r = failed(await s.monitor.verify());
    expect(r).toMatchObject({ firstBadSeq: 3 });
    const kind = (r as { kind: string }).kind;
    const v = s.monitor.lastVerification()!;
    expect(v).toEqual({ status: 'broken', at: s.clock.now, entries: r.entries, message: r.message });
    expect(s.monitor.health('4 entries')).toEqual({
      state: 'down',
      detail: `BROKEN (verified 2026-12-06 09:30:15 UTC): ${r.message}`,
      stillWorks: true,
    });
    expect(s.logged).toEqual([expect.objectContaining({ level: 50, msg: r.message, firstBadSeq: 3, kind })]);
    expect(s.alerts).toHaveLength(1);
    const a = s.alerts[0]!;
    expect(a.source).toBe('audit');
    expect(a.key).toBe(`audit:broken:3:${kind}`);
    expect(plainText(a.result)).toBe(
      `🚨 Audit log broken at #3 (${kind}): ${r.message}\n` +
        'Investigate before trusting the log; /audit verify repeats the check.',
    );
  });

  it('checks the heads the witnesses took', async () => {
    const s = setup(3);
    s.heads.push({ seq: 2, hash: 'f'.repeat(64), by: 'syslog://x' });
    const r = failed(await s.monitor.verify());
    expect(r.message).toContain('syslog://x');
    expect(s.monitor.lastVerification()?.status).toBe('broken');
  });

  it('reports a keyed log it has no key for as unverifiable: up, no alert', async () => {
    const s = setup(2, { hmacKey: 'k'.repeat(32) });
    const r = failed(await s.monitor.verify());
    expect(r).toMatchObject({ unverifiable: true });
    expect(s.monitor.lastVerification()).toEqual({
      status: 'unverifiable',
      at: s.clock.now,
      entries: 2,
      message: r.message,
    });
    expect(s.monitor.health('2 entries')).toEqual({
      state: 'up',
      detail: `2 entries; ${r.message} (verified 2026-12-06 09:30:15 UTC)`,
    });
    expect(s.alerts).toEqual([]);
  });

  it('joins a verification in progress instead of starting a second, and starts a new one after', async () => {
    const s = setup(2);
    const a = s.monitor.verify();
    const b = s.monitor.verify();
    expect(b).toBe(a);
    await a;
    tamper(s.db, 1);
    const c = s.monitor.verify();
    expect(c).not.toBe(a);
    expect((await c).ok).toBe(false);
  });

  it('verifies at start and on its schedule when everyMs > 0, and not at all when 0', async () => {
    const idle = setup(1);
    idle.monitor.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(idle.monitor.lastVerification()).toBeUndefined();

    const s = setup(2, { everyMs: 40 });
    s.monitor.start();
    await expect.poll(() => s.monitor.lastVerification()?.status).toBe('intact');
    tamper(s.db, 2);
    await expect.poll(() => s.monitor.lastVerification()?.status).toBe('broken');
    s.monitor.stop();
  });

  it('logs a scheduled verification that fails, as a warning, and keeps running', async () => {
    const s = setup(1, { everyMs: 1000 });
    s.db.close();
    s.monitor.start();
    await expect.poll(() => s.logged.length).toBe(1);
    expect(s.logged[0]).toMatchObject({ level: 40, msg: 'scheduled audit verification failed' });
    expect(s.monitor.lastVerification()).toBeUndefined();
  });
});
