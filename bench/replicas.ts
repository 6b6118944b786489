// Issue 18's replica figures, each `teleops start` as installed (bin/teleops.js) in webhook mode
// on one private PostgreSQL server, behind the fake Bot API delivering as Telegram does:
//  1. updates/s through 3 replicas on one database against 1 replica on another database of the
//     same server, in the same run (a burst of /whoami from 50 operators);
//  2. failover: the leader of the background work killed (kill -9) with a container crashing
//     right after, until the alert about it from the new leader; p50/p99 over up to 20 kills on
//     a private dockerd, and whether each crash was alerted exactly once.
// Standalone: `npx tsx bench/replicas.ts` (after `npm run build`).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Docker from 'dockerode';
import { FakeBotApi, type StoredMessage } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import {
  createTestContainer,
  DockerdUnavailable,
  removeSuiteContainers,
  startDockerd,
  stopDockerd,
  type DockerdInfo,
} from '../test/support/dockerd.js';
import { postgresPrerequisites, startPostgres, type Postgres } from '../test/support/postgres.js';
import { freePort, runTeleops, type Proc } from '../test/support/process.js';
import { loadNow } from './audit.js';
import { percentile, printReport, sortNumbers, type Report } from './report.js';

const USERS = Array.from({ length: 50 }, (_, i) => 1000 + i);
const OP = USERS[0]!;
const BURST = 1000;
/** Telegram's default max_connections: deliveries under way at once, over all replicas. */
const PARALLEL = 40;
const SECRET = 'bench_Secret-0123456789abcdefABCDEF';
const HOOK = 'https://bot.example.test/tg/hook';
const KEY = 'bench-replicas-audit-key-0123456789';
/** The shortest lease teleops accepts: the failover figure is mostly this. */
const LEASE_SECONDS = 3;
const KILLS = 20;
/** The failover rounds stop here even if fewer than KILLS were made (each round also starts a replica). */
const FAILOVER_BUDGET_MS = 150_000;
const SUITE = 'bench-replicas';
const START_TIMEOUT_MS = 60_000;
const ALERT_TIMEOUT_MS = 60_000;

interface Replica {
  readonly proc: Proc;
  /** Where the TLS-terminating proxy forwards the webhook URL to. */
  readonly to: string;
  readonly httpPort: number;
  readonly dir: ReturnType<typeof tempDir>;
}

const setWebhooks = (fake: FakeBotApi): number => fake.webhookCalls.filter((c) => c.method === 'setWebhook').length;

/** `n` replicas on the database at `url`, each with its own state directory and ports; once each has set the webhook. */
async function startReplicas(
  fake: FakeBotApi,
  url: string,
  n: number,
  env: Record<string, string>,
): Promise<Replica[]> {
  const before = setWebhooks(fake);
  const started = await Promise.all(
    Array.from({ length: n }, async (): Promise<Replica> => {
      const dir = tempDir('teleops-bench-replica-');
      const [httpPort, hookPort] = [await freePort(), await freePort()];
      const proc = runTeleops(
        ['start'],
        {
          TELEGRAM_BOT_TOKEN: fake.token,
          TELEGRAM_API_ROOT: fake.apiRoot,
          AUTHORIZED_USER_IDS: USERS.join(','),
          STATE_DIR: dir.path,
          DATABASE_URL: url,
          HTTP_PORT: String(httpPort),
          AUDIT_HMAC_KEY: KEY,
          TELEGRAM_WEBHOOK_URL: HOOK,
          TELEGRAM_WEBHOOK_SECRET: SECRET,
          TELEGRAM_WEBHOOK_PORT: String(hookPort),
          TELEGRAM_PRIVATE_PER_SECOND: '0',
          TELEGRAM_GLOBAL_PER_SECOND: '0',
          RATE_LIMIT_PER_MINUTE: '1000',
          LEADER_LEASE_SECONDS: String(LEASE_SECONDS),
          TMUX_ENABLED: 'false',
          LOG_LEVEL: 'warn',
          ...env,
        },
        { bin: true },
      );
      return { proc, to: `http://127.0.0.1:${hookPort}`, httpPort, dir };
    }),
  );
  // Each listens before it tells Telegram its webhook: set n times, all are ready.
  await fake
    .waitFor(
      () => {
        const dead = started.find((r) => r.proc.child.exitCode !== null);
        if (dead) throw new Error(`a replica exited during start-up:\n${dead.proc.output()}`);
        return setWebhooks(fake) >= before + n;
      },
      START_TIMEOUT_MS,
      `${n} replica(s) to set the webhook`,
    )
    .catch(async (e: Error) => {
      await stopAll(started);
      throw new Error(`${e.message}; they printed:\n${started.map((r) => r.proc.output()).join('\n---\n')}`);
    });
  return started;
}

