import { createHash } from 'node:crypto';
import type { Origin, Role } from './action.js';
import { redactDeepWith, type Redact } from './redact.js';
import { bold, line, plainText, text, value, type Attachment, type Block, type Result } from './result.js';
import { formatDuration, truncate } from './text.js';
import { showInvisible } from './visible.js';

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

/** One approval as stored: the exact request, who asked where, and what became of it. */
export interface ApprovalRow {
  readonly id: string;
  readonly requestHash: string;
  readonly action: string;
  readonly params: Record<string, unknown>;
  readonly subject: string;
  readonly origin: Origin;
  readonly requesterId: number;
  readonly requester: string;
  readonly chatId: number;
  readonly minRole: Role;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly state: ApprovalState;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  readonly preview: readonly Block[];
  /** How many distinct operators must approve it (APPROVAL_QUORUM): 1, or 2 for two-person approval. */
  readonly quorum: 1 | 2;
  /** The first of two approvals, while the second is awaited (and kept once it ran). */
  readonly firstVote: Vote | null;
  /** Where a transport showed the card, as it stored it (JSON); only that transport reads it back. */
  readonly card: unknown;
  /** How its run ended, once an approved request ran: what a requester on another replica learns. */
  readonly ran: Ran | null;
}

/** The end of an approved request's run, as the replica that ran it recorded it. */
export interface Ran {
  readonly ok: boolean;
  /** Its result's first line, or why it failed. */
  readonly summary: string;
}

/** One operator's approval of a request that needs two. */
export interface Vote {
  readonly userId: number;
  readonly by: string;
  readonly at: number;
}

export type NewApproval = Omit<ApprovalRow, 'state' | 'decidedBy' | 'decidedAt' | 'card' | 'firstVote' | 'ran'>;

/**
 * Where approvals are kept (SQLite in production). Every state change is atomic and happens
 * only from `pending`: of two callers, one wins.
 */
export interface ApprovalStore {
  insert(a: NewApproval): void;
  get(id: string): ApprovalRow | undefined;
  /**
   * True only for the one caller that moved it out of `pending` before it expired. An approval
   * needing two is approved only by `voterId` distinct from its first voter and its requester.
   */
  decide(id: string, state: 'approved' | 'denied', by: string, at: number, voterId?: number): boolean;
  /** Records the first of two approvals; true only for the one caller that did (never the requester). */
  vote(id: string, v: Vote): boolean;
  /** Undoes exactly that first approval (its audit entry could not be written). */
  unvote(id: string, v: Vote): boolean;
  /** Undoes exactly that decision (its audit entry could not be written); true when it was undone. */
  reopen(id: string, state: 'approved' | 'denied', by: string, at: number): boolean;
  /** Marks every overdue pending approval expired and returns the ones this call expired. */
  expireDue(at: number): ApprovalRow[];
  /** The earliest expiry of a pending approval, if any is pending. */
  nextExpiry(): number | undefined;
  cancelPending(requesterId: number, chatId: number, by: string, at: number): ApprovalRow[];
  /** Cancels one pending approval; the row as cancelled, or undefined when it was no longer pending. */
  cancel(id: string, by: string, at: number): ApprovalRow | undefined;
  setCard(id: string, card: unknown): void;
  /** Records how an approved request's run ended. */
  finish(id: string, ran: Ran): void;
  /** Deletes approvals decided (or expired, or cancelled) before `decidedBefore`; never a pending one. */
  prune(decidedBefore: number): number;
}

/** Binds an approval to the exact request: action, parameters, who asked and where. */
export function requestHash(a: Pick<ApprovalRow, 'id' | 'action' | 'params' | 'requesterId' | 'chatId'>): string {
  return createHash('sha256')
    .update(JSON.stringify([a.id, a.action, a.params, a.requesterId, a.chatId]))
    .digest('hex');
}

/** The part of the hash carried in a button, checked on every press. */
export const approvalToken = (hash: string): string => hash.slice(0, 16);

/** The request's digest as people see it: on the card, in its document, in the file's name. */
export const requestDigest = (a: Pick<ApprovalRow, 'requestHash'>): string => approvalToken(a.requestHash);

/**
 * An approval card. Its blocks hold everything; a transport whose one message cannot hold them
 * shows `document` (the parameters and preview in full) first, then `brief` (the card with a
 * line naming the document instead of them) with the buttons.
 */
