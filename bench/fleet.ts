// Issue 17's fleet figures, on 4 private dockerds with 100 containers each:
//  1. `/docker ps all` over the 4 hosts through the real `teleops start` (DOCKER_HOSTS naming
//     them) and the fake Bot API, against the slowest host's raw `GET /containers/json?all=1`
//     in the same run (goal ≤ 1.2×: the hosts are asked in parallel); the same bot with one
//     host, against its host's raw call, shows what the other three add;
//  2. the idle CPU of that bot, watching the events of 4 hosts, against the one-host bot idle
//     over the same window.
import { loadavg } from 'node:os';
import Docker from 'dockerode';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import { DockerdUnavailable, startDockerd, stopDockerd, type DockerdInfo } from '../test/support/dockerd.js';
import type { Proc } from '../test/support/process.js';
import { startBot } from './bot.js';
import { botSpan } from './docker-bot.js';
import { createPsContainers, median, race, rawGet } from './docker.js';
import type { Report } from './report.js';
import { clockTicks, procCpu } from './proc.js';
import { runsCompiled } from './tmux-bot.js';

const OP = 4242;
const HOSTS = 4;
const PER_HOST = 100;
const SUITE = 'bench-fleet';
const ROUNDS = 20;
const ANSWER_TIMEOUT_MS = 60_000;
/** After the timed commands, before the idle window: replies sent, nothing left in flight. */
const SETTLE_MS = 5000;
const IDLE_WINDOW_MS = 25_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hostName = (i: number) => `h${i + 1}`;
const load = () => `load ${loadavg()[0]!.toFixed(2)}`;

/** One `teleops start` with its own fake Bot API (a bot token is polled by one process only). */
interface Bot {
  readonly fake: FakeBotApi;
  readonly dir: ReturnType<typeof tempDir>;
  proc?: Proc;
}

/** `/docker ps all` through `bot`, until every host's list has arrived; resolves with the bot's span. */
async function ps(bot: Bot, hosts: readonly string[]): Promise<number> {
  const { updateId, message } = bot.fake.sendText({ from: OP, text: '/docker ps all' });
  // One host answers with its list alone; several, each list under a line naming its host.
  const lists =
    hosts.length === 1
      ? [/^🐳 Containers: \d+/m]
      : hosts.map((h) => new RegExp(`^🖥 host ${h}\\n🐳 Containers: \\d+`, 'm'));
  const answer = () =>
    bot.fake
      .messages(OP)
      .filter((m) => m.message_id > message.message_id)
      .map((m) => m.text ?? '')
      .join('\n');
  await bot.fake.waitFor(() => lists.every((re) => re.test(answer())), ANSWER_TIMEOUT_MS, 'the container lists');
  return botSpan(bot.fake, OP, updateId, 'sendMessage');
}

