import { AsyncLocalStorage } from 'node:async_hooks';
import type { Transformer } from 'grammy';
import { sleep } from '../../core/sleep.js';

/** Methods that post or change something visible in a chat: these count against Telegram's limits. */
export const WRITE_METHODS: ReadonlySet<string> = new Set([
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

export interface Limits {
  /** Writes per second across all chats; 0 = no limit. */
  readonly globalPerSecond: number;
  /** Writes per minute into one group, supergroup or channel; 0 = no limit. */
  readonly groupPerMinute: number;
  /** Writes per second into one private chat; 0 = no limit. */
  readonly privatePerSecond: number;
}

/**
 * Requests leave this process a little before Telegram counts them, and not all equally
 * late; every window is this much longer than Telegram's so that jitter cannot squeeze
 * more writes into Telegram's window than it allows.
 */
export const JITTER_MARGIN_MS = 200;
/** Lanes kept before idle ones are forgotten. */
const MAX_LANES = 1000;

/**
 * At most `max` writes in any `span` ms: the times of the last `max` writes, which may lie in
 * the future (a writer that reserved a slot and is waiting for it).
 */
class Lane {
  private readonly times: number[] = [];
  pausedUntil = 0;

  constructor(
    private readonly max: number,
    private readonly span: number,
  ) {}

  /** The earliest time a write could be reserved, leaving `headroom` slots of the window free. */
  next(now: number, headroom = 0): number {
    const allowed = Math.max(1, this.max - headroom);
    const t = this.times.length < allowed ? now : this.times[this.times.length - allowed]! + this.span;
    return Math.max(now, t, this.pausedUntil);
  }

  take(at: number): void {
    this.times.push(at);
    if (this.times.length > this.max) this.times.shift();
  }

  idle(now: number): boolean {
    return this.pausedUntil <= now && (this.times.length === 0 || this.times.at(-1)! + this.span <= now);
  }
}

/** Automatic writes leave this share of the overall and group windows to direct replies. */
const HEADROOM_SHARE = 0.1;

/** Set while the outbox runs a job: its writes are automatic, not a reply to a person. */
const automatic = new AsyncLocalStorage<true>();

/** Runs `fn` as an automatic write (an alert, a card edit, a topic change). */
export const asAutomatic = <T>(fn: () => Promise<T>): Promise<T> => automatic.run(true, fn);

/**
 * Telegram's limits as sliding windows: overall, per group (a minute) and per private chat
 * (a second), plus pauses ordered by a 429's `retry_after`. Every write in the process takes
 * its slot here (through `limitTransformer`); the outbox asks first when a chat is free.
 *
 * Automatic writes keep to every window and leave some room in the overall and group ones,
 * so a reply to a person rarely waits. A direct reply waits for the overall and group
 * windows but not for a private chat's: a person's own requests (rate-limited per operator)
 * are the short burst Telegram tolerates there, and they count, so automatic writes wait.
 */
export class RateGate {
  private readonly global: Lane | null;
  private readonly chats = new Map<number, Lane>();

  constructor(
    private readonly limits: Limits,
    private readonly now: () => number = Date.now,
  ) {
    this.global = limits.globalPerSecond > 0 ? new Lane(limits.globalPerSecond, 1000 + JITTER_MARGIN_MS) : null;
  }

  /** Milliseconds until an automatic write to this chat could go (0: now). */
  delay(chatId: number | undefined): number {
    const now = this.now();
    return this.slot(chatId, now, true) - now;
  }

  /** Takes the next slot for a write to this chat; returns how many ms to wait before it goes. */
  reserve(chatId: number | undefined, auto: boolean): number {
    const now = this.now();
    const at = this.slot(chatId, now, auto);
    this.global?.take(at);
    if (chatId !== undefined) this.lane(chatId)?.take(at);
    return at - now;
  }

  /** Telegram said "retry after": nothing goes to this chat (or anywhere, without a chat) until then. */
  pause(chatId: number | undefined, retryAfterS: number): void {
    const until = this.now() + retryAfterS * 1000;
    const lane = chatId === undefined ? this.global : this.lane(chatId);
    if (lane) lane.pausedUntil = Math.max(lane.pausedUntil, until);
  }

  private slot(chatId: number | undefined, now: number, auto: boolean): number {
    const headroom = (max: number): number => (auto ? Math.floor(max * HEADROOM_SHARE) : 0);
    let at = this.global?.next(now, headroom(this.limits.globalPerSecond)) ?? now;
    const chat = chatId === undefined ? null : this.lane(chatId);
    if (chat && chatId! < 0) at = Math.max(at, chat.next(now, headroom(this.limits.groupPerMinute)));
    else if (chat && auto) at = Math.max(at, chat.next(now));
    else if (chat) at = Math.max(at, chat.pausedUntil);
    return at;
  }

  private lane(chatId: number): Lane | null {
    let lane = this.chats.get(chatId);
    if (lane) return lane;
    // Negative ids are groups, supergroups and channels; positive ones private chats.
    const [max, span] = chatId < 0 ? [this.limits.groupPerMinute, 60_000] : [this.limits.privatePerSecond, 1000];
    if (max <= 0) return null;
    if (this.chats.size >= MAX_LANES) {
      const now = this.now();
      for (const [id, l] of this.chats) if (l.idle(now)) this.chats.delete(id);
    }
    lane = new Lane(max, span + JITTER_MARGIN_MS);
    this.chats.set(chatId, lane);
    return lane;
  }
}

const chatOf = (payload: unknown): number | undefined => {
  const id = (payload as { chat_id?: unknown } | undefined)?.chat_id;
  return typeof id === 'number' ? id : undefined;
};

/**
 * Spaces every outgoing write within the gate's limits, so that 429s are the exception, and
 * pauses the chat when one happens anyway (auto-retry then waits the `retry_after`).
 */
export function limitTransformer(gate: RateGate): Transformer {
  return async (prev, method, payload, signal) => {
    if (!WRITE_METHODS.has(method)) return prev(method, payload, signal);
    const chatId = chatOf(payload);
    const wait = gate.reserve(chatId, automatic.getStore() === true);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const res = await prev(method, payload, signal);
    if (!res.ok && res.error_code === 429) gate.pause(chatId, res.parameters?.retry_after ?? 1);
    return res;
  };
}

/** Flood waits longer than this are not waited out: the call fails instead. */
const MAX_FLOOD_WAIT_S = 60;

/**
 * A 429 is Telegram pacing the bot, not refusing it: the call is tried again after
 * `retry_after`, up to `maxWaits` times in a row (a storm of them), so that a reply is not
 * dropped after a few. Other failures keep auto-retry's own bounded attempts.
 */
export function floodWaitTransformer(maxWaits: number): Transformer {
  return async (prev, method, payload, signal) => {
    for (let waits = 0; ; waits++) {
      const res = await prev(method, payload, signal);
      const after = res.ok ? undefined : res.parameters?.retry_after;
      if (after === undefined || after > MAX_FLOOD_WAIT_S || waits >= maxWaits || signal?.aborted) return res;
      // grammY's signal is the abort-controller package's; sleep only listens to it.
      if (signal) await sleep(after * 1000, signal as unknown as AbortSignal);
      else await new Promise((r) => setTimeout(r, after * 1000));
    }
  };
}
