import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ROLE_RANK, type Names, type Operator, type Origin, type Role } from './action.js';
import {
  approvalToken,
  renderCard,
  requestHash,
  type ApprovalCard,
  type ApprovalRow,
  type ApprovalStore,
  type CardStatus,
  type Ran,
  type Vote,
} from './approvals.js';
import type { AuditEntryInput, AuditOutcome } from './audit.js';
import type { AuditWritable } from './audit-writable.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Outcome, PendingApproval } from './outcome.js';
import { say, type Block, type Result } from './result.js';
import { truncate } from './text.js';

/** What became of an approval, for whoever asked for it (the LLM agent): not a UI event. */
export type Settlement =
  /** `outcome` is absent when it ran before this process knew of it (a restart). */
  | { readonly state: 'approved'; readonly by: string; readonly outcome?: Outcome }
  | { readonly state: 'denied' | 'cancelled'; readonly by: string }
  | { readonly state: 'expired' }
  /** No such approval: never made, or pruned long after it was decided. */
  | { readonly state: 'gone' };

/** An approval card changed (decided, running, done, expired, cancelled): a transport shows it. */
export interface CardChange {
  readonly approval: ApprovalRow;
  readonly card: ApprovalCard;
}

/**
 * Where a transport shows approval cards. `Ref` is its own note of where a card is (a chat
 * and message); it is stored with the approval as JSON, so a card is edited after a restart too.
 */
export interface CardSurface<Ref> {
  /** A stored reference back in the transport's type; undefined when it is not one of its own. */
  readonly readRef: (stored: unknown) => Ref | undefined;
  /** Shows the card's new state where `ref` says it is. */
  readonly show: (ref: Ref, change: CardChange) => void;
  /**
   * Shows a new card in a chat, unasked by any message there (an approval a target asked for on
   * someone's behalf); false when it could not be shown in full (it is then withdrawn).
   */
  readonly offer?: (chatId: number, p: PendingApproval, place?: string) => Promise<boolean>;
}

/** A transport's handle on the cards it shows. */
export interface CardDesk<Ref> {
  /** The card of approval `id` is up at `ref`. */
  shown(id: string, ref: Ref): void;
  /** Stops showing changes (transport shutdown). */
  close(): void;
}

export interface ApprovalRequest {
  readonly operator: Operator;
  readonly origin: Origin;
  readonly action: string;
  readonly params: Record<string, unknown>;
  readonly subject: string;
  readonly minRole: Role;
  readonly preview: readonly Block[];
  /** What its names stand for on the target, when a quorum rule asked (Action.names). */
  readonly names?: Names;
}

/**
 * An approved request either cannot run any more (and says why) or runs, as its requester;
 * `began` is called once its `started` entry is written, just before it runs.
 */
export type ApprovedRun = { readonly refused: string } | { readonly run: (began: () => void) => Promise<Outcome> };

export interface ApprovalServiceDeps {
  readonly store: ApprovalStore;
  /**
   * Appends audit entries (redacted and counted by the caller), several as one group in one
   * commit; false when they could not be written.
   */
  readonly record: (...entries: AuditEntryInput[]) => boolean;
  /** Whether the state can be written: a decision the audit cannot show is not taken. */
  readonly writable: AuditWritable;
  /** A person's name in the audit log. */
  readonly actorOf: (o: Pick<Operator, 'userId' | 'display'>) => string;
  /** The rest of the pipeline, for a request once approved. */
  readonly runApproved: (row: ApprovalRow, approvedBy: string) => ApprovedRun;
  /**
   * Hides secrets in what a run said before its card and the approvals table keep it: the card
   * escapes whitespace, after which the transport's redactor no longer sees `password:   x`.
   */
  readonly redact: (text: string) => string;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly ttlMs: number;
  /** How long decided approvals are kept; the audit keeps their history after that. */
  readonly retentionMs: number;
  readonly now: () => number;
  /** How many distinct operators must approve a request (APPROVAL_QUORUM); one when absent. */
  readonly quorumOf?: (action: string, params: Readonly<Record<string, unknown>>, names?: Names) => 1 | 2;
  /** How long an approved request may run on another replica before a waiter here stops waiting for its end. */
  readonly runGraceMs: (action: string) => number;
}

