import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLog, type AuditEntryInput } from '../../src/core/audit.js';
import { AuditWitnesses, headLine, type AuditHead, type Witness } from '../../src/core/audit-witness.js';
import { createMetrics } from '../../src/core/metrics.js';
import { ChatStateRepo } from '../../src/store/chat-state.js';
import { openDb } from '../../src/store/db.js';

/*
 * The scheduling, retrying and bookkeeping of AuditWitnesses over a real audit log and a real
 * SQLite store. The witness is the network boundary: here one that keeps what it was handed and
 * settles each post as the test says (src/witnesses/ and test/witnesses/ cover the real ones).
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
  vi.useRealTimers();
});

interface Post {
  readonly head: AuditHead;
  readonly signal: AbortSignal;
  ok(): void;
  fail(why: string): void;
}

/** A witness whose posts wait for the test, unless `answer` settles them at once. */
function witness(name: string, answer: 'ok' | 'fail' | 'wait' = 'ok') {
  const posts: Post[] = [];
  const w: Witness & { answer: typeof answer } = {
    name,
    answer,
    post(head, signal) {
      return new Promise<void>((resolve, reject) => {
        posts.push({ head, signal, ok: resolve, fail: (why) => reject(new Error(why)) });
        if (w.answer === 'ok') resolve();
        if (w.answer === 'fail') reject(new Error(`${name} is down`));
      });
    },
  };
  return { w, posts };
}

interface Opts {
  entries?: number;
  everyMs?: number;
  hmacKey?: string;
  retryMs?: number;
  postTimeoutMs?: number;
  now?: () => Date;
  stored?: Record<string, string>;
}

const DESTRUCTIVE = 'docker.rm';
const entry = (action: string, outcome: AuditEntryInput['outcome']): AuditEntryInput => ({
  operator: 'tg:1',
  chat: 1,
  origin: 'command',
  action,
  target: 'docker',
  params: {},
  outcome,
});

