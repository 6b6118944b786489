/**
 * The leader of the background work dies: two `teleops start` replicas on one PostgreSQL,
 * watching one real dockerd, in webhook mode behind the fake Bot API. The leader alone alerts;
 * after a kill -9 the other takes the lease and reports what crashed in between, once, and the
 * audit chain still verifies.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBotApi, type StoredMessage } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer } from '../support/dockerd.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../support/postgres.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';

const env = await useDockerd('e2e-failover');
const noPostgres = process.env.CI === 'true' ? undefined : postgresPrerequisites();

const OP = 10;
const P = 'tfo';
const KEY = 'failover-e2e-audit-key-0123456789';
const SECRET = 'failover_Secret-0123456789abcdefABC';

interface Replica {
  readonly proc: Proc;
  readonly httpPort: number;
  readonly anchor: string;
}

describe.skipIf(!env || noPostgres)('failover of the leader between replicas', () => {
  const e = env!;
  let pg: Postgres;
  let fake: FakeBotApi;
  let url: string;
  const dirs: { path: string; remove(): void }[] = [];
  const procs: Proc[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.database();
    fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    fake.createUser({ id: OP, username: `u${OP}` });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await fake?.stop();
    await pg?.stop();
    for (const d of dirs) d.remove();
  });

  async function replica(): Promise<Replica> {
    const dir = tempDir();
    dirs.push(dir);
    const httpPort = await freePort();
    const proc = runTeleops(['start'], {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: String(OP),
      STATE_DIR: dir.path,
      DATABASE_URL: url,
      LEADER_LEASE_SECONDS: '3',
      HTTP_PORT: String(httpPort),
      DOCKER_HOST: e.host,
      TMUX_ENABLED: 'false',
      AUDIT_HMAC_KEY: KEY,
      TELEGRAM_WEBHOOK_URL: 'https://bot.example.test/tg/hook',
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      TELEGRAM_WEBHOOK_PORT: String(await freePort()),
    });
    procs.push(proc);
    await proc.waitForOutput(/serving the Telegram webhook/, 45_000);
    return { proc, httpPort, anchor: join(dir.path, 'audit.anchor') };
  }

  async function leaderOf(r: Replica): Promise<string> {
    const h = (await (await fetch(`http://127.0.0.1:${r.httpPort}/health`)).json()) as {
      details: Record<string, string>;
    };
    return h.details.leader ?? '';
  }

  const alertsAbout = (name: string): StoredMessage[] =>
    fake
      .messages(OP)
      .filter((m) => /exited with code/.test(m.text ?? '') && (m.text ?? '').includes(`Container ${name} (`));
  const crash = (name: string) =>
    createTestContainer(e.docker, { name: `${P}-${name}`, cmd: ['sh', '-c', 'exit 5'], suite: e.suite });

  it('only the leader alerts; after it is killed the other leads and reports the crash in between, once', async () => {
    const [a, b] = [await replica(), await replica()];
    // One of them leads, the other says who.
    let details: string[] = [];
    for (const end = Date.now() + 15_000; !details.some((d) => d.startsWith('this replica'));) {
      if (Date.now() > end) throw new Error(`no leader after 15 s: ${details.join('; ')}`);
      await new Promise((r) => setTimeout(r, 200));
      details = await Promise.all([leaderOf(a!), leaderOf(b!)]);
    }
    const [leader, follower] = details[0]!.startsWith('this replica') ? [a!, b!] : [b!, a!];
    expect(await leaderOf(follower)).toMatch(/^follower; .+:\d+ leads$/);

    await crash('before');
    await fake.waitFor(() => alertsAbout(`${P}-before`).length > 0, 20_000, 'the alert from the first leader');

    leader.proc.child.kill('SIGKILL');
    await leader.proc.exited;
    await crash('between');
    await fake.waitFor(() => alertsAbout(`${P}-between`).length > 0, 30_000, 'the alert from the new leader');
    expect(await leaderOf(follower)).toMatch(/^this replica \(.+:\d+\) leads the background work$/);

    // Events are handled in order: once a later crash has alerted, nothing before it is pending.
    await crash('sentinel');
    await fake.waitFor(() => alertsAbout(`${P}-sentinel`).length > 0, 20_000, 'the sentinel alert');
    expect(alertsAbout(`${P}-before`)).toHaveLength(1);
    expect(alertsAbout(`${P}-between`)).toHaveLength(1);

    const v = runTeleops(['audit', 'verify'], {
      DATABASE_URL: url,
      AUDIT_HMAC_KEY: KEY,
      AUDIT_ANCHOR_PATH: follower.anchor,
    });
    expect(await v.exited).toBe(0);
    expect(v.output()).toMatch(/^audit log intact: \d+ entries, head #\d+\n$/);
  }, 180_000);
});
