import type { ApprovalCard } from './approvals.js';
import type { Result } from './result.js';

export interface PendingApproval {
  readonly id: string;
  /** Carried by the Approve/Deny buttons and checked on every press. */
  readonly token: string;
  readonly expiresAt: number;
  readonly card: ApprovalCard;
}

/** What became of a request; the transport renders it. `ignored` means: say nothing. */
export type Outcome =
  | { readonly kind: 'ignored' }
  | { readonly kind: 'rate_limited'; readonly retryAfterS: number; readonly notify: boolean; readonly secret?: boolean }
  | { readonly kind: 'refused'; readonly message: string; readonly secret?: boolean }
  | { readonly kind: 'approval'; readonly approval: PendingApproval }
  | { readonly kind: 'done'; readonly action: string; readonly result: Result; readonly secret?: boolean }
  | { readonly kind: 'failed'; readonly action: string; readonly message: string; readonly secret?: boolean };
