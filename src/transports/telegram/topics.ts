/**
 * Forum mode: in a supergroup with topics, `/<target> topics on` lays live cards out as topics —
 * an INDEX topic with the card that lists every item, an ALERTS topic where that chat's
 * alerts go, and one topic per item card named by its title (state emoji and name), renamed
 * as the title changes and closed when the card is final. The transport offers it to targets
 * as card places (core/places.ts).
 * Plain text written in an item's topic runs the card's reply target, like a reply to it.
 */
import { GrammyError } from 'grammy';
import { ActionError } from '../../core/action.js';
import type { Logger } from '../../core/log.js';
import type { CardPlaces } from '../../core/places.js';
import { say, type Result } from '../../core/result.js';
import type { ForumRepo, ForumRow, TopicRow } from '../../store/telegram.js';
import type { CardBoard, LiveCards } from './cards.js';
import type { Outbox } from './outbox.js';
import { isNotModified, isThreadGone, type Replier } from './reply.js';

export const INDEX_TOPIC = '📋 INDEX';
export const ALERTS_TOPIC = '🔔 ALERTS';
/** Telegram's limit for a topic name. */
const TOPIC_NAME_MAX = 128;

/** `on` shows every live card in the forum's layout; `off` closes the topics and forgets them. */
export function topicsControl(d: {
  readonly forums: Forums;
  readonly board: Pick<CardBoard, 'showAll' | 'forgetThreads'>;
  readonly outbox: Outbox;
  readonly live: LiveCards;
}): CardPlaces {
  return {
    async on(chatId) {
      await d.forums.enable(chatId);
      const cards = d.live.cards();
      d.board.showAll(chatId, cards);
      const items = cards.filter((c) => c.card?.kind === 'item' && !c.card.final).length;
      return say(`Topics are on: ${INDEX_TOPIC}, ${ALERTS_TOPIC}, and one topic per live card (${items} now).`);
    },
    async off(chatId) {
      const threads = d.forums.disable(chatId);
      if (threads.length === 0) return say('Topics were not on in this chat.');
      d.board.forgetThreads(chatId);
      for (const threadId of threads) {
        d.outbox.enqueue({
          chatId,
          priority: 'topic',
          key: `close:${chatId}:${threadId}`,
          what: `close topic ${threadId}`,
          run: () => d.forums.close(chatId, threadId),
        });
      }
      return say(`Topics are off: closing ${threads.length} topics; cards are no longer kept there.`);
    },
  };
}

const cardId = (chatId: number, key: string): string => `${chatId}|${key}`;

/** The forum chats that have topics on, and the topic of each item card in them. */
export class Forums {
  private readonly forums = new Map<number, ForumRow>();
  private readonly topics = new Map<string, TopicRow>();
  private readonly threads = new Map<string, TopicRow>();

  constructor(
    private readonly repo: ForumRepo,
    private readonly replier: Replier,
    private readonly redact: (s: string) => string,
    private readonly log: Logger,
  ) {
    for (const f of repo.forums()) this.forums.set(f.chatId, f);
    for (const t of repo.topics()) this.index(t);
  }

  chats(): number[] {
    return [...this.forums.keys()];
  }

  alertsThread(chatId: number): number | undefined {
    return this.forums.get(chatId)?.alertsThread;
  }

  /** Whether this chat gives the card a place of its own: its topic, or the INDEX topic. */
  places(chatId: number, card: Result): boolean {
    return this.forums.has(chatId) && (card.card?.kind === 'item' || card.card?.kind === 'index');
  }

  /** Forum chats where the card has a place, or needs one (a final card gets no new topic). */
  chatsFor(card: Result): number[] {
    const info = card.card;
    if (!info || (info.kind !== 'item' && info.kind !== 'index')) return [];
    return this.chats().filter(
      (c) => info.kind === 'index' || !info.final || this.topics.get(cardId(c, info.key))?.closed === false,
    );
  }

  /** The open topic of a card in a chat, if it has one. */
  threadOf(chatId: number, key: string): number | undefined {
    const t = this.topics.get(cardId(chatId, key));
    return t && !t.closed ? t.threadId : undefined;
  }

  /** The item topic a thread is, for plain text written in it. */
  topicAt(chatId: number, threadId: number): TopicRow | undefined {
    return this.threads.get(`${chatId}|${threadId}`);
  }

