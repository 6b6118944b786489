import { z } from 'zod';
import type { ApprovalService } from '../../core/approval-service.js';
import { approvalToken } from '../../core/approvals.js';
import type { PendingApproval } from '../../core/dispatcher.js';
import type { Logger } from '../../core/log.js';
import type { Outbox } from './outbox.js';
import { say } from '../../core/result.js';
import type { CardRef, Replier, Where } from './reply.js';

/** A card reference as stored with its approval (by this version or an earlier one). */
const STORED_REF = z.object({
  chatId: z.number().int(),
  messageId: z.number().int(),
  document: z.literal(true).optional(),
});

export interface ApprovalCards {
  /**
   * Offers an approval: its card, in full, with the buttons. A card that could not be shown in
   * full is not offered — the approval is withdrawn (cancelled and audited) and the chat told.
   * True when the card is up.
   */
  offer(where: Where, p: PendingApproval): Promise<boolean>;
  /** Stops editing cards (shutdown). */
  close(): void;
}

/**
 * Approval cards in Telegram messages, edited as their approvals are decided, run, expire or are
 * cancelled. `threadOf` finds the open forum topic of a live card, for a card asked for beside it.
 */
export function approvalCards(
  approvals: ApprovalService,
  replier: Replier,
  outbox: Outbox,
  log: Logger,
  threadOf: (chatId: number, key: string) => number | undefined = () => undefined,
): ApprovalCards {
  const desk = approvals.cards<CardRef>({
    readRef: (stored) => {
      const r = STORED_REF.safeParse(stored);
      return r.success ? r.data : undefined;
    },
    // Through the outbox, keyed by approval: one edit of a card at a time, the newest state
    // last. Sent at once, "running…" could reach Telegram after "done" and stay on the card.
    show: (ref, change) => {
      // One of two approvals given: still open, so its buttons stay for the second operator.
      const a = change.approval;
      const open = a.state === 'pending' ? { id: a.id, token: approvalToken(a.requestHash) } : undefined;
      outbox.enqueue({
        chatId: ref.chatId,
        priority: 'card',
        key: `approval:${a.id}`,
        what: `approval card ${a.id}`,
        run: () => replier.editCard(ref, change.card, open),
      });
    },
    // An approval asked for on someone's behalf (an agent's tool call): into the topic of the
    // live card it is about, when it has one, else into the chat itself.
    offer: (chatId, p, place) => {
      const threadId = place === undefined ? undefined : threadOf(chatId, place);
      return offer({ chatId, ...(threadId !== undefined ? { threadId } : {}) }, p);
    },
  });
  return { offer, close: () => desk.close() };

  async function offer(where: Where, p: PendingApproval): Promise<boolean> {
    try {
      desk.shown(p.id, await replier.sendCard(where, p.card, p));
      return true;
    } catch (err) {
      log.warn({ approval: p.id, err: why(err) }, 'an approval card could not be shown in full; withdrawing it');
      approvals.withdraw(p.id, 'its card could not be shown in full');
      const warn = (e: unknown) =>
        log.warn({ approval: p.id, err: why(e) }, 'could not say that an approval was withdrawn');
      await replier.send(where, say(WITHDRAWN)).catch(warn);
      return false;
    }
  }
}

/** Told in the chat when an approval is withdrawn because its card could not be shown. */
const WITHDRAWN =
  '⚠️ The approval card could not be shown in full, so it is not offered and nothing will run. Ask again.';

/** What went wrong, as the log's `err` field. */
const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));
