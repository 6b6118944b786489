/**
 * Several `teleops start` processes serving one bot in webhook mode, sharing one PostgreSQL
 * database, behind the fake Bot API, which delivers each update to a replica of its choosing
 * and retries a failed delivery elsewhere, as Telegram (and a load balancer) does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Update } from 'grammy/types';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeBotApi, type PostAnswer, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { startFakeLlm } from '../fakes/llm.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../support/postgres.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { runs } from '../support/test-target.js';

const OP = 10;
const SECRET = 'replica_Secret-0123456789abcdefABCDEF';
const HOOK = 'https://bot.example.test/tg/hook';
const KEY = 'replica-e2e-audit-key-0123456789';
const noPostgres = process.env.CI === 'true' ? undefined : postgresPrerequisites();

interface Replica {
  readonly name: string;
  readonly proc: Proc;
  /** Where the load balancer forwards the webhook URL to. */
  readonly to: string;
  readonly httpPort: number;
  readonly anchor: string;
}

let pg: Postgres;
let fake: FakeBotApi;
let url: string;
let dirs: { path: string; remove(): void }[] = [];
let procs: Proc[] = [];
let runsFile: string;

beforeAll(async () => {
  if (!noPostgres) pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  await pg?.stop();
});

beforeEach(async () => {
  fake = new FakeBotApi({ username: 'teleops_test_bot' });
  await fake.start();
  fake.createUser({ id: OP, username: `u${OP}` });
  url = await pg.database();
  const shared = tempDir();
  dirs.push(shared);
  runsFile = join(shared.path, 'runs.txt');
});

afterEach(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  procs = [];
  await fake.stop();
  for (const d of dirs) d.remove();
  dirs = [];
});

/** `teleops start` replicas on the one database, each with a state directory and ports of its own. */
async function replicas(n: number, env: Record<string, string> = {}): Promise<Replica[]> {
  const started = await Promise.all(
    Array.from({ length: n }, async (_, i): Promise<Replica> => {
      const dir = tempDir();
      dirs.push(dir);
      const [httpPort, hookPort] = [await freePort(), await freePort()];
      const proc = runTeleops(['start'], {
        TELEGRAM_BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.apiRoot,
        AUTHORIZED_USER_IDS: String(OP),
        STATE_DIR: dir.path,
        DATABASE_URL: url,
        HTTP_PORT: String(httpPort),
        DOCKER_ENABLED: 'false',
        TEST_RUNS_FILE: runsFile,
        AUDIT_HMAC_KEY: KEY,
        TELEGRAM_WEBHOOK_URL: HOOK,
        TELEGRAM_WEBHOOK_SECRET: SECRET,
        TELEGRAM_WEBHOOK_PORT: String(hookPort),
        TELEGRAM_PRIVATE_PER_SECOND: '0',
        // A claim of a replica that died is adopted after this long.
        LEADER_LEASE_SECONDS: '3',
        RATE_LIMIT_PER_MINUTE: '1000',
        ...env,
      });
      procs.push(proc);
      await proc.waitForOutput(/serving the Telegram webhook/, 45_000);
      return {
        name: 'abc'[i]!,
        proc,
        to: `http://127.0.0.1:${hookPort}`,
        httpPort,
        anchor: join(dir.path, 'audit.anchor'),
      };
    }),
  );
  return started;
}

async function two(env: Record<string, string> = {}): Promise<[Replica, Replica]> {
  const [a, b] = await replicas(2, env);
  return [a!, b!];
}

async function metric(r: Replica, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.httpPort}/metrics`)).text();
  const m = new RegExp(`^teleops_webhook_requests_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

const sum = async (rs: readonly Replica[], outcome: string): Promise<number> =>
  (await Promise.all(rs.map((r) => metric(r, outcome)))).reduce((a, b) => a + b, 0);

const db = () => url.split('/').pop()!;

