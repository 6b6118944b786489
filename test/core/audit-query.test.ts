import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { AUDIT_OUTCOMES, AuditLog, type AuditOutcome } from '../../src/core/audit.js';
import { AuditQuery, parseAuditFilter, type AuditFilter } from '../../src/core/audit-query.js';
import type { Outcome } from '../../src/core/dispatcher.js';
import type { Principal } from '../../src/core/policy.js';
import { plainText } from '../../src/core/result.js';
import { openDb } from '../../src/store/db.js';
import { shell as shellModule } from '../../src/targets/shell/module.js';
import { tempDir, testApp, type TestApp } from '../support/app.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Word =
  | { kind: 'count'; n: number }
  | { kind: 'person'; v: string }
  | { kind: 'handle'; v: string }
  | { kind: 'action'; v: string }
  | { kind: 'outcome'; v: AuditOutcome }
  | { kind: 'time'; v: string; ms: number }
  | { kind: 'target'; v: string };

const ident = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
const person = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 40 }).map((n) => `tg:${n}`),
  ident.map((l) => `console:${l}`),
);
const action = fc.oneof(
  fc.tuple(ident, ident).map(([a, b]) => `${a}.${b}`),
  ident.map((a) => `${a}.*`),
);
const time = fc
  .tuple(
    fc.integer({ min: 1, max: 999 }),
    fc.constantFrom(['s', 1000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]),
  )
  .map(([n, [u, ms]]) => ({ v: `${n}${u}`, ms: n * (ms as number) }));
const word: fc.Arbitrary<Word> = fc.oneof(
  person.map((v) => ({ kind: 'person' as const, v })),
  fc.stringMatching(/^@[A-Za-z0-9_]{1,20}$/).map((v) => ({ kind: 'handle' as const, v })),
  action.map((v) => ({ kind: 'action' as const, v })),
  fc.constantFrom(...AUDIT_OUTCOMES).map((v) => ({ kind: 'outcome' as const, v })),
);

describe('parseAuditFilter', () => {
  it('reads any mix of people, names, actions and outcomes, with one count, time and target', () => {
    let longest = 0;
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 60, size: 'max' }),
        fc.option(fc.integer({ min: 1, max: 100 })),
        fc.option(time),
        fc.option(fc.stringMatching(/^[^\s]{1,30}$/)),
        fc.nat(),
        (words, count, t, target, at) => {
          longest = Math.max(longest, words.length);
          const all: Word[] = [...words];
          const put = (w: Word) => all.splice(at % (all.length + 1), 0, w);
          if (count !== null) put({ kind: 'count', n: count });
          if (t !== null) put({ kind: 'time', ...t });
          if (target !== null) put({ kind: 'target', v: target });
          const line = all
            .map((w) => (w.kind === 'count' ? String(w.n) : w.kind === 'target' ? `target:${w.v}` : w.v))
            .join('  ');
          const f = parseAuditFilter(line) as AuditFilter;
          expect(typeof f, line).toBe('object');
          const of = (k: Word['kind']) => words.filter((w) => w.kind === k).map((w) => ('v' in w ? w.v : ''));
          expect(f.people).toEqual(of('person'));
          expect(f.handles).toEqual(of('handle').map((h) => h.toLowerCase()));
          expect(f.actions).toEqual(of('action'));
          expect(f.outcomes).toEqual(of('outcome'));
          expect(f.limit).toBe(count ?? undefined);
          expect(f.withinMs).toBe(t?.ms);
          expect(f.target).toBe(target ?? undefined);
        },
      ),
      { numRuns: 300 },
    );
    // fast-check 4 keeps arrays short unless told: the long lines were really tried.
    expect(longest).toBeGreaterThan(30);
  });

  it('answers anything else with one line, never a throw', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.string({ maxLength: 200, size: 'max', unit: 'binary' }), (s) => {
        const f = parseAuditFilter(s);
        if (typeof f === 'string') {
          refused++;
          expect(f).not.toMatch(/\n/);
          expect(f.length).toBeLessThan(300);
        }
      }),
      { numRuns: 500 },
    );
    expect(refused).toBeGreaterThan(100);
  });

  it('names what is wrong, with a suggestion for a misspelt outcome', () => {
    expect(parseAuditFilter('faled')).toMatch(/^not a filter: "faled"\. Did you mean failed\? Filters: /);
    expect(parseAuditFilter('5 6')).toBe('two counts (5 and 6): give at most one');
    expect(parseAuditFilter('0')).toBe('at most 100 entries at a time, at least 1 (not 0)');
    expect(parseAuditFilter('1h 2h')).toBe('two time filters: give at most one (e.g. 24h)');
    expect(parseAuditFilter('target:')).toBe('target: needs some text, e.g. target:web');
    expect(parseAuditFilter('FAILED Docker.Restart')).toEqual({
      people: [],
      handles: [],
      actions: ['docker.restart'],
      outcomes: ['failed'],
    });
  });
});

