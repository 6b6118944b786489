import type { Db } from './db.js';
import type { Origin, Role } from '../core/action.js';
import type { ApprovalRow, ApprovalState, ApprovalStore, NewApproval, Ran, Vote } from '../core/approvals.js';
import type { Block } from '../core/result.js';

export type { ApprovalRow, ApprovalState } from '../core/approvals.js';

interface Raw {
  id: string;
  request_hash: string;
  action: string;
  params: string;
  subject: string;
  origin: string;
  requester_id: number;
  requester: string;
  chat_id: number;
  min_role: string;
  created_at: number;
  expires_at: number;
  state: string;
  decided_by: string | null;
  decided_at: number | null;
  preview: string;
  card: string | null;
  quorum: number;
  first_by_id: number | null;
  first_by: string | null;
  first_at: number | null;
  ran: string | null;
}

const fromRaw = (r: Raw): ApprovalRow => ({
  id: r.id,
  requestHash: r.request_hash,
  action: r.action,
  params: JSON.parse(r.params) as Record<string, unknown>,
  subject: r.subject,
  origin: r.origin as Origin,
  requesterId: r.requester_id,
  requester: r.requester,
  chatId: r.chat_id,
  minRole: r.min_role as Role,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  state: r.state as ApprovalState,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at,
  preview: JSON.parse(r.preview) as Block[],
  card: r.card === null ? null : JSON.parse(r.card),
  quorum: r.quorum === 2 ? 2 : 1,
  firstVote:
    r.first_by_id === null || r.first_by === null || r.first_at === null
      ? null
      : { userId: r.first_by_id, by: r.first_by, at: r.first_at },
  ran: r.ran === null ? null : (JSON.parse(r.ran) as Ran),
});

/** Pending approvals survive restarts; every state change is one atomic UPDATE … WHERE state='pending'. */
export class ApprovalRepo implements ApprovalStore {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      insert: db.prepare(
        `INSERT INTO approvals (id, request_hash, action, params, subject, origin, requester_id, requester, chat_id,
           min_role, created_at, expires_at, state, preview, quorum)
         VALUES (@id, @requestHash, @action, @params, @subject, @origin, @requesterId, @requester, @chatId,
           @minRole, @createdAt, @expiresAt, 'pending', @preview, @quorum)`,
      ),
      get: db.prepare('SELECT * FROM approvals WHERE id = ?'),
      decide: db.prepare(
        `UPDATE approvals SET state = @state, decided_by = @by, decided_at = @at
         WHERE id = @id AND state = 'pending' AND expires_at > @at
           AND (@state = 'denied' OR quorum = 1
             OR (first_by_id IS NOT NULL AND first_by_id != @voter AND requester_id != @voter))`,
      ),
      vote: db.prepare(
        `UPDATE approvals SET first_by_id = @userId, first_by = @by, first_at = @at
         WHERE id = @id AND state = 'pending' AND expires_at > @at AND quorum = 2 AND first_by_id IS NULL
           AND requester_id != @userId`,
      ),
      unvote: db.prepare(
        `UPDATE approvals SET first_by_id = NULL, first_by = NULL, first_at = NULL
         WHERE id = @id AND state = 'pending' AND first_by_id = @userId AND first_by = @by AND first_at = @at`,
      ),
      reopen: db.prepare(
        `UPDATE approvals SET state = 'pending', decided_by = NULL, decided_at = NULL
         WHERE id = @id AND state = @state AND decided_by = @by AND decided_at = @at`,
      ),
      due: db.prepare(`SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= ?`),
      expire: db.prepare(
        `UPDATE approvals SET state = 'expired', decided_at = @at WHERE id = @id AND state = 'pending'`,
      ),
      pendingOf: db.prepare(`SELECT * FROM approvals WHERE state = 'pending' AND requester_id = ? AND chat_id = ?`),
      cancel: db.prepare(
        `UPDATE approvals SET state = 'cancelled', decided_by = @by, decided_at = @at WHERE id = @id AND state ` +
          `= 'pending'`,
      ),
      setCard: db.prepare('UPDATE approvals SET card = ? WHERE id = ?'),
      finish: db.prepare(`UPDATE approvals SET ran = ? WHERE id = ? AND state = 'approved'`),
      next: db.prepare(`SELECT min(expires_at) FROM approvals WHERE state = 'pending'`).pluck(),
      prune: db.prepare(`DELETE FROM approvals WHERE state != 'pending' AND decided_at IS NOT NULL AND decided_at < ?`),
    };
  }

  insert(a: NewApproval): void {
    this.q.insert.run({ ...a, params: JSON.stringify(a.params), preview: JSON.stringify(a.preview) });
  }

  get(id: string): ApprovalRow | undefined {
    const r = this.q.get.get(id) as Raw | undefined;
    return r && fromRaw(r);
  }

  decide(id: string, state: 'approved' | 'denied', by: string, at: number, voterId?: number): boolean {
    return this.q.decide.run({ id, state, by, at, voter: voterId ?? null }).changes === 1;
  }

  vote(id: string, v: Vote): boolean {
    return this.q.vote.run({ id, ...v }).changes === 1;
  }

  unvote(id: string, v: Vote): boolean {
    return this.q.unvote.run({ id, ...v }).changes === 1;
  }

  reopen(id: string, state: 'approved' | 'denied', by: string, at: number): boolean {
    return this.q.reopen.run({ id, state, by, at }).changes === 1;
  }

  expireDue(at: number): ApprovalRow[] {
    const due = (this.q.due.all(at) as Raw[]).map(fromRaw);
    return due
      .filter((a) => this.q.expire.run({ id: a.id, at }).changes === 1)
      .map((a) => ({ ...a, state: 'expired' as const, decidedAt: at }));
  }

  nextExpiry(): number | undefined {
    return (this.q.next.get() as number | null) ?? undefined;
  }

  cancelPending(requesterId: number, chatId: number, by: string, at: number): ApprovalRow[] {
    const mine = (this.q.pendingOf.all(requesterId, chatId) as Raw[]).map(fromRaw);
    return mine
      .filter((a) => this.q.cancel.run({ id: a.id, by, at }).changes === 1)
      .map((a) => ({ ...a, state: 'cancelled' as const, decidedBy: by, decidedAt: at }));
  }

  cancel(id: string, by: string, at: number): ApprovalRow | undefined {
    const a = this.get(id);
    if (!a || this.q.cancel.run({ id, by, at }).changes !== 1) return undefined;
    return { ...a, state: 'cancelled', decidedBy: by, decidedAt: at };
  }

  setCard(id: string, card: unknown): void {
    this.q.setCard.run(JSON.stringify(card), id);
  }

  finish(id: string, ran: Ran): void {
    this.q.finish.run(JSON.stringify({ ok: ran.ok, summary: ran.summary }), id);
  }

  /** Keeps decided approvals for a while for reference, then drops them; the audit keeps the history. */
  prune(decidedBefore: number): number {
    return this.q.prune.run(decidedBefore).changes;
  }
}
