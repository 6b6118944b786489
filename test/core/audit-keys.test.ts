import { createHash, createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuditKeyError,
  AuditLog,
  canonicalJson,
  entryKeyId,
  GENESIS_HASH,
  keyIdOf,
  rekeyProof,
  type AuditEntryInput,
} from '../../src/core/audit.js';
import {
  hasKeyedEntry,
  verifyAudit,
  verifyAuditAsync,
  type VerifyOptions,
  type VerifyReport,
} from '../../src/core/audit-verify.js';
import { openDb, type Db } from '../../src/store/db.js';
import { runTeleops } from '../support/process.js';
import { tempDir } from '../support/app.js';

/*
 * Item 7 and 8b of issue 12: the chain records whether it is keyed and by which key; a key is
 * adopted or rotated through a linked rekey entry; an attacker with write access to the state
 * directory but no key cannot make a keyed log read as intact.
 */

const K1 = 'first-audit-key-0123456789';
const K2 = 'second-audit-key-9876543210';
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac =
  (k: string) =>
  (s: string): string =>
    createHmac('sha256', k).update(s, 'utf8').digest('hex');

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

interface State {
  dir: string;
  db: Db;
  anchorPath: string;
}

function state(): State {
  const d = tempDir('teleops-audit-keys-');
  const db = openDb(d.path);
  cleanups.push(() => {
    db.close();
    d.remove();
  });
  return { dir: d.path, db, anchorPath: join(d.path, 'audit.anchor') };
}

const input = (i: number): AuditEntryInput => ({
  operator: `tg:${i}`,
  chat: 1,
  origin: 'command',
  action: 'docker.stop',
  target: `db-${i}`,
  params: { i },
  outcome: 'ok',
});

function write(s: State, n: number, keys: { hmacKey?: string; previousKeys?: string[] } = {}): void {
  const log = new AuditLog(s.db, { anchorPath: s.anchorPath, ...keys });
  for (let i = 0; i < n; i++) log.append(input(i));
  log.close();
}

/** Rows as written before key ids: no `_key`, hashed with `key` (HMAC) or plain SHA-256; and their anchor. */
function writeLegacy(s: State, n: number, key?: string): void {
  let prev = GENESIS_HASH;
  const lines: string[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const entry = canonicalJson({ ...input(seq), seq, ts: '2026-01-01T00:00:00.000Z' });
    const hash = (key ? hmac(key) : sha256)(prev + entry);
    s.db.prepare('INSERT INTO audit (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)').run(seq, entry, prev, hash);
    lines.push(`${seq} ${hash}\n`);
    prev = hash;
  }
  writeFileSync(s.anchorPath, lines.join(''));
}

/** The params of a rekey entry at row `r` from K1 to K2, its proof made here with K1. */
const rotatedAt = (r: Row): object => ({
  from: keyIdOf(K1),
  to: keyIdOf(K2),
  proof: hmac(K1)(`teleops audit rekey ${r.prev_hash} ${keyIdOf(K2)}`),
});

const rows = (db: Db): Row[] => db.prepare<[], Row>('SELECT seq, entry, prev_hash, hash FROM audit ORDER BY seq').all();

/** As someone with write access to the database and the anchor file, but no key, would. */
function rechain(s: State, entries: readonly string[], from = 1): void {
  const all = rows(s.db);
  let prev = from === 1 ? GENESIS_HASH : all[from - 2]!.hash;
  s.db.prepare('DELETE FROM audit WHERE seq >= ?').run(from);
  const anchor = readFileSync(s.anchorPath, 'latin1')
    .split('\n')
    .filter((l) => l !== '' && Number(l.split(' ')[0]) < from);
  entries.forEach((entry, i) => {
    const hash = sha256(prev + entry);
    s.db
      .prepare('INSERT INTO audit (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)')
      .run(from + i, entry, prev, hash);
    anchor.push(`${from + i} ${hash}`);
    prev = hash;
  });
  writeFileSync(s.anchorPath, anchor.map((l) => `${l}\n`).join(''));
}

