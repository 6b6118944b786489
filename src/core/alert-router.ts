import type { Alert, AlertSink } from './alerts.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { line, type Result } from './result.js';
import { formatDuration } from './text.js';

export interface AlertRouterDeps {
  readonly cooldownMs: number;
  /** Delivers one alert message to wherever alerts go (the transport decides). */
  readonly deliver: (result: Result, alert: Alert) => Promise<void>;
  /** Epoch ms until which alerts are muted (0: not muted). */
  readonly silencedUntil: () => number;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now?: () => number;
}

interface Seen {
  sentAt: number;
  /** Alerts with this key swallowed since the last one sent. */
  repeats: number;
}

const MAX_KEYS = 10_000;

/**
 * Coalesces alerts: one message per key per cooldown; the next one sent after the cooldown
 * says how many were swallowed in between. Muted alerts are counted, not sent.
 */
export class AlertRouter implements AlertSink {
  private readonly seen = new Map<string, Seen>();
  private readonly now: () => number;

  constructor(private readonly d: AlertRouterDeps) {
    this.now = d.now ?? Date.now;
  }

  raise(alert: Alert): void {
    const now = this.now();
    if (!alert.alarm && this.d.silencedUntil() > now) {
      this.d.metrics.alerts.inc({ source: alert.source, outcome: 'silenced' });
      return;
    }
    const prev = this.seen.get(alert.key);
    if (prev && now - prev.sentAt < this.d.cooldownMs) {
      prev.repeats++;
      this.d.metrics.alerts.inc({ source: alert.source, outcome: 'coalesced' });
      return;
    }
    if (this.seen.size >= MAX_KEYS) this.forgetOldest();
    const repeats = prev?.repeats ?? 0;
    this.seen.set(alert.key, { sentAt: now, repeats: 0 });
    const result: Result =
      repeats > 0
        ? {
            ...alert.result,
            blocks: [
              ...alert.result.blocks,
              line(`(${repeats} more like this in the last ${formatDuration(now - prev!.sentAt)})`),
            ],
          }
        : alert.result;
    this.d.metrics.alerts.inc({ source: alert.source, outcome: 'sent' });
    this.d
      .deliver(result, alert)
      .catch((err: unknown) => this.d.log.warn({ err, key: alert.key }, 'alert delivery failed'));
  }

  private forgetOldest(): void {
    const cutoff = this.now() - this.d.cooldownMs;
    for (const [k, v] of this.seen) if (v.sentAt < cutoff) this.seen.delete(k);
    if (this.seen.size >= MAX_KEYS) this.seen.clear();
  }
}
