import type { FakeBotApi } from '../fakes/botapi.js';
import type { Proc } from './process.js';

/**
 * Waits until `p` long-polls the fake Bot API (a getUpdates after call `from`). A teleops that
 * exits first fails at once, and one that stalls fails with what it printed: either way the
 * reason is in the test's error, not lost behind a timeout.
 */
export async function untilPolling(
  fake: FakeBotApi,
  p: Proc,
  opts: { from?: number; timeoutMs?: number } = {},
): Promise<void> {
  const from = opts.from ?? 0;
  const exited = p.exited.then((code) => {
    throw new Error(`teleops exited (${code}) before polling:\n${p.output()}`);
  });
  exited.catch(() => undefined);
  const polled = fake
    .waitFor(
      () => fake.calls.slice(from).some((c) => c.method === 'getUpdates'),
      opts.timeoutMs ?? 30_000,
      'the bot to poll',
    )
    .catch((e: Error) => {
      throw new Error(`${e.message}; teleops printed:\n${p.output()}`);
    });
  await Promise.race([polled, exited]);
}