  /**
   * Brings the card's place up to date — creates, reopens or renames its topic — and returns
   * its thread; undefined for a final card that never had a topic.
   */
  async prepare(chatId: number, card: Result): Promise<number | undefined> {
    const info = card.card!;
    const forum = this.forums.get(chatId)!;
    if (info.kind === 'index') return forum.indexThread;
    const name = this.topicName(card);
    const t = this.topics.get(cardId(chatId, info.key));
    if (!t) {
      if (info.final) return undefined;
      const topic = await this.replier.api.createForumTopic(chatId, name);
      this.save({
        chatId,
        key: info.key,
        threadId: topic.message_thread_id,
        name,
        closed: false,
        ...(card.reply ? { reply: card.reply } : {}),
      });
      return topic.message_thread_id;
    }
    try {
      let next: TopicRow = card.reply ? { ...t, reply: card.reply } : t;
      if (t.closed && !info.final) {
        await this.tolerant(this.replier.api.reopenForumTopic(chatId, t.threadId));
        next = { ...next, closed: false };
      }
      if (t.name !== name && !next.closed) {
        await this.tolerant(this.replier.api.editForumTopic(chatId, t.threadId, { name }));
        next = { ...next, name };
      }
      if (next !== t) this.save(next);
      return t.threadId;
    } catch (err) {
      // Someone deleted the topic: forget it and make a new one.
      if (!isThreadGone(err)) throw err;
      this.forget(t);
      return this.prepare(chatId, card);
    }
  }

  /** A final card's topic is closed once its last version is in place. */
  async finish(chatId: number, card: Result): Promise<void> {
    const info = card.card!;
    const t = this.topics.get(cardId(chatId, info.key));
    if (!info.final || !t || t.closed) return;
    try {
      await this.tolerant(this.replier.api.closeForumTopic(chatId, t.threadId));
    } catch (err) {
      if (!isThreadGone(err)) throw err;
    }
    this.save({ ...t, closed: true });
  }

  /** The topic of a card is gone (a write into it failed): the next prepare makes a new one. */
  lost(chatId: number, key: string): void {
    const t = this.topics.get(cardId(chatId, key));
    if (t) this.forget(t);
  }

  /** Creates the INDEX and ALERTS topics (once); the caller then shows every card. */
  async enable(chatId: number): Promise<ForumRow> {
    if (chatId > 0) throw new ActionError('topics need a supergroup with topics turned on; this is a private chat');
    const known = this.forums.get(chatId);
    if (known) return known;
    const create = async (name: string): Promise<number> => {
      try {
        return (await this.replier.api.createForumTopic(chatId, name)).message_thread_id;
      } catch (err) {
        throw explainTopicError(err);
      }
    };
    const row: ForumRow = { chatId, indexThread: await create(INDEX_TOPIC), alertsThread: await create(ALERTS_TOPIC) };
    this.repo.saveForum(row);
    this.forums.set(chatId, row);
    return row;
  }

  /** Forgets the chat's forum layout; returns the threads that were in use, to close. */
  disable(chatId: number): number[] {
    const forum = this.forums.get(chatId);
    if (!forum) return [];
    const open = [...this.topics.values()].filter((t) => t.chatId === chatId && !t.closed).map((t) => t.threadId);
    for (const t of [...this.topics.values()]) if (t.chatId === chatId) this.unindex(t);
    this.forums.delete(chatId);
    this.repo.removeForum(chatId);
    return [forum.indexThread, forum.alertsThread, ...open];
  }

  /** Closes a topic (used after `off`); an already closed or deleted one is fine. */
  async close(chatId: number, threadId: number): Promise<void> {
    try {
      await this.tolerant(this.replier.api.closeForumTopic(chatId, threadId));
    } catch (err) {
      if (!isThreadGone(err)) throw err;
    }
  }

  private topicName(card: Result): string {
    const name = this.redact(card.card!.title ?? card.card!.key)
      .replace(/\s+/g, ' ')
      .trim();
    return (name || card.card!.key).slice(0, TOPIC_NAME_MAX);
  }

  private async tolerant(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!isNotModified(err)) throw err;
    }
  }

  private save(t: TopicRow): void {
    const old = this.topics.get(cardId(t.chatId, t.key));
    if (old) this.unindex(old);
    this.index(t);
    this.repo.saveTopic(t);
  }

  private forget(t: TopicRow): void {
    this.unindex(t);
    this.repo.removeTopic(t.chatId, t.key);
    this.log.info({ chat: t.chatId, key: t.key }, 'a forum topic is gone; it will be made again');
  }

  private index(t: TopicRow): void {
    this.topics.set(cardId(t.chatId, t.key), t);
    this.threads.set(`${t.chatId}|${t.threadId}`, t);
  }

  private unindex(t: TopicRow): void {
    this.topics.delete(cardId(t.chatId, t.key));
    this.threads.delete(`${t.chatId}|${t.threadId}`);
  }
}

/** Telegram's refusals to make a topic, in words an operator can act on. */
function explainTopicError(err: unknown): unknown {
  if (!(err instanceof GrammyError)) return err;
  if (/not a forum|CHAT_NOT_FORUM|PEER_ID_INVALID/i.test(err.description)) {
    return new ActionError('this chat is not a forum: turn on Topics in the group settings, then try again');
  }
  if (/not enough rights|CHAT_ADMIN_REQUIRED|RIGHT_FORBIDDEN/i.test(err.description)) {
    return new ActionError('I need to be an admin with the "Manage topics" right here');
  }
  return new ActionError(`Telegram refused to create a topic: ${err.description}`);
}
