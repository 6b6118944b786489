import { ROLE_RANK, type Operator, type Role } from '../core/action.js';
import type { Db } from './db.js';

export interface MemoryTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/** Who a remembered exchange belongs to: the person who asked, and their role when they asked. */
export interface MemoryAuthor {
  /** Telegram user id; 0 for the local console user. */
  readonly id: number;
  readonly role: Role;
}

export const authorOf = (o: Operator): MemoryAuthor => ({ id: o.userId, role: o.role });

/**
 * The last exchanges of each person with the LLM agent, per chat; contents are stored redacted.
 * A person's request replays only their own exchanges, never what someone else in the same
 * group said: one person's words must not become another's instructions.
 */
export class AiMemoryRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      add: db.prepare(
        'INSERT INTO ai_memory (chat_id, author_id, author_role, role, content, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      recent: db.prepare(
        'SELECT role, content, author_role AS "authorRole" FROM ai_memory WHERE chat_id = ? AND author_id = ? ORDER ' +
          'BY id DESC LIMIT ?',
      ),
      trim: db.prepare(
        'DELETE FROM ai_memory WHERE chat_id = ? AND author_id = ? AND id NOT IN (SELECT id FROM ai_memory WHERE ' +
          'chat_id = ? AND author_id = ? ORDER BY id DESC LIMIT ?)',
      ),
      clear: db.prepare('DELETE FROM ai_memory WHERE chat_id = ? AND author_id = ?'),
    };
  }

  /**
   * The author's last `turns` exchanges in the chat (a request and its answer each), oldest
   * first. Exchanges written under a lower role than `author.role` are left out, so what a
   * person asked as a viewer does not steer what they ask once promoted. Rows kept from before
   * memory was attributed (role unknown) come only from the author's private chat: their own words.
   */
  recent(chatId: number, author: MemoryAuthor, turns: number): MemoryTurn[] {
    if (turns <= 0) return [];
    const rows = this.q.recent.all(chatId, author.id, turns * 2) as (MemoryTurn & { authorRole: Role | null })[];
    const out: MemoryTurn[] = rows
      .filter((r) => r.authorRole === null || ROLE_RANK[r.authorRole] >= ROLE_RANK[author.role])
      .reverse()
      .map((r) => ({ role: r.role, content: r.content }));
    // Never start with a dangling answer whose question was trimmed away.
    return out[0]?.role === 'assistant' ? out.slice(1) : out;
  }

  /** Appends one exchange and forgets the author's exchanges in the chat older than the last `keep`. */
  append(chatId: number, author: MemoryAuthor, user: string, assistant: string, keep: number, now: number): void {
    this.db.transaction(() => {
      this.q.add.run(chatId, author.id, author.role, 'user', user, now);
      this.q.add.run(chatId, author.id, author.role, 'assistant', assistant, now);
      this.q.trim.run(chatId, author.id, chatId, author.id, Math.max(0, keep) * 2);
    })();
  }

  /** Forgets the author's conversation in the chat (not other people's); returns how many messages were dropped. */
  clear(chatId: number, authorId: number): number {
    return this.q.clear.run(chatId, authorId).changes;
  }
}