/** Appends `fields` as the next entry, hashed under `key` and anchored, as someone holding `key` could. */
function appendUnder(s: State, key: string, fields: object): void {
  const all = rows(s.db);
  const seq = all.length + 1;
  const prev = all.at(-1)!.hash;
  const entry = canonicalJson({ ...fields, seq, ts: new Date().toISOString() });
  const hash = hmac(key)(prev + entry);
  s.db.prepare('INSERT INTO audit (seq, entry, prev_hash, hash) VALUES (?, ?, ?, ?)').run(seq, entry, prev, hash);
  writeFileSync(s.anchorPath, `${readFileSync(s.anchorPath, 'latin1')}${seq} ${hash}\n`);
}

/** A rekey entry with `params`, under `key` and carrying its id. */
const appendRekey = (s: State, key: string, params: object): void =>
  appendUnder(s, key, {
    _key: keyIdOf(key),
    operator: 'teleops',
    chat: null,
    origin: 'system',
    action: 'audit.rekey',
    target: '',
    params,
    outcome: 'info',
  });

/** The hash of the last row, the place a rekey entry's proof names. */
const head = (s: State): string => rows(s.db).at(-1)!.hash;

/** Both verifiers (one thread, and the worker-thread pass) must agree. */
async function verify(s: State, keys: Omit<VerifyOptions, 'anchorPath'> = {}): Promise<VerifyReport> {
  const opts = { anchorPath: s.anchorPath, ...keys };
  const sync = verifyAudit(s.db, opts);
  expect(await verifyAuditAsync(s.db, opts)).toEqual(sync);
  return sync;
}

