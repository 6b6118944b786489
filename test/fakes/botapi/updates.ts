/**
 * The bot's pending updates and the one long poll that may wait for them.
 *
 * Telegram semantics: getUpdates returns unconfirmed updates with `update_id >= offset`
 * (sorted by id); passing an offset confirms (forgets) every update below it; a negative
 * offset keeps only the last |offset| updates. allowed_updates persists between calls and
 * defaults to everything except chat_member, message_reaction and message_reaction_count;
 * an update of a type not allowed is never delivered.
 *
 * A redelivered update keeps its old update_id, so it is delivered once whatever the
 * offset, then confirmed like any other (this is how a crash between handling and
 * confirming looks to a bot).
 */
import type { Update } from 'grammy/types';

interface Entry {
  readonly update: Update;
  readonly type: string;
  redelivered: boolean;
  delivered: boolean;
}

interface Poll {
  readonly offset: number;
  readonly limit: number;
  readonly respond: (updates: Update[]) => void;
  readonly timer: NodeJS.Timeout;
}

const OFF_BY_DEFAULT = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);

export const updateType = (u: Partial<Update>): string => Object.keys(u).find((k) => k !== 'update_id') ?? 'unknown';

export class UpdateQueue {
  private queue: Entry[] = [];
  private readonly created = new Map<number, Update>();
  private readonly deliveries = new Map<number, number>();
  private allowed: ReadonlySet<string> | undefined;
  private poll: Poll | undefined;
  private nextId: number;

  constructor(firstUpdateId: number) {
    this.nextId = firstUpdateId;
  }

  /** Every update ever created, by id. */
  get all(): ReadonlyMap<number, Update> {
    return this.created;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Whether a long poll is waiting. */
  get polling(): boolean {
    return this.poll !== undefined;
  }

  /** How many times an update was returned by getUpdates. */
  deliveryCount(updateId: number): number {
    return this.deliveries.get(updateId) ?? 0;
  }

  push(body: Omit<Update, 'update_id'>): Update {
    const update = { ...body, update_id: this.nextId++ } as Update;
    this.created.set(update.update_id, update);
    this.queue.push({ update, type: updateType(body), redelivered: false, delivered: false });
    this.serveWaiting();
    return update;
  }

  redeliver(updateId: number): void {
    const update = this.created.get(updateId);
    if (update === undefined) throw new Error(`fake Bot API: no update ${updateId} was ever created`);
    if (this.queue.some((e) => e.update.update_id === updateId))
      throw new Error(`fake Bot API: update ${updateId} is still pending`);
    this.queue.push({ update, type: updateType(update), redelivered: true, delivered: false });
    this.serveWaiting();
  }

  /** The oldest pending update (of an allowed kind) not in `skip`: the next a webhook delivery takes. */
  nextPending(skip: ReadonlySet<number>): Update | undefined {
    this.queue = this.queue.filter((e) => this.isAllowed(e.type));
    let next: Entry | undefined;
    for (const e of this.queue)
      if (!skip.has(e.update.update_id) && (next === undefined || e.update.update_id < next.update.update_id)) next = e;
    return next?.update;
  }

  /** One more delivery of an update (a webhook POST, answered or not). */
  countDelivery(updateId: number): void {
    this.deliveries.set(updateId, this.deliveryCount(updateId) + 1);
  }

  /** A webhook delivery was answered with success: the update is confirmed. */
  ack(updateId: number): void {
    this.queue = this.queue.filter((e) => e.update.update_id !== updateId);
  }

  /** Forgets every pending update (deleteWebhook with drop_pending_updates). */
  dropPending(): void {
    this.queue = [];
  }

  setAllowed(types: readonly string[] | undefined): void {
    if (types !== undefined) this.allowed = types.length === 0 ? undefined : new Set(types);
  }

  confirm(offset: number): void {
    if (offset > 0) {
      this.queue = this.queue.filter((e) => e.update.update_id >= offset || (e.redelivered && !e.delivered));
    } else if (offset < 0) {
      this.queue = this.queue.slice(offset);
    }
  }

  /** Updates to return now for this offset and limit (possibly none). */
  take(offset: number, limit: number): Update[] {
    if (this.queue.length === 0) return [];
    this.queue = this.queue.filter((e) => this.isAllowed(e.type));
    const ready = this.queue
      .filter((e) => offset <= 0 || e.update.update_id >= offset || (e.redelivered && !e.delivered))
      .sort((a, b) => a.update.update_id - b.update.update_id)
      .slice(0, limit);
    for (const e of ready) {
      e.delivered = true;
      this.deliveries.set(e.update.update_id, this.deliveryCount(e.update.update_id) + 1);
    }
    return ready.map((e) => e.update);
  }

  /**
   * Holds a long poll until an update can be returned or the timeout passes, then calls
   * `respond`. Returns a function that abandons the poll (the client went away).
   */
  wait(offset: number, limit: number, timeoutMs: number, respond: (updates: Update[]) => void): () => void {
    const timer = setTimeout(() => this.finish(poll, []), timeoutMs);
    const poll: Poll = { offset, limit, respond, timer };
    this.poll = poll;
    return () => {
      if (this.poll === poll) {
        clearTimeout(timer);
        this.poll = undefined;
      }
    };
  }

  /** Answers a waiting poll with no updates (the server is stopping). */
  close(): void {
    if (this.poll !== undefined) this.finish(this.poll, []);
  }

  private serveWaiting(): void {
    const poll = this.poll;
    if (poll === undefined) return;
    const updates = this.take(poll.offset, poll.limit);
    if (updates.length > 0) this.finish(poll, updates);
  }

  private finish(poll: Poll, updates: Update[]): void {
    if (this.poll !== poll) return;
    clearTimeout(poll.timer);
    this.poll = undefined;
    poll.respond(updates);
  }

  private isAllowed(type: string): boolean {
    return this.allowed === undefined ? !OFF_BY_DEFAULT.has(type) : this.allowed.has(type);
  }
}
