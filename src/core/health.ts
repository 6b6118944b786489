import { DeadlineError, withDeadline } from './deadline.js';

/** The state of one integration, for /status, /health and `teleops doctor`. */
export interface Health {
  readonly state: 'up' | 'down' | 'disabled';
  /** One line: what was checked, or what is wrong and how to fix it. */
  readonly detail: string;
  /**
   * Down, yet the bot itself works (a broken audit chain: actions still run and are audited).
   * Reported in /health, never a 503, so a liveness probe does not restart it in a loop.
   */
  readonly stillWorks?: boolean;
}

export interface Integration {
  /** The key in /health's `checks`: docker, kubernetes, tmux, telegram, llm, audit. */
  readonly name: string;
  check(signal: AbortSignal): Promise<Health>;
}

/** Checks every integration concurrently, each bounded by `timeoutMs`; a hung check is down. */
export async function checkAll(
  integrations: readonly Integration[],
  timeoutMs = 3000,
): Promise<Record<string, Health>> {
  const entries = await Promise.all(
    integrations.map(async (i): Promise<[string, Health]> => {
      try {
        return [i.name, await withDeadline(`${i.name} check`, timeoutMs, (signal) => i.check(signal))];
      } catch (e) {
        if (e instanceof DeadlineError) return [i.name, { state: 'down', detail: `no answer within ${timeoutMs} ms` }];
        // Client errors can run to several lines (a stack of causes): /health shows the first.
        return [i.name, { state: 'down', detail: (e instanceof Error ? e.message : String(e)).split('\n')[0]! }];
      }
    }),
  );
  return Object.fromEntries(entries);
}
