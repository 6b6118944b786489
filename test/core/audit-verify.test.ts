import { createHash, createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AUDIT_OUTCOMES, AuditLog, canonicalJson, keyIdOf, type AuditEntryInput } from '../../src/core/audit.js';
import {
  verifyAudit,
  verifyAuditAsync,
  verifyOnHelpers,
  type Break,
  type VerifyOptions,
  type VerifyReport,
  type WitnessedHead,
} from '../../src/core/audit-verify.js';
import {
  checkRange,
  closeIdleHelpers,
  HELPER_MAX_ANON,
  HELPER_MAX_RANGES,
  type RangeAnswer,
  type RangeJob,
  type RangeSetup,
} from '../../src/core/audit-verify-worker.js';
import { openDb, openMemoryDb, type Db } from '../../src/store/db.js';
import { descriptorsOn } from '../support/descriptors.js';
import { childPids } from '../support/procs.js';

const GENESIS = '0'.repeat(64);
/** What an attacker without the key can compute. */
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

interface Fixture {
  dir: string;
  db: Db;
  anchorPath: string;
  hmacKey: string | undefined;
}

interface Row {
  seq: number;
  entry: string;
  prev_hash: string;
  hash: string;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A real database in a temp dir; call `done` (or let afterEach) to remove it. */
function makeLog(hmacKey: string | undefined, inputs: readonly AuditEntryInput[]): Fixture & { done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-audit-verify-'));
  const db = openDb(dir);
  const anchorPath = join(dir, 'audit.anchor');
  const log = new AuditLog(db, { anchorPath, ...(hmacKey ? { hmacKey } : {}) });
  for (const i of inputs) log.append(i);
  log.close();
  const done = cleanup(db, dir);
  return { dir, db, anchorPath, hmacKey, done };
}

/** Closes the log's database and removes its dir, once; also done after each test if forgotten. */
function cleanup(db: Db, dir: string): () => void {
  let open = true;
  const done = (): void => {
    if (!open) return;
    open = false;
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(done);
  return done;
}

const verify = (f: Fixture): VerifyReport =>
  verifyAudit(f.db, { anchorPath: f.anchorPath, ...(f.hmacKey ? { hmacKey: f.hmacKey } : {}) });

const verifyAsync = (f: Fixture): Promise<VerifyReport> =>
  verifyAuditAsync(f.db, { anchorPath: f.anchorPath, ...(f.hmacKey ? { hmacKey: f.hmacKey } : {}) });

/** A copy of a log in a temp dir of its own, to tamper with (committed) while the original stays intact. */
function copyLog(f: Fixture): Fixture & { done: () => void } {
  f.db.pragma('wal_checkpoint(TRUNCATE)');
  const dir = mkdtempSync(join(tmpdir(), 'teleops-audit-verify-'));
  cpSync(f.dir, dir, { recursive: true });
  const db = openDb(dir);
  const done = cleanup(db, dir);
  return { dir, db, anchorPath: join(dir, 'audit.anchor'), hmacKey: f.hmacKey, done };
}

const reopen = (f: Fixture): AuditLog =>
  new AuditLog(f.db, { anchorPath: f.anchorPath, ...(f.hmacKey ? { hmacKey: f.hmacKey } : {}) });

const input = (i: number): AuditEntryInput => ({
  operator: `tg:${1000 + i}`,
  chat: -1001,
  origin: 'command',
  action: 'docker.stop',
  target: 'docker',
  params: { container: `db-${i}`, note: 'ναι ✓' },
  outcome: i % 3 === 0 ? 'requested' : 'ok',
});
const inputs = (n: number): AuditEntryInput[] => Array.from({ length: n }, (_, i) => input(i + 1));

const rows = (db: Db): Row[] => db.prepare<[], Row>('SELECT seq, entry, prev_hash, hash FROM audit ORDER BY seq').all();
const rowAt = (db: Db, seq: number): Row => db.prepare<[number], Row>('SELECT * FROM audit WHERE seq = ?').get(seq)!;
const anchorLines = (f: Fixture): string[] => readFileSync(f.anchorPath, 'latin1').split('\n').slice(0, -1);
const writeAnchor = (f: Fixture, lines: readonly string[]): void =>
  writeFileSync(f.anchorPath, lines.map((l) => `${l}\n`).join(''));

// Tampering, the way someone with write access to the database file would do it.

const FIELDS = ['ts', 'operator', 'chat', 'origin', 'action', 'target', 'params', 'outcome', 'detail', 'seq'] as const;
type Field = (typeof FIELDS)[number];

function modifyField(db: Db, seq: number, field: Field): void {
  const e = JSON.parse(rowAt(db, seq).entry) as Record<string, unknown>;
  const v = e[field];
  // params may be any JSON (a huge float absorbs + 1000), so it is wrapped instead.
  e[field] =
    field === 'params'
      ? [v]
      : typeof v === 'string'
        ? `${v}x`
        : typeof v === 'number'
          ? v + 1000
          : field === 'chat'
            ? 7
            : 'x';
  db.prepare('UPDATE audit SET entry = ? WHERE seq = ?').run(canonicalJson(e), seq);
}

function shift(db: Db, from: number, by: 1 | -1): void {
  db.prepare('UPDATE audit SET seq = -seq WHERE seq >= ?').run(from);
  db.prepare('UPDATE audit SET seq = -seq + ? WHERE seq < 0').run(by);
}

function deleteRow(db: Db, seq: number, renumber: boolean): void {
  db.prepare('DELETE FROM audit WHERE seq = ?').run(seq);
  if (renumber) shift(db, seq + 1, -1);
}

/** A made-up entry with a valid plain SHA-256 link, the later rows moved up by one. */
function insertRow(db: Db, seq: number): void {
  const prev = seq === 1 ? GENESIS : rowAt(db, seq - 1).hash;
  const entry = canonicalJson({ ...input(999), seq, ts: '2001-01-01T00:00:00.000Z' });
  shift(db, seq, 1);
  db.prepare('INSERT INTO audit VALUES (?, ?, ?, ?)').run(seq, entry, prev, sha256(prev + entry));
}

function swapRows(db: Db, a: number, b: number): void {
  db.prepare('UPDATE audit SET seq = 0 WHERE seq = ?').run(a);
  db.prepare('UPDATE audit SET seq = ? WHERE seq = ?').run(a, b);
  db.prepare('UPDATE audit SET seq = ? WHERE seq = 0').run(b);
}

const truncateFrom = (db: Db, seq: number): void => void db.prepare('DELETE FROM audit WHERE seq >= ?').run(seq);

const setPrevHash = (db: Db, seq: number, prev: string): void =>
  void db.prepare('UPDATE audit SET prev_hash = ? WHERE seq = ?').run(prev, seq);

/** Moves the entry's first byte to the end of prev_hash: the bytes the hash covers stay the same. */
function shiftBoundary(db: Db, seq: number): void {
  const r = rowAt(db, seq);
  db.prepare('UPDATE audit SET prev_hash = ?, entry = ? WHERE seq = ?').run(
    r.prev_hash + r.entry[0],
    r.entry.slice(1),
    seq,
  );
}

/** A freshly computed chain without the key; returns the new rows. */
function replaceTable(db: Db, entries: readonly AuditEntryInput[]): Row[] {
  db.prepare('DELETE FROM audit').run();
  let prev = GENESIS;
  const out: Row[] = [];
  entries.forEach((e, i) => {
    const entry = canonicalJson({ ...e, seq: i + 1, ts: '2001-01-01T00:00:00.000Z' });
    const hash = sha256(prev + entry);
    db.prepare('INSERT INTO audit VALUES (?, ?, ?, ?)').run(i + 1, entry, prev, hash);
    out.push({ seq: i + 1, entry, prev_hash: prev, hash });
    prev = hash;
  });
  return out;
}

/** The name of the entry before `seq`, as a message says it. */
const before = (seq: number): string => (seq === 1 ? 'the start of the chain' : `entry ${seq - 1}`);

/**
 * `entries`: what the scan read as intact before it stopped, by default every entry before the
 * break; `why`: the rest of the one-line message, when given.
 */
function expectBreak(
  report: VerifyReport,
  kind: Break,
  firstBadSeq: number,
  { entries = firstBadSeq - 1, why }: { entries?: number; why?: string } = {},
): void {
  expect(report).toMatchObject({ ok: false, kind, firstBadSeq, entries });
  if (report.ok) return;
  expect(report.message).not.toMatch(/[\r\n]/);
  expect(report.message).toContain(`audit entry ${firstBadSeq}: ${kind}:`);
  if (why !== undefined) expect(report.message).toBe(`audit entry ${firstBadSeq}: ${kind}: ${why}`);
}

describe.each([
  ['SHA-256', undefined],
  ['HMAC-SHA-256', 'k3y-for-tests'],
])('verifyAudit, %s chain', (_mode, hmacKey) => {
  const keyed = hmacKey !== undefined;

  it('accepts an intact log, and an empty one with or without an anchor', () => {
    expect(verify(makeLog(hmacKey, inputs(10)))).toEqual({ ok: true, entries: 10, headSeq: 10 });
    const empty = makeLog(hmacKey, []);
    expect(verify(empty)).toEqual({ ok: true, entries: 0, headSeq: 0 });
    unlinkSync(empty.anchorPath);
    expect(verify(empty)).toEqual({ ok: true, entries: 0, headSeq: 0 });
  });

  it.each(FIELDS)('names a changed %s as modified', (field) => {
    const f = makeLog(hmacKey, inputs(10));
    modifyField(f.db, 5, field);
    expectBreak(verify(f), 'modified', 5, { why: 'its hash does not match its content' });
  });

  it('names a changed prev_hash or hash column, and a malformed row, as modified', () => {
    const f = makeLog(hmacKey, inputs(10));
    f.db.prepare(`UPDATE audit SET prev_hash = ? WHERE seq = 4`).run('f'.repeat(64));
    expectBreak(verify(f), 'modified', 4);
    const g = makeLog(hmacKey, inputs(10));
    g.db.prepare(`UPDATE audit SET hash = ? WHERE seq = 10`).run('e'.repeat(64));
    expectBreak(verify(g), 'modified', 10);
    const h = makeLog(hmacKey, inputs(10));
    h.db.prepare(`UPDATE audit SET hash = 'short' WHERE seq = 3`).run();
    expectBreak(verify(h), 'modified', 3, { why: 'the row is malformed' });
  });

  it('names a row with a NULL column as modified (a table recreated without constraints)', () => {
    const f = makeLog(hmacKey, inputs(10));
    f.db.exec(`ALTER TABLE audit RENAME TO old;
      CREATE TABLE audit (seq INTEGER PRIMARY KEY, entry TEXT, prev_hash TEXT, hash TEXT);
      INSERT INTO audit SELECT * FROM old; DROP TABLE old;
      UPDATE audit SET entry = NULL WHERE seq = 6;`);
    expectBreak(verify(f), 'modified', 6);
    f.db.exec(`UPDATE audit SET entry = NULL WHERE seq = 10`);
    expectBreak(verify(f), 'modified', 6);
  });

  it.each([
    [5, false],
    [5, true],
    [1, false],
    [1, true],
  ])('names row %i deleted (renumbered: %s) as deleted', (seq, renumber) => {
    const f = makeLog(hmacKey, inputs(10));
    deleteRow(f.db, seq, renumber);
    expectBreak(verify(f), 'deleted', seq, {
      why: renumber ? `the entry now numbered ${seq} was written as entry ${seq + 1}` : `the table has no entry ${seq}`,
    });
  });

  it.each([1, 5, 10])('names a row inserted at %i, with a valid SHA-256 link, as inserted', (seq) => {
    const f = makeLog(hmacKey, inputs(10));
    insertRow(f.db, seq);
    expectBreak(verify(f), 'inserted', seq, { why: `entry ${seq + 1} still links to ${before(seq)}` });
  });

  it('finds an insertion past the end of the anchor by its links', () => {
    const f = makeLog(hmacKey, inputs(10));
    writeAnchor(f, anchorLines(f).slice(0, 3));
    insertRow(f.db, 8);
    // Its SHA-256 link holds; unkeyed, so does its hash, and the scan stops at the row after it.
    expectBreak(verify(f), 'inserted', 8, { entries: keyed ? 7 : 8, why: 'entry 9 still links to entry 7' });
  });

  it('finds breaks by the links alone past the end of the anchor', () => {
    const cases: [(db: Db) => void, Break, number][] = [
      [(db) => swapRows(db, 5, 8), 'reordered', 5],
      [(db) => deleteRow(db, 6, true), 'deleted', 6],
      [(db) => modifyField(db, 7, 'ts'), 'modified', 7],
    ];
    for (const [edit, kind, seq] of cases) {
      const f = makeLog(hmacKey, inputs(10));
      writeAnchor(f, anchorLines(f).slice(0, 2));
      edit(f.db);
      expectBreak(verify(f), kind, seq);
    }
  });

  it.each([
    [4, 7],
    [5, 6],
    [1, 10],
    [9, 10],
  ])('names rows %i and %i swapped as reordered', (a, b) => {
    const f = makeLog(hmacKey, inputs(10));
    swapRows(f.db, a, b);
    // Row a now holds entry b, which links to entry b - 1: moved to b when that was entry a.
    const to = b - 1 === a ? b : b - 1;
    expectBreak(verify(f), 'reordered', a, { why: `it links to entry ${to}, not to ${before(a)}` });
  });

  it.each([8, 10, 1])('names the tail deleted from %i on as truncated', (seq) => {
    const f = makeLog(hmacKey, inputs(10));
    truncateFrom(f.db, seq);
    expectBreak(verify(f), 'truncated', seq, {
      why: `the anchor records entries after ${before(seq)}, where the table ends`,
    });
  });

  it.each([
    ['nothing', undefined],
    ['a line torn by a crash', 'a line torn by a crash, then completed'],
    ['a garbled line longer than the reader buffers', 'x'.repeat(100_000)],
  ])(
    'names a tail deleted and then written over by the log as truncated (between, in the anchor: %s)',
    (_what, junk) => {
      const f = makeLog(hmacKey, inputs(10));
      truncateFrom(f.db, 8);
      if (junk !== undefined) writeAnchor(f, [...anchorLines(f), junk]);
      const log = reopen(f);
      log.append(input(50));
      log.append(input(51));
      log.close();
      expectBreak(verify(f), 'truncated', 8, {
        why: 'the table was cut back to the previous entry and the log continued from there',
      });
    },
  );

  it('names a freshly computed chain without the key as replaced', () => {
    const f = makeLog(hmacKey, inputs(10));
    replaceTable(f.db, inputs(12));
    // Keyed, the rows themselves show it; unkeyed, only the anchor does.
    expectBreak(verify(f), 'replaced', 1, {
      why: keyed
        ? 'a chain computed without the key starts here'
        : 'the chain from here on is not the one the anchor recorded',
    });
    const g = makeLog(hmacKey, inputs(10));
    replaceTable(g.db, inputs(1));
    expectBreak(verify(g), 'replaced', 1);
  });

  it(
    keyed
      ? 'catches a single row re-hashed without the key as modified'
      : 'names a row re-hashed on its own as modified',
    () => {
      const f = makeLog(hmacKey, inputs(10));
      modifyField(f.db, 5, 'target');
      const r = rowAt(f.db, 5);
      f.db.prepare('UPDATE audit SET hash = ? WHERE seq = 5').run(sha256(r.prev_hash + r.entry));
      expectBreak(verify(f), 'modified', 5, {
        why: keyed ? 'its hash does not match its content' : 'its content and hash were rewritten',
      });
    },
  );

  it('names a link rewritten, its hash recomputed without the key, as modified', () => {
    const f = makeLog(hmacKey, inputs(10));
    const prev = sha256('elsewhere');
    f.db
      .prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = 5')
      .run(prev, sha256(prev + rowAt(f.db, 5).entry));
    expectBreak(verify(f), 'modified', 5, {
      why: keyed ? 'its hash does not match its content' : 'its link to entry 4 was rewritten',
    });
  });

  it('reads a seq of 15 digits: a line for another entry', () => {
    const f = makeLog(hmacKey, inputs(10));
    writeAnchor(
      f,
      anchorLines(f).map((x, i) => (i === 3 ? `${'1'.repeat(15)} ${x.split(' ')[1]}` : x)),
    );
    expectBreak(verify(f), 'anchor_missing', 4, { why: 'the anchor has no line for this entry' });
  });

  it('says why an anchor that exists cannot be read, instead of calling it missing', () => {
    const f = makeLog(hmacKey, inputs(3));
    unlinkSync(f.anchorPath);
    symlinkSync(f.anchorPath, f.anchorPath);
    expect(() => verify(f)).toThrow(`cannot read the audit anchor ${JSON.stringify(f.anchorPath)}: ELOOP`);
  });

  it('names a missing anchor file as anchor_missing', () => {
    const f = makeLog(hmacKey, inputs(3));
    unlinkSync(f.anchorPath);
    expectBreak(verify(f), 'anchor_missing', 1, {
      entries: 3,
      why: `the anchor file ${JSON.stringify(f.anchorPath)} is missing`,
    });
  });

  it('keeps a deleted anchor visible after the log recreates it', () => {
    const f = makeLog(hmacKey, inputs(3));
    unlinkSync(f.anchorPath);
    const log = reopen(f);
    log.append(input(4));
    log.close();
    expectBreak(verify(f), 'anchor_missing', 1);
  });

  it('names a line missing from the anchor as anchor_missing', () => {
    const f = makeLog(hmacKey, inputs(10));
    writeAnchor(
      f,
      anchorLines(f).filter((_, i) => i !== 5),
    );
    expectBreak(verify(f), 'anchor_missing', 6, { why: 'the anchor has no line for this entry' });
  });

  const notALine = 'the anchor line for this entry is not "<seq> <hash>"';
  it.each([
    ['garbage', (l: string[]) => l.map((x, i) => (i === 3 ? 'not an anchor line' : x)), notALine],
    [
      'a non-hex hash',
      (l: string[]) => l.map((x, i) => (i === 3 ? `4 ${'z'.repeat(64)}` : x)),
      'the anchor line for this entry has no valid hash',
    ],
    [
      'a wrong hash',
      (l: string[]) => l.map((x, i) => (i === 3 ? `4 ${'a'.repeat(64)}` : x)),
      'the anchor line for this entry disagrees with an intact chain',
    ],
    ['a leading zero', (l: string[]) => l.map((x, i) => (i === 3 ? `0${x}` : x)), notALine],
    [
      'a seq of 16 digits',
      (l: string[]) => l.map((x, i) => (i === 3 ? `${'1'.repeat(16)} ${x.split(' ')[1]}` : x)),
      notALine,
    ],
    ['a blank line', (l: string[]) => [...l.slice(0, 3), '', ...l.slice(3)], notALine],
    [
      'a line going back',
      (l: string[]) => [...l.slice(0, 3), l[1]!, ...l.slice(3)],
      'where this line should be, the anchor goes back to an earlier entry',
    ],
  ])('names an anchor with %s as anchor_corrupt', (_what, edit, why) => {
    const f = makeLog(hmacKey, inputs(10));
    writeAnchor(f, edit(anchorLines(f)));
    expectBreak(verify(f), 'anchor_corrupt', 4, { why });
  });

  it('names a torn or garbled last anchor line as anchor_corrupt', () => {
    const f = makeLog(hmacKey, inputs(5));
    const lines = anchorLines(f);
    writeFileSync(
      f.anchorPath,
      lines
        .slice(0, 4)
        .map((l) => `${l}\n`)
        .join('') + lines[4]!.slice(0, 20),
    );
    expectBreak(verify(f), 'anchor_corrupt', 5);
    writeAnchor(f, [...lines, 'junk']);
    expectBreak(verify(f), 'anchor_corrupt', 6);
  });

  it('names an anchor that goes back after the last entry as anchor_corrupt', () => {
    const f = makeLog(hmacKey, inputs(5));
    const lines = anchorLines(f);
    writeAnchor(f, [...lines, lines[2]!]);
    expectBreak(verify(f), 'anchor_corrupt', 6, {
      entries: 5,
      why: 'where this line should be, the anchor goes back to an earlier entry',
    });
  });

  it(`names a hash that matches no content but that the next row links to as ${keyed ? 'replaced' : 'modified'}`, () => {
    const f = makeLog(hmacKey, inputs(10));
    const forged = sha256('anything');
    f.db.prepare('UPDATE audit SET hash = ? WHERE seq = 5').run(forged);
    setPrevHash(f.db, 6, forged);
    // Keyed, a row the key does not hash, linked on and unlike the anchor, starts a forged chain.
    expectBreak(verify(f), keyed ? 'replaced' : 'modified', 5);
  });

  if (keyed) {
    it('names a chain recomputed under another key, the anchor left as it was, as replaced', () => {
      const f = makeLog(hmacKey, inputs(6));
      let prev = GENESIS;
      for (const r of rows(f.db)) {
        const hash = createHmac('sha256', 'not-the-key')
          .update(prev + r.entry, 'utf8')
          .digest('hex');
        f.db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r.seq);
        prev = hash;
      }
      expectBreak(verify(f), 'replaced', 1);
    });

    it('trusts keyed rows over a wrong last anchor line', () => {
      const f = makeLog(hmacKey, inputs(5));
      writeAnchor(f, [...anchorLines(f).slice(0, 4), `5 ${'b'.repeat(64)}`]);
      expectBreak(verify(f), 'anchor_corrupt', 5);
    });

    it('does not verify a keyed chain without the key', () => {
      const f = makeLog(hmacKey, inputs(3));
      expect(verifyAudit(f.db, { anchorPath: f.anchorPath }).ok).toBe(false);
    });
  }

  it('tolerates an anchor behind the table (a crash between commit and anchor line)', () => {
    const f = makeLog(hmacKey, inputs(10));
    writeAnchor(f, anchorLines(f).slice(0, 9));
    expect(verify(f)).toEqual({ ok: true, entries: 10, headSeq: 10 });
    const one = makeLog(hmacKey, inputs(1));
    writeAnchor(one, []);
    expect(verify(one)).toEqual({ ok: true, entries: 1, headSeq: 1 });
    const log = reopen(f);
    expect(anchorLines(f)).toHaveLength(10);
    log.append(input(11));
    log.close();
    expect(verify(f)).toEqual({ ok: true, entries: 11, headSeq: 11 });
  });

  it('verifies through a read-only connection, as the CLI opens it', () => {
    const f = makeLog(hmacKey, inputs(5));
    const ro = openDb(f.dir, { readonly: true });
    try {
      const opts = { anchorPath: f.anchorPath, ...(hmacKey ? { hmacKey } : {}) };
      expect(verifyAudit(ro, opts)).toEqual({ ok: true, entries: 5, headSeq: 5 });
      swapRows(f.db, 2, 3);
      expectBreak(verifyAudit(ro, opts), 'reordered', 2);
    } finally {
      ro.close();
    }
  });

  it('names bytes moved between prev_hash and entry, which the hash cannot see, as modified', async () => {
    const f = makeLog(hmacKey, inputs(10));
    shiftBoundary(f.db, 4);
    expectBreak(verify(f), 'modified', 4);
    expectBreak(await verifyAsync(f), 'modified', 4);
  });

  if (!keyed) {
    it('names an unanchored row forged to hash right when read as 64 + entry + 64 bytes as modified', async () => {
      const f = makeLog(hmacKey, inputs(5));
      writeAnchor(f, anchorLines(f).slice(0, 4));
      // Stored as prev_hash ‖ 'x', e ‖ c, h (65 chars): read with the entry's length, the row
      // looks like prev_hash, 'x' ‖ e, and c ‖ h minus its last two chars, which is the digest.
      const r = rowAt(f.db, 5);
      const digest = sha256(`${r.prev_hash}x${r.entry}`);
      f.db
        .prepare('UPDATE audit SET prev_hash = ?, entry = ?, hash = ? WHERE seq = 5')
        .run(`${r.prev_hash}x`, r.entry + digest[0]!, `${digest.slice(1)}yy`);
      expectBreak(verify(f), 'modified', 5);
      expectBreak(await verifyAsync(f), 'modified', 5);
    });
  }

  it('reads the chain and the anchor across chunk boundaries', () => {
    const n = 4600;
    const f = makeLog(hmacKey, inputs(n));
    expect(verify(f)).toEqual({ ok: true, entries: n, headSeq: n });
    const attempt = (tamper: () => void): VerifyReport => {
      f.db.exec('SAVEPOINT tamper');
      try {
        tamper();
        return verify(f);
      } finally {
        f.db.exec('ROLLBACK TO tamper; RELEASE tamper');
      }
    };
    for (const seq of [2048, 2049, 4096, 4097, n]) {
      expectBreak(
        attempt(() => modifyField(f.db, seq, 'operator')),
        'modified',
        seq,
      );
      expectBreak(
        attempt(() => swapRows(f.db, seq - 1, seq)),
        'reordered',
        seq - 1,
      );
      expectBreak(
        attempt(() => truncateFrom(f.db, seq)),
        'truncated',
        seq,
      );
    }
    for (const seq of [2048, 2049, 4097]) {
      expectBreak(
        attempt(() => deleteRow(f.db, seq, false)),
        'deleted',
        seq,
      );
      expectBreak(
        attempt(() => deleteRow(f.db, seq, true)),
        'deleted',
        seq,
      );
      expectBreak(
        attempt(() => insertRow(f.db, seq)),
        'inserted',
        seq,
      );
    }
    expect(verify(f)).toEqual({ ok: true, entries: n, headSeq: n });
  });
});

describe.each([
  ['SHA-256', undefined],
  ['HMAC-SHA-256', 'k3y-for-tests'],
])('verifyAuditAsync, %s chain', (_mode, hmacKey) => {
  it('gives the same verdicts as verifyAudit, across chunk boundaries', async () => {
    const n = 4600;
    const intact = makeLog(hmacKey, inputs(n));
    expect(await verifyAsync(intact)).toEqual({ ok: true, entries: n, headSeq: n });
    const cases: [string, (db: Db) => void, Break, number][] = [
      ...[2048, 2049, n].flatMap((seq): [string, (db: Db) => void, Break, number][] => [
        [`modified ${seq}`, (db) => modifyField(db, seq, 'operator'), 'modified', seq],
        [`swapped ${seq - 1}, ${seq}`, (db) => swapRows(db, seq - 1, seq), 'reordered', seq - 1],
        [`truncated at ${seq}`, (db) => truncateFrom(db, seq), 'truncated', seq],
      ]),
      ['deleted 2049', (db) => deleteRow(db, 2049, false), 'deleted', 2049],
      ['deleted 2049, renumbered', (db) => deleteRow(db, 2049, true), 'deleted', 2049],
      ['inserted at 2049', (db) => insertRow(db, 2049), 'inserted', 2049],
      // prev_hash alone: the first row, the first of a chunk, and a link to an older entry.
      ['prev_hash 1', (db) => setPrevHash(db, 1, 'f'.repeat(64)), 'modified', 1],
      ['prev_hash 2049', (db) => setPrevHash(db, 2049, 'f'.repeat(64)), 'modified', 2049],
      ['prev_hash 3000', (db) => setPrevHash(db, 3000, rowAt(db, 2998).hash), 'modified', 3000],
      ['prev_hash ‖ entry boundary 2049', (db) => shiftBoundary(db, 2049), 'modified', 2049],
    ];
    for (const [what, edit, kind, seq] of cases) {
      const f = copyLog(intact);
      edit(f.db);
      const report = await verifyAsync(f);
      expect(report, what).toEqual(verify(f));
      expectBreak(report, kind, seq);
      f.done();
    }
  });
});

describe('verifyAuditAsync', () => {
  /** A valid log of n entries inserted directly (much faster than n appends), with its anchor. */
  function bulkLog(n: number): Fixture & { done: () => void } {
    const f = makeLog(undefined, []);
    const insert = f.db.prepare('INSERT INTO audit VALUES (?, ?, ?, ?)');
    const lines: string[] = [];
    f.db.transaction(() => {
      let prev = GENESIS;
      for (let seq = 1; seq <= n; seq++) {
        const entry = canonicalJson({ ...input(seq), seq, ts: '2001-01-01T00:00:00.000Z' });
        const hash = sha256(prev + entry);
        insert.run(seq, entry, prev, hash);
        lines.push(`${seq} ${hash}`);
        prev = hash;
      }
    })();
    writeAnchor(f, lines);
    return f;
  }

  it("the helpers' pass alone says intact for every intact log: anchor lengths, ranges, a line behind, every key change", async () => {
    const agree = async (f: Fixture, opts: VerifyOptions): Promise<void> => {
      const one = verifyAudit(f.db, opts);
      expect(one.ok || ('unverifiable' in one && one.unverifiable)).toBe(true);
      expect(await verifyOnHelpers(f.db.name, opts)).toEqual(one);
    };
    // The anchor's lines change width at 10 and 100 entries; 9,000 entries make three ranges, and
    // of 16,667 entries' five ranges the fourth starts at entry 10,001 (where lines widen).
    for (const n of [0, 1, 9, 10, 11, 99, 100, 101, 9_000, 16_667]) {
      const f = bulkLog(n);
      await agree(f, { anchorPath: f.anchorPath });
      if (n > 0) {
        // A crash between a commit and its anchor line leaves the anchor one line behind.
        writeAnchor(f, anchorLines(f).slice(0, -1));
        await agree(f, { anchorPath: f.anchorPath });
      }
      f.done();
    }
    // Unkeyed, then adopted (no proof), then rotated twice (each proven by the key before).
    const f = makeLog(undefined, inputs(3));
    const [k1, k2, k3] = ['key-one-0123456789', 'key-two-0123456789', 'key-three-012345678'];
    const under = (hmacKey: string, previousKeys: string[], n: number): void => {
      const log = new AuditLog(f.db, { anchorPath: f.anchorPath, hmacKey, previousKeys });
      for (const i of inputs(n)) log.append(i);
      log.close();
    };
    under(k1, [], 3);
    under(k2, [k1], 3);
    under(k3, [k2], 2);
    await agree(f, { anchorPath: f.anchorPath, hmacKey: k3, previousKeys: [k1, k2] });
    // Without the old keys: unverifiable, naming both in the order the chain used them.
    await agree(f, { anchorPath: f.anchorPath, hmacKey: k3 });
    expect(verifyAudit(f.db, { anchorPath: f.anchorPath, hmacKey: k3 })).toMatchObject({
      missingKeyIds: [keyIdOf(k1), keyIdOf(k2)],
    });
    await agree(f, { anchorPath: f.anchorPath, hmacKey: k3, previousKeys: [k2] });
  });

  /** verifyAuditAsync, counting the event loop's turns meanwhile. */
  async function verifyCountingTurns(f: Fixture): Promise<{ report: VerifyReport; turns: number }> {
    let turns = 0;
    let spinning = true;
    const spin = (): void => {
      turns++;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const report = await verifyAsync(f);
    spinning = false;
    return { report, turns };
  }

  it('lets the event loop run between chunks, and finds a break in any of them', async () => {
    const n = 20_000;
    const f = bulkLog(n);
    const { report, turns } = await verifyCountingTurns(f);
    expect(report).toEqual({ ok: true, entries: n, headSeq: n });
    // Ten chunks, and a turn after each (a synchronous verification would allow none).
    expect(turns).toBeGreaterThanOrEqual(10);
    for (const seq of [3, 9000, 19_999]) {
      const g = copyLog(f);
      modifyField(g.db, seq, 'target');
      expectBreak(await verifyAsync(g), 'modified', seq);
      g.done();
    }
  });

  it('keeps the event loop turning on the one-thread pass too (the one that names a break)', async () => {
    const n = 20_000;
    const f = bulkLog(n);
    // Without its INTEGER PRIMARY KEY the helpers' pass declines at once: all of the
    // verification is the one-thread pass.
    f.db.exec(`ALTER TABLE audit RENAME TO old;
      CREATE TABLE audit (seq INTEGER, entry TEXT, prev_hash TEXT, hash TEXT);
      INSERT INTO audit SELECT seq, entry, prev_hash, hash FROM old ORDER BY seq;
      DROP TABLE old;`);
    const { report, turns } = await verifyCountingTurns(f);
    expect(report).toEqual({ ok: true, entries: n, headSeq: n });
    expect(turns).toBeGreaterThanOrEqual(9);
  });

  it('reads one snapshot while the log keeps growing', async () => {
    const n = 20_000;
    const f = bulkLog(n);
    const log = reopen(f);
    let appended = 0;
    let appending = true;
    const append = (): void => {
      if (!appending) return;
      log.append(input(appended++));
      setImmediate(append);
    };
    setImmediate(append);
    const report = await verifyAsync(f);
    appending = false;
    log.close();
    expect(report).toMatchObject({ ok: true });
    expect(report.entries).toBeGreaterThanOrEqual(n);
    expect(appended).toBeGreaterThan(0);
    expect(await verifyAsync(f)).toEqual({ ok: true, entries: n + appended, headSeq: n + appended });
  });

  it('does not take the row order of a table recreated without its INTEGER PRIMARY KEY on trust', async () => {
    const f = makeLog(undefined, inputs(10));
    // Stored in chain order, but with the seqs of entries 5 and 6 swapped.
    f.db.exec(`ALTER TABLE audit RENAME TO old;
      CREATE TABLE audit (seq INTEGER, entry TEXT, prev_hash TEXT, hash TEXT);
      INSERT INTO audit SELECT CASE seq WHEN 5 THEN 6 WHEN 6 THEN 5 ELSE seq END, entry, prev_hash, hash FROM old ORDER BY seq;
      DROP TABLE old;`);
    expectBreak(verify(f), 'reordered', 5);
    expect(await verifyAsync(f)).toEqual(verify(f));
  });

  it('reads a database file moved into the place of the one a kept helper read before', async () => {
    const f = makeLog(undefined, inputs(10));
    expect(await verifyAsync(f)).toEqual({ ok: true, entries: 10, headSeq: 10 });
    const g = copyLog(f);
    modifyField(g.db, 4, 'operator');
    g.db.pragma('wal_checkpoint(TRUNCATE)');
    renameSync(g.db.name, f.db.name);
    expectBreak(await verifyAsync(f), 'modified', 4);
  });

  it('verifies an in-memory database on one thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teleops-audit-verify-'));
    const db = openMemoryDb();
    cleanups.push(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const anchorPath = join(dir, 'audit.anchor');
    const log = new AuditLog(db, { anchorPath });
    for (const i of inputs(3)) log.append(i);
    log.close();
    expect(await verifyAuditAsync(db, { anchorPath })).toEqual({ ok: true, entries: 3, headSeq: 3 });
    db.prepare('UPDATE audit SET hash = ? WHERE seq = 2').run('e'.repeat(64));
    expectBreak(await verifyAuditAsync(db, { anchorPath }), 'modified', 2);
  });
});

