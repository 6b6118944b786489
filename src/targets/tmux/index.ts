/**
 * The tmux target, ready to wire: actions, the watcher that classifies watched panes and
 * raises alerts on alertable changes, live status cards for the transport, and health.
 */
import type { AlertSink } from '../../core/alerts.js';
import type { Integration } from '../../core/health.js';
import { Follows } from '../../core/follow.js';
import type { Logger } from '../../core/log.js';
import type { Result } from '../../core/result.js';
import { tmuxActions } from './actions.js';
import { alertFor, indexCard, statusCard, unwatchedCard } from './cards.js';
import { createTmuxPort, TmuxError } from './port.js';
import type { TmuxSettings } from './settings.js';
import { TmuxWatcher, type WatchStore } from './watcher.js';

export interface TmuxTargetDeps {
  readonly store: WatchStore;
  readonly alerts: AlertSink;
  readonly log: Logger;
  readonly redact: (text: string) => string;
}

export function createTmuxTarget(settings: TmuxSettings, d: TmuxTargetDeps) {
  const port = createTmuxPort(settings.socket ? { socketPath: settings.socket } : {});
  const watcher = new TmuxWatcher({
    port,
    store: d.store,
    pollMs: settings.pollMs,
    cardLines: settings.cardLines,
    alertCooldownMs: settings.alertCooldownMs,
    classify: {
      waitPatterns: settings.waitPatterns,
      errorPatterns: settings.errorPatterns,
      promptPattern: settings.promptPattern,
      stuckMs: settings.stuckMs,
    },
    logger: d.log,
  });
  const follows = new Follows({ target: 'tmux', redact: d.redact });
  watcher.on((event) => {
    const alert = alertFor(event, Date.now(), d.redact);
    if (alert) d.alerts.raise(alert);
  });
  const integration: Integration = {
    name: 'tmux',
    check: async () => {
      const problem = await port.socketProblem();
      if (problem) return { state: 'down', detail: problem };
      try {
        const sessions = await port.listSessions();
        return {
          state: 'up',
          detail:
            `${sessions.length} session${sessions.length === 1 ? '' : 's'} ` +
            `on ${port.where}, ${watcher.snapshot().length} watched`,
        };
      } catch (e) {
        if (e instanceof TmuxError && e.code === 'no-server')
          return { state: 'up', detail: `no tmux server running on ${port.where} yet` };
        return { state: 'down', detail: e instanceof Error ? e.message : String(e) };
      }
    },
  };
  return {
    actions: tmuxActions({ port, settings, watcher, redact: d.redact, follows }),
    integration,
    /** Status cards (and the index card) as they change, for the transport to edit in place. */
    onCard(listener: (card: Result) => void): () => void {
      const offFollows = follows.onCard(listener);
      const offWatcher = watcher.on((event) => {
        const now = Date.now();
        if ('entry' in event) listener(statusCard(event.entry, now, d.redact));
        else if (event.reason === 'asked') listener(unwatchedCard(event.target));
        listener(indexCard(watcher.snapshot(), now));
      });
      return () => {
        offFollows();
        offWatcher();
      };
    },
    /** Every card as it is now: each watched pane's, and the index. */
    cards(): Result[] {
      const now = Date.now();
      const entries = watcher.snapshot();
      return [...entries.map((e) => statusCard(e, now, d.redact)), indexCard(entries, now)];
    },
    start: async () => watcher.start(),
    endLive: () => follows.stopAll('teleops stopped'),
    stop: async () => {
      follows.stopAll('teleops stopped');
      await watcher.stop();
    },
  };
}
