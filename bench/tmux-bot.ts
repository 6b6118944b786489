// Issue 5's tmux figures end to end: the real `teleops start` process watching 50 sessions
// (25 printing, 25 quiet) of a tmux server on a private socket, at the default poll interval,
// talking to the fake Bot API. What that process (with the tmux clients it runs) and the tmux
// server spend, against the same process watching nothing in the same run; and how long a
// prompt printed by a program takes to arrive at the fake Bot API as an alert — without
// Telegram's per-chat pacing, then again with the default pacing after a restart.
import { execFile, execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TMUX_SETTINGS } from '../src/targets/tmux/settings.js';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import type { Proc } from '../test/support/process.js';
import { startBot } from './bot.js';
import { clockTicks, procCpu } from './proc.js';
import { percentile, sortNumbers, type Report } from './report.js';

const OP = 4242;
const BUSY = 25;
const QUIET = 25;
/** Quiet sessions prompted without pacing; the rest are prompted after the restart with it. */
const UNPACED_TRIALS = 15;
const CPU_WINDOW_MS = 30_000;
/** Prompts are this far apart on average (uniform 0.5×–1.5×), so their phase against the poll varies. */
const TRIAL_SPACING_MS = 1000;
/** No phase may hang the run; generous, as a shared machine under load is several times slower. */
const WAIT_LIMIT_MS = 120_000;
const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Printing without forking, so the machine's load is the watcher's, not the programs'.
const BUSY_PL = `$| = 1; for (my $n = 0; ; $n++) { print "line $n\\n"; select(undef, undef, undef, 0.2) }\n`;
// Blocks (costing nothing) until the bench writes to its FIFO, prints the prompt, and writes
// down when it did: the start of the latency.
const QUIET_PL = `use Time::HiRes qw(time);
open(my $in, '<', $ARGV[0]) or die "fifo: $!";
my $go = <$in>;
$| = 1;
print 'Continue? [y/N] ';
my $t = time;
open(my $out, '>', $ARGV[1]) or die "stamp: $!";
print $out sprintf('%.6f', $t);
close $out;
sleep 3600;
`;