describe('a keyed audit log says so', () => {
  it('carries its key id (never the key) on every entry, and verifies intact only with the key', async () => {
    const s = state();
    write(s, 5, { hmacKey: K1 });
    for (const r of rows(s.db)) {
      expect(entryKeyId(r.entry)).toBe(keyIdOf(K1));
      expect(r.entry).not.toContain(K1);
      expect(r.hash).toBe(hmac(K1)(r.prev_hash + r.entry));
    }
    expect(await verify(s, { hmacKey: K1 })).toEqual({ ok: true, entries: 5, headSeq: 5 });
    expect(await verify(s)).toMatchObject({
      ok: false,
      unverifiable: true,
      missingKeyIds: [keyIdOf(K1)],
      message: `keyed log: cannot check without AUDIT_HMAC_KEY (key id ${keyIdOf(K1)}); links and anchor hold for 5 entries`,
    });
  });

  it('an unkeyed rewrite of a keyed log (hashes and anchor recomputed) is a break with the key, and not "intact" without it', async () => {
    const s = state();
    write(s, 6, { hmacKey: K1 });
    rechain(
      s,
      rows(s.db).map((r) => r.entry),
    );
    expect(await verify(s, { hmacKey: K1 })).toMatchObject({ ok: false, firstBadSeq: 1, kind: 'replaced' });
    const without = await verify(s);
    expect(without.ok).toBe(false);
    expect(without).toMatchObject({
      unverifiable: true,
      message: expect.stringContaining('keyed log: cannot check without AUDIT_HMAC_KEY'),
    });
  });

  it('a rewrite that also strips the key ids is a break with the key', async () => {
    const s = state();
    write(s, 4, { hmacKey: K1 });
    rechain(
      s,
      rows(s.db).map((r) => canonicalJson({ ...(JSON.parse(r.entry) as object), _key: undefined })),
    );
    expect(await verify(s, { hmacKey: K1 })).toMatchObject({ ok: false, firstBadSeq: 1, kind: 'replaced' });
  });

  it('unkeyed entries appended to a keyed log are a break, with or without the key', async () => {
    const s = state();
    write(s, 4, { hmacKey: K1 });
    const forged = [5, 6].map((seq) => canonicalJson({ ...input(seq), seq, ts: new Date().toISOString() }));
    rechain(s, forged, 5);
    expect(await verify(s)).toMatchObject({ ok: false, entries: 4, firstBadSeq: 5, kind: 'unkeyed' });
    expect(await verify(s, { hmacKey: K1 })).toMatchObject({ ok: false, firstBadSeq: 5 });
  });

  it('entries under another key without a rekey entry are a break', async () => {
    const s = state();
    write(s, 3, { hmacKey: K1 });
    const other = keyIdOf('attacker-key-000000000');
    const forged = canonicalJson({ _key: other, ...input(4), seq: 4, ts: new Date().toISOString() });
    rechain(s, [forged], 4);
    expect(await verify(s)).toMatchObject({
      ok: false,
      entries: 3,
      firstBadSeq: 4,
      kind: 'rekey',
      message: `audit entry 4: rekey: the key changes from ${keyIdOf(K1)} to ${other} without a rekey entry`,
    });
  });

  it('unkeyed entries hashed with the key itself are a break too, named unkeyed', async () => {
    const s = state();
    write(s, 4, { hmacKey: K1 });
    appendUnder(s, K1, input(5));
    expect(await verify(s, { hmacKey: K1 })).toMatchObject({
      ok: false,
      entries: 4,
      firstBadSeq: 5,
      kind: 'unkeyed',
      message: `audit entry 5: unkeyed: the entries before were keyed (key id ${keyIdOf(K1)}), this one is not`,
    });
  });

  it.each([
    ['another key', keyIdOf('a-third-audit-key-5555555')],
    ['no key', null],
  ])('a rekey entry saying the log was under %s, when it was under the old key, is a break', async (_what, from) => {
    const s = state();
    write(s, 3, { hmacKey: K1 });
    const to = keyIdOf(K2);
    appendRekey(s, K2, { from, to, proof: rekeyProof(K1, head(s), to) });
    expect(await verify(s, { hmacKey: K2, previousKeys: [K1] })).toMatchObject({
      ok: false,
      entries: 3,
      firstBadSeq: 4,
      kind: 'rekey',
      message: `audit entry 4: rekey: the rekey entry says the log was under key ${from ?? 'none'}, but it was under ${keyIdOf(K1)}`,
    });
  });

  it('a rekey entry from an unkeyed log carries no proof: one with a proof is a break', async () => {
    const s = state();
    write(s, 3);
    appendRekey(s, K1, { from: null, to: keyIdOf(K1), proof: 'ab'.repeat(32) });
    expect(await verify(s, { hmacKey: K1 })).toMatchObject({
      ok: false,
      entries: 3,
      firstBadSeq: 4,
      kind: 'rekey',
      message: 'audit entry 4: rekey: the rekey entry is not proven with the old key',
    });
  });

  it('a rekey entry forged without the old key is a break', async () => {
    const s = state();
    write(s, 3, { hmacKey: K1 });
    const mine = 'attacker-key-000000000';
    const to = keyIdOf(mine);
    appendRekey(s, mine, { from: keyIdOf(K1), to, proof: rekeyProof(mine, head(s), to) });
    expect(await verify(s, { hmacKey: mine, previousKeys: [K1] })).toMatchObject({
      ok: false,
      entries: 3,
      firstBadSeq: 4,
      kind: 'rekey',
      message: expect.stringContaining('not proven with the old key'),
    });
  });
  it('a rekey entry naming another key than the one it is under is no rekey, even proven with the old key', async () => {
    const s = state();
    write(s, 3, { hmacKey: K1 });
    const under = keyIdOf(K2);
    const named = keyIdOf('a-third-audit-key-5555555');
    appendRekey(s, K2, { from: keyIdOf(K1), to: named, proof: rekeyProof(K1, head(s), under) });
    // Under its segment's key K1 the entry does not hash: it reads as modified.
    expect(await verify(s, { hmacKey: K2, previousKeys: [K1] })).toMatchObject({
      ok: false,
      entries: 3,
      firstBadSeq: 4,
      kind: 'modified',
    });
  });
});

