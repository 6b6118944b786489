import type { Outcome } from '../../src/core/outcome.js';
import { plainText } from '../../src/core/result.js';

/** What a person reads of an outcome: the result, the one-line answer, or the approval card. */
export const outcomeText = (o: Outcome): string =>
  o.kind === 'done'
    ? plainText(o.result)
    : o.kind === 'refused' || o.kind === 'failed'
      ? o.message
      : o.kind === 'approval'
        ? plainText(o.approval.card)
        : o.kind;