/** setTimeout's longest delay; a later expiry is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** After an expiry that could not be written (a full disk): the next try, not a busy loop on the same row. */
const EXPIRY_RETRY_MS = 5000;
/** A change of a card not stored yet is looked up again this often, this many times (30 s). */
const CARD_LOOKUP_MS = 500;
const CARD_LOOKUPS = 60;
/** How often waiters look in the store for a decision made on another replica. */
const WATCH_MS = 1000;

/**
 * The one owner of approvals (DESIGN.md §2): creates them, expires them with one timer armed
 * for the earliest pending expiry, records decisions (single use: one atomic state change in
 * the store decides which press wins), prunes old ones, and tells the requester how each
 * settled. Every state change is audited here and shown as a card change.
 */
export class ApprovalService {
  private readonly events = new EventEmitter();
  private readonly waiters = new Map<string, { promise: Promise<Settlement>; resolve: (s: Settlement) => void }>();
  /** Approved, and running now: their settlement (with the outcome) is still to come. */
  private readonly running = new Set<string>();
  /**
   * Decided, yet to go back to pending (their decision or run could not be audited), which the
   * store could not take then either (a full disk): done at the next press of their buttons.
   */
  private readonly stranded = new Map<string, { state: 'approved' | 'denied'; by: string; at: number }>();
  /** Transports that can show a card nobody's message asked for. */
  private readonly offers = new Set<NonNullable<CardSurface<unknown>['offer']>>();
  private timer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private stopped = false;

  constructor(private readonly d: ApprovalServiceDeps) {
    // Approvals pending from before a restart expire on time too.
    this.arm();
  }

  /** Stores a pending approval, audits the request and returns what its card needs. */
  request(r: ApprovalRequest): PendingApproval {
    const id = randomBytes(12).toString('base64url');
    const now = this.d.now();
    const op = r.operator;
    const base = { id, action: r.action, params: r.params, requesterId: op.userId, chatId: op.chatId };
    const row: ApprovalRow = {
      ...base,
      requestHash: requestHash(base),
      subject: r.subject,
      origin: r.origin,
      requester: op.display,
      minRole: r.minRole,
      createdAt: now,
      expiresAt: now + this.d.ttlMs,
      preview: r.preview,
      state: 'pending',
      decidedBy: null,
      decidedAt: null,
      card: null,
      quorum: this.d.quorumOf?.(r.action, r.params, r.names) ?? 1,
      firstVote: null,
      ran: null,
    };
    this.d.store.insert(row);
    this.audit(op, r.origin, row, r.params, 'approval_requested', `approval ${id}`);
    this.d.metrics.approvals.inc({ outcome: 'requested' });
    this.arm();
    const card = renderCard(row, { kind: 'pending', now }, this.d.redact);
    return { id, token: approvalToken(row.requestHash), expiresAt: row.expiresAt, card };
  }

