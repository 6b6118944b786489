/**
 * Rollouts followed in the background, each as a live card: a mutating action returns its
 * first version at once (so the chat is free for the next request) and the card is edited
 * as the rollout moves, until its final version. Bounded in number and in time; all of
 * them stop when teleops does.
 */
import { randomBytes } from 'node:crypto';
import { line, text, value, type Result } from '../../core/result.js';

/** What a follow reports along the way, and how it ends. */
export interface FollowJob {
  /** Runs until the rollout ends or `signal` aborts; `progress` shows an in-between card. */
  run(signal: AbortSignal, progress: (card: Result) => void): Promise<Result>;
}

/** At most this many rollouts are followed at once; beyond, the action says so instead. */
export const MAX_FOLLOWED = 16;

export class LiveRollouts {
  private readonly listeners = new Set<(card: Result) => void>();
  private readonly followed = new Map<string, { card: Result; done: Promise<void> }>();
  private readonly stopping = new AbortController();

  constructor(readonly max = MAX_FOLLOWED) {}

  /** A fresh card key: a rollout's card is its own message, whatever was followed before. */
  newKey(): string {
    return `k8s-rollout:${randomBytes(6).toString('hex')}`;
  }

  /** Whether another follow may start now. */
  get full(): boolean {
    return this.followed.size >= this.max;
  }

  /**
   * Starts following under `first.card.key` and returns `first` (the card to show now).
   * Every later version, the final one included, goes to the listeners.
   */
  follow(first: Result, job: FollowJob): Result {
    const key = first.card!.key;
    const entry = { card: first, done: Promise.resolve() };
    const emit = (card: Result) => {
      entry.card = card;
      for (const l of this.listeners) {
        try {
          l(card);
        } catch {
          // A listener's trouble is its own; the follow and the other listeners go on.
        }
      }
    };
    entry.done = job
      .run(this.stopping.signal, emit)
      .then(emit, (e: unknown) => emit(lastWords(first, e)))
      .finally(() => this.followed.delete(key));
    this.followed.set(key, entry);
    return first;
  }

  onCard(listener: (card: Result) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The cards of every rollout followed now. */
  cards(): Result[] {
    return [...this.followed.values()].map((f) => f.card);
  }

  /** Stops every follow; each ends with its final card (which says it was stopped). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.followed.values()].map((f) => f.done));
  }
}

/** A follow that threw (it should not: jobs report their own errors) still ends its card. */
function lastWords(first: Result, e: unknown): Result {
  const why = e instanceof Error ? e.message : String(e);
  return {
    blocks: [...first.blocks, line(text('⚠️ stopped following: '), value(why))],
    card: { ...first.card!, final: true },
  };
}
