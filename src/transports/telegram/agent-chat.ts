import type { Api } from 'grammy';
import type { Message } from 'grammy/types';
import type { Agent, AgentUi } from '../../ai/agent.js';
import type { Logger } from '../../core/log.js';
import type { Principal } from '../../core/policy.js';
import type { Redactor } from '../../core/redact.js';
import { line, value } from '../../core/result.js';
import type { ApprovalCards } from './approval-card.js';
import { firstPart, toTelegramText } from './format.js';
import type { CardRef, Replier, Where } from './reply.js';

export interface AgentChatDeps {
  readonly api: Api;
  readonly replier: Replier;
  readonly cards: ApprovalCards;
  readonly agent: Agent;
  readonly redactor: Redactor;
  readonly log: Logger;
}

const TYPING_EVERY_MS = 4500;
const PROGRESS_EVERY_MS = 1000;

/**
 * One plain-language request in a chat: the typing action while the agent works, one
 * progress message edited as tools run (at most once a second), approval cards as the agent
 * asks for them, then the answer in place of the progress message.
 */
export async function askInChat(
  d: AgentChatDeps,
  where: Where,
  principal: Principal,
  text: string,
  signal: AbortSignal,
): Promise<void> {
  const thread = where.threadId !== undefined ? { message_thread_id: where.threadId } : {};
  const typing = () => void d.api.sendChatAction(where.chatId, 'typing', thread).catch(() => {});
  typing();
  const typingTimer = setInterval(typing, TYPING_EVERY_MS);

  let progress: Promise<Message | undefined> | undefined;
  let latest = '';
  let shown = '';
  let editTimer: NodeJS.Timeout | undefined;
  // Model-chosen arguments are in the line: it goes out as code, never as live text.
  const render = (s: string) => firstPart(toTelegramText([line(value(s))], d.redactor.redact));
  const flush = async () => {
    editTimer = undefined;
    const msg = await progress;
    if (!msg || latest === shown) return;
    shown = latest;
    const ref: CardRef = { chatId: msg.chat.id, messageId: msg.message_id };
    await d.replier.editText(ref, render(latest)).catch((err: unknown) => d.log.debug({ err }, 'progress edit failed'));
  };
  const ui: AgentUi = {
    progress(s) {
      latest = s;
      if (!progress) {
        shown = s;
        progress = d.replier.sendText(where, render(s)).catch((err: unknown) => {
          d.log.warn({ err }, 'could not post agent progress');
          return undefined;
        });
      } else editTimer ??= setTimeout(() => void flush(), PROGRESS_EVERY_MS);
    },
    async approval(p) {
      if (!(await d.cards.offer(where, p))) throw new Error('the approval card could not be shown in full');
    },
  };
  try {
    const answer = await d.agent.ask(principal, text, ui, signal);
    if (answer.blocks.length === 0) return;
    const msg = await progress;
    if (msg) await d.api.deleteMessage(msg.chat.id, msg.message_id).catch(() => {});
    await d.replier.send(where, answer);
  } finally {
    clearInterval(typingTimer);
    clearTimeout(editTimer);
  }
}