describe('verifyAudit against witnessed heads', () => {
  const withHeads = (f: Fixture, heads: WitnessedHead[]): VerifyOptions => ({ anchorPath: f.anchorPath, heads });

  it('names a tail cut back with its anchor as truncated, and a head whose hash changed as replaced', async () => {
    const f = makeLog(undefined, inputs(6));
    const [h3, h6] = [rowAt(f.db, 3).hash, rowAt(f.db, 6).hash];
    const seen = [
      { seq: 6, hash: h6, by: 'the syslog witness' },
      { seq: 3, hash: h3, by: 'the webhook witness' },
    ];
    for (const check of [verifyAudit, verifyAuditAsync]) {
      expect(await check(f.db, withHeads(f, seen))).toEqual({ ok: true, entries: 6, headSeq: 6 });
    }
    // Table and anchor cut back together: only a witness of the lost end can tell.
    truncateFrom(f.db, 5);
    writeAnchor(f, anchorLines(f).slice(0, 4));
    expect(verify(f)).toEqual({ ok: true, entries: 4, headSeq: 4 });
    const truncated = {
      ok: false,
      entries: 4,
      firstBadSeq: 5,
      kind: 'truncated',
      message: 'audit entry 5: truncated: the syslog witness saw entry 6, the table ends at entry 4',
    };
    // A head whose entry is still there with another hash; reported first, being the lower seq.
    const replaced = {
      ok: false,
      entries: 2,
      firstBadSeq: 3,
      kind: 'replaced',
      message: 'audit entry 3: replaced: its hash is not the one the webhook witness saw',
    };
    const forged = [seen[0]!, { ...seen[1]!, hash: 'f'.repeat(64) }];
    for (const check of [verifyAudit, verifyAuditAsync]) {
      expect(await check(f.db, withHeads(f, seen))).toEqual(truncated);
      expect(await check(f.db, withHeads(f, forged))).toEqual(replaced);
    }
    truncateFrom(f.db, 1);
    writeAnchor(f, []);
    expect(verifyAudit(f.db, withHeads(f, seen))).toMatchObject({
      firstBadSeq: 1,
      message: 'audit entry 1: truncated: the webhook witness saw entry 3, the table ends at the start of the chain',
    });
  });
});

