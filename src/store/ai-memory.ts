import type { Db } from './db.js';

export interface MemoryTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string;
}

/** The last exchanges of each chat with the LLM agent; contents are stored redacted. */
export class AiMemoryRepo {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      add: db.prepare('INSERT INTO ai_memory (chat_id, role, content, created_at) VALUES (?, ?, ?, ?)'),
      recent: db.prepare('SELECT role, content FROM ai_memory WHERE chat_id = ? ORDER BY id DESC LIMIT ?'),
      trim: db.prepare('DELETE FROM ai_memory WHERE chat_id = ? AND id NOT IN (SELECT id FROM ai_memory WHERE chat_id = ? ORDER BY id DESC LIMIT ?)'),
      clear: db.prepare('DELETE FROM ai_memory WHERE chat_id = ?'),
    };
  }

  /** The last `turns` exchanges (a user message and the answer each), oldest first. */
  recent(chatId: number, turns: number): MemoryTurn[] {
    if (turns <= 0) return [];
    const rows = this.q.recent.all(chatId, turns * 2) as MemoryTurn[];
    const out = rows.reverse();
    // Never start with a dangling answer whose question was trimmed away.
    return out[0]?.role === 'assistant' ? out.slice(1) : out;
  }

  /** Appends one exchange and forgets everything older than the last `keep` exchanges. */
  append(chatId: number, user: string, assistant: string, keep: number, now: number): void {
    this.db.transaction(() => {
      this.q.add.run(chatId, 'user', user, now);
      this.q.add.run(chatId, 'assistant', assistant, now);
      this.q.trim.run(chatId, chatId, Math.max(0, keep) * 2);
    })();
  }

  /** Forgets the chat's conversation; returns how many messages were dropped. */
  clear(chatId: number): number {
    return this.q.clear.run(chatId).changes;
  }
}
