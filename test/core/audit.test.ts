import { createHash, createHmac } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ActionError } from '../../src/core/action.js';
import { AUDIT_OUTCOMES, AuditLog, canonicalJson, entryJson, type AuditEntryInput } from '../../src/core/audit.js';
import { verifyAudit } from '../../src/core/audit-verify.js';
import { openDb, type Db } from '../../src/store/db.js';
import { descriptorsOn } from '../support/descriptors.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-audit-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string, fsync = false): Db {
  const db = openDb(dir, { fsync });
  cleanups.push(() => db.close());
  return db;
}

function newLog(
  db: Db,
  anchorPath: string,
  opts: { hmacKey?: string; clock?: () => Date; unwritable?: string; shared?: boolean } = {},
): AuditLog {
  const log = new AuditLog(db, { anchorPath, ...opts });
  cleanups.push(() => log.close());
  return log;
}

const input = (i: number, extra: Partial<AuditEntryInput> = {}): AuditEntryInput => ({
  operator: `tg:${100 + i}`,
  chat: i % 2 === 0 ? null : -1000 - i,
  origin: 'command',
  action: 'docker.restart',
  target: 'docker',
  params: { container: `web-${i}`, note: 'ünïcødé ✓ 🚀' },
  outcome: 'ok',
  ...extra,
});

interface Row {
  seq: number;
  entry: string;
  prev_hash: string;
  hash: string;
}
const rows = (db: Db): Row[] => db.prepare<[], Row>('SELECT seq, entry, prev_hash, hash FROM audit ORDER BY seq').all();
const anchorLines = (path: string): string[] => readFileSync(path, 'latin1').split('\n').slice(0, -1);

describe('canonicalJson', () => {
  it('sorts keys by code unit at every depth and writes no whitespace', () => {
    const v = { b: 1, a: [{ z: true, '10': 'x', '9': null }], é: 'é', Z: { y: 2, x: 1 } };
    expect(canonicalJson(v)).toBe('{"Z":{"x":1,"y":2},"a":[{"10":"x","9":null,"z":true}],"b":1,"é":"é"}');
  });

  it('follows JSON.stringify for undefined, functions, non-finite numbers, toJSON and boxed values', () => {
    const v = {
      u: undefined,
      f: () => 1,
      arr: [undefined, NaN, Infinity, -0, () => 1],
      d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      s: Object('str') as unknown,
      n: Object(5) as unknown,
    };
    expect(canonicalJson(v)).toBe('{"arr":[null,null,null,0,null],"d":"2024-01-02T03:04:05.000Z","n":5,"s":"str"}');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({ s: Symbol('x'), a: [Symbol('y')] })).toBe(
      JSON.stringify({ s: Symbol('x'), a: [Symbol('y')] }),
    );
  });

  it('writes a bigint as its decimal string and refuses a cycle', () => {
    expect(canonicalJson({ n: 12345678901234567890n })).toBe('{"n":"12345678901234567890"}');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => canonicalJson(cyc)).toThrow(/circular/);
    const shared = { x: 1 };
    expect(canonicalJson([shared, shared])).toBe('[{"x":1},{"x":1}]');
  });

  const json = fc.jsonValue({ stringUnit: 'binary' });

  it('round-trips through JSON.parse to the same data', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('is a fixed point and does not depend on key insertion order', () => {
    const reversed = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(reversed);
      if (v === null || typeof v !== 'object') return v;
      return Object.fromEntries(
        Object.entries(v)
          .reverse()
          .map(([k, x]) => [k, reversed(x)]),
      );
    };
    fc.assert(
      fc.property(json, (v) => {
        const c = canonicalJson(v);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
        expect(canonicalJson(reversed(v))).toBe(c);
      }),
    );
  });

  it('produces well-formed text for any string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const c = canonicalJson({ s });
        expect(Buffer.from(c, 'utf8').toString('utf8')).toBe(c);
        expect(JSON.parse(c)).toEqual({ s });
      }),
    );
  });
});