describe('key ids and proofs', () => {
  it('reads a key id only where a quote closes it; a proof is an HMAC under the old key of the place and the new id', () => {
    const id = keyIdOf(K1);
    expect(entryKeyId(`{"_key":"${id}","action":"x"}`)).toBe(id);
    expect(entryKeyId(`{"_key":"${id}0","action":"x"}`)).toBeNull();
    expect(entryKeyId(`{"_key":"${id.slice(1)}","action":"x"}`)).toBeNull();
    expect(entryKeyId(`{"action":"x","_key":"${id}"}`)).toBeNull();
    const place = 'ab'.repeat(32);
    expect(rekeyProof(K1, place, keyIdOf(K2))).toBe(hmac(K1)(`teleops audit rekey ${place} ${keyIdOf(K2)}`));
  });

  it('tells a log that was ever keyed from one that never was', () => {
    const s = state();
    expect(hasKeyedEntry(s.db)).toBe(false);
    write(s, 2);
    expect(hasKeyedEntry(s.db)).toBe(false);
    write(s, 1, { hmacKey: K1 });
    expect(hasKeyedEntry(s.db)).toBe(true);
  });
});

describe('adopting and rotating AUDIT_HMAC_KEY', () => {
  it('an unkeyed log from before key ids still verifies intact, and adopting a key links a rekey entry to it', async () => {
    const s = state();
    write(s, 4);
    expect(rows(s.db).every((r) => entryKeyId(r.entry) === null && r.hash === sha256(r.prev_hash + r.entry))).toBe(
      true,
    );
    expect(await verify(s)).toEqual({ ok: true, entries: 4, headSeq: 4 });
    write(s, 2, { hmacKey: K1 });
    const rekey = JSON.parse(rows(s.db)[4]!.entry) as { action: string; params: unknown };
    expect(rekey).toMatchObject({
      operator: 'teleops',
      chat: null,
      origin: 'system',
      action: 'audit.rekey',
      target: '',
      params: { from: null, to: keyIdOf(K1), proof: null },
      outcome: 'info',
      detail: `audit key none → ${keyIdOf(K1)}`,
    });
    expect(await verify(s, { hmacKey: K1 })).toEqual({ ok: true, entries: 7, headSeq: 7 });
    expect(await verify(s)).toMatchObject({ unverifiable: true });
  });

  it('a keyed log from before key ids verifies with its key, and gets a rekey entry to the same key', async () => {
    const s = state();
    writeLegacy(s, 3, K1);
    expect(await verify(s, { hmacKey: K1 })).toEqual({ ok: true, entries: 3, headSeq: 3 });
    write(s, 1, { hmacKey: K1 });
    expect(JSON.parse(rows(s.db)[3]!.entry)).toMatchObject({
      action: 'audit.rekey',
      params: { from: keyIdOf(K1), to: keyIdOf(K1) },
    });
    expect(await verify(s, { hmacKey: K1 })).toEqual({ ok: true, entries: 5, headSeq: 5 });
  });

  it('rotation needs the old key in AUDIT_HMAC_KEY_PREVIOUS; both segments then verify', async () => {
    const s = state();
    write(s, 3, { hmacKey: K1 });
    expect(() => write(s, 1, { hmacKey: K2 })).toThrow(AuditKeyError);
    expect(() => write(s, 1, { hmacKey: K2 })).toThrow(
      `the audit log is keyed with key id ${keyIdOf(K1)}, AUDIT_HMAC_KEY has key id ${keyIdOf(K2)}: to rotate, ` +
        `put the old key in AUDIT_HMAC_KEY_PREVIOUS`,
    );
    write(s, 2, { hmacKey: K2, previousKeys: [K1] });
    const r = rows(s.db)[3]!;
    expect(JSON.parse(r.entry)).toMatchObject({
      action: 'audit.rekey',
      params: rotatedAt(r),
      detail: `audit key ${keyIdOf(K1)} → ${keyIdOf(K2)}`,
    });
    expect(await verify(s, { hmacKey: K2, previousKeys: [K1] })).toEqual({ ok: true, entries: 6, headSeq: 6 });
    expect(await verify(s, { hmacKey: K2 })).toMatchObject({
      ok: false,
      unverifiable: true,
      missingKeyIds: [keyIdOf(K1)],
      message:
        `keyed log: cannot check the entries under key id ${keyIdOf(K1)} without that key ` +
        `(AUDIT_HMAC_KEY_PREVIOUS); links and anchor hold for 6 entries`,
    });
    // Restarting with the new key alone adds nothing.
    write(s, 0, { hmacKey: K2 });
    expect(rows(s.db)).toHaveLength(6);
  });

  it('a log from before key ids, keyed with what is now the previous key: rotated with its proof; under a key it lacks: refused', async () => {
    const s = state();
    writeLegacy(s, 3, K1);
    expect(() => write(s, 1, { hmacKey: K2 })).toThrow(
      'audit entry 3 matches neither AUDIT_HMAC_KEY, AUDIT_HMAC_KEY_PREVIOUS nor plain SHA-256: run teleops audit verify',
    );
    expect(rows(s.db)).toHaveLength(3);
    write(s, 1, { hmacKey: K2, previousKeys: [K1] });
    const r = rows(s.db)[3]!;
    expect(JSON.parse(r.entry)).toMatchObject({
      action: 'audit.rekey',
      params: rotatedAt(r),
    });
    expect(await verify(s, { hmacKey: K2, previousKeys: [K1] })).toEqual({ ok: true, entries: 5, headSeq: 5 });
    // Without the old key, its rows cannot be checked: unverifiable, not a break.
    expect(await verify(s, { hmacKey: K2 })).toMatchObject({
      ok: false,
      unverifiable: true,
      missingKeyIds: [keyIdOf(K1)],
    });
  });

  it('refuses to drop the key of a keyed log', () => {
    const s = state();
    write(s, 2, { hmacKey: K1 });
    expect(() => write(s, 1)).toThrow(
      expect.objectContaining({
        name: 'AuditKeyError',
        message:
          `the audit log is keyed (key id ${keyIdOf(K1)}) but AUDIT_HMAC_KEY is not set: set it again; a keyed log ` +
          `cannot go back to unkeyed`,
      }),
    );
    expect(rows(s.db)).toHaveLength(2);
  });
});

