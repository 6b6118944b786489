import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export interface StoredButton {
  readonly chatId: number;
  readonly action: string;
  readonly params: Record<string, unknown>;
}

/**
 * Telegram's callback data is 64 bytes and comes back from the client, so it carries only
 * an unguessable id (96 random bits); what the button does is kept here, bound to its chat.
 */
export class ButtonRepo {
  private readonly q;
  private readonly putAllTx;

  constructor(
    db: Db,
    private readonly ttlMs = 7 * 24 * 3600_000,
  ) {
    this.q = {
      insert: db.prepare('INSERT INTO buttons (id, chat_id, action, params, created_at) VALUES (?, ?, ?, ?, ?)'),
      get: db.prepare('SELECT chat_id, action, params, created_at FROM buttons WHERE id = ?'),
      prune: db.prepare('DELETE FROM buttons WHERE created_at < ?'),
    };
    this.putAllTx = db.transaction((bs: readonly StoredButton[], now: number) => bs.map((b) => this.put(b, now)));
  }

  /** Stores a whole keyboard in one commit (a page of containers has dozens of buttons). */
  putAll(bs: readonly StoredButton[], now = Date.now()): string[] {
    return this.putAllTx(bs, now);
  }

  put(b: StoredButton, now = Date.now()): string {
    const id = randomBytes(12).toString('base64url');
    this.q.insert.run(id, b.chatId, b.action, JSON.stringify(b.params), now);
    return id;
  }

  /** The button, if it exists, belongs to this chat and has not aged out. */
  get(id: string, chatId: number, now = Date.now()): StoredButton | undefined {
    const r = this.q.get.get(id) as { chat_id: number; action: string; params: string; created_at: number } | undefined;
    if (!r || r.chat_id !== chatId || now - r.created_at > this.ttlMs) return undefined;
    return { chatId: r.chat_id, action: r.action, params: JSON.parse(r.params) as Record<string, unknown> };
  }

  prune(now = Date.now()): void {
    this.q.prune.run(now - this.ttlMs);
  }
}
