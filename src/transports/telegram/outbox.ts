/**
 * The one queue for automatic writes to Telegram (alerts, live card edits, forum topic
 * changes); direct replies to a person do not wait here. It decides what goes next and
 * when: alerts before topic changes before card refreshes, one write at a time per chat,
 * and a job only starts once the rate gate says its chat has room, so a burst of activity
 * becomes a steady trickle instead of 429s. The gate itself (limits.ts) spaces every call,
 * this queue's and direct replies' alike: there is one set of windows.
 *
 * Keyed jobs coalesce while they wait: a card edited fifty times before its turn is sent
 * once, with whatever is newest when it runs. A keyed job that fails for a passing reason
 * (network, 5xx, 429) is retried until it succeeds, so the last state of a card is never lost.
 */
import { GrammyError, HttpError } from 'grammy';
import type { Logger } from '../../core/log.js';
import { asAutomatic } from './limits.js';

export type Priority = 'alert' | 'topic' | 'card';
const PRIORITIES: readonly Priority[] = ['alert', 'topic', 'card'];

export interface OutboxJob {
  readonly chatId: number;
  readonly priority: Priority;
  /**
   * Jobs with the same key coalesce while queued: the newer replaces the older in its place.
   * Such a job should send the newest state when it runs, not a state captured when queued.
   */
  readonly key?: string;
  /** Does the writes (through the rate-limited Api); throws when they failed. */
  run(): Promise<void>;
  /** What it is, for logs. */
  readonly what: string;
}

export interface OutboxOptions {
  /** Milliseconds until a write to the chat could go (the rate gate). */
  readonly delay: (chatId: number) => number;
  readonly log: Logger;
  /** Jobs waiting at most; beyond that the oldest unkeyed job is dropped (default 2000). */
  readonly maxQueued?: number;
  /** Chats written to at the same time (default 4); one job at a time per chat. */
  readonly concurrency?: number;
  /** Failures worth retrying (default: network errors, 429 and 5xx). */
  readonly transient?: (err: unknown) => boolean;
  /** Tries of an unkeyed job (an alert) before it is given up (default 4). */
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

interface Queued {
  job: OutboxJob;
  readonly seq: number;
  /** Backoff after a failure. */
  notBefore: number;
  attempts: number;
}

const BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

export const isTransient = (err: unknown): boolean =>
  err instanceof HttpError || (err instanceof GrammyError && (err.error_code === 429 || err.error_code >= 500));

export class Outbox {
  private readonly queues = new Map<Priority, Queued[]>(PRIORITIES.map((p) => [p, []]));
  private readonly byKey = new Map<string, Queued>();
  private readonly busy = new Set<number>();
  private readonly running = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly maxQueued: number;
  private readonly concurrency: number;
  private readonly transient: (err: unknown) => boolean;
  private readonly maxAttempts: number;
  private seq = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Jobs dropped because the queue was full, or given up after failing. */
  dropped = 0;

  constructor(private readonly o: OutboxOptions) {
    this.now = o.now ?? Date.now;
    this.maxQueued = o.maxQueued ?? 2000;
    this.concurrency = o.concurrency ?? 4;
    this.transient = o.transient ?? isTransient;
    this.maxAttempts = o.maxAttempts ?? 4;
  }

  /** Queues a job; false when it was dropped because the queue is full of keyed jobs. */
  enqueue(job: OutboxJob): boolean {
    if (this.stopped) return false;
    if (job.key !== undefined) {
      const waiting = this.byKey.get(job.key);
      if (waiting) {
        waiting.job = job;
        return true;
      }
    }
    if (this.size >= this.maxQueued && !this.evictOldestUnkeyed()) {
      this.dropped++;
      this.o.log.warn({ job: job.what }, 'outbox full: dropping a job');
      return false;
    }
    this.add({ job, seq: this.seq++, notBefore: 0, attempts: 0 });
    this.schedule();
    return true;
  }

  /** Jobs waiting (not running). */
  get queued(): number {
    return this.size;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking jobs; waits up to `drainMs` for the queue to empty, then forgets the rest. */
  async stop(drainMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.size > 0) this.o.log.warn({ jobs: this.size }, 'outbox stopped with jobs still queued');
    for (const q of this.queues.values()) q.length = 0;
    this.byKey.clear();
    this.size = 0;
    await Promise.allSettled([...this.running]);
  }

  private add(q: Queued): void {
    const list = this.queues.get(q.job.priority)!;
    // Retried jobs keep their place among jobs of their priority.
    let i = list.length;
    while (i > 0 && list[i - 1]!.seq > q.seq) i--;
    list.splice(i, 0, q);
    if (q.job.key !== undefined) this.byKey.set(q.job.key, q);
    this.size++;
  }

  private remove(q: Queued): void {
    const list = this.queues.get(q.job.priority)!;
    list.splice(list.indexOf(q), 1);
    if (q.job.key !== undefined && this.byKey.get(q.job.key) === q) this.byKey.delete(q.job.key);
    this.size--;
  }

  private evictOldestUnkeyed(): boolean {
    for (const p of [...PRIORITIES].reverse()) {
      const victim = this.queues.get(p)!.find((q) => q.job.key === undefined);
      if (victim) {
        this.remove(victim);
        this.dropped++;
        this.o.log.warn({ job: victim.job.what }, 'outbox full: dropped the oldest message');
        return true;
      }
    }
    return false;
  }

  /** Many enqueues in a row cost one look at the queue. */
  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    let wake = Infinity;
    while (this.busy.size < this.concurrency) {
      const now = this.now();
      const delays = new Map<number, number>();
      let chosen: Queued | undefined;
      for (const p of PRIORITIES) {
        for (const q of this.queues.get(p)!) {
          const chat = q.job.chatId;
          if (this.busy.has(chat)) continue;
          if (q.notBefore > now) {
            wake = Math.min(wake, q.notBefore - now);
            continue;
          }
          let d = delays.get(chat);
          if (d === undefined) delays.set(chat, (d = this.o.delay(chat)));
          if (d > 0) {
            wake = Math.min(wake, d);
            continue;
          }
          chosen = q;
          break;
        }
        if (chosen) break;
      }
      if (!chosen) break;
      this.start(chosen);
    }
    if (wake < Infinity) {
      this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(wake)));
      this.timer.unref();
    }
    this.settleIdle();
  }

  private start(q: Queued): void {
    this.remove(q);
    const chat = q.job.chatId;
    this.busy.add(chat);
    const p = asAutomatic(() => q.job.run())
      .catch((err: unknown) => this.failed(q, err))
      .finally(() => {
        this.busy.delete(chat);
        this.running.delete(p);
        this.schedule();
      });
    this.running.add(p);
  }

  private failed(q: Queued, err: unknown): void {
    q.attempts++;
    const keyed = q.job.key !== undefined;
    const detail = err instanceof Error ? err.message : String(err);
    if (this.stopped || !this.transient(err) || (!keyed && q.attempts >= this.maxAttempts)) {
      this.dropped++;
      this.o.log.warn({ job: q.job.what, attempts: q.attempts, err: detail }, 'outbox: giving up on a write');
      return;
    }
    // A newer version of a keyed job may be queued already; it supersedes this one.
    if (keyed && this.byKey.has(q.job.key!)) return;
    q.notBefore = this.now() + Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** (q.attempts - 1));
    this.o.log.warn({ job: q.job.what, attempts: q.attempts, err: detail }, 'outbox: write failed; will retry');
    this.add(q);
  }

  private settleIdle(): void {
    if (this.size > 0 || this.running.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
