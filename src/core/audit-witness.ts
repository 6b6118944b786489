import type { AuditEntry } from './audit.js';
import { withDeadline } from './deadline.js';
import type { WitnessedHead } from './audit-verify.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/*
 * Witnesses: places the host cannot rewrite (a Telegram chat, a syslog server, an HTTP
 * endpoint) that receive the audit head, so that cutting the end of both the table and the
 * anchor file, or replacing the whole log, shows against what they saw. Core knows only this
 * interface; transports and src/witnesses/ implement it.
 */

/** What a witness receives. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
  readonly keyed: boolean;
  /** The key id the head entry was written under (never the key); null when unkeyed. */
  readonly keyId: string | null;
  /** When it was posted, ISO 8601. */
  readonly at: string;
}

export interface Witness {
  /** Names it in logs, metrics and messages, without secrets: "syslog://host:514", "telegram:-100…". */
  readonly name: string;
  /** Resolves once the witness has taken the head; throws otherwise. */
  post(head: AuditHead, signal: AbortSignal): Promise<void>;
}

/** One line that says it all, for witnesses that take text. */
export const headLine = (h: AuditHead): string =>
  `teleops audit head #${h.seq} ${h.hash} ${h.keyed ? `keyed key_id=${h.keyId}` : 'unkeyed'} at ${h.at}`;

/** When heads go out: every `entries` entries, every `everyMs` (when the head moved), after destructive actions. */
export interface WitnessSchedule {
  readonly entries: number;
  readonly everyMs: number;
}

export interface AuditWitnessesDeps {
  readonly head: () => { seq: number; hash: string } | null;
  readonly keyId: string | null;
  readonly schedule: WitnessSchedule;
  /** Whether an audited action is destructive (its result is posted at once). */
  readonly destructive: (action: string) => boolean;
  /** Where the last head each witness took is kept (a convenience: the witness copy is the proof). */
  readonly store: { get(key: string): string | undefined; set(key: string, value: string | undefined): void };
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly postTimeoutMs?: number;
  readonly retryMs?: number;
  readonly now?: () => Date;
}

/** Entry outcomes that end an action (its result), as opposed to a request or an approval step. */
const RESULTS = new Set(['ok', 'failed', 'timeout']);
const MAX_RETRY_MS = 5 * 60_000;

interface State {
  readonly witness: Witness;
  /** The seq of the newest head it took. */
  taken: number;
  posting: boolean;
  /** A newer head is due once the post in flight ends. */
  again: boolean;
  failures: number;
  retry: NodeJS.Timeout | undefined;
}

/**
 * Posts the head to every witness: never on the caller's path (an append only notes it), one
 * post per witness at a time, failures logged, counted and retried with a growing delay.
 */
export class AuditWitnesses {
  private readonly states: State[] = [];
  private readonly stopping = new AbortController();
  private sinceLast = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => Date;

  constructor(private readonly d: AuditWitnessesDeps) {
    this.now = d.now ?? (() => new Date());
  }

  add(witness: Witness): void {
    const last = this.lastHead(witness.name);
    this.states.push({ witness, taken: last?.seq ?? 0, posting: false, again: false, failures: 0, retry: undefined });
  }

  get size(): number {
    return this.states.length;
  }

  /** Starts the timer and posts the current head to every witness that has not taken it. */
  start(): void {
    if (this.d.schedule.everyMs > 0) {
      this.timer = setInterval(() => this.postAll(), this.d.schedule.everyMs);
      this.timer.unref();
    }
    this.postAll();
  }

  stop(): void {
    clearInterval(this.timer);
    for (const s of this.states) clearTimeout(s.retry);
    this.stopping.abort();
  }

  /** Called after every append. */
  appended(entry: AuditEntry): void {
    this.sinceLast++;
    const due =
      (this.d.schedule.entries > 0 && this.sinceLast >= this.d.schedule.entries) ||
      (RESULTS.has(entry.outcome) && this.d.destructive(entry.action));
    if (due) this.postAll();
  }

  /** The last head each witness took, for /audit verify to check the table against. */
  heads(): WitnessedHead[] {
    return this.states.flatMap((s) => {
      const h = this.lastHead(s.witness.name);
      return h ? [{ seq: h.seq, hash: h.hash, by: `the head posted to ${s.witness.name}` }] : [];
    });
  }

  private lastHead(name: string): { seq: number; hash: string } | undefined {
    const raw = this.d.store.get(`audit.witness.${name}`);
    if (raw === undefined) return undefined;
    try {
      const h = JSON.parse(raw) as { seq?: unknown; hash?: unknown };
      return typeof h.seq === 'number' && typeof h.hash === 'string' ? { seq: h.seq, hash: h.hash } : undefined;
    } catch {
      return undefined;
    }
  }

  private postAll(): void {
    this.sinceLast = 0;
    for (const s of this.states) this.post(s);
  }

  private post(s: State): void {
    if (this.stopping.signal.aborted) return;
    const head = this.d.head();
    if (!head || head.seq <= s.taken) return;
    if (s.posting) {
      s.again = true;
      return;
    }
    clearTimeout(s.retry);
    s.retry = undefined;
    s.posting = true;
    const h: AuditHead = {
      seq: head.seq,
      hash: head.hash,
      keyed: this.d.keyId !== null,
      keyId: this.d.keyId,
      at: this.now().toISOString(),
    };
    const ms = this.d.postTimeoutMs ?? 10_000;
    withDeadline(`audit witness ${s.witness.name}`, ms, (signal) => s.witness.post(h, signal), this.stopping.signal)
      .then(() => {
        s.taken = h.seq;
        s.failures = 0;
        this.d.store.set(`audit.witness.${s.witness.name}`, JSON.stringify({ seq: h.seq, hash: h.hash, at: h.at }));
      })
      .catch((err: unknown) => {
        s.failures++;
        this.d.metrics.auditWitnessErrors.inc({ witness: s.witness.name });
        this.d.log.warn(
          { witness: s.witness.name, seq: h.seq, err: err instanceof Error ? err.message : String(err) },
          'audit witness did not take the head; retrying',
        );
        if (this.stopping.signal.aborted) return;
        const delay = Math.min(MAX_RETRY_MS, (this.d.retryMs ?? 5000) * 2 ** Math.min(s.failures - 1, 10));
        s.retry = setTimeout(() => this.post(s), delay);
        s.retry.unref();
      })
      .finally(() => {
        s.posting = false;
        if (s.again) {
          s.again = false;
          this.post(s);
        }
      });
  }
}
