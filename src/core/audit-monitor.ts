import type { AlertSink } from './alerts.js';
import { verifyAuditAsync, type VerifyOptions, type VerifyReport, type WitnessedHead } from './audit-verify.js';
import type { Db } from './sqlite.js';
import type { Health } from './health.js';
import type { Logger } from './log.js';
import { bold, line, value } from './result.js';
import { counted } from './text.js';

/** The outcome of the last verification, for /status and /health. */
export interface Verification {
  readonly status: 'intact' | 'broken' | 'unverifiable';
  /** Epoch ms when it finished. */
  readonly at: number;
  readonly entries: number;
  readonly message: string;
}

export interface AuditMonitorDeps {
  readonly db: Db;
  readonly verify: VerifyOptions;
  /** Heads the witnesses took: the table must still hold them. */
  readonly heads: () => WitnessedHead[];
  readonly alerts: AlertSink;
  readonly log: Logger;
  /** How often to verify on its own; 0: only when asked. */
  readonly everyMs: number;
  readonly now?: () => number;
}

/**
 * Verifies the audit log (hashing on the verifier's worker thread, so the event loop stays
 * free) when asked and on a schedule, keeps the last result and raises an alert on a break.
 */
export class AuditMonitor {
  private last: Verification | undefined;
  private running: Promise<VerifyReport> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly d: AuditMonitorDeps) {
    this.now = d.now ?? Date.now;
  }

  /** Verifies now at start, then every `everyMs`. */
  start(): void {
    if (this.d.everyMs <= 0) return;
    const tick = (): void => {
      this.verify().catch((err: unknown) => this.d.log.warn({ err }, 'scheduled audit verification failed'));
    };
    tick();
    this.timer = setInterval(tick, this.d.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Runs one verification (joining one in progress) against the witnessed heads. */
  verify(): Promise<VerifyReport> {
    this.running ??= verifyAuditAsync(this.d.db, { ...this.d.verify, heads: this.d.heads() })
      .then((r) => {
        this.record(r);
        return r;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  lastVerification(): Verification | undefined {
    return this.last;
  }

  health(summary: string): Health {
    const v = this.last;
    if (!v) return { state: 'up', detail: `${summary}; not verified yet` };
    const when = new Date(v.at).toISOString().slice(0, 19).replace('T', ' ');
    if (v.status === 'broken')
      return { state: 'down', detail: `BROKEN (verified ${when} UTC): ${v.message}`, stillWorks: true };
    if (v.status === 'unverifiable') return { state: 'up', detail: `${summary}; ${v.message} (verified ${when} UTC)` };
    return {
      state: 'up',
      detail: `${summary}; intact, ${counted(v.entries, 'entry', 'entries')} verified ${when} UTC`,
    };
  }

  private record(r: VerifyReport): void {
    const at = this.now();
    if (r.ok) this.last = { status: 'intact', at, entries: r.entries, message: 'intact' };
    else if (r.unverifiable) this.last = { status: 'unverifiable', at, entries: r.entries, message: r.message };
    else {
      this.last = { status: 'broken', at, entries: r.entries, message: r.message };
      this.d.log.error({ firstBadSeq: r.firstBadSeq, kind: r.kind }, r.message);
      this.d.alerts.raise({
        source: 'audit',
        alarm: true,
        key: `audit:broken:${r.firstBadSeq}:${r.kind}`,
        result: {
          blocks: [
            line(bold('🚨 Audit log broken'), ` at #${r.firstBadSeq} (${r.kind}): `, value(r.message)),
            line('Investigate before trusting the log; /audit verify repeats the check.'),
          ],
        },
      });
    }
  }
}
