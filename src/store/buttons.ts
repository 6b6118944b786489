import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export interface StoredButton {
  readonly action: string;
  readonly params: Record<string, unknown>;
}

/** Where a button is kept: its keyboard's id and its place on it. */
export interface ButtonRef {
  readonly keyboard: string;
  readonly index: number;
}

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
  putAll(chatId: number, bs: readonly StoredButton[], now = Date.now()): ButtonRef[] {
    const keyboard = randomBytes(12).toString('base64url');
    this.q.insert.run(keyboard, chatId, JSON.stringify(bs.map((b) => ({ action: b.action, params: b.params }))), now);
    return bs.map((_, index) => ({ keyboard, index }));
  }

  /** The button, if it exists, belongs to this chat and has not aged out. */
  get(ref: ButtonRef, chatId: number, now = Date.now()): StoredButton | undefined {
    if (!Number.isInteger(ref.index) || ref.index < 0) return undefined;
    const r = this.q.get.get(ref.keyboard) as { chat_id: number; buttons: string; created_at: number } | undefined;
    if (!r || r.chat_id !== chatId || now - r.created_at > this.ttlMs) return undefined;
    const b = (JSON.parse(r.buttons) as StoredButton[])[ref.index];
    return b === undefined ? undefined : { action: b.action, params: b.params };
  }

  prune(now = Date.now()): void {
    this.q.prune.run(now - this.ttlMs);
  }
}
