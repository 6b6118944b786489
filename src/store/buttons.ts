import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export interface StoredButton {
  readonly action: string;
  readonly params: Record<string, unknown>;
}

/** A button's reference in callback data: its keyboard's id and, after a colon, its index. */
export const BUTTON_REF = /^[A-Za-z0-9_-]{16}(?::\d{1,3})?$/;

/**
 * Telegram's callback data is 64 bytes and comes back from the client, so it carries only
 * an unguessable keyboard id (96 random bits) and the button's index; what the button does is
 * kept here, bound to its chat. One row per keyboard: a page of containers is one insert.
 */
export class ButtonRepo {
  private readonly q;

  constructor(
    db: Db,
    private readonly ttlMs = 7 * 24 * 3600_000,
  ) {
    this.q = {
      insert: db.prepare('INSERT INTO keyboards (id, chat_id, buttons, created_at) VALUES (?, ?, ?, ?)'),
      get: db.prepare('SELECT chat_id, buttons, created_at FROM keyboards WHERE id = ?'),
      prune: db.prepare('DELETE FROM keyboards WHERE created_at < ?'),
    };
  }

  /** Stores a keyboard's buttons; returns each button's reference, in order. */
  putAll(chatId: number, bs: readonly StoredButton[], now = Date.now()): string[] {
    const id = randomBytes(12).toString('base64url');
    this.q.insert.run(id, chatId, JSON.stringify(bs.map((b) => ({ action: b.action, params: b.params }))), now);
    return bs.map((_, i) => `${id}:${i}`);
  }

  /** The button, if it exists, belongs to this chat and has not aged out. A reference without an index is a stored single button. */
  get(ref: string, chatId: number, now = Date.now()): StoredButton | undefined {
    if (!BUTTON_REF.test(ref)) return undefined;
    const [id, index = '0'] = ref.split(':');
    const r = this.q.get.get(id) as { chat_id: number; buttons: string; created_at: number } | undefined;
    if (!r || r.chat_id !== chatId || now - r.created_at > this.ttlMs) return undefined;
    const b = (JSON.parse(r.buttons) as StoredButton[])[Number(index)];
    return b === undefined ? undefined : { action: b.action, params: b.params };
  }

  prune(now = Date.now()): void {
    this.q.prune.run(now - this.ttlMs);
  }
}
