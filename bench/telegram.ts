import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import { childPids } from '../test/support/procs.js';
import { startBot } from './bot.js';
import { percentile, sortNumbers, type Report } from './report.js';

const UPDATES = 1000;
const USERS = Array.from({ length: 50 }, (_, i) => 1000 + i);

/**
 * 1,000 /whoami updates from 50 operators through the fake Bot API to the real `teleops
 * start` process and back: throughput, and latency from update queued to reply received.
 * Outgoing spacing is off here (TELEGRAM_GLOBAL_PER_SECOND=0): Telegram's own limit (~30/s)
 * would otherwise be what is measured.
 */
export async function benchTelegram(report: Report): Promise<void> {
  const fake = new FakeBotApi();
  await fake.start();
  const dir = tempDir('teleops-bench-tg-');
  for (const id of USERS) fake.createUser({ id });
  const proc = await startBot(fake, dir.path, USERS, {
    DOCKER_ENABLED: 'false',
    RATE_LIMIT_PER_MINUTE: '1000',
    TELEGRAM_GLOBAL_PER_SECOND: '0',
  });
  try {
    // Warm-up round, not measured.
    for (const id of USERS) fake.sendText({ from: id, text: '/whoami' });
    await fake.waitFor(() => USERS.every((id) => fake.messages(id).length >= 1), 30_000, 'warm-up replies');

    // Burst: all 1,000 queued at once; how fast does the bot drain them?
    const serverBefore = fake.serverTimeMs;
    const t0 = performance.now();
    await roundTrips(fake, UPDATES, 0);
    const elapsed = performance.now() - t0;
    const fakeCost = fake.serverTimeMs - serverBefore;
    report('telegram loop: burst of 1,000 /whoami, updates/s (wall clock)', (UPDATES / elapsed) * 1000, 'updates/s');
    report(
      'telegram loop: same, fake server cost subtracted',
      (UPDATES / (elapsed - fakeCost)) * 1000,
      'updates/s',
      `goal ≥ 300; fake spent ${fakeCost.toFixed(0)} ms`,
    );
    // Paced at 300 updates/s: the latency an operator sees under that load.
    const latencies = sortNumbers(await roundTrips(fake, UPDATES, 1000 / 300));
    report('telegram loop: 1,000 at 300/s, latency p50 (queued → reply)', percentile(latencies, 50), 'ms');
    report(
      'telegram loop: 1,000 at 300/s, latency p99 (queued → reply)',
      percentile(latencies, 99),
      'ms',
      'goal ≤ 50 ms',
    );
  } finally {
    await proc.stop();
    await fake.stop();
    dir.remove();
  }
}

/** Sends n /whoami updates round-robin over USERS, `gapMs` apart; returns each one's latency. */
async function roundTrips(fake: FakeBotApi, n: number, gapMs: number): Promise<number[]> {
  const sentAt = new Map<number, number[]>(USERS.map((id) => [id, []]));
  const seen = new Map<number, number>(USERS.map((id) => [id, fake.messages(id).length]));
  const base = new Map(seen);
  const latencies: number[] = [];
  const collect = () => {
    const now = performance.now();
    for (const id of USERS) {
      const have = fake.messages(id).length;
      for (let k = seen.get(id)!; k < have; k++) latencies.push(now - sentAt.get(id)![k - base.get(id)!]!);
      seen.set(id, have);
    }
  };
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (gapMs > 0) {
      const due = start + i * gapMs;
      while (performance.now() < due) {
        collect();
        await new Promise((r) => setImmediate(r));
      }
    }
    const id = USERS[i % USERS.length]!;
    fake.sendText({ from: id, text: '/whoami' });
    sentAt.get(id)!.push(performance.now());
  }
  await fake.waitFor(() => (collect(), latencies.length >= n), 120_000, 'all replies');
  return latencies;
}

const WORK_WHOAMI = 100;

/**
 * RSS of `teleops start` (as installed: bin/teleops.js) idle for `idleMs` from its start, then
 * after 100 /whoami and as long idle again, then after a full garbage collection (asked for
 * through the inspector, which the bot runs on a random local port here), next to a bare Node
 * process's RSS as baseline.
 */
