// The bot side of the Docker benchmarks: `/docker ps all` and `/docker logs <c> 200` sent
// through the fake Bot API to a real `teleops start` process and timed until its answer
// arrives, for bench/docker.ts to race against the raw Engine calls. Also samples that
// process's RSS while it serves the logs, for the "≤ 30 MB" goal.
import { readFileSync } from 'node:fs';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import type { Proc } from '../test/support/process.js';
import { childPids } from '../test/support/procs.js';
import { startBot } from './bot.js';
import { percentile, sortNumbers, type Report } from './report.js';

const OP = 4242;
const ANSWER_TIMEOUT_MS = 60_000;
const RSS_SAMPLE_MS = 2;
const FLOOR_ROUNDS = 20;
const WORK_WHOAMI = 100;
const IDLE_AFTER_WORK_MS = 60_000;

/**
 * Each round trip resolves with the bot's span of it (ms): from the fake Bot API handing the
 * update to the bot's poll until the bot's reply had arrived in full. What is left of the
 * wall-clock time is the fake's own work (queueing the update, storing the reply, telling
 * the benchmark): Telegram's side.
 */
export interface DockerBot {
  /** `/docker ps all`, until its list arrives. */
  runPs(): Promise<number>;
  /** `/docker logs <container> 200`, until its `.log` document arrives. */
  runLogs(container: string): Promise<number>;
}

/** VmRSS of a process, in bytes (NaN once it has gone). */
function rssBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? NaN : Number(kb) * 1024;
  } catch {
    return NaN;
  }
}

/**
 * The bot's span for an update (ms): from the fake handing it over until the last reply
 * (`method`) to `chat` had arrived — the last part, when the answer was split.
 */
export function botSpan(fake: FakeBotApi, chat: number, updateId: number, method: string): number {
  const handed = fake.handedOverAt(updateId);
  const reply =
    handed === undefined
      ? undefined
      : fake.calls.findLast((c) => c.method === method && c.chat_id === chat && c.receivedAt >= handed);
  if (handed === undefined || reply === undefined)
    throw new Error(`docker bot bench: no ${method} answered update ${updateId}`);
  return reply.receivedAt - handed;
}

/**
 * DOCKER_HOST of the dockerd this process started (benchDockerPrivate starts it and does not
 * hand its address to the runners): the newest `dockerd` child of ours, read from its `--host`.
 */
function ownDockerdHost(): string {
  let best: { start: number; host: string } | undefined;
  for (const pid of childPids(process.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: state, ppid, … starttime is field 22.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (comm !== 'dockerd') continue;
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const host = args[args.indexOf('--host') + 1];
      const start = Number(rest[19]);
      if (args.includes('--host') && host && (best === undefined || start > best.start)) best = { start, host };
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  if (best === undefined) throw new Error('docker bot bench: no dockerd started by this process');
  return best.host;
}

/**
 * Runs `fn` with a DockerBot; the `teleops start` process is started on first use (by then
 * the benchmark's daemon is up) and stopped afterwards. Reports the bot's RSS figures.
 */
export async function withDockerBot(report: Report, fn: (bot: DockerBot) => Promise<void>): Promise<void> {
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP });
  const dir = tempDir('teleops-bench-docker-');
  let proc: Proc | undefined;
  let starting: Promise<Proc> | undefined;
  const rss = { idle: NaN, peak: 0, worstStep: 0, samples: 0 };
  const span = (updateId: number, method: string): number => botSpan(fake, OP, updateId, method);

  const bot = (): Promise<Proc> =>
    (starting ??= (async () => {
      proc = await startBot(fake, dir.path, [OP], {
        DOCKER_HOST: ownDockerdHost(),
        DOCKER_TIMEOUT_SECONDS: '60',
        TMUX_ENABLED: 'false',
        RATE_LIMIT_PER_MINUTE: '10000',
        // Telegram's own pacing (~1 message a second per chat) is not what is measured here.
        TELEGRAM_GLOBAL_PER_SECOND: '0',
        TELEGRAM_PRIVATE_PER_SECOND: '0',
      });
      return proc;
    })());

  const ask = (text: string): { updateId: number; after: number } => {
    const { updateId, message } = fake.sendText({ from: OP, text });
    return { updateId, after: message.message_id };
  };

  const docker: DockerBot = {
    async runPs() {
      await bot();
      const { updateId, after } = ask('/docker ps all');
      await fake.waitForMessage({ chat: OP, after, match: /^🐳 Containers: \d+/, timeoutMs: ANSWER_TIMEOUT_MS });
      return span(updateId, 'sendMessage');
    },
    async runLogs(container) {
      const pid = (await bot()).child.pid!;
      const before = rssBytes(pid);
      if (Number.isNaN(rss.idle)) rss.idle = before;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssBytes(pid));
        rss.samples++;
      }, RSS_SAMPLE_MS);
      let updateId: number;
      try {
        const docs = fake.documents(OP).length;
        updateId = ask(`/docker logs ${container} 200`).updateId;
        await fake.waitFor(() => fake.documents(OP).length > docs, ANSWER_TIMEOUT_MS, 'the .log document');
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, rssBytes(pid));
      rss.peak = Math.max(rss.peak, peak);
      rss.worstStep = Math.max(rss.worstStep, peak - before);
      return span(updateId, 'sendDocument');
    },
  };

  try {
    await fn(docker);
    if (proc !== undefined) {
      // What any command costs through the bot, Docker aside: the floor under both ratios.
      const times: number[] = [];
      const spans: number[] = [];
      for (let i = 0; i < FLOOR_ROUNDS; i++) {
        const t0 = performance.now();
        const { updateId, after } = ask('/whoami');
        await fake.waitForMessage({ chat: OP, after, match: /role operator/, timeoutMs: ANSWER_TIMEOUT_MS });
        times.push(performance.now() - t0);
        spans.push(span(updateId, 'sendMessage'));
      }
      report(
        '/whoami through the bot (no Docker call)',
        percentile(sortNumbers(times), 50),
        'ms',
        'median; the fake Bot API included',
      );
      report("/whoami, the bot's span", percentile(sortNumbers(spans), 50), 'ms', 'median; the transport floor');
      // Issue 20's working session, and more: the rounds above, 100 /whoami, then a minute idle.
      const before = fake.messages(OP).length;
      for (let i = 0; i < WORK_WHOAMI; i++) ask('/whoami');
      await fake.waitFor(() => fake.messages(OP).length >= before + WORK_WHOAMI, ANSWER_TIMEOUT_MS, 'the replies');
      await new Promise((r) => setTimeout(r, IDLE_AFTER_WORK_MS));
      report(
        'docker bot: RSS after the work above, 100 /whoami and 60 s idle',
        rssBytes(proc.child.pid!) / 1048576,
        'MB',
        'goal ≤ 100; /docker ps over 100 containers and logs included',
      );
    }
    if (!Number.isNaN(rss.idle)) {
      report('/docker logs via the bot: teleops RSS before the first', rss.idle / 1048576, 'MB', 'baseline');
      report(
        '/docker logs via the bot: teleops peak RSS increase',
        (rss.peak - rss.idle) / 1048576,
        'MB',
        `goal ≤ 30; over every request; ${rss.samples} samples`,
      );
      report(
        '/docker logs via the bot: largest increase in one request',
        rss.worstStep / 1048576,
        'MB',
        'peak during it − RSS just before',
      );
    }
  } finally {
    await proc?.stop();
    await fake.stop();
    dir.remove();
  }
}
