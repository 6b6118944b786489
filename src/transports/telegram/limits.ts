import type { Transformer } from 'grammy';

/** Methods that post or change something visible in a chat: these count against Telegram's limits. */
const WRITE_METHODS = new Set([
  'sendMessage',
  'sendDocument',
  'editMessageText',
  'editMessageReplyMarkup',
  'deleteMessage',
  'createForumTopic',
  'editForumTopic',
  'closeForumTopic',
  'reopenForumTopic',
]);

/** A token bucket that may go into debt: each taker learns how long to wait for its turn. */
class Bucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perMs: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  reserve(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : -this.tokens / this.perMs;
  }

  /** Full again: safe to forget. */
  idle(now: number): boolean {
    return this.tokens + (now - this.at) * this.perMs >= this.capacity;
  }
}

export interface Limits {
  /** Messages per second across all chats; 0 = no limit. */
  readonly globalPerSecond: number;
  /** Messages per minute into one group or supergroup; 0 = no limit. */
  readonly groupPerMinute: number;
}

/**
 * Spaces outgoing writes within Telegram's limits (about 30/s overall, 20/min per group) so
 * that 429s are the exception; auto-retry handles the ones that still happen.
 */
export function limitTransformer(limits: Limits, now: () => number = Date.now): Transformer {
  const global = limits.globalPerSecond > 0 ? new Bucket(limits.globalPerSecond / 1000, limits.globalPerSecond, now()) : null;
  const groups = new Map<number, Bucket>();
  return async (prev, method, payload, signal) => {
    if (WRITE_METHODS.has(method)) {
      const t = now();
      let wait = global?.reserve(t) ?? 0;
      const chatId = (payload as { chat_id?: unknown }).chat_id;
      // Negative ids are groups and channels; private chats (positive) are only bound by the global rate.
      if (limits.groupPerMinute > 0 && typeof chatId === 'number' && chatId < 0) {
        let b = groups.get(chatId);
        if (!b) groups.set(chatId, (b = new Bucket(limits.groupPerMinute / 60_000, Math.min(3, limits.groupPerMinute), t)));
        wait = Math.max(wait, b.reserve(t));
        if (groups.size > 1000) for (const [k, v] of groups) if (v.idle(t)) groups.delete(k);
      }
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return prev(method, payload, signal);
  };
}
