// The bot as the benchmarks run it: `teleops start` as installed (bin/teleops.js, running the
// dist/ that `npm run bench` builds first) against the fake Bot API.
import { readFileSync } from 'node:fs';
import type { FakeBotApi } from '../test/fakes/botapi.js';
import { runTeleops, type Proc } from '../test/support/process.js';
import { untilPolling } from '../test/support/polling.js';

const POLL_WAIT_MS = 30_000;

const UNIT = readFileSync(new URL('../deploy/systemd/teleops.service', import.meta.url), 'utf8');

/** Node's own flags in the systemd unit's ExecStart (the Dockerfile's ENTRYPOINT has the same). */
const DEPLOYED_NODE_FLAGS = /^ExecStart=\S+ (.*?) ?\S+teleops\.js /m.exec(UNIT)?.[1] ?? '';

/** malloc's arenas as the unit sets them (the Dockerfile too); BENCH_BOT_MALLOC_ARENA_MAX tries another. */
const DEPLOYED_ARENAS = /^Environment=MALLOC_ARENA_MAX=(\d+)$/m.exec(UNIT)?.[1];
const ARENAS = process.env.BENCH_BOT_MALLOC_ARENA_MAX ?? DEPLOYED_ARENAS;

/**
 * Node flags added after the deployed ones, to try another setting in every bench that starts
 * the bot (e.g. BENCH_BOT_NODE_OPTIONS=--max-semi-space-size=8: the later V8 flag wins).
 */
const TRIED_NODE_FLAGS = process.env.BENCH_BOT_NODE_OPTIONS ?? '';

/**
 * Starts the bot for `operators` with its state in `stateDir`, no HTTP server, warnings only,
 * Node's flags as deployed (and BENCH_BOT_NODE_OPTIONS), and `env` on top (NODE_OPTIONS added to
 * those flags); resolves once it polls the fake (a failure to start shows its output).
 */
export async function startBot(
  fake: FakeBotApi,
  stateDir: string,
  operators: readonly number[],
  env: Record<string, string> = {},
): Promise<Proc> {
  const from = fake.calls.length;
  const proc = runTeleops(
    ['start'],
    {
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: operators.join(','),
      STATE_DIR: stateDir,
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      ...(ARENAS ? { MALLOC_ARENA_MAX: ARENAS } : {}),
      ...env,
      NODE_OPTIONS: [DEPLOYED_NODE_FLAGS, TRIED_NODE_FLAGS, env.NODE_OPTIONS ?? ''].join(' ').trim(),
    },
    { bin: true },
  );
  await untilPolling(fake, proc, { from, timeoutMs: POLL_WAIT_MS }).catch(async (e: unknown) => {
    await proc.stop();
    throw e;
  });
  return proc;
}
