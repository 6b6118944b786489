/**
 * `teleops audit export` and `teleops audit verify --file`, through the real CLI process: the
 * stored bytes come out unchanged, an export checks offline against the anchor, and a tampered
 * line fails with its seq — for a whole export and for a partial one (--since).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { AuditLog, type AuditLogOptions } from '../src/core/audit.js';
import { openDb, type Db } from '../src/store/db.js';
import { tempDir } from './support/app.js';
import { runTeleops } from './support/process.js';

const KEY = 'export-test-hmac-key-77a1';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function teleops(args: string[]): Promise<{ code: number | null; out: string; stdout: string }> {
  const p = runTeleops(args, { AUDIT_HMAC_KEY: KEY });
  let stdout = '';
  p.child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  const code = await p.exited;
  return { code, out: p.output(), stdout };
}

interface State {
  dir: string;
  db: Db;
  append: (k: number) => void;
  stored: () => string[];
}

/** A log of `n` entries under KEY; with `unkeyed`, the first `unkeyed` of them before the key was set. */
function state(n: number, unkeyed = 0): State {
  const t = tempDir();
  const db = openDb(t.path);
  const opts: AuditLogOptions = { anchorPath: join(t.path, 'audit.anchor') };
  let log = new AuditLog(db, unkeyed > 0 ? opts : { ...opts, hmacKey: KEY });
  const append = (k: number) => {
    for (let i = 0; i < k; i++) {
      log.append({
        operator: 'tg:10',
        chat: 10,
        origin: 'command',
        action: 'tmux.send',
        target: 'tmux',
        params: { target: 'web', text: `line ${i} "quoted" \u00e9 \u2028 ✓` },
        outcome: 'ok',
      });
    }
  };
  if (unkeyed > 0) {
    append(unkeyed);
    log.close();
    // Started again with the key: the log adopts it through a rekey entry.
    log = new AuditLog(db, { ...opts, hmacKey: KEY });
    append(n - unkeyed - 1);
  } else {
    append(n);
  }
  cleanups.push(() => {
    log.close();
    db.close();
    t.remove();
  });
  return {
    dir: t.path,
    db,
    append,
    stored: () => db.prepare<[], string>('SELECT entry FROM audit ORDER BY seq').pluck().all(),
  };
}

function tamper(file: string, seq: number): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith(`{"seq":${seq},`));
  const row = JSON.parse(lines[i]!) as { entry: string };
  lines[i] = JSON.stringify({ ...row, entry: row.entry.replace('"line ', '"LINE ') });
  writeFileSync(file, lines.join('\n'));
}