describe('descriptors', () => {
  it('leaves no descriptor open on the anchor after a verification, intact or not, on one thread or in helpers', async () => {
    const f = makeLog(undefined, inputs(5));
    expect(verify(f)).toMatchObject({ ok: true });
    expect(await verifyAsync(f)).toMatchObject({ ok: true });
    setPrevHash(f.db, 3, 'e'.repeat(64));
    expect(verify(f)).toMatchObject({ ok: false });
    // Broken: the helpers' answer is no, and the one-thread pass names the break.
    expect(await verifyAsync(f)).toMatchObject({ ok: false, firstBadSeq: 3 });
    expect(descriptorsOn(f.anchorPath)).toBe(0);
  });
});

describe('checkRange', () => {
  afterEach(closeIdleHelpers);

  const setupOf = (f: Fixture): RangeSetup => ({
    file: f.db.name,
    keys: f.hmacKey ? [[keyIdOf(f.hmacKey), f.hmacKey]] : [],
    legacy: { key: undefined, missing: null },
  });
  /** Rows (from, to], with the anchor's lines for as many of them as it has. */
  const jobOf = (f: Fixture, from: number, to: number): RangeJob => {
    const lines = anchorLines(f);
    const anchorAt = Buffer.byteLength(
      lines
        .slice(0, from)
        .map((l) => `${l}\n`)
        .join(''),
    );
    return { from, to, anchorPath: f.anchorPath, anchorAt, anchored: Math.max(0, Math.min(to, lines.length) - from) };
  };

  it.each([
    ['SHA-256', undefined],
    ['HMAC-SHA-256', 'k3y-for-tests'],
    // The helper makes HMAC from two digests: a key of one block is used as it is, a longer one hashed first.
    ['HMAC-SHA-256 (a key of one block)', 'b'.repeat(64)],
    ['HMAC-SHA-256 (a key of 80 UTF-8 bytes)', 'ключ'.repeat(10)],
  ])('answers whether a range of the %s chain holds, with what joins it to the next', async (_mode, hmacKey) => {
    const f = makeLog(hmacKey, inputs(30));
    const all = rows(f.db);
    const [a, b] = await Promise.all([0, 10].map((from) => checkRange(setupOf(f), jobOf(f, from, from ? 30 : 10))));
    const keyId = hmacKey ? keyIdOf(hmacKey) : null;
    expect(a!).toMatchObject({ ok: true, firstPrev: GENESIS, lastHash: all[9]!.hash, missing: [] });
    expect(b!).toMatchObject({ ok: true, firstPrev: all[9]!.hash, lastHash: all[29]!.hash, missing: [] });
    // The first row of a range, where the caller judges the key.
    const first = { seq: 11, id: keyId, prev: all[9]!.hash, entry: hmacKey ? all[10]!.entry : null };
    expect(b!.ok && b!.changes).toEqual([first]);
    f.db.prepare('UPDATE audit SET entry = ? WHERE seq = 17').run(all[16]!.entry.replace('db-17', 'db-71'));
    expect(await checkRange(setupOf(f), jobOf(f, 10, 30))).toEqual({ ok: false });
    expect(await checkRange(setupOf(f), jobOf(f, 0, 10))).toMatchObject({ ok: true });
  });

  it('answers no for a malformed row, a broken link, a wrong anchor line or a missing row', async () => {
    const f = makeLog(undefined, inputs(12));
    const lines = anchorLines(f);
    const no = async (tamper: (g: Fixture) => void): Promise<void> => {
      const g = copyLog(f);
      tamper(g);
      expect(await checkRange(setupOf(g), jobOf(g, 0, 12))).toEqual({ ok: false });
      g.done();
    };
    await no((g) => shiftBoundary(g.db, 5));
    await no((g) => setPrevHash(g.db, 8, 'f'.repeat(64)));
    await no((g) => g.db.prepare('DELETE FROM audit WHERE seq = 12').run());
    await no((g) => g.db.prepare("UPDATE audit SET entry = entry || char(10) || 'x' WHERE seq = 3").run());
    const flip = (l: string): string => l.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    await no((g) =>
      writeAnchor(
        g,
        lines.map((l, i) => (i === 6 ? flip(l) : l)),
      ),
    );
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
  });

  /** Verify's helper processes: the children of this process started with verify's source (`node -e …`). */
  const helpers = (): number[] =>
    childPids(process.pid).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes('-e');
      } catch {
        return false;
      }
    });

  it("runs in a helper process that has nothing of this one's environment, and ends when told to", async () => {
    const token = '123456:secret-token-of-the-parent';
    process.env.TELEOPS_TEST_TOKEN = token;
    cleanups.push(() => delete process.env.TELEOPS_TEST_TOKEN);
    await closeIdleHelpers();
    const f = makeLog('k3y-for-tests', inputs(12));
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
    const [pid, ...more] = helpers();
    expect(more).toEqual([]);
    // Not the token, nor NODE_OPTIONS, nor the HMAC key (that goes over the IPC channel, never argv or env).
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
    // Only malloc's one arena, and what Node sets for the IPC channel itself.
    expect(env.map((v) => v.split('=')[0]).sort()).toEqual([
      'MALLOC_ARENA_MAX',
      'NODE_CHANNEL_FD',
      'NODE_CHANNEL_SERIALIZATION_MODE',
    ]);
    expect(env).toContain('MALLOC_ARENA_MAX=1');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'latin1')).not.toContain('k3y-for-tests');
    // Kept idle for the next range, then ended.
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
    expect(helpers()).toEqual([pid]);
    await closeIdleHelpers();
    expect(helpers()).toEqual([]);
  });

  it('answers no once seq is not the rowid (rows then need not come in seq order), also in a helper kept from before', async () => {
    await closeIdleHelpers();
    const f = makeLog(undefined, inputs(12));
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
    const [kept] = helpers();
    // The same rows, in seq order, in a table of the same name in the same file, searched by a scan.
    f.db
      .exec(`CREATE TABLE audit2 (seq INTEGER NOT NULL, entry TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
      INSERT INTO audit2 SELECT seq, entry, prev_hash, hash FROM audit ORDER BY seq;
      DROP TABLE audit;
      ALTER TABLE audit2 RENAME TO audit;`);
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toEqual({ ok: false });
    expect(helpers()).toEqual([kept]);
  });

  it('answers no when its helper dies mid-range, and starts another for the next range', async () => {
    await closeIdleHelpers();
    const f = makeLog(undefined, inputs(12));
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
    const [pid] = helpers();
    // Stopped, it holds the next range until it is killed: the answer cannot come first.
    process.kill(pid!, 'SIGSTOP');
    const pending = checkRange(setupOf(f), jobOf(f, 0, 12));
    process.kill(pid!, 'SIGKILL');
    expect(await pending).toEqual({ ok: false });
    expect(await checkRange(setupOf(f), jobOf(f, 0, 12))).toMatchObject({ ok: true });
    expect(helpers()).not.toContain(pid);
  });

  it('ends a helper whose own memory grew past the bound after its answer, instead of keeping it', async () => {
    // A keyed entry of 32 MB first in its range: the helper's answer carries it (the caller judges the
    // key there), so the helper holds it in its own memory when it measures that memory: past the bound.
    const big = { ...input(1), params: { note: 'x'.repeat(32 * 1024 * 1024) } };
    const f = makeLog('k3y-for-tests', [big, input(2)]);
    expect(32 * 1024 * 1024).toBeGreaterThan(HELPER_MAX_ANON);
    expect(await checkRange(setupOf(f), jobOf(f, 0, 2))).toMatchObject({ ok: true });
    // Well before the 5 s after which an idle helper ends anyway.
    await vi.waitFor(() => expect(helpers()).toEqual([]), { timeout: 2_500 });
    const g = makeLog(undefined, inputs(12));
    expect(await checkRange(setupOf(g), jobOf(g, 0, 12))).toMatchObject({ ok: true });
    expect(helpers()).toHaveLength(1);
  });

  it('ends a helper after its answer to its last allowed range, and starts a new one for the next', async () => {
    await closeIdleHelpers();
    const f = makeLog(undefined, inputs(4));
    expect(await checkRange(setupOf(f), jobOf(f, 0, 4))).toMatchObject({ ok: true });
    const [first] = helpers();
    for (let i = 1; i < HELPER_MAX_RANGES - 1; i++) await checkRange(setupOf(f), jobOf(f, 0, 4));
    expect(helpers()).toEqual([first]);
    expect(await checkRange(setupOf(f), jobOf(f, 0, 4))).toMatchObject({ ok: true });
    await vi.waitFor(() => expect(helpers()).toEqual([]), { timeout: 2_500 });
    expect(await checkRange(setupOf(f), jobOf(f, 0, 4))).toMatchObject({ ok: true });
    expect(helpers()).toHaveLength(1);
    expect(helpers()).not.toContain(first);
  });

  it('names the keys it lacks, with the first row under each, instead of hashing', async () => {
    const f = makeLog('k3y-for-tests', inputs(6));
    const answer = await checkRange({ ...setupOf(f), keys: [] }, jobOf(f, 2, 6));
    expect(answer).toMatchObject({ ok: true, missing: [[keyIdOf('k3y-for-tests'), 3]] });
  });

  // A helper reads 256 rows at a time: rows 256, 257 and 556, 557 sit on chunk boundaries of
  // the ranges (0, 300] and (300, 600].
  it('checks rows on both sides of its chunk boundaries and of a range boundary', async () => {
    const f = makeLog('k3y-for-tests', inputs(600));
    const ranges = async (g: Fixture): Promise<RangeAnswer[]> =>
      Promise.all([jobOf(g, 0, 300), jobOf(g, 300, 600)].map((j) => checkRange(setupOf(g), j)));
    const [a, b] = await ranges(f);
    expect(a).toMatchObject({ ok: true, firstPrev: GENESIS, lastHash: rowAt(f.db, 300).hash });
    expect(b).toMatchObject({ ok: true, firstPrev: rowAt(f.db, 300).hash, lastHash: rowAt(f.db, 600).hash });
    // Each edit is committed, read by the helpers through their own connections, then undone.
    const tampered = async (seq: number, edit: (db: Db) => void): Promise<RangeAnswer[]> => {
      const r = rowAt(f.db, seq);
      edit(f.db);
      try {
        return await ranges(f);
      } finally {
        f.db.prepare('INSERT OR REPLACE INTO audit VALUES (?, ?, ?, ?)').run(r.seq, r.entry, r.prev_hash, r.hash);
      }
    };
    for (const seq of [1, 256, 257, 300, 301, 556, 557, 600]) {
      const inRange = seq <= 300 ? 0 : 1;
      const edits: [string, (db: Db) => void][] = [
        ['entry', (db) => modifyField(db, seq, 'operator')],
        ['hash', (db) => void db.prepare('UPDATE audit SET hash = ? WHERE seq = ?').run('e'.repeat(64), seq)],
        ['prev_hash ‖ entry boundary', (db) => shiftBoundary(db, seq)],
        [
          'newline in the entry',
          (db) => void db.prepare('UPDATE audit SET entry = entry || char(10) WHERE seq = ?').run(seq),
        ],
        ['prev_hash', (db) => setPrevHash(db, seq, 'f'.repeat(64))],
      ];
      for (const [what, edit] of edits) {
        expect((await tampered(seq, edit))[inRange], `${what} ${seq}`).toEqual({ ok: false });
      }
    }
    // A missing row at either side of the range boundary.
    expect((await tampered(300, (db) => deleteRow(db, 300, false)))[0]).toEqual({ ok: false });
    expect((await tampered(301, (db) => deleteRow(db, 301, false)))[1]).toEqual({ ok: false });
    expect(await ranges(f)).toMatchObject([{ ok: true }, { ok: true }]);
  });

  it('answers for a range rehashed from a link of its own, which only the caller can see does not join', async () => {
    const f = makeLog(undefined, inputs(600));
    // Rows 301..600 chained anew from another prev_hash, and the anchor written to match.
    const lines = anchorLines(f).slice(0, 300);
    let prev = 'f'.repeat(64);
    for (const r of rows(f.db).slice(300)) {
      const hash = sha256(prev + r.entry);
      f.db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r.seq);
      lines.push(`${r.seq} ${hash}`);
      prev = hash;
    }
    writeAnchor(f, lines);
    const [a, b] = await Promise.all([jobOf(f, 0, 300), jobOf(f, 300, 600)].map((j) => checkRange(setupOf(f), j)));
    expect(a).toMatchObject({ ok: true, lastHash: rowAt(f.db, 300).hash });
    expect(b).toMatchObject({ ok: true, firstPrev: 'f'.repeat(64), lastHash: prev });
    const report = await verifyAsync(f);
    expect(report).toEqual(verify(f));
    expectBreak(report, 'modified', 301);
  });

  it.each([
    // As the rows read joined (prev_hash ‖ entry ‖ hash, a newline between rows), and as they would
    // if the hash and prev_hash of each row came before its entry instead.
    [
      'after its links',
      (r4: Row, r5: Row) => [r4.prev_hash, `${r4.entry}${r4.hash}\n${r5.prev_hash}${r5.entry}`, r5.hash],
    ],
    [
      'before its links',
      (r4: Row, r5: Row) => [r4.prev_hash, `${r4.entry}\n${r5.hash}${r5.prev_hash}${r5.entry}`, r4.hash],
    ],
  ])(
    'answers no for an entry set to NULL and its bytes hidden in the next row (%s), which reads back the same',
    async (_how, forge) => {
      const f = makeLog('k3y-for-tests', inputs(8));
      const [r4, r5] = [rowAt(f.db, 4), rowAt(f.db, 5)];
      f.db.exec(`ALTER TABLE audit RENAME TO old;
        CREATE TABLE audit (seq INTEGER PRIMARY KEY, entry TEXT, prev_hash TEXT, hash TEXT);
        INSERT INTO audit SELECT * FROM old; DROP TABLE old;`);
      f.db.prepare('UPDATE audit SET entry = NULL WHERE seq = 4').run();
      // Without the key: row 5 carries the bytes of both rows, and the links to read them back as they were.
      const [prev, entry, hash] = forge(r4, r5);
      f.db.prepare('UPDATE audit SET prev_hash = ?, entry = ?, hash = ? WHERE seq = 5').run(prev, entry, hash);
      expect(await checkRange(setupOf(f), jobOf(f, 0, 8))).toEqual({ ok: false });
      expectBreak(await verifyAsync(f), 'modified', 4);
    },
  );
});

