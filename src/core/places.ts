import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from './action.js';
import type { Result } from './result.js';

/** A transport that can give live cards places of their own (in Telegram: forum topics). */
export interface CardPlaces {
  on(chatId: number): Promise<Result>;
  off(chatId: number): Promise<Result>;
}

/**
 * The actions exist before any transport does (the registry is built first), so the service
 * reaches them through this slot, filled in by the transport that offers it.
 */
export class CardPlacesSlot {
  service: CardPlaces | undefined;
}

/** `/<target> topics on|off` for a target whose live cards may have places of their own. */
export function placesAction(slot: CardPlacesSlot, target: string, summary: string): AnyAction {
  return defineAction({
    name: `${target}.topics`,
    summary,
    target,
    risk: 'write',
    llm: false,
    params: z.object({ mode: z.enum(['on', 'off']).describe('on or off') }),
    command: { path: [target, 'topics'], usage: '<mode>' },
    subject: (p) => `forum topics ${p.mode}`,
    // It lays out this chat's own cards and reaches no place of the target; scopes filter the cards.
    where: () => [],
    async run(ctx, p) {
      const places = slot.service;
      if (!places) throw new ActionError('topics exist only in a chat app with forum groups, not here');
      return p.mode === 'on' ? places.on(ctx.operator.chatId) : places.off(ctx.operator.chatId);
    },
  });
}