async function stopAll(rs: readonly Replica[], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await Promise.all(rs.map((r) => r.proc.stop(signal)));
  for (const r of rs) r.dir.remove();
}

const replies = (fake: FakeBotApi): number => USERS.reduce((n, id) => n + fake.messages(id).length, 0);

/** A burst of BURST /whoami through `n` replicas on a fresh database: updates/s, and replies counted. */
async function loop(pg: Postgres, n: number): Promise<{ rate: number; answered: number }> {
  const fake = new FakeBotApi();
  await fake.start();
  for (const id of USERS) fake.createUser({ id });
  let rs: Replica[] = [];
  try {
    rs = await startReplicas(fake, await pg.database(), n, { DOCKER_ENABLED: 'false' });
    const stop = fake.deliverWebhooks(
      rs.map((r) => r.to),
      { parallel: PARALLEL },
    );
    // Warm-up round, not measured: every replica has answered some by the end of it.
    for (const id of USERS) fake.sendText({ from: id, text: '/whoami' });
    await fake.waitFor(() => replies(fake) >= USERS.length, 60_000, 'warm-up replies');
    const t0 = performance.now();
    for (let i = 0; i < BURST; i++) fake.sendText({ from: USERS[i % USERS.length]!, text: '/whoami' });
    await fake.waitFor(() => replies(fake) >= USERS.length + BURST, 120_000, 'all replies');
    const seconds = (performance.now() - t0) / 1e3;
    await fake.waitFor(() => fake.pendingUpdates === 0, 30_000, 'every update confirmed');
    stop();
    return { rate: BURST / seconds, answered: replies(fake) - USERS.length };
  } finally {
    await stopAll(rs);
    await fake.stop();
  }
}

/** Updates/s through 1 replica, then through 3 on one database; their ratio. */
async function benchLoop(report: Report, pg: Postgres): Promise<void> {
  const one = await loop(pg, 1);
  const load1 = loadNow();
  const three = await loop(pg, 3);
  const what = `${BURST} /whoami from ${USERS.length} operators, webhook mode, ${PARALLEL} deliveries at once`;
  report('telegram loop, 1 replica on PostgreSQL', one.rate, 'updates/s', `${what}; load ${load1}`);
  report('telegram loop, 3 replicas on one PostgreSQL', three.rate, 'updates/s', `the same; load ${loadNow()}`);
  report('telegram loop, 3 replicas / 1', three.rate / one.rate, 'ratio', 'every process on the same 2 cores');
  const once = one.answered === BURST && three.answered === BURST;
  process.stdout.write(
    `replies: ${one.answered} and ${three.answered} to ${BURST} updates each${once ? ', each answered once' : ' — NOT each answered once'}\n`,
  );
}

interface HealthBody {
  readonly details?: Record<string, string>;
}

/** What `r`'s /health says of the leader lease; undefined while it does not answer. */
async function leaderDetail(r: Replica): Promise<string | undefined> {
  try {
    const body = (await (await fetch(`http://127.0.0.1:${r.httpPort}/health`)).json()) as HealthBody;
    return body.details?.leader;
  } catch {
    return undefined;
  }
}

/** The replica whose /health says it leads the background work. */
async function leaderOf(rs: readonly Replica[]): Promise<Replica> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    for (const r of rs) if ((await leaderDetail(r))?.startsWith('this replica (')) return r;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  throw new Error('no replica says it leads the background work');
}

/** The crash alerts about container `name` in the operator's private chat (as test/e2e/docker.test.ts). */
const alertsAbout = (fake: FakeBotApi, name: string): StoredMessage[] =>
  fake
    .messages(OP)
    .filter((m) => /exited with code/.test(m.text ?? '') && (m.text ?? '').includes(`Container ${name} (`));

