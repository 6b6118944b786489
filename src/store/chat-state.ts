import type { Db } from './db.js';
import type { ChatState } from '../core/action.js';

export class ChatStateRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      get: db.prepare('SELECT value FROM chat_state WHERE chat_id = ? AND key = ?'),
      set: db.prepare(
        'INSERT INTO chat_state (chat_id, key, value) VALUES (?, ?, ?) ON CONFLICT (chat_id, key) DO UPDATE SET value = excluded.value',
      ),
      del: db.prepare('DELETE FROM chat_state WHERE chat_id = ? AND key = ?'),
    };
  }

  forChat(chatId: number): ChatState {
    return {
      get: (key) => (this.q.get.get(chatId, key) as { value: string } | undefined)?.value,
      set: (key, value) => {
        if (value === undefined) this.q.del.run(chatId, key);
        else this.q.set.run(chatId, key, value);
      },
    };
  }
}
