/**
 * Approvals that a target's own process asks for on a person's behalf (an agent session's tool
 * call): the request goes through the pipeline like any other (role, rate limit, validation,
 * audit), always as an approval card; only an approval that was decided and ran is a yes.
 */
import type { Operator } from './action.js';
import type { Dispatcher } from './dispatcher.js';
import type { Outcome } from './outcome.js';

export interface OnBehalfRequest {
  /** Whose request it is: the card goes to their chat, and they must hold the action's role. */
  readonly operator: Operator;
  /** One of the target's own actions; one that would run without approval is refused. */
  readonly action: string;
  readonly params: Record<string, unknown>;
  /** The key of the live card the request is about: where that card has a place (a topic), the approval goes there. */
  readonly place?: string;
  /** Aborted when the question is moot: the card is withdrawn (audited as cancelled). */
  readonly signal: AbortSignal;
}

export type OnBehalfDecision =
  { readonly approved: true; readonly by: string } | { readonly approved: false; readonly reason: string };

/** Asks for approval on someone's behalf; settles once it is approved and ran, or not. */
export type AskOnBehalf = (r: OnBehalfRequest) => Promise<OnBehalfDecision>;

export function onBehalf(dispatcher: Dispatcher): AskOnBehalf {
  return async (r) => {
    if (r.signal.aborted) return { approved: false, reason: 'withdrawn' };
    const outcome = await dispatcher.onBehalf(r.operator, r.action, r.params);
    if (outcome.kind !== 'approval') return { approved: false, reason: notAsked(outcome) };
    const { approvals } = dispatcher;
    const id = outcome.approval.id;
    const withdraw = () => approvals.withdraw(id, 'no longer asked');
    r.signal.addEventListener('abort', withdraw, { once: true });
    try {
      // Asked before the card goes out: one approved and run while it was being sent keeps its outcome.
      const settled = approvals.settled(id);
      await approvals.present(outcome.approval, r.operator.chatId, r.place);
      // Aborted while the card was being sent: the listener withdrew it already, or does now.
      if (r.signal.aborted) withdraw();
      const s = await settled;
      if (s.state === 'approved' && s.outcome?.kind === 'done') return { approved: true, by: s.by };
      if (s.state === 'approved')
        return {
          approved: false,
          reason: s.outcome ? 'approved, but it did not run' : 'approved, but its end is unknown',
        };
      const by = s.state === 'denied' || s.state === 'cancelled' ? ` by ${s.by}` : '';
      return { approved: false, reason: `${s.state}${by}` };
    } finally {
      r.signal.removeEventListener('abort', withdraw);
    }
  };
}

/** Why a request on someone's behalf got no card. */
function notAsked(o: Exclude<Outcome, { kind: 'approval' }>): string {
  switch (o.kind) {
    case 'refused':
      return o.message;
    case 'rate_limited':
      return `rate limited; retry in ${o.retryAfterS}s`;
    case 'failed':
      return o.message;
    case 'done':
      return 'it would have run without approval, so it was not asked';
    case 'ignored':
      return 'the requester is not authorized';
  }
}
