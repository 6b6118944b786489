import { z } from 'zod';
import { createApp } from '../src/app.js';
import type { TargetModule } from '../src/core/target.js';
import { loadConfig } from '../src/config.js';
import { defineAction } from '../src/core/action.js';
import { silentLogger } from '../src/core/log.js';
import type { Principal } from '../src/core/policy.js';
import { line, value } from '../src/core/result.js';
import { renderResult } from '../src/transports/telegram/format.js';
import { tempDir } from '../test/support/app.js';
import { percentile, sortNumbers, type Report } from './report.js';

const N = 20_000;
/** Enough operators that the rate limit (10,000/min each) never refuses the benchmark. */
const USERS = [1, 2, 3, 4, 5, 6, 7, 8];

const noop = defineAction({
  name: 'bench.noop',
  summary: 'Does nothing',
  target: 'bench',
  risk: 'read',
  params: z.object({ n: z.coerce.number().int().default(0) }),
  command: { path: ['noop'], usage: '[n]' },
  run: async (_ctx, p) => ({ blocks: [line('n = ', value(p.n))] }),
});
const benchTarget: TargetModule = { name: 'bench', settings: {}, create: () => ({ actions: [noop] }) };

/**
 * A no-op read action through the whole dispatcher (identity, rate limit, parsing,
 * validation, audit write, rendering to Telegram entities) against calling it directly.
 */
export async function benchPipeline(report: Report): Promise<void> {
  const dir = tempDir('teleops-bench-pipeline-');
  const cfg = loadConfig(
    {
      AUTHORIZED_USER_IDS: USERS.join(','),
      STATE_DIR: dir.path,
      HTTP_PORT: '0',
      DOCKER_ENABLED: 'false',
      RATE_LIMIT_PER_MINUTE: '10000',
      AUDIT_HMAC_KEY: 'bench-key-0123456789',
    },
    'console',
  );
  if (!cfg.ok) throw new Error(cfg.problems.join('\n'));
  const app = await createApp(cfg.config, [benchTarget], { log: silentLogger() });
  const who = (i: number): Principal => ({
    transport: 'tg',
    userId: USERS[i % USERS.length]!,
    chatId: USERS[i % USERS.length]!,
    chatKind: 'private',
  });
  const ctx = {
    operator: { userId: 1, chatId: 1, role: 'operator' as const, display: '1' },
    origin: 'command' as const,
    signal: new AbortController().signal,
    chat: { get: () => undefined, set: () => {} },
  };
  const direct: number[] = [];
  const piped: number[] = [];
  try {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < N; i++) {
        let t0 = performance.now();
        await noop.run(ctx, { n: i });
        const d = performance.now() - t0;
        t0 = performance.now();
        const o = await app.dispatcher.command(who(i), 'command', `/noop ${i}`);
        if (o.kind !== 'done') throw new Error(`unexpected ${o.kind}`);
        renderResult(o.result, app.redactor.redact);
        const p = performance.now() - t0;
        if (round === 1) {
          direct.push(d);
          piped.push(p);
        }
      }
    }
  } finally {
    await app.close(0);
    dir.remove();
  }
  sortNumbers(direct);
  sortNumbers(piped);
  const added = (p: number) => percentile(piped, p) - percentile(direct, p);
  report('pipeline: direct action call p50', percentile(direct, 50) * 1000, 'µs', 'baseline');
  report('pipeline: through dispatcher + audit + render p50', percentile(piped, 50) * 1000, 'µs');
  report('pipeline: through dispatcher p99', percentile(piped, 99) * 1000, 'µs');
  report('pipeline: added per request p99', added(99) * 1000, 'µs', 'goal ≤ 1000 µs');
  report('pipeline: ratio p50 (dispatcher / direct)', percentile(piped, 50) / percentile(direct, 50), '×');
}