/** A real log and store in a temp dir, witnessed the way app.ts wires it. */
function setup(opts: Opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-witness-'));
  const db = openDb(dir);
  const audit = new AuditLog(db, {
    anchorPath: join(dir, 'audit.anchor'),
    ...(opts.hmacKey ? { hmacKey: opts.hmacKey } : {}),
  });
  cleanups.push(() => {
    audit.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new ChatStateRepo(db).forChat(0);
  for (const [k, v] of Object.entries(opts.stored ?? {})) store.set(k, v);
  const metrics = createMetrics();
  const logged: { msg: string; witness?: string; seq?: number; err?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      cb();
    },
  });
  const witnesses = new AuditWitnesses({
    head: () => audit.head(),
    keyId: audit.currentKeyId,
    schedule: { entries: opts.entries ?? 0, everyMs: opts.everyMs ?? 0 },
    destructive: (action) => action === DESTRUCTIVE,
    store,
    metrics,
    log: pino({ level: 'info' }, sink),
    ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    ...(opts.postTimeoutMs !== undefined ? { postTimeoutMs: opts.postTimeoutMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  audit.onAppend((e) => witnesses.appended(e));
  cleanups.push(() => witnesses.stop());
  const errors = async (): Promise<string> =>
    (await metrics.registry.getSingleMetricAsString('teleops_audit_witness_errors_total'))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  const append = (action = 'docker.ps', outcome: AuditEntryInput['outcome'] = 'ok') =>
    audit.append(entry(action, outcome));
  return { audit, store, witnesses, logged, errors, append };
}

/** Lets settled posts run their then/catch/finally. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('headLine', () => {
  it('says the seq, the hash, whether and under which key id it is keyed, and when', () => {
    const at = '2026-12-06T21:00:00.000Z';
    expect(headLine({ seq: 7, hash: 'ab12', keyed: true, keyId: 'k-3f', at })).toBe(
      `teleops audit head #7 ab12 keyed key_id=k-3f at ${at}`,
    );
    expect(headLine({ seq: 1, hash: 'cd34', keyed: false, keyId: null, at })).toBe(
      `teleops audit head #1 cd34 unkeyed at ${at}`,
    );
  });
});

describe('AuditWitnesses', () => {
  it('posts the current head at start, keyed under the key id, at the time of its clock, and keeps what was taken', async () => {
    vi.useFakeTimers();
    const at = new Date(Date.UTC(2026, 11, 6, 21, 0, 0));
    const t = setup({ hmacKey: 'witness-key-0123456789', now: () => at });
    t.append();
    t.append();
    const a = witness('syslog://a:514');
    const b = witness('https://b.example');
    t.witnesses.add(a.w);
    t.witnesses.add(b.w);
    expect(t.witnesses.size).toBe(2);
    expect(t.witnesses.heads()).toEqual([]);
    t.witnesses.start();
    await settle();
    const head = t.audit.head()!;
    const want = { seq: 2, hash: head.hash, keyed: true, keyId: t.audit.currentKeyId, at: at.toISOString() };
    expect(t.audit.currentKeyId).toEqual(expect.any(String));
    expect(a.posts.map((p) => p.head)).toEqual([want]);
    expect(b.posts.map((p) => p.head)).toEqual([want]);
    expect(t.witnesses.heads()).toEqual([
      { seq: 2, hash: head.hash, by: 'the head posted to syslog://a:514' },
      { seq: 2, hash: head.hash, by: 'the head posted to https://b.example' },
    ]);
    // Kept where a restart finds it (with when it was posted).
    expect(JSON.parse(t.store.get('audit.witness.syslog://a:514')!)).toEqual({
      seq: 2,
      hash: head.hash,
      at: at.toISOString(),
    });
  });

  it('posts an unkeyed head with no key id, stamped by the real clock when none is given', async () => {
    const t = setup();
    t.append();
    const a = witness('w');
    t.witnesses.add(a.w);
    const before = Date.now();
    t.witnesses.start();
    await new Promise((r) => setImmediate(r));
    expect(a.posts).toHaveLength(1);
    const { keyed, keyId, at } = a.posts[0]!.head;
    expect({ keyed, keyId }).toEqual({ keyed: false, keyId: null });
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(at)).toBeLessThanOrEqual(Date.now());
  });

  it('posts nothing for an empty log, and never the same head twice', async () => {
    vi.useFakeTimers();
    const t = setup({ entries: 1 });
    const a = witness('w');
    t.witnesses.add(a.w);
    t.witnesses.start();
    await settle();
    expect(a.posts).toHaveLength(0);
    t.append();
    await settle();
    expect(a.posts.map((p) => p.head.seq)).toEqual([1]);
    t.witnesses.start();
    await settle();
    expect(a.posts.map((p) => p.head.seq)).toEqual([1]);
  });

  it('takes up where the store says a witness was, and ignores a stored head it cannot read', async () => {
    vi.useFakeTimers();
    const stored = {
      'audit.witness.kept': JSON.stringify({ seq: 2, hash: 'h2', at: '2026-12-06T20:00:00.000Z' }),
      'audit.witness.notjson': '{seq: 2',
      'audit.witness.seqtext': JSON.stringify({ seq: '2', hash: 'h2' }),
      'audit.witness.nohash': JSON.stringify({ seq: 2, hash: 2 }),
    };
    const t = setup({ stored, entries: 1 });
    t.append();
    t.append();
    const names = ['kept', 'notjson', 'seqtext', 'nohash', 'new'];
    const ws = names.map((n) => witness(n));
    for (const { w } of ws) t.witnesses.add(w);
    expect(t.witnesses.heads()).toEqual([{ seq: 2, hash: 'h2', by: 'the head posted to kept' }]);
    t.witnesses.start();
    await settle();
    // Seq 2 was taken by "kept" before the restart; every other one starts from nothing.
    expect(ws.map(({ posts }) => posts.map((p) => p.head.seq))).toEqual([[], [2], [2], [2], [2]]);
    t.append();
    await settle();
    expect(ws[0]!.posts.map((p) => p.head.seq)).toEqual([3]);
  });

  it('posts every `entries` appends, counting from the last post', async () => {
    vi.useFakeTimers();
    const t = setup({ entries: 3 });
    const a = witness('w');
    t.witnesses.add(a.w);
    t.witnesses.start();
    for (let i = 1; i <= 7; i++) {
      t.append();
      await settle();
    }
    expect(a.posts.map((p) => p.head.seq)).toEqual([3, 6]);
  });

  it('with entries off, posts after the result of a destructive action only', async () => {
    vi.useFakeTimers();
    const t = setup({ entries: 0 });
    const a = witness('w');
    t.witnesses.add(a.w);
    t.witnesses.start();
    t.append('docker.ps', 'ok');
    t.append(DESTRUCTIVE, 'requested');
    t.append('docker.ps', 'failed');
    await settle();
    expect(a.posts).toHaveLength(0);
    t.append(DESTRUCTIVE, 'ok');
    await settle();
    t.append(DESTRUCTIVE, 'timeout');
    await settle();
    t.append(DESTRUCTIVE, 'failed');
    await settle();
    expect(a.posts.map((p) => p.head.seq)).toEqual([4, 5, 6]);
  });

  it('posts on the timer when the head moved', async () => {
    vi.useFakeTimers();
    const t = setup({ everyMs: 60_000 });
    const a = witness('a');
    t.witnesses.add(a.w);
    t.witnesses.start();
    t.append();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(a.posts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.posts.map((p) => p.head.seq)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(a.posts).toHaveLength(1);
  });

  it('keeps no timer when every is off', async () => {
    vi.useFakeTimers();
    const t = setup({ everyMs: 0 });
    const a = witness('a');
    t.witnesses.add(a.w);
    t.witnesses.start();
    t.append();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(a.posts).toHaveLength(0);
  });

  it('posts one head at a time per witness; a newer head waits for the post in flight', async () => {
    vi.useFakeTimers();
    const t = setup({ entries: 1, retryMs: 1000 });
    const a = witness('w', 'wait');
    t.witnesses.add(a.w);
    t.witnesses.start();
    t.append();
    t.append();
    t.append();
    await settle();
    expect(a.posts.map((p) => p.head.seq)).toEqual([1]);
    a.posts[0]!.ok();
    await settle();
    // Then the newest head, once.
    expect(a.posts.map((p) => p.head.seq)).toEqual([1, 3]);
    expect(t.witnesses.heads()[0]).toMatchObject({ seq: 1 });
    // It fails: retried after the delay, not at once.
    a.posts[1]!.fail('refused');
    await settle();
    expect(a.posts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(a.posts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.posts.map((p) => p.head.seq)).toEqual([1, 3, 3]);
    a.posts[2]!.ok();
    await settle();
    expect(t.witnesses.heads()[0]).toMatchObject({ seq: 3 });
  });

  it('counts, logs and retries a failing witness with a doubling delay, from the first failure on', async () => {
    vi.useFakeTimers();
    const t = setup({ retryMs: 1000 });
    t.append();
    const a = witness('w', 'fail');
    t.witnesses.add(a.w);
    t.witnesses.start();
    await settle();
    expect(a.posts).toHaveLength(1);
    // Retries 1 s, then 2 s, then 4 s after each failure: at 1, 3 and 7 s.
    const at: number[] = [];
    for (let ms = 500; ms <= 7000; ms += 500) {
      const n = a.posts.length;
      await vi.advanceTimersByTimeAsync(500);
      if (a.posts.length > n) at.push(ms);
    }
    expect(at).toEqual([1000, 3000, 7000]);
    expect(await t.errors()).toBe('teleops_audit_witness_errors_total{witness="w"} 4');
    expect(t.logged.filter((l) => l.msg === 'audit witness did not take the head; retrying')).toHaveLength(4);
    expect(t.logged[0]).toMatchObject({ witness: 'w', seq: 1, err: 'w is down' });
    // Once it takes the head, the delay starts over.
    a.w.answer = 'ok';
    await vi.advanceTimersByTimeAsync(8000);
    expect(t.witnesses.heads()).toEqual([{ seq: 1, hash: t.audit.head()!.hash, by: 'the head posted to w' }]);
    a.w.answer = 'fail';
    t.append();
    t.witnesses.start();
    await settle();
    const n = a.posts.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.posts.length).toBe(n + 1);
  });

  it('waits at most five minutes between retries', async () => {
    vi.useFakeTimers();
    const t = setup({ retryMs: 60_000 });
    t.append();
    const a = witness('w', 'fail');
    t.witnesses.add(a.w);
    t.witnesses.start();
    // 1, 2, 4 minutes, then 5 and 5.
    await vi.advanceTimersByTimeAsync((1 + 2 + 4 + 5 + 5) * 60_000);
    expect(a.posts).toHaveLength(6);
  });

  it('gives up a post that hangs after postTimeoutMs, naming the witness in the log', async () => {
    vi.useFakeTimers();
    const t = setup({ postTimeoutMs: 50, retryMs: 60_000 });
    t.append();
    const a = witness('hang', 'wait');
    t.witnesses.add(a.w);
    t.witnesses.start();
    await vi.advanceTimersByTimeAsync(49);
    expect(await t.errors()).toBe('');
    await vi.advanceTimersByTimeAsync(1);
    expect(await t.errors()).toBe('teleops_audit_witness_errors_total{witness="hang"} 1');
    expect(t.logged[0]).toMatchObject({ witness: 'hang', err: 'audit witness hang timed out after 50 ms' });
    expect(a.posts[0]!.signal.aborted).toBe(true);
  });

  it('once stopped, aborts the post in flight and posts nothing more, with nothing left scheduled', async () => {
    vi.useFakeTimers();
    const t = setup({ entries: 1, everyMs: 60_000, retryMs: 1000 });
    t.append();
    const a = witness('w', 'wait');
    t.witnesses.add(a.w);
    t.witnesses.start();
    await settle();
    expect(a.posts).toHaveLength(1);
    t.witnesses.stop();
    expect(a.posts[0]!.signal.aborted).toBe(true);
    a.posts[0]!.fail('aborted');
    await settle();
    expect(vi.getTimerCount()).toBe(0);
    t.append(DESTRUCTIVE, 'ok');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(a.posts).toHaveLength(1);
  });
});
