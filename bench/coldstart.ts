import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { FakeBotApi } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import { runTeleops } from '../test/support/process.js';
import { sortNumbers, type Report } from './report.js';

const RUNS = 5;
const OPERATOR = 4242;

/** Milliseconds from spawning a bare `node -e ''` to its exit: what any Node process costs to start. */
async function bareNode(): Promise<number> {
  const t0 = performance.now();
  await new Promise((resolve) => spawn(process.execPath, ['-e', '']).on('exit', resolve));
  return performance.now() - t0;
}

/**
 * Cold start of `teleops start` as installed (bin/teleops.js running the dist/ that `npm run
 * bench` builds first), with its settings' defaults but no Docker (this machine's dockerd is
 * the tests' own): a /whoami waits at the fake Bot API before the process is spawned, and the
 * figure is spawn → that reply received. Each run has a fresh state directory (its database is
 * created and migrated, as at a first start). Baseline: a bare Node process, spawned to its exit.
 */
export async function benchColdStart(report: Report): Promise<void> {
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OPERATOR });
  const starts: number[] = [];
  const bare: number[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      bare.push(await bareNode());
      const dir = tempDir('teleops-bench-cold-');
      const before = fake.messages(OPERATOR).length;
      fake.sendText({ from: OPERATOR, text: '/whoami' });
      const t0 = performance.now();
      const proc = runTeleops(
        ['start'],
        {
          TELEGRAM_BOT_TOKEN: fake.token,
          TELEGRAM_API_ROOT: fake.apiRoot,
          AUTHORIZED_USER_IDS: String(OPERATOR),
          STATE_DIR: dir.path,
          HTTP_PORT: '0',
          LOG_LEVEL: 'warn',
          DOCKER_ENABLED: 'false',
        },
        { bin: true },
      );
      try {
        const replied = (): boolean => fake.messages(OPERATOR).length > before;
        await fake.waitFor(replied, 30_000, 'the first reply').catch((e: Error) => {
          throw new Error(`${e.message}; teleops printed:\n${proc.output()}`);
        });
        starts.push(performance.now() - t0);
      } finally {
        await proc.stop();
        dir.remove();
      }
    }
  } finally {
    await fake.stop();
  }
  const median = (xs: number[]): number => sortNumbers(xs)[xs.length >> 1]!;
  const load = `load ${loadavg()[0]!.toFixed(2)}`;
  report('cold start: bare node, spawn → exit (median)', median(bare), 'ms', 'baseline');
  const name = `cold start: teleops start, spawn → first reply (median of ${RUNS})`;
  report(name, median(starts), 'ms', `goal ≤ 1000 ms; ${load}`);
  report('cold start: teleops start, best run', Math.min(...starts), 'ms');
  report('cold start / bare node', median(starts) / median(bare), 'ratio');
}
