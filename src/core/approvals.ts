import { createHash } from 'node:crypto';
import { bold, line, text, value, type Block, type Result } from './result.js';
import type { ApprovalRow } from '../store/approvals.js';
import { formatDuration } from './text.js';

/** Binds an approval to the exact request: action, parameters, who asked and where. */
export function requestHash(a: Pick<ApprovalRow, 'id' | 'action' | 'params' | 'requesterId' | 'chatId'>): string {
  return createHash('sha256')
    .update(JSON.stringify([a.id, a.action, a.params, a.requesterId, a.chatId]))
    .digest('hex');
}

/** The part of the hash carried in a button, checked on every press. */
export const approvalToken = (hash: string): string => hash.slice(0, 16);

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

/** The approval card: exactly what will run, on what, with which parameters, and its state. */
export function renderCard(a: ApprovalRow, status: CardStatus): Result {
  const params = JSON.stringify(a.params);
  const blocks: Block[] = [
    line(bold('⚠️ Approval needed')),
    line('Action: ', value(a.action)),
    line('Target: ', value(a.subject)),
    line('Parameters: ', value(params)),
    ...a.preview,
    line(text(`Requested by ${a.requester} (${a.origin})`)),
  ];
  switch (status.kind) {
    case 'pending':
      blocks.push(line(`${STATUS_LINE.pending} · expires in ${formatDuration(a.expiresAt - status.now)}`));
      break;
    case 'running':
      blocks.push(line(`${STATUS_LINE.running}${status.by} · running…`));
      break;
    case 'finished':
      blocks.push(line(`${status.ok ? '✅' : '⚠️'} Approved by ${status.by} · ${status.ok ? 'done' : 'failed'}: `, value(status.summary)));
      break;
    case 'denied':
    case 'cancelled':
      blocks.push(line(`${STATUS_LINE[status.kind]}${status.by}; nothing was done.`));
      break;
    case 'expired':
      blocks.push(line(STATUS_LINE.expired));
      break;
  }
  return { blocks };
}
