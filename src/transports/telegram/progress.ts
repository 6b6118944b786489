import type { Message } from 'grammy/types';
import type { Logger } from '../../core/log.js';
import type { ProgressBus } from '../../core/progress.js';
import { say, value } from '../../core/result.js';
import type { Replier } from './reply.js';

/**
 * What a run is doing, as one "⏳ …" message in the requester's chat: posted at the first
 * note, edited at the next ones, deleted when the run ends (its answer follows). The console's
 * person (chat 0) is told by the console.
 */
export function showProgress(bus: ProgressBus, replier: Replier, log: Logger): () => void {
  const shown = new Map<number, Promise<Message | undefined>>();
  return bus.on((n) => {
    const chatId = n.operator.chatId;
    if (chatId === 0) return;
    const note = n.text;
    const prev = shown.get(n.run) ?? Promise.resolve(undefined);
    // Notes of one run go out in order, each after the one before has been sent.
    const next = prev
      .then(async (m): Promise<Message | undefined> => {
        if (note === undefined) {
          if (m) await replier.api.deleteMessage(chatId, m.message_id);
          return undefined;
        }
        // Notes name containers and sessions: shown as values, never as formatting or links.
        const body = say('⏳ ', value(note));
        if (!m) return (await replier.send({ chatId }, body))[0];
        await replier.editText({ chatId, messageId: m.message_id }, replier.renderCard(body));
        return m;
      })
      .catch((err: unknown) => {
        log.warn({ chat: chatId, err: err instanceof Error ? err.message : String(err) }, 'could not show progress');
        return undefined;
      });
    if (note === undefined) shown.delete(n.run);
    else shown.set(n.run, next);
  });
}