describe('verifyAudit over random logs', () => {
  const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 10 }));
  const entry: fc.Arbitrary<AuditEntryInput> = fc.record({
    operator: text,
    chat: fc.option(fc.integer(), { nil: null }),
    origin: text,
    action: text,
    target: text,
    params: fc.jsonValue({ stringUnit: 'binary', maxDepth: 2 }),
    outcome: fc.constantFrom(...AUDIT_OUTCOMES),
    detail: fc.option(text, { nil: undefined }),
  });
  // size 'max': fast-check's default size would keep logs under about ten entries.
  const LONG = 10;
  const log = fc.array(entry, { minLength: 1, maxLength: 25, size: 'max' });
  const mode = fc.constantFrom(undefined, 'k3y');

  type Op =
    | { op: 'modify'; at: number; field: Field }
    | { op: 'delete'; at: number; renumber: boolean }
    | { op: 'insert'; at: number }
    | { op: 'swap'; a: number; b: number }
    | { op: 'truncate'; at: number }
    | { op: 'replace'; entries: AuditEntryInput[] };

  // Positions are fractions of the log's length, so one op fits any log.
  const pos = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  const at = (x: number, n: number): number => 1 + Math.floor(x * n);
  const op = (n: number): fc.Arbitrary<Op> =>
    fc.oneof(
      fc.record({
        op: fc.constant('modify' as const),
        at: pos.map((x) => at(x, n)),
        field: fc.constantFrom(...FIELDS),
      }),
      fc.record({ op: fc.constant('delete' as const), at: pos.map((x) => at(x, n)), renumber: fc.boolean() }),
      fc.record({ op: fc.constant('insert' as const), at: pos.map((x) => at(x, n)) }),
      fc.record({ op: fc.constant('truncate' as const), at: pos.map((x) => at(x, n)) }),
      fc.record({
        op: fc.constant('replace' as const),
        entries: fc.array(entry, { minLength: 1, maxLength: 30, size: 'max' }),
      }),
      ...(n >= 2
        ? [
            fc
              .tuple(pos, pos)
              .map(([x, y]) => [at(x, n), at(y, n)] as const)
              .filter(([a, b]) => a !== b)
              .map(([a, b]) => ({ op: 'swap' as const, a: Math.min(a, b), b: Math.max(a, b) })),
          ]
        : []),
    );

  /** Applies the op; returns the break verification must report. */
  function tamper(db: Db, n: number, o: Op): { kind: Break; firstBadSeq: number } {
    switch (o.op) {
      case 'modify':
        modifyField(db, o.at, o.field);
        return { kind: 'modified', firstBadSeq: o.at };
      case 'delete':
        deleteRow(db, o.at, o.renumber);
        return o.at === n ? { kind: 'truncated', firstBadSeq: n } : { kind: 'deleted', firstBadSeq: o.at };
      case 'insert':
        insertRow(db, o.at);
        return { kind: 'inserted', firstBadSeq: o.at };
      case 'swap':
        swapRows(db, o.a, o.b);
        return { kind: 'reordered', firstBadSeq: o.a };
      case 'truncate':
        truncateFrom(db, o.at);
        return { kind: 'truncated', firstBadSeq: o.at };
      case 'replace': {
        const old = rows(db);
        const fresh = replaceTable(db, o.entries);
        const differs = old.findIndex((r, i) => fresh[i]?.hash !== r.hash);
        // The fresh rows carry a timestamp the log never wrote, so they differ from the first.
        expect(differs).toBe(0);
        return { kind: 'replaced', firstBadSeq: 1 };
      }
    }
  }

  it('verifyAuditAsync agrees with verifyAudit on any log, untampered or tampered once', async () => {
    let longTampered = 0;
    await fc.assert(
      fc.asyncProperty(
        mode,
        log.chain((entries) => fc.tuple(fc.constant(entries), fc.option(op(entries.length), { nil: undefined }))),
        async (hmacKey, [entries, o]) => {
          const f = makeLog(hmacKey, entries);
          try {
            const expected = o && tamper(f.db, entries.length, o);
            if (expected && entries.length > LONG) longTampered++;
            const report = await verifyAsync(f);
            expect(report).toEqual(verify(f));
            if (expected) expectBreak(report, expected.kind, expected.firstBadSeq);
            else expect(report).toEqual({ ok: true, entries: entries.length, headSeq: entries.length });
          } finally {
            f.done();
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(longTampered).toBeGreaterThan(0);
  });

  it('accepts every untampered log', () => {
    let long = 0;
    fc.assert(
      fc.property(mode, log, (hmacKey, entries) => {
        if (entries.length > LONG) long++;
        const f = makeLog(hmacKey, entries);
        try {
          expect(verify(f)).toEqual({ ok: true, entries: entries.length, headSeq: entries.length });
        } finally {
          f.done();
        }
      }),
      { numRuns: 60 },
    );
    expect(long).toBeGreaterThan(0);
  });

  it('names the kind and the first bad entry of any single tampering', () => {
    const reached = new Map<Op['op'], number>();
    let long = 0;
    fc.assert(
      fc.property(
        mode,
        log.chain((entries) => fc.tuple(fc.constant(entries), op(entries.length))),
        (hmacKey, [entries, o]) => {
          const f = makeLog(hmacKey, entries);
          try {
            const expected = tamper(f.db, entries.length, o);
            reached.set(o.op, (reached.get(o.op) ?? 0) + 1);
            if (entries.length > LONG) long++;
            expectBreak(verify(f), expected.kind, expected.firstBadSeq);
          } finally {
            f.done();
          }
        },
      ),
      { numRuns: 200 },
    );
    expect([...reached.keys()].sort()).toEqual(['delete', 'insert', 'modify', 'replace', 'swap', 'truncate']);
    expect(long).toBeGreaterThan(20);
  });
});