export async function benchMemory(report: Report, idleMs = 60_000): Promise<void> {
  const fake = new FakeBotApi();
  await fake.start();
  const dir = tempDir('teleops-bench-mem-');
  const proc = await startBot(fake, dir.path, [1], {
    DOCKER_ENABLED: 'false',
    RATE_LIMIT_PER_MINUTE: '1000',
    TELEGRAM_GLOBAL_PER_SECOND: '0',
    NODE_OPTIONS: '--inspect=127.0.0.1:0',
  });
  const bare = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)']);
  const pid = proc.child.pid!;
  const idle = (): Promise<void> => new Promise((r) => setTimeout(r, idleMs));
  const s = `${idleMs / 1000}s`;
  try {
    await idle();
    report('memory: bare node process RSS', rssMb(bare.pid!), 'MB', 'baseline');
    report(`memory: teleops start, idle ${s} from start`, rssMb(pid), 'MB', `load ${loadavg()[0]!.toFixed(2)}`);
    for (let i = 0; i < WORK_WHOAMI; i++) fake.sendText({ from: 1, text: '/whoami' });
    await fake.waitFor(() => fake.messages(1).length >= WORK_WHOAMI, 60_000, 'the replies');
    report(`memory: right after ${WORK_WHOAMI} /whoami`, rssMb(pid), 'MB');
    await idle();
    const goal = 'goal ≤ 100 MB (issue 20: also 15 /ps)';
    report(`memory: after ${WORK_WHOAMI} /whoami and ${s} idle`, rssMb(pid), 'MB', goal);
    await collectGarbage(proc.output());
    report('memory: then after a full GC', rssMb(pid), 'MB');
  } finally {
    bare.kill();
    await proc.stop();
    await fake.stop();
    dir.remove();
  }
}

/**
 * Has the process whose output is `output` (started with --inspect) run a full GC: a child
 * Node sends the inspector's HeapProfiler.collectGarbage (Node 20's WebSocket is behind a flag).
 */
async function collectGarbage(output: string): Promise<void> {
  const url = /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
  if (url === undefined) throw new Error(`the bot did not start its inspector:\n${output}`);
  const script = `const ws = new WebSocket(${JSON.stringify(url)});
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (m) => { if (JSON.parse(m.data).id === 1) { ws.close(); process.exit(0); } };
    setTimeout(() => process.exit(1), 30000);`;
  const argv = ['--experimental-websocket', '--no-warnings', '-e', script];
  const code = await new Promise((resolve) => spawn(process.execPath, argv, { stdio: 'ignore' }).on('exit', resolve));
  if (code !== 0) throw new Error('the inspector did not answer HeapProfiler.collectGarbage');
}

export function rssMb(pid: number): number {
  return procStatus(pid).rss;
}

/** Resident memory of one process in MB: anonymous (heaps, malloc) and file-backed (code, mapped files). */
interface Resident {
  rss: number;
  anon: number;
  file: number;
}

/**
 * Resident memory of a process with its child processes (verify's helpers) and of the process
 * alone, its threads, and how many children it has. Summed RSS counts pages the processes share
 * (node's code) once per process: an upper bound.
 */
export function procStatus(pid: number): Resident & { own: Resident; threads: number; children: number } {
  const read = (p: number): (Resident & { threads: number }) | undefined => {
    let s: string;
    try {
      s = readFileSync(join('/proc', String(p), 'status'), 'utf8');
    } catch (e) {
      if (p === pid) throw e;
      return undefined;
    }
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return {
      rss: field('VmRSS') / 1024,
      anon: field('RssAnon') / 1024,
      file: field('RssFile') / 1024,
      threads: field('Threads'),
    };
  };
  const own = read(pid)!;
  const total = { rss: own.rss, anon: own.anon, file: own.file, threads: own.threads, children: 0 };
  for (const child of childPids(pid).map(read)) {
    if (child === undefined) continue;
    total.rss += child.rss;
    total.anon += child.anon;
    total.file += child.file;
    total.children++;
  }
  return { ...total, own: { rss: own.rss, anon: own.anon, file: own.file } };
}
