/**
 * Live cards: one message per (chat, card key), posted once and then edited in place —
 * when a command or button shows the card (now), and whenever its target reports a change
 * (through the outbox, coalesced). Where each card lives is kept in SQLite, so cards stay
 * editable after a restart, and so is the keyboard sent with it: its button ids are reused
 * across edits, so buttons keep working and an edit that changes nothing is not sent.
 * In a forum chat with topics on, item cards live in their own topics (topics.ts).
 */
import { createHash } from 'node:crypto';
import type { InlineKeyboardMarkup } from 'grammy/types';
import type { Logger } from '../../core/log.js';
import { line, value, type Result } from '../../core/result.js';
import type { CardMessageRepo, CardMessageRow } from '../../store/telegram.js';
import type { Outbox } from './outbox.js';
import { isChatGone, isMessageGone, isThreadGone, type Replier, type Where } from './reply.js';
import type { Forums } from './topics.js';

/** Where live cards come from (the app: every target's cards). */
export interface LiveCards {
  onCard(listener: (card: Result) => void): () => void;
  cards(): Result[];
}

/** Button ids older than this are replaced on the next edit, well before buttons expire (7 days). */
const KEYBOARD_RENEW_MS = 24 * 3600_000;
/** Latest versions kept; beyond this, those of cards no chat shows are forgotten. */
const MAX_LATEST = 5000;

interface StoredKeyboard {
  /** The buttons as the target described them. */
  readonly spec: string;
  readonly markup: InlineKeyboardMarkup;
  readonly at: number;
}

interface Latest {
  readonly result: Result;
  readonly at: number;
  readonly version: number;
}

/** How a direct request reached the card: to tell the person where it is if they cannot see it. */
export interface ShowContext {
  /** When the request arrived: a card the target reported after that is at least as new. */
  readonly since: number;
  /** The message whose button was pressed, if any. */
  readonly pressed?: number;
}

const idOf = (chatId: number, key: string): string => `${chatId}|${key}`;

export class CardBoard {
  private readonly shown = new Map<string, CardMessageRow>();
  private readonly chatsByKey = new Map<string, Set<number>>();
  private readonly latest = new Map<string, Latest>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private version = 0;

  constructor(
    private readonly d: {
      readonly replier: Replier;
      readonly repo: CardMessageRepo;
      readonly outbox: Outbox;
      readonly forums: Forums;
      /** Whether a card may be placed in a forum chat (per-chat scopes). */
      readonly shows: (chatId: number, card: Result) => boolean;
      readonly log: Logger;
      readonly now?: () => number;
    },
  ) {
    for (const row of d.repo.all()) this.index(row);
  }

  private now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** A target reports a new version of a card: every chat that shows it gets an edit, queued. */
  update(card: Result): void {
    const key = card.card?.key;
    if (key === undefined) return;
    this.remember(card);
    const chats = new Set(this.chatsByKey.get(key));
    for (const c of this.d.forums.chatsFor(card)) if (this.d.shows(c, card)) chats.add(c);
    for (const chat of chats) this.queue(chat, key);
  }

  /** Shows every card anew in one chat (after topics are turned on). */
  showAll(chatId: number, cards: readonly Result[]): void {
    for (const card of cards) {
      if (!card.card || !this.d.shows(chatId, card)) continue;
      this.remember(card);
      this.queue(chatId, card.card.key);
    }
  }

  /** Stops editing the chat's cards that live in forum topics (topics turned off). */
  forgetThreads(chatId: number): void {
    for (const row of [...this.shown.values()]) {
      if (row.chatId === chatId && row.threadId !== undefined) this.forget(row);
    }
  }