export interface ApprovalCard extends Result {
  readonly brief: Result;
  readonly document: Attachment & { readonly content: string };
}

export type CardStatus =
  | { kind: 'pending'; now: number }
  | { kind: 'running'; by: string }
  | { kind: 'finished'; by: string; ok: boolean; summary: string }
  | { kind: 'denied'; by: string }
  | { kind: 'expired' }
  | { kind: 'cancelled'; by: string };

const STATUS_LINE: Record<CardStatus['kind'], string> = {
  pending: '⏳ Waiting for approval',
  running: '▶️ Approved by ',
  finished: '',
  denied: '❌ Denied by ',
  expired: '⌛ Expired; nothing was done.',
  cancelled: '🚫 Cancelled by ',
};

/** How long an outcome's summary may make a card: an edit must still fit where the card did. */
const SUMMARY_MAX = 300;

/**
 * One line per parameter. Strings are shown through showInvisible (counted whitespace, named
 * invisible characters, no line breaks); other values as JSON, shown the same way. Secrets are
 * hidden first: once escaped (`password:⟨5 spaces⟩x`), the redactor would no longer see them.
 */
function parameterLines(params: Readonly<Record<string, unknown>>, redact: Redact): Block[] {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) =>
      line(
        value(showInvisible(redact(k))),
        ': ',
        // An object's strings are redacted before it becomes JSON, whose escapes (`\n`) a redactor reads as text.
        value(showInvisible(typeof v === 'string' ? redact(v) : JSON.stringify(redactDeepWith(v, redact)))),
      ),
    );
}

/** What a card shows of a request, whatever its state: its target, its parameters and the preview. */
export function cardBody(
  r: Pick<ApprovalRow, 'action' | 'subject' | 'params' | 'preview'>,
  redact: Redact,
): { readonly target: Block; readonly body: readonly Block[] } {
  return {
    target: line('Target: ', value(showInvisible(redact(r.subject)))),
    body: [line('Parameters:'), ...parameterLines(r.params, redact), ...r.preview],
  };
}

function statusLine(a: ApprovalRow, status: CardStatus): Block {
  switch (status.kind) {
    case 'pending': {
      const expires = `expires in ${formatDuration(a.expiresAt - status.now)}`;
      if (a.quorum === 1) return line(`${STATUS_LINE.pending} · ${expires}`);
      if (a.firstVote === null) return line(`${STATUS_LINE.pending} by two operators (0 of 2) · ${expires}`);
      return line(`✅ 1 of 2: approved by ${a.firstVote.by} · waiting for a second operator · ${expires}`);
    }
    case 'running':
      return line(`${STATUS_LINE.running}${status.by} · running…`);
    case 'finished':
      return line(
        `${status.ok ? '✅' : '⚠️'} Approved by ${status.by} · ${status.ok ? 'done' : 'failed'}: `,
        value(truncate(showInvisible(status.summary), SUMMARY_MAX)),
      );
    case 'denied':
    case 'cancelled':
      return line(`${STATUS_LINE[status.kind]}${status.by}; nothing was done.`);
    case 'expired':
      return line(STATUS_LINE.expired);
  }
}

/**
 * The approval card: exactly what will run, on what, with which parameters, and its state.
 * Who asked, the action, its target, the request's digest and the state come first and are on
 * every form of the card; the parameters are never cut.
 */
export function renderCard(a: ApprovalRow, status: CardStatus, redact: Redact): ApprovalCard {
  const digest = requestDigest(a);
  const { target, body } = cardBody(a, redact);
  const about = [line('Action: ', value(a.action)), target, line(text(`Requested by ${a.requester} (${a.origin})`))];
  const head = [line(bold('⚠️ Approval needed')), ...about, line('Request: ', value(digest))];
  const state = statusLine(a, status);
  const heading = line(`teleops approval request ${digest}: what will run, in full`);
  const content = `${plainText({ blocks: [heading, ...about, ...body] })}\n`;
  const filename = `request-${digest}.txt`;
  return {
    blocks: [...head, ...body, state],
    brief: {
      blocks: [
        ...head,
        line(`Parameters and preview: in full in the document ${filename} (${content.length} characters).`),
        state,
      ],
    },
    document: { filename, content },
  };
}
