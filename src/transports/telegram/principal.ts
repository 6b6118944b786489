import type { Context } from 'grammy';
import type { Chat } from 'grammy/types';
import type { ChatKind, Principal } from '../../core/policy.js';

/** This transport's short name: its people are "tg:<user id>" in the audit log. */
export const TELEGRAM = 'tg';

/**
 * Telegram's chat types in the policy's terms: a supergroup is a group. A type this code does not
 * know is a channel, where nobody is authorized; never `local`, the terminal's own kind.
 */
export function chatKindOf(type: string): ChatKind {
  if (type === 'private') return 'private';
  return type === 'group' || type === 'supergroup' ? 'group' : 'channel';
}

export const telegramPrincipal = (userId: number, chat: Pick<Chat, 'id' | 'type'>, username?: string): Principal => ({
  transport: TELEGRAM,
  userId,
  chatId: chat.id,
  chatKind: chatKindOf(chat.type),
  ...(username ? { name: `@${username}` } : {}),
});

/** The sender of an update; bots (an anonymous group admin writes as one) are nobody. */
export function principalOf(ctx: Context): Principal | null {
  if (!ctx.from || !ctx.chat || ctx.from.is_bot) return null;
  return telegramPrincipal(ctx.from.id, ctx.chat, ctx.from.username);
}