  /**
   * A command or button produced a card: edit the chat's message for it now, or post one.
   * When the card is somewhere the person cannot see from here, a short note says so.
   */
  async show(where: Where, result: Result, ctx: ShowContext): Promise<void> {
    const key = result.card!.key;
    const chatId = where.chatId;
    const known = this.latest.get(key);
    const fresh = known && known.at >= ctx.since ? known : this.remember(result);
    await this.locked(chatId, key, async () => {
      const card = fresh.result;
      let forum = this.d.forums.places(chatId, card);
      let place: number | undefined;
      try {
        place = forum ? await this.d.forums.prepare(chatId, card) : undefined;
      } catch (err) {
        // No topic (no right to make one, say): the person still gets the card, here.
        this.d.log.warn(
          { chat: chatId, key, err: err instanceof Error ? err.message : String(err) },
          'could not prepare the forum topic of a card',
        );
        forum = false;
      }
      const row = this.shown.get(idOf(chatId, key));
      let target: CardMessageRow;
      let posted = false;
      if (row && (!forum || place === undefined || row.threadId === place)) {
        target = await this.edit(row, card, forum ? row.threadId : where.threadId);
        posted = target.messageId !== row.messageId;
      } else {
        target = await this.post(chatId, forum && place !== undefined ? place : where.threadId, card);
        posted = true;
      }
      if (forum) await this.d.forums.finish(chatId, card);
      this.synced(target, fresh.version);
      const inView = target.messageId === ctx.pressed || (posted && target.threadId === where.threadId);
      if (!inView) await this.note(where, target, card, posted);
    });
  }

  /** Brings one chat's message for a card up to the newest version (an outbox job). */
  private flush(chatId: number, key: string): Promise<void> {
    return this.locked(chatId, key, async () => {
      const fresh = this.latest.get(key);
      if (!fresh) return;
      const card = fresh.result;
      const forum = this.d.forums.places(chatId, card);
      let place: number | undefined;
      try {
        place = forum ? await this.d.forums.prepare(chatId, card) : undefined;
        const row = this.shown.get(idOf(chatId, key));
        if (row && (place === undefined || row.threadId === place)) {
          this.synced(await this.edit(row, card, row.threadId), fresh.version);
        } else if (place !== undefined && !card.card?.final) {
          this.synced(await this.post(chatId, place, card), fresh.version);
        }
        if (forum) await this.d.forums.finish(chatId, card);
      } catch (err) {
        // The topic was deleted under us: make it again on the next try.
        if (forum && isThreadGone(err)) this.d.forums.lost(chatId, key);
        // The bot was removed from the chat: stop editing its cards there.
        const row = this.shown.get(idOf(chatId, key));
        if (row && isChatGone(err)) {
          this.d.log.warn({ chat: chatId, key }, 'cannot write to the chat any more; forgetting its card');
          this.forget(row);
          return;
        }
        throw err;
      }
    });
  }

  private queue(chatId: number, key: string): void {
    this.d.outbox.enqueue({
      chatId,
      priority: 'card',
      key: `card:${idOf(chatId, key)}`,
      what: `card ${key} in chat ${chatId}`,
      run: () => this.flush(chatId, key),
    });
  }

  /** Edits the message (nothing is sent when nothing changed); posts anew if it is gone. */
  private async edit(row: CardMessageRow, card: Result, threadIfGone: number | undefined): Promise<CardMessageRow> {
    const t = this.d.replier.renderCard(card);
    const keyboard = this.keyboardFor(row.chatId, card, parseKeyboard(row.keyboard));
    const hash = contentHash(t, keyboard?.markup);
    if (hash === row.sentHash) return row;
    try {
      await this.d.replier.editText({ chatId: row.chatId, messageId: row.messageId }, t, keyboard?.markup);
    } catch (err) {
      if (!isMessageGone(err)) throw err;
      this.d.log.info({ chat: row.chatId, key: row.key }, 'a card message is gone; posting it again');
      return this.post(row.chatId, threadIfGone, card);
    }
    const next: CardMessageRow = {
      ...row,
      sentHash: hash,
      ...(keyboard ? { keyboard: JSON.stringify(keyboard) } : {}),
    };
    this.save(next);
    return next;
  }

  private async post(chatId: number, threadId: number | undefined, card: Result): Promise<CardMessageRow> {
    const t = this.d.replier.renderCard(card);
    const keyboard = this.keyboardFor(chatId, card, undefined);
    const msg = await this.d.replier.sendText(
      { chatId, ...(threadId !== undefined ? { threadId } : {}) },
      t,
      keyboard?.markup,
    );
    this.d.replier.remember(msg, card);
    const row: CardMessageRow = {
      chatId,
      key: card.card!.key,
      messageId: msg.message_id,
      ...(threadId !== undefined ? { threadId } : {}),
      ...(keyboard ? { keyboard: JSON.stringify(keyboard) } : {}),
      sentHash: contentHash(t, keyboard?.markup),
    };
    this.save(row);
    return row;
  }

