// Watching 50 tmux sessions (25 printing, 25 quiet) at the default 2 s interval on a private
// tmux server: the CPU the watcher costs, against the same process and server unwatched in
// the same run, and how long a prompt takes to become an alertable `waiting` event.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLASSIFY } from '../src/targets/tmux/classify.js';
import { createTmuxPort } from '../src/targets/tmux/port.js';
import { DEFAULT_TMUX_SETTINGS } from '../src/targets/tmux/settings.js';
import { MemoryWatchStore, TmuxWatcher } from '../src/targets/tmux/watcher.js';
import { clockTicks, procCpu } from './proc.js';
import { percentile, sortNumbers, type Report } from './report.js';

const SESSIONS = 50;
const BASELINE_MS = 10_000;
const WATCH_MS = 30_000;
const TRIAL_SPACING_MS = 450;
/** No phase may hang the run. */
const LATENCY_LIMIT_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  readonly at: number;
  /** This process, from process.cpuUsage (µs precision). */
  readonly self: number;
  /** tmux clients this process ran and waited for. */
  readonly children: number;
  /** The tmux server. */
  readonly server: number;
}

export async function benchTmux(report: Report): Promise<void> {
  try {
    execFileSync('tmux', ['-V'], { timeout: 5000, stdio: 'pipe' });
  } catch {
    process.stdout.write('tmux is not installed here; skipping the tmux benchmark\n');
    return;
  }
  const hz = clockTicks();
  const socketName = `teleops-bench-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'teleops-bench-tmux-'));
  const port = createTmuxPort({ socketName, configFile: '/dev/null', timeoutMs: 10_000 });
  let watcher: TmuxWatcher | undefined;
  try {
    const busy = SESSIONS / 2;
    for (let i = 0; i < SESSIONS; i++) {
      await port.newSession({
        name: i < busy ? `busy${i}` : `quiet${i}`,
        cwd: dir,
        // Printing without forking, so the machine's load is the watcher's, not the programs'.
        command:
          i < busy
            ? `perl -e '$|=1; for (my $n=0;;$n++) { print "line $n\\n"; select(undef,undef,undef,0.2) }'`
            : `read x; printf 'Continue? [y/N] '; read y; sleep 3600`,
      });
    }
    const serverPid = Number(
      await new Promise<string>((resolve, reject) =>
        execFile('tmux', ['-L', socketName, 'display-message', '-p', '#{pid}'], { timeout: 5000 }, (e, out) =>
          e ? reject(e) : resolve(out.trim()),
        ),
      ),
    );
    const sample = (): Sample => {
      const u = process.cpuUsage();
      return {
        at: performance.now(),
        self: (u.user + u.system) / 1e6,
        children: procCpu('self', hz)[1],
        server: procCpu(serverPid, hz)[0],
      };
    };
    const rates = (a: Sample, b: Sample) => {
      const s = (b.at - a.at) / 1000;
      return {
        self: (b.self - a.self) / s,
        children: (b.children - a.children) / s,
        server: (b.server - a.server) / s,
      };
    };

    // Baseline: the same process and server with nothing watched.
    await sleep(1000);
    const b0 = sample();
    await sleep(BASELINE_MS);
    const base = rates(b0, sample());

    watcher = new TmuxWatcher({
      port,
      store: new MemoryWatchStore(),
      pollMs: DEFAULT_TMUX_SETTINGS.pollMs,
      cardLines: DEFAULT_TMUX_SETTINGS.cardLines,
      alertCooldownMs: DEFAULT_TMUX_SETTINGS.alertCooldownMs,
      classify: DEFAULT_CLASSIFY,
    });
    const waitingAt = new Map<string, number>();
    watcher.on((e) => {
      if (e.kind === 'state_changed' && e.to === 'waiting' && e.alertable)
        waitingAt.set(e.entry.session, performance.now());
    });
    for (let i = 0; i < SESSIONS; i++) await watcher.watch({ session: i < busy ? `busy${i}` : `quiet${i}` });
    watcher.start();
    await sleep(2 * DEFAULT_TMUX_SETTINGS.pollMs);
    const w0 = sample();
    await sleep(WATCH_MS);
    const watched = rates(w0, sample());

    const pct = (perSecond: number) => 100 * perSecond;
    const own = watched.self - base.self + (watched.children - base.children);
    const server = watched.server - base.server;
    report(
      'tmux.watch50.cpu',
      pct(own),
      '% core',
      'watcher process + its tmux clients, minus the idle baseline; goal ≤ 3',
    );
    report('tmux.watch50.server_cpu', pct(server), '% core', 'extra tmux server CPU while watched');
    report('tmux.watch50.total_cpu', pct(own + server), '% core', 'both');
    report(
      'tmux.watch50.baseline_cpu',
      pct(base.self + base.children + base.server),
      '% core',
      'unwatched: this process + server with 25 printing sessions',
    );

    // Latency: each quiet session prints its prompt once, at staggered moments.
    const sentAt = new Map<string, number>();
    for (let i = busy; i < SESSIONS; i++) {
      const session = `quiet${i}`;
      await sleep(TRIAL_SPACING_MS * (0.5 + Math.random()));
      sentAt.set(session, performance.now());
      await port.sendText({ session }, 'go');
    }
    const deadline = performance.now() + LATENCY_LIMIT_MS;
    while (waitingAt.size < sentAt.size && performance.now() < deadline) await sleep(50);
    const latencies = sortNumbers([...waitingAt].map(([s, at]) => (at - sentAt.get(s)!) / 1000));
    const poll = DEFAULT_TMUX_SETTINGS.pollMs / 1000;
    report(
      'tmux.prompt_to_alert.p50',
      percentile(latencies, 50),
      's',
      `${latencies.length}/${sentAt.size} prompts seen`,
    );
    report('tmux.prompt_to_alert.p95', percentile(latencies, 95), 's', `goal ≤ ${2 * poll + 1} s (2 polls + 1 s)`);
  } finally {
    await watcher?.stop();
    await new Promise((r) => execFile('tmux', ['-L', socketName, 'kill-server'], { timeout: 5000 }, r));
    rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, socketName), { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