export async function benchFleet(report: Report): Promise<void> {
  const daemons: DockerdInfo[] = [];
  const bots: Bot[] = [];
  try {
    let t0 = performance.now();
    const started = await Promise.allSettled(Array.from({ length: HOSTS }, () => startDockerd()));
    for (const s of started) if (s.status === 'fulfilled') daemons.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      if (!(failed.reason instanceof DockerdUnavailable)) throw failed.reason;
      process.stdout.write(`fleet benchmark skipped: ${failed.reason.message}\n`);
      return;
    }
    report(`fleet: setup, ${HOSTS} dockerd started`, performance.now() - t0, 'ms', 'in parallel');
    t0 = performance.now();
    const engines = daemons.map((d) => new Docker({ socketPath: d.socketPath }));
    await Promise.all(engines.map((e) => createPsContainers(e, SUITE, PER_HOST)));
    report(`fleet: setup, ${HOSTS} × ${PER_HOST} containers created`, performance.now() - t0, 'ms', 'not started');

    const names = daemons.map((_, i) => hostName(i));
    const start = async (env: Record<string, string>): Promise<Bot> => {
      const bot: Bot = { fake: new FakeBotApi(), dir: tempDir('teleops-bench-fleet-') };
      bots.push(bot);
      await bot.fake.start();
      bot.fake.createUser({ id: OP });
      bot.proc = await startBot(bot.fake, bot.dir.path, [OP], {
        ...env,
        DOCKER_TIMEOUT_SECONDS: '60',
        TMUX_ENABLED: 'false',
        RATE_LIMIT_PER_MINUTE: '10000',
        // Telegram's own pacing (~1 message a second per chat) is not what is measured here.
        TELEGRAM_GLOBAL_PER_SECOND: '0',
        TELEGRAM_PRIVATE_PER_SECOND: '0',
      });
      return bot;
    };
    const fleet = await start({ DOCKER_HOSTS: daemons.map((d, i) => `${hostName(i)}=${d.host}`).join(',') });
    const single = await start({ DOCKER_HOST: daemons[0]!.host });
    const runs = runsCompiled()
      ? 'the compiled dist/'
      : 'the TypeScript sources through tsx (dist/ is older than src/)';
    process.stdout.write(`teleops start runs ${runs}\n`);

    // 1. Every contender once per round, interleaved, so that noise hits all alike.
    const list = (d: DockerdInfo) => () =>
      rawGet(d.socketPath, '/containers/json?all=1').then((b) => void JSON.parse(b.toString('utf8')));
    const times = await race(ROUNDS, {
      ...Object.fromEntries(daemons.map((d, i) => [hostName(i), list(d)])),
      together: () => Promise.all(daemons.map((d) => list(d)())),
      fleet: () => ps(fleet, names),
      single: () => ps(single, names.slice(0, 1)),
    });
    const raws = names.map((n) => median(times[n]!));
    const slowest = Math.max(...raws);
    const slowestName = names[raws.indexOf(slowest)]!;
    report(
      `GET /containers/json?all=1 (${PER_HOST} containers), slowest host, raw`,
      slowest,
      'ms',
      `median of ${slowestName}; the hosts' medians: ${raws.map((r) => r.toFixed(1)).join(', ')} ms`,
    );
    const together = median(times.together!);
    report(`the same GET on all ${HOSTS} hosts at once, raw`, together, 'ms', 'median; the floor of any parallel ask');
    const [viaBot, span] = [median(times.fleet!), median(times['fleet own']!)];
    report(`/docker ps all over ${HOSTS} hosts through the bot`, viaBot, 'ms', 'median; the fake Bot API included');
    report(
      `/docker ps all over ${HOSTS} hosts, the bot's span`,
      span,
      'ms',
      'median; update handed over → last part of the reply received',
    );
    report(
      `/docker ps over ${HOSTS} hosts through the bot / slowest host raw`,
      viaBot / slowest,
      'x',
      `goal ≤ 1.2; fake included; ${ROUNDS} rounds, ${load()}`,
    );
    report(`/docker ps over ${HOSTS} hosts, the bot's span / slowest host raw`, span / slowest, 'x', 'fake left out');
    // Here the 4 daemons share this machine's cores, so asking them together costs more than
    // asking the slowest alone (on a real fleet each host has its own): the bot against that floor.
    report(
      `/docker ps over ${HOSTS} hosts via the bot / all at once raw`,
      viaBot / together,
      'x',
      'fake included; the daemons share this machine',
    );
    report(
      '/docker ps, one-host bot through the bot / its host raw',
      median(times.single!) / raws[0]!,
      'x',
      `the same run's one-host figure (${median(times.single!).toFixed(1)} vs ${raws[0]!.toFixed(1)} ms)`,
    );

    // 2. Both bots idle over the same window: no command, no Docker event, only their watchers and polls.
    const hz = clockTicks();
    await sleep(SETTLE_MS);
    const cpu = () => bots.map((b) => procCpu(b.proc!.child.pid!, hz)[0]);
    const before = cpu();
    const w0 = performance.now();
    await sleep(IDLE_WINDOW_MS);
    const after = cpu();
    const seconds = (performance.now() - w0) / 1000;
    const [fleetCpu, singleCpu] = after.map((a, i) => (a - before[i]!) / seconds) as [number, number];
    const window = `${Math.round(seconds)} s window, ${load()}`;
    const perMin = (perSecond: number) => `${(60 * perSecond).toFixed(2)} s CPU a minute`;
    report(
      'fleet: idle CPU, bot watching 1 host',
      100 * singleCpu,
      '% core',
      `baseline; ${perMin(singleCpu)}; ${window}`,
    );
    report(
      `fleet: idle CPU, bot watching ${HOSTS} hosts`,
      100 * fleetCpu,
      '% core',
      `${perMin(fleetCpu)}; the same window`,
    );
    report(
      `fleet: idle CPU, ${HOSTS} hosts − 1 host`,
      100 * (fleetCpu - singleCpu),
      '% core',
      'what 3 more watchers cost',
    );
  } finally {
    for (const b of bots) {
      await b.proc?.stop();
      await b.fake.stop();
      b.dir.remove();
    }
    // Each daemon's data root goes with it, containers and all.
    await Promise.all(daemons.map((d) => stopDockerd(d)));
  }
}
