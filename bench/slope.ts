import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/core/audit.js';
import { RANGE_MIN_ROWS } from '../src/core/audit-verify.js';
import { openDb } from '../src/store/db.js';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import { freePort } from '../test/support/process.js';
import { entry } from './audit.js';
import { startBot } from './bot.js';
import type { Report } from './report.js';
import { procStatus } from './telegram.js';

const OP = 4343;
/** What an operator types in a working day, Docker aside (this bench runs without a dockerd). */
const MIX = ['/whoami', '/status', '/help', '/audit', '/tmux ls', '/audit verify', 'hello', '/nonsense'];
const PER_SECOND = 10;
const SAMPLE_MS = 15_000;
const WARM_UP_MS = 60_000;
/**
 * Audit rows before the warm-up: as many as make a verification take every thread it will
 * (one per core, once the log holds a range for each), as a log of a few days' work does. From
 * an empty log, the loop would otherwise measure the one-time step of a thread starting (a few
 * MB) somewhere in its minutes, not growth with work.
 */
const SEEDED_ROWS = RANGE_MIN_ROWS * availableParallelism();

/**
 * V8's committed heap, from the bot's own /metrics (prom-client's default metrics, as deployed):
 * V8 grows and shrinks it by its own rules (seen falling 9 MB in one step), so the bot's slope is
 * split into that and the rest (malloc: SQLite, Node's native parts).
 */
async function heapCommitted(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^teleops_nodejs_heap_size_total_bytes (\S+)$/m.exec(text);
  if (!m) throw new Error("slope bench: the bot's /metrics has no teleops_nodejs_heap_size_total_bytes");
  return Number(m[1]) / 2 ** 20;
}

/** Least-squares slope of ys over xs. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

/** Writes `rows` typical entries as the bot would have: it starts on the log of a bot restarted. */
function seedLog(stateDir: string, rows: number): void {
  const db = openDb(stateDir);
  const log = new AuditLog(db, { anchorPath: join(stateDir, 'audit.anchor') });
  try {
    log.appendAll(Array.from({ length: rows }, (_, i) => entry(i)));
  } finally {
    log.close();
    db.close();
  }
}

/**
 * The bot's RSS over a loop of mixed commands (SLOPE_MINUTES, default 10, after a minute of
 * warm-up), sampled every 15 s: its slope in MB per minute should be about 0 — memory that
 * grows with work done is a leak whatever the level. The audit log is seeded first (see
 * SEEDED_ROWS); the RSS when the loop starts is the baseline. The RSS is the bot's with its
 * child processes' (verify's helpers: they run while verifications keep coming). What grows is
 * split into anonymous memory (heaps) and file-backed (mapped files: the helpers map the audit
 * database, which grows with every command), and into the bot's own and its helpers', with the
 * slope of the loop's second half and the threads and helpers at both ends, so that a step can be
 * told from a leak. The bot's own anonymous memory is split again into V8's committed heap (read
 * from its /metrics, served as deployed) and what lies outside it.
 */
export async function benchSlope(report: Report): Promise<void> {
  const minutes = Number(process.env.SLOPE_MINUTES ?? 10);
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP });
  const dir = tempDir('teleops-bench-slope-');
  seedLog(dir.path, SEEDED_ROWS);
  const port = await freePort();
  const proc = await startBot(fake, dir.path, [OP], {
    DOCKER_ENABLED: 'false',
    TMUX_SOCKET: `${dir.path}/tmux.sock`,
    // As deployed: /health and /metrics served (and the V8 heap read from /metrics).
    HTTP_PORT: String(port),
    RATE_LIMIT_PER_MINUTE: '10000',
    TELEGRAM_GLOBAL_PER_SECOND: '0',
    TELEGRAM_PRIVATE_PER_SECOND: '0',
  });
  const pid = proc.child.pid!;
  let sent = 0;
  const typing = setInterval(() => fake.sendText({ from: OP, text: MIX[sent++ % MIX.length]! }), 1000 / PER_SECOND);
  const at: number[] = [];
  const samples: ReturnType<typeof procStatus>[] = [];
  const heaps: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, WARM_UP_MS));
    const t0 = performance.now();
    while (performance.now() - t0 < minutes * 60_000) {
      at.push((performance.now() - t0) / 60_000);
      samples.push(procStatus(pid));
      heaps.push(await heapCommitted(port));
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  } finally {
    clearInterval(typing);
    await proc.stop();
    await fake.stop();
    dir.remove();
  }
  const answered = fake.messages(OP).length;
  const rss = samples.map((s) => s.rss);
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const half = Math.floor(samples.length / 2);
  const seedNote = `baseline; the bot started on ${SEEDED_ROWS} audit entries`;
  report('memory loop: RSS as the loop starts (after 1 min of it)', first.rss, 'MB', seedNote);
  report(`memory loop: RSS after ${minutes} min more`, last.rss, 'MB', `${sent} commands sent, ${answered} answered`);
  report(
    'memory loop: RSS slope',
    slope(at, rss),
    'MB/min',
    `goal ≤ 0.2; least squares over ${rss.length} samples; load ${loadavg()[0]!.toFixed(2)}`,
  );
  report(
    'memory loop: anonymous memory slope',
    slope(
      at,
      samples.map((s) => s.anon),
    ),
    'MB/min',
    'heaps and malloc',
  );
  report(
    'memory loop: file-backed memory slope',
    slope(
      at,
      samples.map((s) => s.file),
    ),
    'MB/min',
    'mapped files',
  );
  const own = samples.map((s) => s.own.rss);
  report(
    'memory loop: RSS slope of the bot alone',
    slope(at, own),
    'MB/min',
    `${first.own.rss.toFixed(1)} → ${last.own.rss.toFixed(1)} MB; anonymous ${slope(
      at,
      samples.map((s) => s.own.anon),
    ).toFixed(2)}`,
  );
  report(
    "memory loop: the bot's V8 heap slope",
    slope(at, heaps),
    'MB/min',
    `committed, ${heaps[0]!.toFixed(1)} → ${heaps.at(-1)!.toFixed(1)} MB (${Math.min(...heaps).toFixed(1)}–${Math.max(
      ...heaps,
    ).toFixed(1)}); V8 sizes it by its own rules`,
  );
  report(
    "memory loop: the bot's anonymous memory outside V8's heap, slope",
    slope(
      at,
      samples.map((s, i) => s.own.anon - heaps[i]!),
    ),
    'MB/min',
    'malloc (SQLite, Node) and the rest',
  );
  const helpers = (part: 'rss' | 'anon' | 'file'): number =>
    slope(
      at,
      samples.map((s) => s[part] - s.own[part]),
    );
  report(
    "memory loop: RSS slope of verify's helpers",
    helpers('rss'),
    'MB/min',
    `anonymous ${helpers('anon').toFixed(2)}, file-backed ${helpers('file').toFixed(2)}; ` +
      `${first.children} helpers at the start, ${last.children} at the end`,
  );
  report(
    "memory loop: RSS slope over the loop's second half",
    slope(at.slice(half), rss.slice(half)),
    'MB/min',
    `threads ${first.threads} at the start, ${last.threads} at the end`,
  );
}