/** Makes a container that exits 3 at once; resolves when its alert has arrived. */
async function crash(docker: Docker, fake: FakeBotApi, name: string): Promise<void> {
  await createTestContainer(docker, { name, cmd: ['sh', '-c', 'exit 3'], suite: SUITE });
  await fake.waitFor(() => alertsAbout(fake, name).length > 0, ALERT_TIMEOUT_MS, `the alert about ${name}`);
}

/**
 * Two replicas with Docker on `dockerd`; rounds of: kill -9 the leader, crash a container at once,
 * time until its alert (from the other replica, now leading), start a replacement.
 */
async function benchFailover(report: Report, pg: Postgres, dockerd: DockerdInfo): Promise<void> {
  const docker = new Docker({ socketPath: dockerd.socketPath });
  const fake = new FakeBotApi();
  await fake.start();
  for (const id of USERS) fake.createUser({ id });
  const url = await pg.database();
  // No coalescing: a second alert about a crash, from a replay, would be sent. Info logs say
  // when the watcher has subscribed.
  const env = { DOCKER_HOST: dockerd.host, ALERT_COOLDOWN_SECONDS: '0', LOG_LEVEL: 'info' };
  let rs: Replica[] = [];
  try {
    rs = await startReplicas(fake, url, 2, env);
    const watching = await leaderOf(rs);
    await watching.proc.waitForOutput(/docker events: subscribed/, START_TIMEOUT_MS);
    // The first leader has left its cursor in the database.
    await crash(docker, fake, 'failover-prime');
    const times: number[] = [];
    const names: string[] = [];
    const t0 = performance.now();
    while (times.length < KILLS && performance.now() - t0 < FAILOVER_BUDGET_MS) {
      const leader = await leaderOf(rs);
      const name = `failover-${times.length + 1}`;
      const killedAt = performance.now();
      leader.proc.child.kill('SIGKILL');
      await crash(docker, fake, name);
      times.push(performance.now() - killedAt);
      names.push(name);
      await leader.proc.exited;
      leader.dir.remove();
      rs = [...rs.filter((r) => r !== leader), ...(await startReplicas(fake, url, 1, env))];
    }
    // Events are handled in order: once a later crash has alerted, a second alert about any
    // earlier one would have been sent.
    await crash(docker, fake, 'failover-sentinel');
    const counts = ['failover-prime', ...names].map((n) => alertsAbout(fake, n).length);
    const sorted = sortNumbers([...times]);
    const rounds =
      times.length < KILLS ? `${times.length} kills (of ${KILLS}: the time budget ran out)` : `${KILLS} kills`;
    const note = `${rounds}; lease ${LEASE_SECONDS} s; load ${loadNow()}`;
    report('failover, leader kill -9 → alert from the new leader, p50', percentile(sorted, 50), 'ms', note);
    report(
      'failover, leader kill -9 → alert from the new leader, p99',
      percentile(sorted, 99),
      'ms',
      `${note}; the slowest`,
    );
    const once = counts.filter((c) => c === 1).length;
    process.stdout.write(
      `crash alerts: ${once} of ${counts.length} crashes alerted exactly once` +
        `${once === counts.length ? '' : ` — alerts per crash: ${counts.join(' ')}`}; ` +
        `max ${Math.max(...sorted).toFixed(0)} ms, min ${Math.min(...sorted).toFixed(0)} ms\n`,
    );
  } finally {
    await stopAll(rs);
    await fake.stop();
    await removeSuiteContainers(docker, SUITE);
  }
}

/** Both figures on one private PostgreSQL server; each skipped, saying why, when what it needs is missing. */
export async function benchReplicas(report: Report): Promise<void> {
  const why = postgresPrerequisites();
  if (why) {
    process.stdout.write(`skipped: ${why}\n`);
    return;
  }
  let pg: Postgres;
  try {
    pg = await startPostgres({ durable: true });
  } catch (e) {
    process.stdout.write(`skipped: PostgreSQL did not start: ${(e as Error).message.split('\n')[0]}\n`);
    return;
  }
  try {
    await benchLoop(report, pg);
    let dockerd: DockerdInfo;
    try {
      dockerd = await startDockerd();
    } catch (e) {
      if (!(e instanceof DockerdUnavailable)) throw e;
      process.stdout.write(`failover skipped: ${e.message}\n`);
      return;
    }
    try {
      await benchFailover(report, pg, dockerd);
    } finally {
      await stopDockerd(dockerd);
    }
  } finally {
    await pg.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await benchReplicas(printReport());
}