describe('teleops audit verify / rekey', () => {
  it('exits 3 with the keyed-log message without the key, 0 with it; rekey adopts a key', async () => {
    const s = state();
    write(s, 3);
    const rekey = runTeleops(['audit', 'rekey', '--state-dir', s.dir], { AUDIT_HMAC_KEY: K1 });
    expect(await rekey.exited).toBe(0);
    expect(rekey.output()).toContain(`audit log rekeyed: entry #4 moves it to key id ${keyIdOf(K1)}`);
    const without = runTeleops(['audit', 'verify', '--state-dir', s.dir], {});
    expect(await without.exited).toBe(3);
    expect(without.output()).toMatch(/^keyed log: cannot check without AUDIT_HMAC_KEY/);
    const withKey = runTeleops(['audit', 'verify', '--state-dir', s.dir], { AUDIT_HMAC_KEY: K1 });
    expect(await withKey.exited).toBe(0);
    expect(withKey.output()).toContain('audit log intact: 4 entries, head #4');
    const rotateBlind = runTeleops(['audit', 'rekey', '--state-dir', s.dir], { AUDIT_HMAC_KEY: K2 });
    expect(await rotateBlind.exited).toBe(2);
    expect(rotateBlind.output()).toMatch(/put the old key in AUDIT_HMAC_KEY_PREVIOUS/);
    expect(rotateBlind.output()).not.toMatch(/\n\s+at /);
  });
});
