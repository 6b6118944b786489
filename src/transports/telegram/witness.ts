import type { Api } from 'grammy';
import { headLine, type Witness } from '../../core/audit-witness.js';

/**
 * A Telegram chat or channel as an audit witness: its history is Telegram's, not the host's.
 * Posted through the bot's client (rate gate and retries included); sent means taken.
 */
export function telegramWitness(api: Api, chatId: number): Witness {
  return {
    name: `telegram:${chatId}`,
    async post(h, signal) {
      // grammY types its signal as the abort-controller polyfill's; the platform's is what it uses.
      await api.sendMessage(
        chatId,
        headLine(h),
        { link_preview_options: { is_disabled: true } },
        signal as Parameters<Api['sendMessage']>[3],
      );
    },
  };
}