it('exports every entry as stored and verifies it offline; a tampered line fails with its seq', async () => {
  const s = state(30);
  const file = join(s.dir, 'audit.jsonl');
  const exp = await teleops(['audit', 'export', '--state-dir', s.dir]);
  expect(exp.code, exp.out).toBe(0);
  writeFileSync(file, exp.stdout);
  const lines = exp.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(30);
  // The canonical bytes the hashes cover, unchanged.
  expect(lines.map((l) => (JSON.parse(l) as { entry: string }).entry)).toEqual(s.stored());

  // The log goes on after the export: the export still checks against the anchor.
  s.append(5);
  const ok = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(ok.code, ok.out).toBe(0);
  expect(ok.out).toMatch(/^audit export intact: entries #1–#30\n$/);

  tamper(file, 17);
  const bad = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(bad.code, bad.out).toBe(1);
  expect(bad.out).toMatch(/^audit export BROKEN at #17 \(modified\)/);
}, 120_000);

it('a partial export (--since) checks within itself and its anchor lines, and says where it starts', async () => {
  const s = state(40);
  const file = join(s.dir, 'part.jsonl');
  const exp = await teleops(['audit', 'export', '--since', '25', '--state-dir', s.dir]);
  expect(exp.code, exp.out).toBe(0);
  writeFileSync(file, exp.stdout);
  expect(exp.stdout.trimEnd().split('\n')).toHaveLength(16);

  const ok = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(ok.code, ok.out).toBe(0);
  expect(ok.out).toMatch(/entries #25–#40 \(a partial export: it starts at #25,/);

  tamper(file, 31);
  const bad = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(bad.code, bad.out).toBe(1);
  expect(bad.out).toMatch(/^audit export BROKEN at #31 \(modified\).*starts at #25/);

  // A line recomputed without the key is caught by the anchor's line for it.
  const lines = exp.stdout.trimEnd().split('\n');
  const last = JSON.parse(lines.at(-1)!) as { seq: number; prev_hash: string; entry: string };
  const { createHash } = await import('node:crypto');
  const forged = last.entry.replace('"line ', '"LINE ');
  lines[lines.length - 1] = JSON.stringify({
    ...last,
    entry: forged,
    hash: createHash('sha256')
      .update(last.prev_hash + forged)
      .digest('hex'),
  });
  writeFileSync(file, `${lines.join('\n')}\n`);
  const forgedRun = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(forgedRun.code, forgedRun.out).toBe(1);
  expect(forgedRun.out).toMatch(/BROKEN at #40/);
}, 120_000);

/** `teleops audit export --since` into a file in the state dir; its path. */
async function exported(s: State, since: number): Promise<string> {
  const file = join(s.dir, `from-${since}.jsonl`);
  const exp = await teleops(['audit', 'export', '--since', String(since), '--state-dir', s.dir]);
  expect(exp.code, exp.out).toBe(0);
  writeFileSync(file, exp.stdout);
  return file;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

it('a keyed log whose tail was rewritten without the key (no key ids, SHA-256 links, anchor lines appended) is broken, not intact', async () => {
  const s = state(40);
  // What someone with write access to the state dir, but not the key, can do.
  const rows = s.db
    .prepare<[], { seq: number; entry: string }>('SELECT seq, entry FROM audit WHERE seq >= 25 ORDER BY seq')
    .all();
  let prev = s.db.prepare<[], string>('SELECT hash FROM audit WHERE seq = 24').pluck().get()!;
  const update = s.db.prepare('UPDATE audit SET entry = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    const entry = r.entry.replace(/^\{"_key":"[0-9a-f]{16}",/, '{');
    const hash = sha256(prev + entry);
    update.run(entry, prev, hash, r.seq);
    appendFileSync(join(s.dir, 'audit.anchor'), `${r.seq} ${hash}\n`);
    prev = hash;
  }
  const file = await exported(s, 25);
  expect(readFileSync(file, 'utf8')).not.toContain('_key');
  const r = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
  expect(r.code, r.out).toBe(1);
  expect(r.out).toMatch(
    /^audit export BROKEN at #25 \(replaced\): audit entry 25: replaced: a chain computed without the key starts here \(a partial export: it starts at #25,[^\n]*\)\n$/,
  );
  // The whole export says so too, by the same rules.
  const whole = await exported(s, 1);
  expect((await teleops(['audit', 'verify', '--file', whole, '--state-dir', s.dir])).code).toBe(1);
}, 120_000);

it('an anchor with two lines for one entry is broken, whatever the second says, wherever it is', async () => {
  const s = state(40);
  const file = await exported(s, 25);
  const whole = await exported(s, 1);
  const anchor = join(s.dir, 'audit.anchor');
  const original = readFileSync(anchor, 'utf8');
  // The same line again: an append-only anchor was appended to.
  const again = (seq: number): string => `${original.split('\n').find((l) => l.startsWith(`${seq} `))!}\n`;
  const replaced = async (seq: number): Promise<void> => {
    const r = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toMatch(
      new RegExp(
        `^audit export BROKEN at #${seq} \\(replaced\\): audit entry ${seq}: replaced: the anchor has a second line ` +
          `for this entry \\(a partial export[^\\n]*\\)\\n$`,
      ),
    );
  };
  // For an entry in the export, and for one before it.
  for (const seq of [30, 10]) {
    writeFileSync(anchor, original + again(seq));
    await replaced(seq);
  }
  // After the lines of entries the log wrote since the export.
  writeFileSync(anchor, original);
  s.append(5);
  appendFileSync(anchor, again(30));
  await replaced(30);
  const r = await teleops(['audit', 'verify', '--file', whole, '--state-dir', s.dir]);
  expect(r.code, r.out).toBe(1);
  expect(r.out).toMatch(/^audit export BROKEN at #41 \(anchor_corrupt\): .*goes back to an earlier entry\n$/);
}, 120_000);

it('a partial export cannot be checked without the anchor: exit 3, one line naming it', async () => {
  const s = state(40);
  const file = await exported(s, 25);
  const missing = join(s.dir, 'none.anchor');
  const none = await teleops(['audit', 'verify', '--file', file, '--anchor', missing]);
  expect(none.code, none.out).toBe(3);
  expect(none.out).toBe(
    `partial export: cannot check entries #25–#40 without the anchor's line for entry 24: the anchor file ${JSON.stringify(missing)} is missing\n`,
  );
  // An anchor that ends before the export starts says nothing of it either.
  const short = join(s.dir, 'short.anchor');
  const lines = readFileSync(join(s.dir, 'audit.anchor'), 'utf8').split('\n');
  writeFileSync(
    short,
    lines
      .slice(0, 20)
      .map((l) => `${l}\n`)
      .join(''),
  );
  const lags = await teleops(['audit', 'verify', '--file', file, '--anchor', short]);
  expect(lags.code, lags.out).toBe(3);
  expect(lags.out).toBe(
    `partial export: cannot check entries #25–#40 without the anchor's line for entry 24: the anchor file ${JSON.stringify(short)} ends at entry 20\n`,
  );
}, 120_000);

it('partial exports of a log keyed midway (legacy entries, then a rekey entry) are intact', async () => {
  const s = state(30, 10);
  expect(s.stored()[10]).toMatch(/^\{"_key":"[0-9a-f]{16}","action":"audit\.rekey"/);
  for (const since of [5, 11, 12, 20]) {
    const file = await exported(s, since);
    const r = await teleops(['audit', 'verify', '--file', file, '--state-dir', s.dir]);
    expect(r.code, `since ${since}: ${r.out}`).toBe(0);
    expect(r.out).toMatch(new RegExp(`^audit export intact: entries #${since}–#30 \\(a partial export`));
  }
}, 120_000);

it('bad arguments and files: one line, exit 2', async () => {
  const s = state(3);
  const since = await teleops(['audit', 'export', '--since', '-3', '--state-dir', s.dir]);
  expect(since.code).toBe(2);
  const junk = join(s.dir, 'junk.jsonl');
  writeFileSync(junk, 'not json\n');
  const r = await teleops(['audit', 'verify', '--file', junk, '--state-dir', s.dir]);
  expect(r.code).toBe(2);
  expect(r.out).toBe(`teleops audit verify: ${junk} line 1 is not an audit export line\n`);
}, 120_000);

it('an anchor that cannot be read: one line and exit 2, not "missing" (which would say exit 1)', async () => {
  const s = state(3);
  const file = join(s.dir, 'audit.jsonl');
  const exp = await teleops(['audit', 'export', '--state-dir', s.dir]);
  writeFileSync(file, exp.stdout);
  const loop = join(s.dir, 'loop.anchor');
  symlinkSync(loop, loop);
  for (const since of ['1', '2']) {
    const part = join(s.dir, `from-${since}.jsonl`);
    writeFileSync(
      part,
      exp.stdout
        .split('\n')
        .slice(Number(since) - 1)
        .join('\n'),
    );
    const r = await teleops(['audit', 'verify', '--file', part, '--anchor', loop]);
    expect(r.code, r.out).toBe(2);
    expect(r.out).toBe(
      `teleops audit verify: cannot read the audit anchor ${JSON.stringify(loop)}: ELOOP: too many symbolic links encountered, open '${loop}'\n`,
    );
  }
  // No anchor file at all is another matter: the export is checked, and the missing anchor named
  // as given (not the copy the check makes of it).
  const missing = join(s.dir, 'none.anchor');
  const none = await teleops(['audit', 'verify', '--file', file, '--anchor', missing]);
  expect(none.code, none.out).toBe(1);
  expect(none.out).toBe(
    `audit export BROKEN at #1 (anchor_missing): audit entry 1: anchor_missing: the anchor file ${JSON.stringify(missing)} is missing\n`,
  );
}, 120_000);

it('a hostile file name (a line break, a terminal escape) comes back in one line, escaped', async () => {
  const s = state(1);
  const name = join(s.dir, 'x\n\u001b[31mred');
  const r = await teleops(['audit', 'verify', '--file', name]);
  expect(r.code).toBe(2);
  expect(r.out).toBe(
    `teleops audit verify: cannot read ${s.dir}/x\\n\\u001b[31mred: ENOENT: no such file or directory, open '${s.dir}/x\\n\\u001b[31mred'\n`,
  );
  const anchor = await teleops(['audit', 'verify', '--file', name, '--anchor', name]);
  expect(anchor.out).not.toContain('\u001b');
  writeFileSync(join(s.dir, 'e.jsonl'), (await teleops(['audit', 'export', '--state-dir', s.dir])).stdout);
  const loop = join(s.dir, 'l\n\u001b[2J');
  symlinkSync(loop, loop);
  const bad = await teleops(['audit', 'verify', '--file', join(s.dir, 'e.jsonl'), '--anchor', loop]);
  expect(bad.code).toBe(2);
  expect(bad.out.split('\n')).toHaveLength(2);
  expect(bad.out).not.toContain('\u001b');
  // A state dir with no database, by such a name: the same.
  const none = await teleops(['audit', 'verify', '--state-dir', name]);
  expect(none.code).toBe(2);
  expect(none.out).toBe(`teleops audit verify: no audit database at ${s.dir}/x\\n\\u001b[31mred/teleops.db\n`);
}, 120_000);

it('a key id with a line break and a terminal escape, forged into an export, comes back in one line', async () => {
  const s = state(1);
  // The entry's JSON text holds the raw characters (the export line escapes them as JSON does).
  const hash = 'a'.repeat(64);
  const entry = `{"_key":"\u001b[2J\nforged-id","ts":"2026-01-01T00:00:00.000Z","action":"x"}`;
  const file = join(s.dir, 'forged.jsonl');
  writeFileSync(file, `${JSON.stringify({ seq: 1, prev_hash: '0'.repeat(64), hash, entry })}\n`);
  const anchor = join(s.dir, 'forged.anchor');
  writeFileSync(anchor, `1 ${hash}\n`);
  const r = await teleops(['audit', 'verify', '--file', file, '--anchor', anchor]);
  expect([1, 3]).toContain(r.code);
  expect(r.out.split('\n')).toHaveLength(2);
  expect(r.out).not.toContain('\u001b');
}, 120_000);