/** What bin/teleops.js decides: the compiled dist/ when it is at least as new as src/, else tsx. */
export function runsCompiled(): boolean {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => {
      const p = join(dir, e.name);
      return Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  const cli = join(ROOT, 'dist', 'cli.js');
  return existsSync(cli) && statSync(cli).mtimeMs >= newest(join(ROOT, 'src'));
}

interface Sample {
  readonly at: number;
  /** The teleops process. */
  readonly own: number;
  /** tmux clients it ran and waited for. */
  readonly clients: number;
  /** The tmux server. */
  readonly server: number;
  /** Writes that reached the fake Bot API so far. */
  readonly writes: number;
}

export async function benchTmuxBot(report: Report): Promise<void> {
  try {
    execFileSync('tmux', ['-V'], { timeout: 5000, stdio: 'pipe' });
    execFileSync('perl', ['-MTime::HiRes', '-e', '1'], { timeout: 5000, stdio: 'pipe' });
  } catch {
    process.stdout.write('tmux or perl is not installed here; skipping the tmux bot benchmark\n');
    return;
  }
  const hz = clockTicks();
  const poll = DEFAULT_TMUX_SETTINGS.pollMs;
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP });
  const dir = tempDir('teleops-bench-tmuxbot-');
  const sock = join(dir.path, 'tmux.sock');
  const tmux = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile('tmux', ['-S', sock, '-f', '/dev/null', ...args], { timeout: 10_000 }, (e, out, err) =>
        e ? reject(new Error(`tmux ${args[0]}: ${err.trim() || e.message}`)) : resolve(out.trim()),
      ),
    );
  let proc: Proc | undefined;
  let serverPid: number | undefined;
  const start = async (pacing: Record<string, string>): Promise<Proc> => {
    proc = await startBot(fake, dir.path, [OP], {
      DOCKER_ENABLED: 'false',
      TMUX_SOCKET: sock,
      RATE_LIMIT_PER_MINUTE: '10000',
      ...pacing,
    });
    return proc;
  };

  try {
    const busy = Array.from({ length: BUSY }, (_, i) => `busy${i}`);
    const quiet = Array.from({ length: QUIET }, (_, i) => `quiet${i}`);
    writeFileSync(join(dir.path, 'busy.pl'), BUSY_PL);
    writeFileSync(join(dir.path, 'quiet.pl'), QUIET_PL);
    const fifo = (s: string) => join(dir.path, `${s}.fifo`);
    const stamp = (s: string) => join(dir.path, `${s}.printed`);
    execFileSync('mkfifo', quiet.map(fifo), { timeout: 5000 });
    // Sessions the operator started at the desk; tmux runs the argument vector, no shell.
    for (const s of busy) await tmux('new-session', '-d', '-s', s, 'perl', join(dir.path, 'busy.pl'));
    for (const s of quiet)
      await tmux('new-session', '-d', '-s', s, 'perl', join(dir.path, 'quiet.pl'), fifo(s), stamp(s));
    serverPid = Number(await tmux('display-message', '-p', '#{pid}'));
    const server = serverPid;

    const compiled = runsCompiled();
    const pid = (await start({ TELEGRAM_PRIVATE_PER_SECOND: '0' })).child.pid!;
    process.stdout.write(
      `teleops start runs ${compiled ? 'the compiled dist/' : 'the TypeScript sources through tsx (dist/ is older than src/)'}\n`,
    );
    const isWrite = (m: string) => m === 'sendMessage' || m === 'editMessageText';
    const sample = (): Sample => {
      const [own, clients] = procCpu(pid, hz);
      return {
        at: performance.now(),
        own,
        clients,
        server: procCpu(server, hz)[0],
        writes: fake.calls.filter((c) => isWrite(c.method)).length,
      };
    };
    const rates = (a: Sample, b: Sample) => {
      const s = (b.at - a.at) / 1000;
      return {
        own: (b.own - a.own) / s,
        clients: (b.clients - a.clients) / s,
        server: (b.server - a.server) / s,
        writes: (b.writes - a.writes) / s,
      };
    };

    // Baseline: the same process, nothing watched, the same server with its 25 printing sessions.
    await sleep(2000);
    const b0 = sample();
    await sleep(CPU_WINDOW_MS);
    const base = rates(b0, sample());

    const t0 = performance.now();
    for (const s of [...busy, ...quiet]) fake.sendText({ from: OP, text: `/tmux watch ${s}` });
    const cardOf = (s: string) => fake.messages(OP).find((m) => new RegExp(`^\\S+ ${s} · `).test(m.text ?? ''));
    await fake.waitFor(() => [...busy, ...quiet].every((s) => cardOf(s) !== undefined), WAIT_LIMIT_MS, 'all 50 cards');
    const watchedIn = (performance.now() - t0) / 1000;

    await sleep(2 * poll);
    const w0 = sample();
    await sleep(CPU_WINDOW_MS);
    const watched = rates(w0, sample());

    const pct = (perSecond: number) => 100 * perSecond;
    const perMin = (perSecond: number) => `${(60 * perSecond).toFixed(2)} s CPU a minute`;
    const ownExtra = watched.own - base.own;
    const clientsExtra = watched.clients - base.clients;
    const serverExtra = watched.server - base.server;
    report(
      'tmux-bot.baseline.teleops_cpu',
      pct(base.own + base.clients),
      '% core',
      `teleops start + its tmux clients, 0 sessions watched, ${CPU_WINDOW_MS / 1000} s; ${perMin(base.own + base.clients)}`,
    );
    report(
      'tmux-bot.baseline.server_cpu',
      pct(base.server),
      '% core',
      'tmux server with its 25 printing sessions, unwatched',
    );
    report(
      'tmux-bot.watch50.teleops_cpu',
      pct(watched.own + watched.clients),
      '% core',
      `same process watching 50, ${CPU_WINDOW_MS / 1000} s; ${perMin(watched.own + watched.clients)}`,
    );
    report(
      'tmux-bot.watch50.cpu',
      pct(ownExtra + clientsExtra),
      '% core',
      `watched − baseline (process ${pct(ownExtra).toFixed(2)} + tmux clients ${pct(clientsExtra).toFixed(2)}); goal ≤ 3`,
    );
    report('tmux-bot.watch50.server_cpu', pct(serverExtra), '% core', 'extra tmux server CPU while watched');
    report(
      'tmux-bot.watch50.total_cpu',
      pct(ownExtra + clientsExtra + serverExtra),
      '% core',
      'watcher + tmux clients + tmux server, minus baseline',
    );
    report(
      'tmux-bot.watch50.writes',
      watched.writes,
      'writes/s',
      `sendMessage + editMessageText at the fake; TELEGRAM_PRIVATE_PER_SECOND=0 (baseline ${base.writes.toFixed(2)})`,
    );
    report('tmux-bot.watch50.setup', watchedIn, 's', '50 × /tmux watch until every card arrived');

    /** Prompts the sessions one by one; resolves with each print → alert-arrival latency (s). */
    const prompt = async (sessions: readonly string[]): Promise<number[]> => {
      const from = fake.calls.length;
      for (const s of sessions) {
        await sleep(TRIAL_SPACING_MS * (0.5 + Math.random()));
        // Non-blocking: a program that is not waiting on its FIFO fails here instead of hanging.
        const fd = openSync(fifo(s), constants.O_WRONLY | constants.O_NONBLOCK);
        writeSync(fd, 'go\n');
        closeSync(fd);
      }
      const alertOf = (s: string) =>
        fake.calls
          .slice(from)
          .find(
            (c) =>
              c.method === 'sendMessage' &&
              c.chat_id === OP &&
              String(c.params.text ?? '').startsWith(`🟡 ${s} · waiting for input`),
          );
      await fake
        .waitFor(() => sessions.every((s) => alertOf(s) !== undefined), WAIT_LIMIT_MS, 'every alert')
        .catch(() => undefined);
      return sortNumbers(
        sessions.flatMap((s) => {
          const alert = alertOf(s);
          return alert && existsSync(stamp(s)) ? [alert.at / 1000 - Number(readFileSync(stamp(s), 'utf8'))] : [];
        }),
      );
    };
    const goal = 2 * (poll / 1000) + 1;
    const latencies = (name: string, sessions: readonly string[], lat: number[], how: string) => {
      report(
        `tmux-bot.prompt_to_alert${name}.p50`,
        percentile(lat, 50),
        's',
        `${lat.length}/${sessions.length} alerts arrived, min ${(lat[0] ?? NaN).toFixed(3)} s; ${how}`,
      );
      report(
        `tmux-bot.prompt_to_alert${name}.p95`,
        percentile(lat, 95),
        's',
        `goal ≤ ${goal} s (2 polls + 1 s); max ${(lat.at(-1) ?? NaN).toFixed(3)} s`,
      );
    };

    const unpaced = quiet.slice(0, UNPACED_TRIALS);
    latencies('', unpaced, await prompt(unpaced), 'TELEGRAM_PRIVATE_PER_SECOND=0');

    // The same watches with the default pacing (about one write a second per private chat,
    // alerts ahead of card edits): a restart keeps the watches and cards.
    await proc?.stop();
    await start({});
    await sleep(2 * poll);
    const paced = quiet.slice(UNPACED_TRIALS);
    latencies(
      '.paced',
      paced,
      await prompt(paced),
      'default pacing: 1 write per 1.2 s window in a private chat, alerts first; prompts come ~1/s, so alerts can queue',
    );
    report('tmux-bot.http_429', fake.calls.filter((c) => c.status === 429).length, 'answers', 'over the whole run');
  } finally {
    await proc?.stop();
    await tmux('kill-server').catch(() => undefined);
    // kill-server returns before the server has gone.
    for (let i = 0; i < 50 && serverPid !== undefined && existsSync(`/proc/${serverPid}`); i++) await sleep(100);
    await fake.stop();
    dir.remove();
  }
}
