import type { Db } from './db.js';
import type { ReplyTarget } from '../core/result.js';

/** Where a live card is shown in a chat, so it is edited (not posted again) even after a restart. */
export interface CardMessageRow {
  readonly chatId: number;
  readonly key: string;
  readonly messageId: number;
  readonly threadId?: number;
  /** Opaque JSON owned by the transport (the keyboard reused across edits). */
  readonly keyboard?: string;
  readonly sentHash?: string;
}

export class CardMessageRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      all: db.prepare('SELECT chat_id, card_key, message_id, thread_id, keyboard, sent_hash FROM telegram_cards'),
      save: db.prepare(
        `INSERT INTO telegram_cards (chat_id, card_key, message_id, thread_id, keyboard, sent_hash, updated_at)
         VALUES (@chatId, @key, @messageId, @threadId, @keyboard, @sentHash, @now)
         ON CONFLICT (chat_id, card_key) DO UPDATE SET message_id = excluded.message_id, thread_id = excluded.thread_id,
           keyboard = excluded.keyboard, sent_hash = excluded.sent_hash, updated_at = excluded.updated_at`,
      ),
      remove: db.prepare('DELETE FROM telegram_cards WHERE chat_id = ? AND card_key = ?'),
    };
  }

  all(): CardMessageRow[] {
    type Raw = {
      chat_id: number;
      card_key: string;
      message_id: number;
      thread_id: number | null;
      keyboard: string | null;
      sent_hash: string | null;
    };
    return (this.q.all.all() as Raw[]).map((r) => ({
      chatId: r.chat_id,
      key: r.card_key,
      messageId: r.message_id,
      ...(r.thread_id !== null ? { threadId: r.thread_id } : {}),
      ...(r.keyboard !== null ? { keyboard: r.keyboard } : {}),
      ...(r.sent_hash !== null ? { sentHash: r.sent_hash } : {}),
    }));
  }

  save(r: CardMessageRow, now = Date.now()): void {
    this.q.save.run({
      chatId: r.chatId,
      key: r.key,
      messageId: r.messageId,
      threadId: r.threadId ?? null,
      keyboard: r.keyboard ?? null,
      sentHash: r.sentHash ?? null,
      now,
    });
  }

  remove(chatId: number, key: string): void {
    this.q.remove.run(chatId, key);
  }
}

/** What a reply to a bot message does (cards and alerts about a terminal session). */
export class ReplyRepo {
  private readonly q;

  constructor(
    db: Db,
    private readonly ttlMs = 30 * 24 * 3600_000,
  ) {
    this.q = {
      put: db.prepare(
        `INSERT INTO telegram_replies (chat_id, message_id, action, params, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (chat_id, message_id) DO UPDATE SET action = excluded.action, params = excluded.params, created_at = excluded.created_at`,
      ),
      get: db.prepare('SELECT action, params, created_at FROM telegram_replies WHERE chat_id = ? AND message_id = ?'),
      prune: db.prepare('DELETE FROM telegram_replies WHERE created_at < ?'),
    };
  }

  put(chatId: number, messageId: number, target: ReplyTarget, now = Date.now()): void {
    this.q.put.run(chatId, messageId, target.action, JSON.stringify(target.params), now);
  }

  get(chatId: number, messageId: number, now = Date.now()): ReplyTarget | undefined {
    const r = this.q.get.get(chatId, messageId) as { action: string; params: string; created_at: number } | undefined;
    if (!r || now - r.created_at > this.ttlMs) return undefined;
    return { action: r.action, params: JSON.parse(r.params) as Record<string, unknown> };
  }

  prune(now = Date.now()): void {
    this.q.prune.run(now - this.ttlMs);
  }
}

/** A forum chat laid out in topics: its INDEX and ALERTS topics. */
export interface ForumRow {
  readonly chatId: number;
  readonly indexThread: number;
  readonly alertsThread: number;
}

/** The topic of one live card in a forum chat. */
export interface TopicRow {
  readonly chatId: number;
  readonly key: string;
  readonly threadId: number;
  readonly name: string;
  readonly closed: boolean;
  /** Plain text written in the topic runs this. */
  readonly reply?: ReplyTarget;
}

export class ForumRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      forums: db.prepare('SELECT chat_id, index_thread, alerts_thread FROM telegram_forums'),
      saveForum: db.prepare(
        `INSERT INTO telegram_forums (chat_id, index_thread, alerts_thread) VALUES (?, ?, ?)
         ON CONFLICT (chat_id) DO UPDATE SET index_thread = excluded.index_thread, alerts_thread = excluded.alerts_thread`,
      ),
      removeForum: db.prepare('DELETE FROM telegram_forums WHERE chat_id = ?'),
      topics: db.prepare('SELECT chat_id, card_key, thread_id, name, closed, reply FROM telegram_topics'),
      saveTopic: db.prepare(
        `INSERT INTO telegram_topics (chat_id, card_key, thread_id, name, closed, reply) VALUES (@chatId, @key, @threadId, @name, @closed, @reply)
         ON CONFLICT (chat_id, card_key) DO UPDATE SET thread_id = excluded.thread_id, name = excluded.name, closed = excluded.closed, reply = excluded.reply`,
      ),
      removeTopics: db.prepare('DELETE FROM telegram_topics WHERE chat_id = ?'),
      removeTopic: db.prepare('DELETE FROM telegram_topics WHERE chat_id = ? AND card_key = ?'),
    };
  }

  forums(): ForumRow[] {
    return (this.q.forums.all() as { chat_id: number; index_thread: number; alerts_thread: number }[]).map((r) => ({
      chatId: r.chat_id,
      indexThread: r.index_thread,
      alertsThread: r.alerts_thread,
    }));
  }

  saveForum(f: ForumRow): void {
    this.q.saveForum.run(f.chatId, f.indexThread, f.alertsThread);
  }

  /** Forgets the forum and its topics. */
  removeForum(chatId: number): void {
    this.db.transaction(() => {
      this.q.removeForum.run(chatId);
      this.q.removeTopics.run(chatId);
    })();
  }

  topics(): TopicRow[] {
    type Raw = {
      chat_id: number;
      card_key: string;
      thread_id: number;
      name: string;
      closed: number;
      reply: string | null;
    };
    return (this.q.topics.all() as Raw[]).map((r) => ({
      chatId: r.chat_id,
      key: r.card_key,
      threadId: r.thread_id,
      name: r.name,
      closed: r.closed !== 0,
      ...(r.reply !== null ? { reply: JSON.parse(r.reply) as ReplyTarget } : {}),
    }));
  }

  saveTopic(t: TopicRow): void {
    this.q.saveTopic.run({
      chatId: t.chatId,
      key: t.key,
      threadId: t.threadId,
      name: t.name,
      closed: t.closed ? 1 : 0,
      reply: t.reply ? JSON.stringify(t.reply) : null,
    });
  }

  removeTopic(chatId: number, key: string): void {
    this.q.removeTopic.run(chatId, key);
  }
}