describe('entryJson', () => {
  it('is canonicalJson of the entry, with and without a key id', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 16 }), fc.string({ unit: 'grapheme', maxLength: 16 }));
    const entry = fc.record({
      seq: fc.integer({ min: 1 }),
      ts: text,
      operator: text,
      chat: fc.option(fc.integer(), { nil: null }),
      origin: text,
      action: text,
      target: text,
      params: fc.oneof(fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }), fc.constant(undefined)),
      outcome: fc.constantFrom(...AUDIT_OUTCOMES),
      detail: fc.option(text, { nil: undefined }),
    });
    let keyed = 0;
    let withoutParams = 0;
    fc.assert(
      fc.property(entry, fc.option(fc.stringMatching(/^[0-9a-f]{16}$/), { nil: null }), (raw, keyId) => {
        const { detail, ...rest } = raw;
        const e = detail === undefined ? rest : { ...rest, detail };
        if (keyId !== null) keyed++;
        if (e.params === undefined) withoutParams++;
        expect(entryJson(keyId, e)).toBe(canonicalJson(keyId === null ? e : { _key: keyId, ...e }));
      }),
      { numRuns: 300 },
    );
    expect(keyed).toBeGreaterThan(0);
    expect(withoutParams).toBeGreaterThan(0);
  });
});