describe('AuditQuery', () => {
  it('finds by person, action family, outcome and time, newest first, within the limit', () => {
    const d = tempDir('teleops-audit-query-');
    const db = openDb(d.path);
    let now = Date.parse('2026-01-01T00:00:00Z');
    const log = new AuditLog(db, { anchorPath: join(d.path, 'anchor'), clock: () => new Date(now) });
    cleanups.push(() => {
      log.close();
      db.close();
      d.remove();
    });
    const add = (operator: string, action: string, outcome: AuditOutcome, target = '') =>
      log.append({ operator, chat: 1, origin: 'command', action, target, params: {}, outcome });
    add('tg:1', 'docker.restart', 'ok', 'api');
    now += 3 * 3_600_000;
    add('tg:2', 'docker.restart', 'failed', 'web');
    add('tg:1', 'docker.stop', 'ok', 'Web-2');
    add('tg:1', 'k8s.scale', 'failed', 'deployment shop/web');
    const q = new AuditQuery(db, log, (h) => (h === '@alice' ? ['tg:1'] : []));
    const find = (f: string, limit = 10) => {
      const r = q.find(parseAuditFilter(f) as AuditFilter, { limit, now });
      return typeof r === 'string' ? r : r.map((e) => `${e.seq} ${e.operator} ${e.action} ${e.outcome}`);
    };
    expect(find('tg:1')).toEqual(['4 tg:1 k8s.scale failed', '3 tg:1 docker.stop ok', '1 tg:1 docker.restart ok']);
    expect(find('@alice docker.*')).toEqual(['3 tg:1 docker.stop ok', '1 tg:1 docker.restart ok']);
    expect(find('failed')).toEqual(['4 tg:1 k8s.scale failed', '2 tg:2 docker.restart failed']);
    expect(find('docker.restart 1h')).toEqual(['2 tg:2 docker.restart failed']);
    expect(find('target:WEB')).toEqual([
      '4 tg:1 k8s.scale failed',
      '3 tg:1 docker.stop ok',
      '2 tg:2 docker.restart failed',
    ]);
    expect(find('tg:1 tg:2', 2)).toEqual(['4 tg:1 k8s.scale failed', '3 tg:1 docker.stop ok']);
    // A family is a prefix of whole words: docker.* is not dockerx.*.
    add('tg:1', 'dockerx.run', 'ok');
    expect(find('docker.*')).toHaveLength(3);
    expect(find('@bob')).toMatch(/^@bob is not known here yet/);
  });
});

const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@alice' };
const admin: Principal = { transport: 'tg', userId: 20, chatId: 20, chatKind: 'private', name: '@root' };
const text = (o: Outcome): string =>
  o.kind === 'done'
    ? plainText(o.result)
    : o.kind === 'refused'
      ? `! ${o.message}`
      : o.kind === 'failed'
        ? `! ${o.action} failed: ${o.message}`
        : o.kind;

describe('/audit with filters, through the dispatcher', () => {
  let t: TestApp;

  it('filters by @name, action and outcome; a bad filter is one line with the usage', async () => {
    t = await testApp();
    cleanups.push(() => t.close());
    const d = t.app.dispatcher;
    expect((await d.command(op, 'command', '/test destroy a')).kind).toBe('approval');
    await d.command(op, 'command', '/test touch b');
    await d.command(admin, 'command', '/test touch c');
    await d.command(op, 'command', '/test boom');

    const mine = text(await d.command(op, 'command', '/audit @alice test.touch'));
    expect(mine).toMatch(/^Last 2 audit entries matching @alice test\.touch \(newest first\)\n/);
    expect(mine).toContain('tg:10 command test.touch thing b → ok · {"name":"b"}');
    expect(mine).not.toContain('tg:20');
    expect(text(await d.command(op, 'command', '/audit failed'))).toMatch(/test\.boom → failed/);
    expect(text(await d.command(admin, 'command', '/audit tg:20 1h'))).toContain('tg:20 command test.touch thing c');
    expect(text(await d.command(op, 'command', '/audit tg:99'))).toBe('No audit entries match tg:99.');
    expect(text(await d.command(op, 'command', '/audit faled'))).toMatch(
      /^! Invalid input for audit\.recent: filter: not a filter: "faled"\. Did you mean failed\? .*Usage: \/audit \[n\]/,
    );
    expect(text(await d.command(op, 'command', '/audit @nobody'))).toMatch(
      /^! audit\.recent failed: @nobody is not known here yet/,
    );
    // The plain count still works, and the LLM may filter too.
    expect(text(await d.command(op, 'command', '/audit 3'))).toMatch(/^Last 3 audit entries \(newest first\)/);
    expect(text(await d.dispatch(op, 'ai', 'audit.recent', { filter: 'test.destroy' }))).toContain(
      'test.destroy thing a → approval_requested',
    );
  });

  it("an operator's target: filter finds nothing in admin-only entries (no oracle for a shell command)", async () => {
    t = await testApp({ SHELL_ENABLED: 'true' }, [shellModule]);
    cleanups.push(() => t.close());
    const d = t.app.dispatcher;
    expect((await d.dispatch(admin, 'command', 'shell.run', { command: 'echo s3cr3t-plan' })).kind).toBe('approval');
    expect(text(await d.command(op, 'command', '/audit target:s3cr3t'))).toBe('No audit entries match target:s3cr3t.');
    const byOp = text(await d.command(op, 'command', '/audit shell.run'));
    expect(byOp).toContain('shell.run [admin only] → approval_requested');
    expect(byOp).not.toContain('s3cr3t');
    expect(text(await d.command(admin, 'command', '/audit target:s3cr3t'))).toContain(
      'shell.run shell: echo s3cr3t-plan → approval_requested (approval',
    );
  });
});