/** `teleops audit verify` on the database, against one replica's anchor file. */
async function verify(r: Replica): Promise<{ code: number | null; output: string }> {
  const v = runTeleops(['audit', 'verify'], { DATABASE_URL: url, AUDIT_HMAC_KEY: KEY, AUDIT_ANCHOR_PATH: r.anchor });
  const code = await v.exited;
  return { code, output: v.output() };
}

/** The bot's answers to `/test touch <name>`: each update has a name of its own. */
const replies = (name: string): StoredMessage[] => fake.messages(OP).filter((m) => m.text === `touched ${name}`);

/** How many times `/test touch <name>` ran, in every replica together. */
function ranCount(name: string): number {
  let text = '';
  try {
    text = readFileSync(runsFile, 'utf8');
  } catch {
    return 0;
  }
  return text.split('\n').filter((l) => l === `touch ${name}`).length;
}

/** A fixed pseudo-random sequence (mulberry32): random choices, the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const lastId = (): number => fake.messages(OP).at(-1)?.message_id ?? 0;

const approveData = (m: StoredMessage): string =>
  (m.reply_markup?.inline_keyboard ?? [])
    .flat()
    .map((b) => ('callback_data' in b ? b.callback_data : undefined))
    .find((d) => d?.startsWith('a:') && d.endsWith(':y'))!;

describe.skipIf(noPostgres)('replicas on one PostgreSQL database, in webhook mode', () => {
  it('a stream delivered to random replicas, some updates twice: each is answered once, the chain verifies', async () => {
    const rs = await replicas(3);
    const random = seeded(18);
    const first = new Map<number, number>();
    fake.deliverWebhooks(
      rs.map((r) => r.to),
      {
        parallel: 6,
        pick: (u, attempt) => {
          if (!first.has(u.update_id)) first.set(u.update_id, Math.floor(random() * rs.length));
          return rs[(first.get(u.update_id)! + attempt) % rs.length]!.to;
        },
      },
    );
    const names = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const ids = new Map<string, number>();
    const racing: Promise<PostAnswer>[] = [];
    for (const [i, name] of names.entries()) {
      const id = fake.sendText({ from: OP, text: `/test touch ${name}` }).updateId;
      ids.set(name, id);
      if (!first.has(id)) first.set(id, Math.floor(random() * rs.length));
      // Every fifth also reaches another replica at once: the two race to claim it.
      if (i % 5 === 0) {
        racing.push(fake.postWebhook(id, { to: rs[(first.get(id)! + 1) % rs.length]!.to }));
      }
    }
    expect((await Promise.all(racing)).map((a) => a.status)).toEqual(Array(racing.length).fill(200));
    for (const name of names) await fake.waitForMessage({ chat: OP, match: `touched ${name}`, timeoutMs: 30_000 });
    // Telegram delivers some again later (its confirmation got lost), to whichever replica.
    await fake.waitFor(() => fake.pendingUpdates === 0, 20_000, 'every update confirmed');
    for (const name of names.filter((_, i) => i % 7 === 3)) {
      first.delete(ids.get(name)!);
      fake.redeliver(ids.get(name)!);
    }
    await fake.waitFor(() => fake.pendingUpdates === 0, 20_000, 'every update confirmed');

    // Each accepted once, somewhere; every other delivery found the claim, so nothing can run later.
    const delivered = fake.webhookDeliveries.filter((d) => d.status === 200).length + racing.length;
    expect(await sum(rs, 'accepted')).toBe(names.length);
    expect(await sum(rs, 'duplicate')).toBe(delivered - names.length);
    for (const r of rs) expect(await metric(r, 'accepted')).toBeGreaterThan(0);
    for (const name of names) {
      expect(replies(name), name).toHaveLength(1);
      expect(ranCount(name), name).toBe(1);
    }
    const audited = await pg.psql(db(), `SELECT count(*) FROM audit WHERE entry::json->>'action' = 'test.touch'`);
    expect(Number(audited)).toBe(2 * names.length);
    const v = await verify(rs[0]!);
    expect(v.output).toMatch(/^audit log intact: \d+ entries, head #\d+\n$/);
    expect(v.code).toBe(0);

    // One replica leads the background work, and /status, answered by whichever replica, names it.
    const details = await Promise.all(
      rs.map(async (r) => {
        const h = (await (await fetch(`http://127.0.0.1:${r.httpPort}/health`)).json()) as {
          details: Record<string, string>;
        };
        return h.details.leader ?? '';
      }),
    );
    const leaders = details.flatMap((d) => /^this replica \((.+:\d+)\) leads/.exec(d)?.[1] ?? []);
    expect(leaders).toHaveLength(1);
    const asked = fake.sendText({ from: OP, text: '/status' }).message;
    const status = await fake.waitForMessage({ chat: OP, after: asked.message_id, match: /leader/, timeoutMs: 20_000 });
    expect(status.text).toContain(leaders[0]);
  }, 90_000);

  it('a double tap: Approve pressed twice at once, one press on each replica, runs once', async () => {
    const [a, b] = await two();
    const rounds: [Replica, Replica][] = [
      [a, b],
      [b, a],
      [a, b],
    ];
    for (const [round, [first, second]] of rounds.entries()) {
      const name = `d${round}`;
      const before = lastId();
      const asked = fake.sendText({ from: OP, text: `/test destroy ${name}` }).updateId;
      expect((await fake.postWebhook(asked, { to: first.to })).status).toBe(200);
      const card = await fake.waitForMessage({
        chat: OP,
        match: /^⚠️ Approval needed/,
        after: before,
        timeoutMs: 20_000,
      });
      const presses = [0, 1].map(() =>
        fake.pressButton({ from: OP, messageId: card.message_id, data: approveData(card) }),
      );
      const updates = presses.map(
        (id) => [...fake.updates.values()].find((u) => u.callback_query?.id === id)!.update_id,
      );
      const answers = await Promise.all([
        fake.postWebhook(updates[0]!, { to: first.to }),
        fake.postWebhook(updates[1]!, { to: second.to }),
      ]);
      expect(answers.map((x) => x.status)).toEqual([200, 200]);
      const told = await fake.waitFor(
        () => {
          const got = presses.map((id) => fake.callbackAnswers.find((c) => c.callback_query_id === id));
          return got.every((g) => g !== undefined) ? got : undefined;
        },
        20_000,
        'both presses answered',
      );
      // One press decided it (answered without a word: the card shows the rest), the other is told.
      expect(told.map((t) => t.text ?? '').sort()).toEqual(['', 'Already approved by @u10.']);
      await fake.waitForMessage({ chat: OP, match: `destroyed ${name}`, after: card.message_id, timeoutMs: 20_000 });
      await fake
        .waitFor(
          () => /✅ Approved by @u10 · done: destroyed /.test(fake.message(OP, card.message_id)?.text ?? ''),
          20_000,
          'the card to show the one run',
        )
        .catch((err: Error) => {
          const edits = fake.calls.filter(
            (c) => c.method === 'editMessageText' && c.params.message_id === card.message_id,
          );
          throw new Error(
            `${err.message}; it shows ${JSON.stringify(fake.message(OP, card.message_id)?.text)}; edits: ${JSON.stringify(edits.map((c) => [c.status, String(c.params.text).split('\n').at(-1)]))}`,
          );
        });
      expect(runs(runsFile, 'destroy')).toBe(round + 1);
      const outcomes = await pg.psql(
        db(),
        `SELECT entry::json->>'outcome' FROM audit WHERE entry::json->>'target' = 'thing ${name}' ORDER BY seq`,
      );
      expect(outcomes.trim().split('\n')).toEqual(['approval_requested', 'approved', 'started', 'ok']);
    }
    expect(fake.messages(OP).filter((m) => /^destroyed /.test(m.text ?? ''))).toHaveLength(3);
    // Each replica took its press (and its share of the commands): the race was across processes.
    expect([await metric(a, 'accepted'), await metric(b, 'accepted')]).toEqual([5, 4]);
  }, 60_000);

  it('a forged webhook request, without or with a wrong secret, is refused by every replica and counted', async () => {
    const rs = await two();
    const { updateId } = fake.sendText({ from: OP, text: '/test touch forged' });
    for (const r of rs) {
      for (const secret of [null, 'not-the-secret', SECRET.slice(0, -1)])
        expect((await fake.postWebhook(updateId, { to: r.to, secret })).status).toBe(401);
    }
    for (const r of rs) {
      expect(await metric(r, 'unauthorized')).toBe(3);
      expect(await metric(r, 'accepted')).toBe(0);
    }
    expect(runs(runsFile, 'touch')).toBe(0);
    expect(fake.messages(OP)).toHaveLength(0);
    // Not claimed either: the database holds no trace of it, and Telegram's own delivery runs it.
    expect(await pg.psql(db(), `SELECT count(*) FROM processed_updates`)).toBe('0\n');
    expect(await pg.psql(db(), `SELECT count(*) FROM audit`)).toBe('0\n');
    expect((await fake.postWebhook(updateId, { to: rs[1]!.to })).status).toBe(200);
    await fake.waitForMessage({ chat: OP, match: 'touched forged', timeoutMs: 20_000 });
    expect(runs(runsFile, 'touch')).toBe(1);
  }, 60_000);

  it('an operator spread over replicas is held to RATE_LIMIT_PER_MINUTE once, not once per replica', async () => {
    const rs = await two({ RATE_LIMIT_PER_MINUTE: '3' });
    // Each update to the other replica than the one before, four at a time: what a load balancer makes of a burst.
    fake.deliverWebhooks(
      rs.map((r) => r.to),
      { parallel: 4, pick: (u, attempt) => rs[(u.update_id + attempt) % rs.length]!.to },
    );
    const names = Array.from({ length: 8 }, (_, i) => `burst${i}`);
    for (const name of names) fake.sendText({ from: OP, text: `/test touch ${name}` });
    await fake.waitFor(() => fake.pendingUpdates === 0, 20_000, 'every update confirmed');
    await fake.waitForMessage({ chat: OP, match: /^⏳ Slow down/, timeoutMs: 20_000 });
    for (const r of rs) expect(await metric(r, 'accepted')).toBe(4);
    // Three ran (three per replica would have been six), and one refusal was told, by one replica.
    expect(runs(runsFile, 'touch')).toBe(3);
    expect(fake.messages(OP).filter((m) => m.text?.startsWith('touched '))).toHaveLength(3);
    expect(fake.messages(OP).filter((m) => m.text?.startsWith('⏳ Slow down'))).toHaveLength(1);
    expect(await pg.psql(db(), `SELECT count(*) FROM audit WHERE entry::json->>'outcome' = 'rate_limited'`)).toBe(
      '1\n',
    );
  }, 60_000);

  it("the AI's approval decided on another replica: its denial and its approved run reach the AI there", async () => {
    // The model asks for test.destroy, then says what the tool answered.
    const llm = await startFakeLlm((req) =>
      req.toolResults.length === 0
        ? { calls: [{ tool: 'test_destroy', args: { name: req.userText.split(' ').at(-1)! } }] }
        : { text: `tool said: ${req.toolResults.at(-1)!.split('\n')[0]}` },
    );
    try {
      const rs = await two({
        AI_PROVIDER: 'openai-compatible',
        AI_BASE_URL: `${llm.url}/v1`,
        AI_MODEL: 'scripted',
        AI_API_KEY: 'llm-key-0123456789',
      });
      // What is typed goes to replica a, every button press to b.
      fake.deliverWebhooks(
        rs.map((r) => r.to),
        { pick: (u, attempt) => rs[((u.callback_query ? 1 : 0) + attempt) % 2]!.to },
      );
      for (const [decision, name, said] of [
        ['n', 'alpha', /^tool said: DENIED by /],
        ['y', 'beta', /^tool said: APPROVED by \S+ and run\. Result:/],
      ] as const) {
        const after = lastId();
        fake.sendText({ from: OP, text: `please destroy ${name}` });
        const card = await fake.waitForMessage({ chat: OP, after, match: /Approval needed/, timeoutMs: 20_000 });
        const data = (card.reply_markup?.inline_keyboard ?? [])
          .flat()
          .map((b) => ('callback_data' in b ? b.callback_data : undefined))
          .find((d) => d?.startsWith('a:') && d.endsWith(`:${decision}`))!;
        fake.pressButton({ from: OP, messageId: card.message_id, data });
        await fake.waitForMessage({ chat: OP, after: card.message_id, match: said, timeoutMs: 20_000 });
      }
      expect(readFileSync(runsFile, 'utf8')).toBe('destroy beta\n');
      expect(await metric(rs[1]!, 'accepted')).toBe(2);
    } finally {
      await llm.close();
    }
  }, 90_000);

  it('an update adopted by another replica while it waited in its queue here: run there, not here too', async () => {
    const [a] = await two();
    fake.deliverWebhooks([a.to], {});
    // a works on something slow; the next update of the chat waits behind it, claimed by a.
    fake.sendText({ from: OP, text: '/test slow 1900' });
    const { updateId } = fake.sendText({ from: OP, text: '/test touch fenced' });
    const claimedBy = async () =>
      (await pg.psql(db(), `SELECT owner FROM processed_updates WHERE update_id = ${updateId}`)).trim();
    await fake.waitFor(() => fake.pendingUpdates === 0, 20_000, 'both updates delivered to a');
    expect(await claimedBy()).not.toBe('');
    // What a stalled a (or one whose clock ran behind) looks like to the others: a claim nobody renews.
    await pg.psql(
      db(),
      `UPDATE processed_updates SET owner = 'stalled', until = 0 WHERE update_id = ${updateId} AND state = 'queued'`,
    );
    await fake.waitForMessage({ chat: OP, match: 'touched fenced', timeoutMs: 20_000 });
    await fake.waitForMessage({ chat: OP, match: /^slept 1900 ms$/, timeoutMs: 20_000 });
    // a had it queued the whole time; when its turn came it was no longer a's to begin (b's, or a's
    // own adopted copy's, whichever began first), so it ran once.
    await new Promise((r) => setTimeout(r, 1000));
    expect(ranCount('fenced')).toBe(1);
    expect(replies('fenced')).toHaveLength(1);
    expect(a.proc.output()).toContain('not handling an update adopted while it waited here: its adopter begins it');
  }, 60_000);

  it('kill -9 of one replica mid-stream: nothing runs twice or is lost; what it had begun is told as interrupted', async () => {
    const [a, b] = await two();
    let dead = false;
    // Every update an attempt went to b for while b was alive: the only ones it can have claimed.
    const toB = new Set<number>();
    const isSlow = (u: Update) => u.message?.text?.startsWith('/test slow') === true;
    fake.deliverWebhooks([a.to, b.to], {
      parallel: 4,
      // First to one or the other by the update's id (the slow one to b), then to each in turn.
      pick: (u, attempt) => {
        const r = [a, b][((isSlow(u) ? 1 : u.update_id) + attempt) % 2]!;
        if (r === b && !dead) toB.add(u.update_id);
        return r.to;
      },
    });
    const names = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const ids = new Map<string, number>();
    const send = (from: number, to: number) => {
      for (const name of names.slice(from, to))
        ids.set(name, fake.sendText({ from: OP, text: `/test touch ${name}` }).updateId);
    };
    send(0, 10);
    for (const name of names.slice(0, 10))
      await fake.waitForMessage({ chat: OP, match: `touched ${name}`, timeoutMs: 20_000 });
    // b takes a slow command (Telegram has its 200 at once), and the stream goes on meanwhile.
    const slow = fake.sendText({ from: OP, text: '/test slow 1500' }).updateId;
    send(10, 20);
    await fake.waitFor(
      () => fake.webhookDeliveries.some((d) => d.updateId === slow && d.status === 200),
      20_000,
      'b to take the slow command',
    );
    await b.proc.stop('SIGKILL');
    dead = true;
    // Those first sent to b now meet a closed port, and go to a.
    send(20, 30);
    await fake.waitFor(() => fake.pendingUpdates === 0, 30_000, 'every update confirmed');
    // The slow command was delivered once, to b: Telegram had its 200, so left alone it never
    // sends it again, whatever became of it in b.
    expect(fake.webhookDeliveries.filter((d) => d.updateId === slow)).toEqual([
      { updateId: slow, to: b.to, status: 200 },
    ]);
    // The kill really was mid-stream: some deliveries failed on b, and went to a instead.
    const failedOnB = new Set(
      fake.webhookDeliveries.filter((d) => d.to === b.to && d.status !== 200).map((d) => d.updateId),
    );
    expect(failedOnB.size).toBeGreaterThan(0);
    for (const id of failedOnB)
      expect(fake.webhookDeliveries.filter((d) => d.updateId === id && d.status === 200).map((d) => d.to)).toEqual([
        a.to,
      ]);
    // Telegram, unsure what b confirmed, delivers everything it ever sent there again (now to a).
    for (const id of toB) fake.redeliver(id);
    await fake.waitFor(() => fake.pendingUpdates === 0, 30_000, 'every re-delivery confirmed');
    const unclaimedByB = names.filter((n) => !toB.has(ids.get(n)!));
    for (const name of unclaimedByB)
      await fake.waitForMessage({ chat: OP, match: `touched ${name}`, timeoutMs: 20_000 });
    // What b had claimed is adopted by a once b's claims run out: run if b had not begun it,
    // told as interrupted in the chat if it had.
    // A notice answers the message it is about, and never repeats its text (it may be a password).
    const notices = () =>
      fake.calls.filter((c) => c.method === 'sendMessage' && /Interrupted/.test(String(c.params.text)));
    const told = (command: string) => {
      const sent = fake.history(OP).find((m) => m.sender === 'user' && m.text === command)?.message_id;
      return notices().filter((c) => (c.params.reply_parameters as { message_id?: number })?.message_id === sent);
    };
    const settled = (name: string) => replies(name).length + told(`/test touch ${name}`).length > 0;
    await fake.waitFor(() => names.every(settled), 30_000, 'every update answered, or told as interrupted');
    await fake.waitFor(
      () => fake.messages(OP).some((m) => m.text === 'slept 1500 ms') || told('/test slow 1500').length > 0,
      30_000,
      'the slow command answered, or told as interrupted',
    );
    for (const n of notices()) expect(String(n.params.text)).not.toContain('/test');
    // Every re-delivery found its update claimed (by b or by a): none is run again.
    expect(await metric(a, 'duplicate')).toBeGreaterThanOrEqual(toB.size);
    // a lets what it has taken finish: from here on nothing changes.
    expect(await a.proc.stop('SIGTERM')).toBe(0);

    for (const name of names) {
      expect(ranCount(name), name).toBeLessThanOrEqual(1);
      expect(replies(name).length, name).toBeLessThanOrEqual(1);
    }
    // Never sent to b (all sent after the kill among them): run and answered exactly once.
    expect(unclaimedByB.length).toBeGreaterThanOrEqual(15);
    for (const name of unclaimedByB) {
      expect(ranCount(name), name).toBe(1);
      expect(replies(name), name).toHaveLength(1);
    }
    // None lost: each answered once, or (begun on b when it died) told once as interrupted.
    for (const name of names) {
      expect(replies(name).length + told(`/test touch ${name}`).length, name).toBe(1);
      if (told(`/test touch ${name}`).length > 0) expect(toB.has(ids.get(name)!), name).toBe(true);
    }
    // The audit agrees: no action started twice, and the chain verifies against a's anchor.
    const starts = await pg.psql(
      db(),
      `SELECT max(n) FROM (SELECT count(*) AS n FROM audit WHERE entry::json->>'outcome' = 'started'
         GROUP BY entry::json->>'target') s`,
    );
    expect(starts).toBe('1\n');
    const v = await verify(a);
    expect(v.output).toMatch(/^audit log intact: \d+ entries, head #\d+\n$/);
    expect(v.code).toBe(0);
  }, 90_000);
});