describe('AuditLog', () => {
  it('on a state that could not be written: no anchor, every entry refused with the reason, until reopen()', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    newLog(db, anchorPath).append(input(1));
    const before = readFileSync(anchorPath, 'latin1');
    const log = newLog(db, anchorPath, { unwritable: `${dir} is on a read-only filesystem` });
    expect(() => log.append(input(2))).toThrow(`${dir} is on a read-only filesystem`);
    expect(log.head()?.seq).toBe(1);
    expect(readFileSync(anchorPath, 'latin1')).toBe(before);
    log.reopen();
    expect(log.append(input(3)).seq).toBe(2);
    expect(anchorLines(anchorPath)).toHaveLength(2);
    expect(verifyAudit(db, { anchorPath }).ok).toBe(true);
  });

  it('chains SHA-256 over prev_hash ‖ canonical entry, starting from 64 zeros', () => {
    const dir = tempDir();
    const db = open(dir);
    let t = Date.UTC(2025, 4, 1);
    const log = newLog(db, join(dir, 'audit.anchor'), { clock: () => new Date((t += 1000)) });
    const a = log.append(input(1, { detail: 'took 2 s' }));
    const b = log.append(input(2, { outcome: 'failed' }));
    expect(a.seq).toBe(1);
    expect(b.seq).toBe(2);
    expect(a.ts).toBe('2025-05-01T00:00:01.000Z');
    const [r1, r2] = rows(db);
    expect(r1!.prev_hash).toBe('0'.repeat(64));
    expect(r1!.entry).toBe(
      '{"action":"docker.restart","chat":-1001,"detail":"took 2 s","operator":"tg:101","origin":"command","outcome":"ok",' +
        '"params":{"container":"web-1","note":"ünïcødé ✓ 🚀"},"seq":1,"target":"docker","ts":"2025-05-01T00:00:01.000Z"}',
    );
    expect(r1!.hash).toBe(
      createHash('sha256')
        .update(r1!.prev_hash + r1!.entry, 'utf8')
        .digest('hex'),
    );
    expect(r2!.prev_hash).toBe(r1!.hash);
    expect(JSON.parse(r2!.entry)).not.toHaveProperty('detail');
    expect(r2!.hash).toBe(
      createHash('sha256')
        .update(r2!.prev_hash + r2!.entry, 'utf8')
        .digest('hex'),
    );
    expect(log.head()).toEqual({ seq: 2, hash: r2!.hash });
    expect(log.count()).toBe(2);
  });

  it('uses HMAC-SHA-256 when a key is set', () => {
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'), { hmacKey: 's3cret' });
    log.append(input(1));
    log.append(input(2));
    for (const r of rows(db)) {
      expect(r.hash).toBe(
        createHmac('sha256', 's3cret')
          .update(r.prev_hash + r.entry, 'utf8')
          .digest('hex'),
      );
    }
  });

  it('appends "<seq> <hash>" to an anchor file it creates with mode 0600', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'nested', 'deeper', 'audit.anchor');
    const log = newLog(db, anchorPath);
    for (let i = 1; i <= 3; i++) log.append(input(i));
    expect(statSync(anchorPath).mode & 0o777).toBe(0o600);
    expect(anchorLines(anchorPath)).toEqual(rows(db).map((r) => `${r.seq} ${r.hash}`));
  });

  it('returns recent entries newest first, clamping n to 1..100', () => {
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'));
    const written = Array.from({ length: 120 }, (_, i) => log.append(input(i + 1)));
    expect(log.recent(3)).toEqual(written.slice(-3).reverse());
    expect(log.recent(0)).toHaveLength(1);
    expect(log.recent(-5)).toHaveLength(1);
    expect(log.recent(Number.NaN)).toHaveLength(1);
    expect(log.recent(2.9)).toHaveLength(2);
    expect(log.recent(1000)).toHaveLength(100);
    expect(log.recent(Infinity)[99]!.seq).toBe(21);
  });

  it('refuses an entry that could not be read back, and writes nothing', () => {
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'));
    expect(() => log.append(input(1, { outcome: 'bogus' as never }))).toThrow(/^audit entry field outcome: /);
    expect(() => log.append(input(1, { chat: Number.NaN }))).toThrow(/^audit entry field chat: /);
    expect(() => log.append(input(1, { detail: 5 as never }))).toThrow(/^audit entry field detail: /);
    expect(log.count()).toBe(0);
  });

  it('refuses to show a row that is not a well-formed entry', () => {
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'));
    log.append(input(1));
    const stored = rows(db)[0]!.entry;
    db.prepare(`UPDATE audit SET entry = '{"seq":1}'`).run();
    expect(() => log.recent(5)).toThrow(ActionError);
    expect(() => log.recent(5)).toThrow('audit entry 1 is unreadable; run /audit verify');
    // Well-formed JSON stored as a blob is no entry either: entries are text.
    db.prepare('UPDATE audit SET entry = ?').run(Buffer.from(stored));
    expect(() => log.recent(5)).toThrow('audit entry 1 is unreadable; run /audit verify');
  });

  it('continues the chain when reopened on an existing database', () => {
    const dir = tempDir();
    const anchorPath = join(dir, 'audit.anchor');
    const db = open(dir);
    const first = newLog(db, anchorPath);
    first.append(input(1));
    first.append(input(2));
    first.close();
    const second = newLog(db, anchorPath);
    const e = second.append(input(3));
    expect(e.seq).toBe(3);
    const r = rows(db);
    expect(r[2]!.prev_hash).toBe(r[1]!.hash);
    expect(anchorLines(anchorPath)).toHaveLength(3);
    expect(verifyAudit(db, { anchorPath })).toEqual({ ok: true, entries: 3, headSeq: 3 });
  });

  it('writes the missing anchor line on start after a crash between commit and anchor', () => {
    const dir = tempDir();
    const anchorPath = join(dir, 'audit.anchor');
    const db = open(dir);
    const log = newLog(db, anchorPath);
    for (let i = 1; i <= 3; i++) log.append(input(i));
    log.close();
    const lines = anchorLines(anchorPath);
    writeFileSync(
      anchorPath,
      lines
        .slice(0, 2)
        .map((l) => `${l}\n`)
        .join(''),
    );
    newLog(db, anchorPath).close();
    expect(anchorLines(anchorPath)).toEqual(lines);
    // A head row whose hash is not a hash is left for verification, not copied into the anchor.
    writeFileSync(
      anchorPath,
      lines
        .slice(0, 2)
        .map((l) => `${l}\n`)
        .join(''),
    );
    db.prepare('UPDATE audit SET hash = ? WHERE seq = 3').run(`x\n9 ${'a'.repeat(64)}`);
    newLog(db, anchorPath).close();
    expect(anchorLines(anchorPath)).toEqual(lines.slice(0, 2));
  });

  it("writes a group's missing anchor lines on start after a crash between its commit and its anchor write", () => {
    const dir = tempDir();
    const anchorPath = join(dir, 'audit.anchor');
    const db = open(dir, true);
    const log = newLog(db, anchorPath);
    log.appendAll([1, 2].map((i) => input(i)));
    log.append(input(3));
    log.appendAll([4, 5, 6].map((i) => input(i)));
    log.close();
    const lines = anchorLines(anchorPath);
    // The group 4–6 committed; the process died before its lines reached the anchor.
    writeFileSync(anchorPath, lines.slice(0, 3).join('\n') + '\n');
    newLog(db, anchorPath).close();
    expect(anchorLines(anchorPath)).toEqual(lines);
    expect(readFileSync(`${anchorPath}.group`, 'latin1')).toBe(`${lines.slice(3).join('\n')}\n\n`);
    expect(verifyAudit(db, { anchorPath })).toEqual({ ok: true, entries: 6, headSeq: 6 });
  });

  it('leaves a gap for rows no kept group vouches for: added behind its back, or differing from what was kept', () => {
    const dir = tempDir();
    const anchorPath = join(dir, 'audit.anchor');
    const db = open(dir);
    newLog(db, anchorPath).appendAll([1, 2, 3].map((i) => input(i)));
    // Three rows written by another writer with an anchor of its own: this anchor never saw them.
    newLog(db, join(dir, 'other.anchor')).appendAll([4, 5, 6].map((i) => input(i)));
    newLog(db, anchorPath).close();
    expect(anchorLines(anchorPath).map((l) => Number(l.split(' ')[0]))).toEqual([1, 2, 3, 6]);
    expect(verifyAudit(db, { anchorPath })).toMatchObject({ ok: false, kind: 'anchor_missing', firstBadSeq: 4 });
    // A group kept but cut from the anchor, whose rows were then rewritten: only the head goes in.
    const second = join(dir, 'second.anchor');
    const log = newLog(db, second);
    log.appendAll([7, 8].map((i) => input(i)));
    log.close();
    const lines = anchorLines(second);
    writeFileSync(second, lines.slice(0, -2).join('\n') + '\n');
    db.prepare('UPDATE audit SET hash = ? WHERE seq = 7').run('f'.repeat(64));
    newLog(db, second).close();
    expect(anchorLines(second)).toEqual([...lines.slice(0, -2), `8 ${rows(db)[7]!.hash}`]);
  });

  it('ends a torn last anchor line so later lines stay readable', () => {
    const dir = tempDir();
    const anchorPath = join(dir, 'audit.anchor');
    const db = open(dir);
    newLog(db, anchorPath).append(input(1));
    appendFileSync(anchorPath, '2 abc');
    newLog(db, anchorPath).append(input(2));
    expect(anchorLines(anchorPath).slice(1, 2)).toEqual(['2 abc']);
    expect(anchorLines(anchorPath)).toHaveLength(3);
    expect(verifyAudit(db, { anchorPath })).toMatchObject({ ok: false, kind: 'anchor_corrupt', firstBadSeq: 2 });
  });

  it('works with fsync on every commit', () => {
    const dir = tempDir();
    const db = open(dir, true);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath);
    for (let i = 1; i <= 5; i++) log.append(input(i));
    expect(verifyAudit(db, { anchorPath })).toEqual({ ok: true, entries: 5, headSeq: 5 });
  });

  it('appends a group in its order, chained and anchored like single entries, listeners after all are anchored', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath, { clock: () => new Date(Date.UTC(2025, 4, 1)) });
    const heard: [number, number][] = [];
    log.onAppend((e) => heard.push([e.seq, anchorLines(anchorPath).length]));
    log.append(input(0));
    const group = log.appendAll([1, 2, 3, 4].map((i) => input(i, { detail: `step ${i}` })));
    log.append(input(5));
    expect(group.map((e) => [e.seq, e.detail])).toEqual([1, 2, 3, 4].map((i) => [i + 1, `step ${i}`]));
    expect(log.appendAll([])).toEqual([]);
    const r = rows(db);
    expect(r.map((x) => x.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    r.slice(1).forEach((x, i) => expect(x.prev_hash).toBe(r[i]!.hash));
    expect(r.slice(1, 5).map((x) => JSON.parse(x.entry) as unknown)).toEqual(group);
    expect(anchorLines(anchorPath)).toEqual(r.map((x) => `${x.seq} ${x.hash}`));
    expect(heard).toEqual([
      [1, 1],
      [2, 5],
      [3, 5],
      [4, 5],
      [5, 5],
      [6, 6],
    ]);
    expect(verifyAudit(db, { anchorPath })).toEqual({ ok: true, entries: 6, headSeq: 6 });
  });

  it('writes a group in one commit: all of it or none, and no anchor line for what did not commit', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath);
    log.append(input(1));
    const frames = (): number => db.prepare<[], { log: number }>('PRAGMA wal_checkpoint(PASSIVE)').get()!.log;
    db.pragma('wal_checkpoint(TRUNCATE)');
    log.appendAll([2, 3, 4, 5, 6].map((i) => input(i)));
    // One commit of five small rows writes the pages it changed once: fewer frames than entries.
    expect(frames()).toBeLessThan(5);
    // A row the database refuses half-way takes the whole group back.
    db.exec("CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.seq = 9 BEGIN SELECT RAISE(ABORT, 'refused'); END");
    expect(() => log.appendAll([7, 8, 9, 10].map((i) => input(i)))).toThrow('refused');
    expect(log.head()?.seq).toBe(6);
    expect(anchorLines(anchorPath)).toHaveLength(6);
    // So does an entry that could not be read back, before anything is written.
    expect(() => log.appendAll([input(7), input(8, { outcome: 'bogus' as 'ok' })])).toThrow(
      'audit entry field outcome',
    );
    expect(log.head()?.seq).toBe(6);
    db.exec('DROP TRIGGER refuse');
    expect(log.appendAll([input(7)]).map((e) => e.seq)).toEqual([7]);
    expect(verifyAudit(db, { anchorPath })).toEqual({ ok: true, entries: 7, headSeq: 7 });
  });

  it("refuses to append inside a caller's transaction, which could roll back under the anchor", () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath);
    expect(() => db.transaction(() => log.append(input(1)))()).toThrow('must not run inside a transaction');
    expect(() => db.transaction(() => log.appendAll([input(1), input(2)]))()).toThrow(
      'must not run inside a transaction',
    );
    expect(log.count()).toBe(0);
    expect(readFileSync(anchorPath, 'latin1')).toBe('');
  });

  it('refuses to append once closed', () => {
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'));
    log.close();
    log.close();
    expect(() => log.append(input(1))).toThrow('the audit log is closed');
    expect(() => log.appendAll([])).toThrow('the audit log is closed');
    expect(log.count()).toBe(0);
    expect(log.head()).toBeNull();
  });

  it('replicas on one chain (shared): each anchor takes the lines of the others, in order, and keeps no group file', () => {
    const dir = tempDir();
    const db = open(dir);
    const [a, b] = [join(dir, 'a.anchor'), join(dir, 'b.anchor')];
    const first = newLog(db, a, { shared: true });
    first.appendAll([input(1), input(2)]);
    // The second starts two entries behind: it takes both lines, not only the head's.
    const second = newLog(db, b, { shared: true });
    second.appendAll([input(3), input(4)]);
    first.append(input(5));
    const all = rows(db).map((r) => `${r.seq} ${r.hash}`);
    expect(anchorLines(a)).toEqual(all);
    expect(anchorLines(b)).toEqual(all.slice(0, 4));
    expect(existsSync(`${a}.group`) || existsSync(`${b}.group`)).toBe(false);
    expect(verifyAudit(db, { anchorPath: a })).toEqual({ ok: true, entries: 5, headSeq: 5 });
  });

  it('keeps the lines of a group of entries only: a single entry leaves the group file as it was', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath);
    log.append(input(1));
    expect(existsSync(`${anchorPath}.group`)).toBe(false);
    log.appendAll([input(2), input(3)]);
    const kept = readFileSync(`${anchorPath}.group`, 'latin1');
    expect(kept).toBe(`${anchorLines(anchorPath).slice(1).join('\n')}\n\n`);
    log.append(input(4));
    expect(readFileSync(`${anchorPath}.group`, 'latin1')).toBe(kept);
  });

  it('holds one descriptor on its anchor and one on its group file; reopen() while open changes nothing; close() lets go', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    const log = newLog(db, anchorPath);
    log.appendAll([input(1), input(2)]);
    log.reopen();
    log.reopen();
    expect([descriptorsOn(anchorPath), descriptorsOn(`${anchorPath}.group`)]).toEqual([1, 1]);
    log.append(input(3));
    expect(anchorLines(anchorPath)).toEqual(rows(db).map((r) => `${r.seq} ${r.hash}`));
    log.close();
    expect([descriptorsOn(anchorPath), descriptorsOn(`${anchorPath}.group`)]).toEqual([0, 0]);
  });

  it('says which entries were written when their anchor lines could not be', () => {
    const dir = tempDir();
    const db = open(dir);
    // An anchor on a device that is always full (its group file beside the link, in the test's directory).
    const anchorPath = join(dir, 'audit.anchor');
    symlinkSync('/dev/full', anchorPath);
    const log = newLog(db, anchorPath);
    expect(() => log.append(input(1))).toThrow(/^audit entry 1 was written but its anchor line was not: ENOSPC/);
    expect(() => log.appendAll([input(2), input(3)])).toThrow(
      /^audit entries 2–3 were written but their anchor lines were not: ENOSPC/,
    );
    expect(log.count()).toBe(3);
  });

  it('leaves an anchor whose last line is no anchor line as it is, for verification to report', () => {
    const dir = tempDir();
    const db = open(dir);
    const anchorPath = join(dir, 'audit.anchor');
    newLog(db, anchorPath).appendAll([input(1), input(2)]);
    writeFileSync(anchorPath, `${anchorLines(anchorPath)[0]}\nnot an anchor line\n`);
    newLog(db, anchorPath).close();
    expect(readFileSync(anchorPath, 'latin1')).toBe(`${anchorLines(anchorPath)[0]}\nnot an anchor line\n`);
    expect(verifyAudit(db, { anchorPath })).toMatchObject({ ok: false, kind: 'anchor_corrupt', firstBadSeq: 2 });
  });

  it('stores any entry exactly as recent() reads it back', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 16 }), fc.string({ unit: 'grapheme', maxLength: 16 }));
    const entry = fc.record({
      operator: text,
      chat: fc.option(fc.integer(), { nil: null }),
      origin: text,
      action: text,
      target: text,
      params: fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }),
      outcome: fc.constantFrom(...AUDIT_OUTCOMES),
      detail: fc.option(text, { nil: undefined }),
    });
    const dir = tempDir();
    const db = open(dir);
    const log = newLog(db, join(dir, 'audit.anchor'));
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 5 }), (inputs) => {
        const written = inputs.map((i) => log.append(i));
        const back = log.recent(inputs.length).reverse();
        back.forEach((e, i) => {
          const { detail, ...rest } = inputs[i]!;
          // Strictly: an entry without a detail has no detail key at all, as written or read back.
          expect('detail' in written[i]!).toBe(detail !== undefined);
          expect(e).toStrictEqual({
            ...rest,
            ...(detail === undefined ? {} : { detail }),
            params: JSON.parse(canonicalJson(rest.params)),
            seq: written[i]!.seq,
            ts: written[i]!.ts,
          });
        });
      }),
      { numRuns: 60 },
    );
    expect(verifyAudit(db, { anchorPath: join(dir, 'audit.anchor') }).ok).toBe(true);
  });
});