  /** Tells the person where the card is: "Updated the card ↑" (a reply to it), or "in its topic". */
  private async note(where: Where, target: CardMessageRow, card: Result, posted: boolean): Promise<void> {
    const label = value(card.card!.title ?? card.card!.key);
    if (target.threadId === where.threadId) {
      await this.d.replier.send(
        { ...where, replyTo: target.messageId },
        { blocks: [line('🔄 Updated the card of ', label, ' ↑')] },
      );
    } else {
      await this.d.replier.send(where, {
        blocks: [
          line(
            posted ? '📌 The card of ' : '🔄 Updated the card of ',
            label,
            posted ? ' is in its own topic.' : ' in its topic.',
          ),
        ],
      });
    }
  }

  /** The same buttons keep the same ids (and so the same keyboard) until they are a day old. */
  private keyboardFor(chatId: number, card: Result, prev: StoredKeyboard | undefined): StoredKeyboard | undefined {
    if (!card.buttons?.length) return undefined;
    const spec = JSON.stringify(card.buttons);
    const now = this.now();
    if (prev && prev.spec === spec && now - prev.at < KEYBOARD_RENEW_MS) return prev;
    return { spec, markup: this.d.replier.keyboard(chatId, card.buttons), at: now };
  }

  /**
   * A change that arrived while this version was being shown gets its own edit. A final card
   * is never edited again: the message is forgotten, so a new card with the same key (a new
   * session with an old name) is posted afresh instead of editing one far up the chat.
   */
  private synced(row: CardMessageRow, version: number): void {
    const newest = this.latest.get(row.key);
    if (newest && newest.version > version) this.queue(row.chatId, row.key);
    else if (newest?.result.card?.final) this.forget(row);
  }

  private remember(card: Result): Latest {
    const key = card.card!.key;
    const entry: Latest = { result: card, at: this.now(), version: ++this.version };
    // Kept in the order of their last change, so the loop below forgets the stalest first.
    this.latest.delete(key);
    this.latest.set(key, entry);
    for (const k of this.latest.keys()) {
      if (this.latest.size <= MAX_LATEST) break;
      if (!this.chatsByKey.has(k)) this.latest.delete(k);
    }
    return entry;
  }

  /** One change to a card in a chat at a time, whoever asks (a command, a button, the outbox). */
  private async locked<T>(chatId: number, key: string, fn: () => Promise<T>): Promise<T> {
    const id = idOf(chatId, key);
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  private save(row: CardMessageRow): void {
    this.d.repo.save(row, this.now());
    this.index(row);
  }

  private index(row: CardMessageRow): void {
    this.shown.set(idOf(row.chatId, row.key), row);
    let chats = this.chatsByKey.get(row.key);
    if (!chats) this.chatsByKey.set(row.key, (chats = new Set()));
    chats.add(row.chatId);
  }

  private forget(row: CardMessageRow): void {
    this.shown.delete(idOf(row.chatId, row.key));
    this.chatsByKey.get(row.key)?.delete(row.chatId);
    if (this.chatsByKey.get(row.key)?.size === 0) this.chatsByKey.delete(row.key);
    this.d.repo.remove(row.chatId, row.key);
  }
}

function contentHash(t: { text: string; entities: unknown }, markup: InlineKeyboardMarkup | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify([t.text, t.entities, markup ?? null]))
    .digest('base64url');
}

function parseKeyboard(json: string | undefined): StoredKeyboard | undefined {
  if (json === undefined) return undefined;
  try {
    const k = JSON.parse(json) as StoredKeyboard;
    return typeof k.spec === 'string' && typeof k.at === 'number' && Array.isArray(k.markup?.inline_keyboard)
      ? k
      : undefined;
  } catch {
    return undefined;
  }
}