  /**
   * Approve or Deny pressed by `op`, already identified and rate-limited. Single use: every
   * press but the one that changed the state is told what already happened.
   */
  async decide(op: Operator, id: string, token: string, decision: 'approve' | 'deny'): Promise<Outcome> {
    const row = this.d.store.get(id);
    const bound = row && approvalToken(row.requestHash) === token && requestHash(row) === row.requestHash;
    if (!bound || row.chatId !== op.chatId) {
      const forged = { action: `approval.${decision}`, target: id, params: {}, outcome: 'denied' as const };
      const detail = 'unknown or forged approval';
      this.d.record({ operator: this.d.actorOf(op), chat: op.chatId, origin: 'button', ...forged, detail });
      return { kind: 'refused', message: 'This approval is not valid here (unknown, or too old); nothing was done.' };
    }
    if (ROLE_RANK[op.role] < ROLE_RANK[row.minRole]) {
      this.audit(op, 'button', row, row.params, 'forbidden', `approval needs ${row.minRole}`);
      return { kind: 'refused', message: `Only a user with the ${row.minRole} role can decide this.` };
    }
    const now = this.d.now();
    const state = decision === 'approve' ? 'approved' : 'denied';
    // A full or read-only state directory: the press changes nothing, so it can be made again
    // once the state can be written (the approval stays pending, its card keeps its buttons).
    const undecided = (): Outcome => ({ kind: 'refused', message: this.d.writable.undecided(row.action) });
    const stranded = this.stranded.get(id);
    const unstrand = () => {
      this.d.store.reopen(id, stranded!.state, stranded!.by, stranded!.at);
      this.stranded.delete(id);
    };
    if (stranded && !this.d.writable.write(unstrand)) return undecided();
    let by = op.display;
    if (state === 'approved' && row.quorum === 2) {
      const first = this.firstVote(op, row, now);
      if (first !== undefined) return first;
      const vote = this.d.store.get(id)?.firstVote;
      if (vote) by = `${vote.by} and ${op.display}`;
    }
    let won = false;
    // The store refuses a decision past the expiry even before the timer has marked it expired.
    if (!this.d.writable.write(() => (won = this.d.store.decide(id, state, by, now, op.userId)))) return undecided();
    if (!won) return { kind: 'refused', message: alreadyDecided(this.d.store.get(id) ?? row) };
    if (
      !this.audit(
        op,
        'button',
        row,
        row.params,
        state === 'approved' ? 'approved' : 'rejected',
        decidedDetail(row, state, by),
      )
    ) {
      this.reopen(id, state, by, now);
      return undecided();
    }
    const decided: ApprovalRow = { ...row, state, decidedBy: by, decidedAt: now };
    this.d.metrics.approvals.inc({ outcome: state });
    if (state === 'denied') {
      this.changed(decided, { kind: 'denied', by });
      this.settle(id, { state: 'denied', by });
      return { kind: 'done', action: row.action, result: say(`❌ Denied: nothing was done.`) };
    }
    const next = this.d.runApproved(decided, by);
    if ('refused' in next) {
      const refused: Outcome = { kind: 'refused', message: next.refused };
      const summary = this.d.redact(next.refused);
      this.changed(decided, { kind: 'finished', by, ok: false, summary });
      this.ran(id, { ok: false, summary });
      this.settle(id, { state: 'approved', by, outcome: refused });
      return refused;
    }
    this.running.add(id);
    let began = false;
    try {
      const outcome = await next.run(() => {
        began = true;
        this.changed(decided, { kind: 'running', by });
      });
      // Approved, but the state filled up before its `started` entry: nothing ran, so the
      // decision is undone and the same button decides it once the entry can be written.
      if (!began && outcome.kind === 'refused' && this.d.writable.failing !== undefined) {
        this.reopen(id, state, by, now);
        return undecided();
      }
      const ok = outcome.kind === 'done';
      // Redacted before its first line is cut, which could leave part of a secret unrecognised.
      const summary = truncate(
        this.d.redact(outcome.kind === 'failed' ? outcome.message : ok ? firstLine(outcome.result) : outcome.kind),
        200,
      );
      this.changed(decided, { kind: 'finished', by, ok, summary });
      this.ran(id, { ok, summary });
      this.settle(id, { state: 'approved', by, outcome });
      return outcome;
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * Approve pressed on a request that needs two operators: records the first approval (once,
   * atomically, never the requester's), or refuses a press that cannot be the second. Undefined
   * when this press is the second, distinct approval and the request is to be decided.
   */
  private firstVote(op: Operator, row: ApprovalRow, now: number): Outcome | undefined {
    const id = row.id;
    if (op.userId === row.requesterId) {
      this.audit(op, 'button', row, row.params, 'forbidden', `approval ${id}: the requester cannot approve it`);
      return { kind: 'refused', message: 'You asked for this: two other operators must approve it.' };
    }
    const vote: Vote = { userId: op.userId, by: op.display, at: now };
    let won = false;
    if (!this.d.writable.write(() => (won = this.d.store.vote(id, vote)))) {
      return { kind: 'refused', message: this.d.writable.undecided(row.action) };
    }
    const current = this.d.store.get(id) ?? row;
    if (!won) {
      if (current.state !== 'pending' || current.firstVote === null)
        return { kind: 'refused', message: alreadyDecided(current) };
      if (current.firstVote.userId !== op.userId) return undefined;
      return { kind: 'refused', message: 'You already approved this; a second operator must approve it.' };
    }
    if (!this.audit(op, 'button', row, row.params, 'approved', `approval ${id}: 1 of 2, approved by ${op.display}`)) {
      this.d.store.unvote(id, vote);
      return { kind: 'refused', message: this.d.writable.undecided(row.action) };
    }
    this.d.metrics.approvals.inc({ outcome: 'voted' });
    this.changed(current, { kind: 'pending', now });
    return {
      kind: 'done',
      action: row.action,
      result: say(`✅ 1 of 2: approved by ${op.display} · waiting for a second operator.`),
    };
  }

  /** /cancel: withdraws the operator's own pending approvals in this chat. */
  cancelPending(op: Operator): ApprovalRow[] {
    const cancelled = this.d.store.cancelPending(op.userId, op.chatId, op.display, this.d.now());
    // Withdrawn together, audited together (one group), before any card or waiter hears of it.
    if (cancelled.length > 0) {
      this.d.record(...cancelled.map((a) => this.entryOf(op, 'command', a, a.params, 'cancelled', `approval ${a.id}`)));
    }
    for (const a of cancelled) {
      this.d.metrics.approvals.inc({ outcome: 'cancelled' });
      this.closed(a);
    }
    if (cancelled.length > 0) this.arm();
    return cancelled;
  }

  /**
   * The transport could not show the card in full (a document or message did not go out):
   * nobody may approve what they could not read, so the approval is cancelled and audited.
   */
  withdraw(id: string, reason: string): void {
    const a = this.d.store.cancel(id, 'teleops', this.d.now());
    if (!a) return;
    this.d.metrics.approvals.inc({ outcome: 'cancelled' });
    this.auditUnasked(a, 'cancelled', `approval ${a.id}: ${reason}`);
    this.closed(a);
    this.arm();
  }

  /**
   * Resolves once the approval is settled: denied, expired or cancelled, or approved and run.
   * Asked after it settled, it answers from the store.
   */
  settled(id: string): Promise<Settlement> {
    const waiting = this.waiters.get(id);
    if (waiting) return waiting.promise;
    const row = this.d.store.get(id);
    if (!row) return Promise.resolve({ state: 'gone' });
    if (row.state !== 'pending' && !this.running.has(id)) return Promise.resolve(settlementOf(row));
    let resolve!: (s: Settlement) => void;
    const promise = new Promise<Settlement>((r) => (resolve = r));
    this.waiters.set(id, { promise, resolve });
    this.watch();
    return promise;
  }

  /** The UI event: a card changed. Returns the unsubscribe. */
  onCardChanged(listener: (c: CardChange) => void): () => void {
    this.events.on('card', listener);
    return () => this.events.off('card', listener);
  }

  /** A transport shows cards on `surface`: each change of a card it showed is shown there. */
  cards<Ref>(surface: CardSurface<Ref>): CardDesk<Ref> {
    // A card can change before it is stored: pressed while the send's answer is on its way, or
    // decided on another replica than the one sending it. Such a change is looked up again
    // until the card is stored (only an approval's newest change waits), so the rest is shown.
    const waiting = new Map<string, { change: CardChange; tries: number }>();
    let timer: NodeJS.Timeout | undefined;
    /** False while the approval has no card stored yet. */
    const tryShow = (c: CardChange): boolean => {
      let card: unknown;
      try {
        card = c.approval.card ?? this.d.store.get(c.approval.id)?.card ?? null;
      } catch (err) {
        this.d.log.warn({ err, approval: c.approval.id }, 'could not look up an approval card');
        return true;
      }
      if (card === null) return false;
      const ref = surface.readRef(card);
      if (ref !== undefined) surface.show(ref, { ...c, approval: { ...c.approval, card } });
      return true;
    };
    const retry = (): void => {
      timer = undefined;
      for (const [id, w] of waiting) if (tryShow(w.change) || ++w.tries >= CARD_LOOKUPS) waiting.delete(id);
      if (waiting.size > 0) arm();
    };
    const arm = (): void => {
      if (timer) return;
      timer = setTimeout(retry, CARD_LOOKUP_MS);
      timer.unref();
    };
    const off = this.onCardChanged((c) => {
      if (tryShow(c)) waiting.delete(c.approval.id);
      else {
        waiting.set(c.approval.id, { change: c, tries: 0 });
        arm();
      }
    });
    const offer = surface.offer;
    if (offer) this.offers.add(offer);
    return {
      shown: (id, ref) => {
        this.d.store.setCard(id, ref);
        // Sending the card can take a while (rate limits); if it was closed meanwhile, show that now.
        const a = this.d.store.get(id);
        const status = a && closedStatus(a);
        if (a && status)
          surface.show(ref, { approval: { ...a, card: ref }, card: renderCard(a, status, this.d.redact) });
      },
      close: () => {
        off();
        clearTimeout(timer);
        waiting.clear();
        if (offer) this.offers.delete(offer);
      },
    };
  }

  /**
   * Shows the card of an approval asked for on someone's behalf in `chatId` (beside the live card
   * keyed `place`, where the transport has places), where a transport can; withdrawn when none
   * can, since nobody may approve what nobody was shown.
   */
  async present(p: PendingApproval, chatId: number, place?: string): Promise<boolean> {
    const [offer] = this.offers;
    if (offer) return offer(chatId, p, place);
    this.withdraw(p.id, 'no chat could show its card');
    return false;
  }

  /** Deletes approvals decided longer ago than the retention; pending ones stay. Returns how many. */
  prune(): number {
    return this.d.store.prune(this.d.now() - this.d.retentionMs);
  }

  /** No more expiry timer (shutdown). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
  }

  /**
   * Replicas share the store but not their waiters: an approval decided, run or expired by
   * another replica is settled here from the store, looked at every WATCH_MS while anyone waits.
   * Pending past its expiry (the replica that armed for it died), it is expired here.
   */
  private watch(): void {
    if (this.stopped || this.watchTimer || this.waiters.size === 0) return;
    this.watchTimer = setTimeout(() => {
      this.watchTimer = undefined;
      try {
        this.settleFromStore();
      } catch (err) {
        this.d.log.warn({ err }, 'could not look up the approvals waited for');
      }
      this.watch();
    }, WATCH_MS);
    this.watchTimer.unref();
  }

  private settleFromStore(): void {
    const now = this.d.now();
    let overdue = false;
    for (const id of [...this.waiters.keys()]) {
      if (this.running.has(id)) continue;
      const row = this.d.store.get(id);
      if (!row) this.settle(id, { state: 'gone' });
      else if (row.state === 'pending') overdue ||= row.expiresAt <= now;
      else if (row.state !== 'approved') this.settle(id, settlementOf(row));
      else if (row.ran)
        this.settle(id, { state: 'approved', by: row.decidedBy ?? 'someone', outcome: ranOutcome(row) });
      // Run elsewhere, and that replica never said how it ended (it died): known to be approved, no more.
      else if ((row.decidedAt ?? 0) + this.d.runGraceMs(row.action) <= now) this.settle(id, settlementOf(row));
    }
    if (overdue) this.expireDue();
  }

  /** Stored for requesters on other replicas; a store that cannot take it costs them the outcome, not the run. */
  private ran(id: string, ran: Ran): void {
    try {
      this.d.store.finish(id, ran);
    } catch (err) {
      this.d.log.warn({ err, approval: id }, 'could not record how an approved request ended');
    }
  }

  /** The one timer: armed for the earliest pending expiry. */
  private arm(): void {
    if (this.stopped) return;
    const next = this.d.store.nextExpiry();
    if (next === this.armedFor && this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = next;
    if (next === undefined) return;
    this.timer = setTimeout(() => this.expireDue(), Math.min(MAX_DELAY_MS, Math.max(0, next - this.d.now())));
    this.timer.unref();
  }

  private expireDue(): void {
    this.timer = undefined;
    this.armedFor = undefined;
    try {
      const expired = this.d.store.expireDue(this.d.now());
      // Fallen due together, audited together (one group), before any card or waiter hears of it.
      if (expired.length > 0) this.d.record(...expired.map((a) => this.unasked(a, 'expired', `approval ${a.id}`)));
      for (const a of expired) {
        this.d.metrics.approvals.inc({ outcome: 'expired' });
        this.closed(a);
      }
    } catch (err) {
      this.d.log.warn({ err }, 'approval expiry failed');
      this.timer = setTimeout(() => this.expireDue(), EXPIRY_RETRY_MS);
      this.timer.unref();
      return;
    }
    this.arm();
  }

  /** A pending approval closed without running: its card says so and its requester is told. */
  private closed(a: ApprovalRow): void {
    const status = closedStatus(a);
    if (status) this.changed(a, status);
    this.settle(a.id, settlementOf(a));
  }

  private changed(a: ApprovalRow, status: CardStatus): void {
    this.events.emit('card', { approval: a, card: renderCard(a, status, this.d.redact) } satisfies CardChange);
  }

  private settle(id: string, s: Settlement): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    w.resolve(s);
  }

  private audit(
    op: Operator,
    origin: Origin,
    a: ApprovalRow,
    params: unknown,
    outcome: AuditOutcome,
    detail: string,
  ): boolean {
    return this.d.record(this.entryOf(op, origin, a, params, outcome, detail));
  }

  private entryOf(
    op: Operator,
    origin: Origin,
    a: ApprovalRow,
    params: unknown,
    outcome: AuditOutcome,
    detail: string,
  ): AuditEntryInput {
    const operator = this.d.actorOf(op);
    return { operator, chat: op.chatId, origin, action: a.action, target: a.subject, params, outcome, detail };
  }

  /**
   * A decision was stored but its audit entry (or its run's) could not be: back to pending, since
   * the audit must show every decision that holds. When the store cannot take that either, it
   * is done at the next press (see `stranded`).
   */
  private reopen(id: string, state: 'approved' | 'denied', by: string, at: number): void {
    try {
      if (this.d.store.reopen(id, state, by, at)) return;
    } catch (err) {
      this.d.log.warn({ err, approval: id }, `approval ${id} stays ${state} until its buttons are pressed again`);
      this.stranded.set(id, { state, by, at });
      return;
    }
    this.d.log.error({ approval: id }, `approval ${id} could not be reopened`);
  }

  /** An approval's fate that no person's request caused (it expired, it could not be shown): under its requester. */
  private auditUnasked(a: ApprovalRow, outcome: AuditOutcome, detail: string): void {
    this.d.record(this.unasked(a, outcome, detail));
  }

  private unasked(a: ApprovalRow, outcome: AuditOutcome, detail: string): AuditEntryInput {
    const operator = this.d.actorOf({ userId: a.requesterId, display: a.requester });
    const { chatId: chat, origin, action, subject: target, params } = a;
    return { operator, chat, origin, action, target, params, outcome, detail };
  }
}

/** How a card shows an approval that closed without running; undefined while it is open or ran. */
function closedStatus(a: ApprovalRow): CardStatus | undefined {
  const by = a.decidedBy ?? '';
  switch (a.state) {
    case 'expired':
      return { kind: 'expired' };
    case 'denied':
      return { kind: 'denied', by };
    case 'cancelled':
      return { kind: 'cancelled', by };
    case 'pending':
    case 'approved':
      return undefined;
  }
}

/** What a requester learns of a run on another replica: its end as recorded there. */
function ranOutcome(a: ApprovalRow): Outcome {
  const summary = a.ran?.summary ?? '';
  return a.ran?.ok
    ? { kind: 'done', action: a.action, result: say(summary) }
    : { kind: 'failed', action: a.action, message: summary };
}

function settlementOf(a: ApprovalRow): Settlement {
  const by = a.decidedBy ?? 'someone';
  switch (a.state) {
    case 'approved':
      return { state: 'approved', by };
    case 'denied':
    case 'cancelled':
      return { state: a.state, by };
    case 'expired':
    case 'pending':
      return { state: 'expired' };
  }
}

function alreadyDecided(a: ApprovalRow): string {
  switch (a.state) {
    case 'approved':
      return `Already approved by ${a.decidedBy}.`;
    case 'denied':
      return `Already denied by ${a.decidedBy}.`;
    case 'expired':
    case 'pending':
      return 'This approval expired; nothing was done. Ask again.';
    case 'cancelled':
      return `Cancelled by ${a.decidedBy}.`;
  }
}

/** The audit detail of a decision; one of two approvals names both operators. */
function decidedDetail(a: ApprovalRow, state: 'approved' | 'denied', by: string): string {
  return state === 'approved' && a.quorum === 2 ? `approval ${a.id}: 2 of 2, approved by ${by}` : `approval ${a.id}`;
}

function firstLine(r: Result): string {
  const b = r.blocks[0];
  if (!b) return 'ok';
  return b.kind === 'pre' ? (b.text.split('\n')[0] ?? '') : b.spans.map((s) => s.text).join('');
}
