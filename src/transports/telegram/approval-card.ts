import type { Dispatcher, PendingApproval } from '../../core/dispatcher.js';
import type { Logger } from '../../core/log.js';
import { say } from '../../core/result.js';
import type { Replier, Where } from './reply.js';

export interface ApprovalCardDeps {
  readonly replier: Replier;
  readonly dispatcher: Dispatcher;
  readonly log: Logger;
}

/**
 * Offers an approval: its card, in full, with the buttons. A card that could not be shown in
 * full is not offered — the approval is withdrawn (cancelled and audited) and the chat told.
 * True when the card is up.
 */
export async function offerApproval(d: ApprovalCardDeps, where: Where, p: PendingApproval): Promise<boolean> {
  try {
    d.dispatcher.attachCard(p.id, await d.replier.sendCard(where, p.card, p));
    return true;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    d.log.warn({ approval: p.id, err: why }, 'an approval card could not be shown in full; withdrawing it');
    d.dispatcher.withdraw(p.id, 'its card could not be shown in full');
    await d.replier
      .send(where, say('⚠️ The approval card could not be shown in full, so it is not offered and nothing will run. Ask again.'))
      .catch((e: unknown) => d.log.warn({ approval: p.id, err: e instanceof Error ? e.message : String(e) }, 'could not say that an approval was withdrawn'));
    return false;
  }
}
