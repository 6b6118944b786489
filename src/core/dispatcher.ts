import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import { ActionError, maskParams, mutates, requiredRole, ROLE_RANK, type ActionContext, type AnyAction, type Operator, type Origin } from './action.js';
import { approvalToken, renderCard, requestHash, type ApprovalCard, type CardStatus } from './approvals.js';
import type { AuditLog, AuditOutcome } from './audit.js';
import { parseCommandLine } from './commands.js';
import { operatorError } from './issues.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { operatorId, principalId, type Policy, type Principal } from './policy.js';
import type { RateLimiter } from './ratelimit.js';
import { usageOf, type Registry } from './registry.js';
import { line, say, value, type Block, type Result } from './result.js';
import { truncate } from './text.js';
import type { ApprovalRepo, ApprovalRow } from '../store/approvals.js';
import type { ChatStateRepo } from '../store/chat-state.js';

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
  | { readonly kind: 'rate_limited'; readonly retryAfterS: number; readonly notify: boolean }
  | { readonly kind: 'refused'; readonly message: string; readonly secret?: boolean }
  | { readonly kind: 'approval'; readonly approval: PendingApproval }
  | { readonly kind: 'done'; readonly action: string; readonly result: Result; readonly secret?: boolean }
  | { readonly kind: 'failed'; readonly action: string; readonly message: string; readonly secret?: boolean };

/** A change to an approval card the transport should show (edit the message). */
export interface CardUpdate {
  readonly approval: ApprovalRow;
  readonly card: ApprovalCard;
  /** Buttons stay only while it can still be answered. */
  readonly final: boolean;
  /** Once an approved request has run (or could not): what became of it, e.g. for the LLM agent. */
  readonly outcome?: Outcome;
}

export interface DispatcherDeps {
  readonly registry: Registry;
  readonly policy: Policy;
  readonly limiter: RateLimiter;
  readonly audit: AuditLog;
  readonly approvals: ApprovalRepo;
  readonly chatState: ChatStateRepo;
  readonly metrics: Metrics;
  readonly redactDeep: <T>(v: T) => T;
  readonly redact: (s: string) => string;
  readonly log: Logger;
  readonly confirmTtlMs: number;
  readonly actionTimeoutMs: number;
  readonly aiMutationsAllowed: boolean;
  readonly now?: () => number;
}

const UNAUTHORIZED_WINDOW_MS = 10 * 60_000;
const UNAUTHORIZED_AUDITED_PER_WINDOW = 20;

/**
 * The single path every request takes, whatever its origin (DESIGN.md §1):
 * identify → rate-limit → validate → approve → audit → run → audit → result.
 */
export class Dispatcher {
  private readonly events = new EventEmitter();
  private readonly now: () => number;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  private unauthorizedWindow = { start: 0, audited: new Set<string>(), suppressed: 0 };

  constructor(private readonly d: DispatcherDeps) {
    this.now = d.now ?? Date.now;
  }

  identify(p: Principal): Operator | null {
    return this.d.policy.identify(p);
  }

  /** Runs a slash command typed by a person ("/docker restart api"). */
  async command(principal: Principal, origin: Origin, textLine: string, botUsername?: string): Promise<Outcome> {
    const parsed = parseCommandLine(textLine, botUsername);
    if (!parsed) return { kind: 'ignored' };
    const gate = this.gate(principal, origin, parsed.words.join('.'));
    if (gate.kind !== 'pass') return gate.outcome;
    const found = this.d.registry.lookup(parsed);
    if (found.kind !== 'match') return { kind: 'refused', message: found.message };
    return this.afterGate(gate.operator, origin, found.match.action, found.match.params, usageOf(found.match.action));
  }

  /** Runs an action by name with raw parameters (buttons, the LLM, alerts). */
  async dispatch(principal: Principal, origin: Origin, actionName: string, params: unknown): Promise<Outcome> {
    const gate = this.gate(principal, origin, actionName);
    if (gate.kind !== 'pass') return gate.outcome;
    const action = this.d.registry.get(actionName);
    if (!action) return { kind: 'refused', message: `Unknown action ${actionName}.` };
    return this.afterGate(gate.operator, origin, action, params);
  }

  /** Identity, then the rate limit: both happen before anything else looks at the request. */
  private gate(p: Principal, origin: Origin, what: string): { kind: 'pass'; operator: Operator } | { kind: 'stop'; outcome: Outcome } {
    const operator = this.identify(p);
    if (!operator) {
      this.unauthorized(p, what);
      return { kind: 'stop', outcome: { kind: 'ignored' } };
    }
    // The local operator at the terminal is not throttled (a pasted or piped burst would be cut
    // short); every request is still audited. What an LLM asks for is, wherever it runs.
    const charge = p.kind === 'console' && origin !== 'ai' ? { ok: true as const } : this.d.limiter.take(operatorId(operator));
    if (!charge.ok) {
      this.d.metrics.rateLimited.inc();
      if (charge.first) this.audit(operator, origin, what, '', {}, 'rate_limited', `retry in ${Math.ceil(charge.retryAfterMs / 1000)}s`);
      return { kind: 'stop', outcome: { kind: 'rate_limited', retryAfterS: Math.ceil(charge.retryAfterMs / 1000), notify: charge.first } };
    }
    return { kind: 'pass', operator };
  }

  /** `usage` is the command's usage line, shown with invalid arguments of a typed command. */
  private async afterGate(operator: Operator, origin: Origin, action: AnyAction, rawParams: unknown, usage?: string): Promise<Outcome> {
    if (ROLE_RANK[operator.role] < ROLE_RANK[requiredRole(action)]) {
      this.audit(operator, origin, action.name, '', unknownSecrets(action, rawParams), 'forbidden', `needs ${requiredRole(action)}`);
      this.count(action, origin, 'forbidden');
      return { kind: 'refused', message: `${action.name} needs the ${requiredRole(action)} role; you are ${operator.role}.` };
    }
    // The agent is offered only the tools it may call; this holds even if a name gets past that list.
    if (origin === 'ai' && action.llm === false) {
      this.audit(operator, origin, action.name, '', unknownSecrets(action, rawParams), 'forbidden', 'not available to the LLM agent');
      this.count(action, origin, 'forbidden');
      return { kind: 'refused', message: `${action.name} is not available to the LLM agent.` };
    }
    const parsed = (action.params as z.ZodType).safeParse(rawParams ?? {}, { error: operatorError });
    if (!parsed.success) {
      const message = parsed.error.issues
        .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
        .join('; ');
      this.audit(operator, origin, action.name, '', unknownSecrets(action, rawParams), 'invalid', message);
      this.count(action, origin, 'invalid');
      return { kind: 'refused', message: `Invalid input for ${action.name}: ${message}${usage ? `. Usage: ${usage}` : ''}` };
    }
    let params = parsed.data as Record<string, unknown>;
    if (action.bind) {
      try {
        params = action.bind(this.context(operator, origin, this.shutdown.signal), params) as Record<string, unknown>;
      } catch (e) {
        const message = this.errorMessage(action, e);
        this.audit(operator, origin, action.name, '', unknownSecrets(action, params), 'invalid', message);
        this.count(action, origin, 'invalid');
        return { kind: 'refused', message };
      }
    }
    if (this.needsApproval(action, origin)) {
      // A card would show a secret and keep it in the approvals table: a person types it, directly.
      const recorded = await this.recorded(operator, origin, action, params);
      if (recorded !== params) return this.refuseSecret(operator, origin, action, params, recorded);
      return this.requestApproval(operator, origin, action, params);
    }
    return this.execute(operator, origin, action, params);
  }

  private refuseSecret(operator: Operator, origin: Origin, action: AnyAction, params: Record<string, unknown>, recorded: Record<string, unknown>): Outcome {
    const message = `${action.name}: this goes to a password prompt (or was marked secret); only a person can send it, directly.`;
    this.audit(operator, origin, action.name, this.subject(action, params), recorded, 'forbidden', 'a secret needs a direct request by a person');
    this.count(action, origin, 'forbidden');
    return { kind: 'refused', message, secret: true };
  }

  /**
   * The params as the audit records them: the action's secret ones masked when it says this
   * request holds a secret (or cannot say). Returns `params` itself when nothing is secret.
   */
  private async recorded(operator: Operator, origin: Origin, action: AnyAction, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const secret = action.secret;
    if (!secret) return params;
    const holds = await this.withTimeout(action, (signal) => secret.when(this.context(operator, origin, signal), params)).catch(() => true);
    return holds ? maskParams(params, secret.params) : params;
  }

  private needsApproval(action: AnyAction, origin: Origin): boolean {
    if (!mutates(action)) return false;
    if (origin === 'ai') return !this.d.aiMutationsAllowed;
    return action.risk === 'destructive';
  }

  private async requestApproval(operator: Operator, origin: Origin, action: AnyAction, params: Record<string, unknown>): Promise<Outcome> {
    let preview: readonly Block[] = [];
    if (action.preview) {
      try {
        preview = await this.withTimeout(action, (signal) => action.preview!(this.context(operator, origin, signal), params));
      } catch (e) {
        const message = this.errorMessage(action, e);
        this.audit(operator, origin, action.name, this.subject(action, params), params, 'failed', `preview: ${message}`);
        this.count(action, origin, 'failed');
        return { kind: 'failed', action: action.name, message };
      }
    }
    const id = randomBytes(12).toString('base64url');
    const now = this.now();
    const base = { id, action: action.name, params, requesterId: operator.userId, chatId: operator.chatId };
    const row: ApprovalRow = {
      ...base,
      requestHash: requestHash(base),
      subject: this.subject(action, params),
      origin,
      requester: operator.display,
      minRole: requiredRole(action),
      createdAt: now,
      expiresAt: now + this.d.confirmTtlMs,
      preview,
      state: 'pending',
      decidedBy: null,
      decidedAt: null,
      card: null,
    };
    this.d.approvals.insert(row);
    this.audit(operator, origin, action.name, row.subject, params, 'approval_requested', `approval ${id}`);
    this.d.metrics.approvals.inc({ outcome: 'requested' });
    return {
      kind: 'approval',
      approval: { id, token: approvalToken(row.requestHash), expiresAt: row.expiresAt, card: renderCard(row, { kind: 'pending', now }) },
    };
  }

  /** The transport remembers where it showed the card, to edit it when it is decided or expires. */
  attachCard(approvalId: string, ref: unknown): void {
    this.d.approvals.setCard(approvalId, ref);
    // Sending the card can take a while (rate limits); if it was closed meanwhile, show that now.
    const a = this.d.approvals.get(approvalId);
    if (!a || a.state === 'pending' || a.state === 'approved') return;
    const by = a.decidedBy ?? '';
    this.emitCard(a, a.state === 'expired' ? { kind: 'expired' } : a.state === 'denied' ? { kind: 'denied', by } : { kind: 'cancelled', by }, true);
  }

  /**
   * Approve or Deny pressed. Single use: one atomic state change in SQLite decides which
   * press wins; every other press is told what already happened.
   */
  async decide(principal: Principal, approvalId: string, token: string, decision: 'approve' | 'deny'): Promise<Outcome> {
    const gate = this.gate(principal, 'button', `approval.${decision}`);
    if (gate.kind !== 'pass') return gate.outcome;
    const op = gate.operator;
    const row = this.d.approvals.get(approvalId);
    if (!row || approvalToken(row.requestHash) !== token || row.chatId !== op.chatId || requestHash(row) !== row.requestHash) {
      this.audit(op, 'button', `approval.${decision}`, approvalId, {}, 'denied', 'unknown or forged approval');
      return { kind: 'refused', message: 'This approval is not valid here.' };
    }
    if (ROLE_RANK[op.role] < ROLE_RANK[row.minRole]) {
      this.audit(op, 'button', row.action, row.subject, row.params, 'forbidden', `approval needs ${row.minRole}`);
      return { kind: 'refused', message: `Only a user with the ${row.minRole} role can decide this.` };
    }
    const now = this.now();
    if (row.state === 'pending' && row.expiresAt <= now) this.expireDue();
    const state = decision === 'approve' ? 'approved' : 'denied';
    if (!this.d.approvals.decide(approvalId, state, op.display, now)) {
      const current = this.d.approvals.get(approvalId)!;
      return { kind: 'refused', message: alreadyDecided(current) };
    }
    const decided = this.d.approvals.get(approvalId)!;
    this.d.metrics.approvals.inc({ outcome: state });
    if (state === 'denied') {
      this.audit(op, 'button', row.action, row.subject, row.params, 'rejected', `approval ${row.id}`);
      this.emitCard(decided, { kind: 'denied', by: op.display }, true);
      return { kind: 'done', action: row.action, result: say(`❌ Denied: nothing was done.`) };
    }
    this.audit(op, 'button', row.action, row.subject, row.params, 'approved', `approval ${row.id}`);
    const action = this.d.registry.get(row.action);
    const requesterRole = row.requesterId === 0 ? 'operator' : this.d.policy.roleOf(row.requesterId);
    if (!action || !requesterRole || ROLE_RANK[requesterRole] < ROLE_RANK[row.minRole]) {
      const message = !action ? `${row.action} is no longer available.` : 'The requester is no longer authorized for this.';
      const refused: Outcome = { kind: 'refused', message };
      this.emitCard(decided, { kind: 'finished', by: op.display, ok: false, summary: message }, true, refused);
      return refused;
    }
    this.emitCard(decided, { kind: 'running', by: op.display }, true);
    const requester: Operator = { userId: row.requesterId, chatId: row.chatId, role: requesterRole, display: row.requester };
    const outcome = await this.execute(requester, row.origin, action, row.params, op.display);
    const ok = outcome.kind === 'done';
    const summary = outcome.kind === 'failed' ? outcome.message : outcome.kind === 'done' ? firstLine(outcome.result) : outcome.kind;
    this.emitCard(decided, { kind: 'finished', by: op.display, ok, summary }, true, outcome);
    return outcome;
  }

  /** Expires overdue approvals (called periodically and before decisions). */
  expireDue(): number {
    const expired = this.d.approvals.expireDue(this.now());
    for (const a of expired) {
      this.d.metrics.approvals.inc({ outcome: 'expired' });
      this.auditApproval(a, 'expired', `approval ${a.id}`);
      this.emitCard(a, { kind: 'expired' }, true);
    }
    return expired.length;
  }

  /** /cancel: withdraws the operator's own pending approvals in this chat. */
  cancelPending(operator: Operator): ApprovalRow[] {
    const cancelled = this.d.approvals.cancelPending(operator.userId, operator.chatId, operator.display, this.now());
    for (const a of cancelled) {
      this.d.metrics.approvals.inc({ outcome: 'cancelled' });
      this.audit(operator, 'command', a.action, a.subject, a.params, 'cancelled', `approval ${a.id}`);
      this.emitCard(a, { kind: 'cancelled', by: operator.display }, true);
    }
    return cancelled;
  }

  /**
   * The transport could not show the card in full (a document or message did not go out):
   * nobody may approve what they could not read, so the approval is cancelled and audited.
   */
  withdraw(approvalId: string, reason: string): void {
    const a = this.d.approvals.cancel(approvalId, 'teleops', this.now());
    if (!a) return;
    this.d.metrics.approvals.inc({ outcome: 'cancelled' });
    this.auditApproval(a, 'cancelled', `approval ${a.id}: ${reason}`);
    this.emitCard(a, { kind: 'cancelled', by: 'teleops' }, true);
  }

  /** An approval's fate that no person's request caused (it expired, it could not be shown): under its requester. */
  private auditApproval(a: ApprovalRow, outcome: AuditOutcome, detail: string): void {
    this.d.audit.append({ operator: a.requesterId === 0 ? a.requester : `tg:${a.requesterId}`, chat: a.chatId, origin: a.origin, action: a.action, target: a.subject, params: this.d.redactDeep(a.params), outcome, detail });
    this.d.metrics.auditEntries.inc();
  }

  onCardUpdate(listener: (u: CardUpdate) => void): () => void {
    this.events.on('card', listener);
    return () => this.events.off('card', listener);
  }

  /** Resolves when the approval is decided, expires or is cancelled (for the LLM agent's turn). */
  waitForDecision(approvalId: string, signal?: AbortSignal): Promise<ApprovalRow> {
    return new Promise((resolve, reject) => {
      const check = (u: CardUpdate) => {
        if (u.approval.id !== approvalId || u.approval.state === 'pending') return;
        cleanup();
        resolve(u.approval);
      };
      const abort = () => {
        cleanup();
        reject(new Error('aborted'));
      };
      const cleanup = () => {
        this.events.off('card', check);
        signal?.removeEventListener('abort', abort);
      };
      this.events.on('card', check);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  private emitCard(a: ApprovalRow, status: CardStatus, final: boolean, outcome?: Outcome): void {
    this.events.emit('card', { approval: a, card: renderCard(a, status), final, ...(outcome ? { outcome } : {}) } satisfies CardUpdate);
  }

  private async execute(operator: Operator, origin: Origin, action: AnyAction, params: Record<string, unknown>, approvedBy?: string): Promise<Outcome> {
    const subject = this.subject(action, params);
    const detail = approvedBy ? `approved by ${approvedBy}` : undefined;
    const recorded = await this.recorded(operator, origin, action, params);
    // The LLM never types a secret: not without a card, nor once the prompt appeared after one.
    if (origin === 'ai' && recorded !== params) return this.refuseSecret(operator, origin, action, params, recorded);
    const secret = recorded !== params ? { secret: true } : {};
    if (mutates(action)) this.audit(operator, origin, action.name, subject, recorded, 'started', detail);
    const started = performance.now();
    const run = this.withTimeout(action, (signal) => action.run(this.context(operator, origin, signal), params));
    this.inflight.add(run);
    try {
      const result = await run;
      const outcome = result.failure === undefined ? 'ok' : 'failed';
      this.audit(operator, origin, action.name, subject, recorded, outcome, result.failure === undefined ? detail : truncate(result.failure, 500));
      this.count(action, origin, outcome);
      return { kind: 'done', action: action.name, result, ...secret };
    } catch (e) {
      const message = this.errorMessage(action, e);
      const timedOut = e instanceof TimeoutError;
      this.audit(operator, origin, action.name, subject, recorded, timedOut ? 'timeout' : 'failed', truncate(message, 500));
      this.count(action, origin, timedOut ? 'timeout' : 'failed');
      return { kind: 'failed', action: action.name, message, ...secret };
    } finally {
      this.inflight.delete(run);
      this.d.metrics.actionDuration.observe({ action: action.name }, (performance.now() - started) / 1000);
    }
  }

  private context(operator: Operator, origin: Origin, signal: AbortSignal): ActionContext {
    return { operator, origin, signal, chat: this.d.chatState.forChat(operator.chatId) };
  }

  private async withTimeout<T>(action: AnyAction, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = action.timeoutMs ?? this.d.actionTimeoutMs;
    const ctl = new AbortController();
    const onShutdown = () => ctl.abort(new Error('shutting down'));
    this.shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new TimeoutError(`${action.name} timed out after ${Math.round(ms / 1000)}s`);
        ctl.abort(err);
        reject(err);
      }, ms);
    });
    try {
      return await Promise.race([fn(ctl.signal), timeout]);
    } finally {
      clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', onShutdown);
    }
  }

  private errorMessage(action: AnyAction, e: unknown): string {
    if (e instanceof ActionError || e instanceof TimeoutError) return this.d.redact(e.message);
    const ref = randomBytes(4).toString('hex');
    this.d.log.error({ err: e, action: action.name, ref }, 'action failed unexpectedly');
    return `${action.name} failed unexpectedly (ref ${ref}; details in the log).`;
  }

  private subject(action: AnyAction, params: Record<string, unknown>): string {
    try {
      return action.subject ? action.subject(params) : '';
    } catch {
      return '';
    }
  }

  private audit(op: Operator, origin: Origin, action: string, target: string, params: unknown, outcome: AuditOutcome, detail?: string): void {
    this.d.audit.append({
      operator: operatorId(op),
      chat: op.chatId,
      origin,
      action,
      target: this.d.redact(target),
      params: this.d.redactDeep(params ?? {}),
      outcome,
      ...(detail !== undefined ? { detail: this.d.redact(detail) } : {}),
    });
    this.d.metrics.auditEntries.inc();
  }

  private count(action: AnyAction, origin: Origin, outcome: string): void {
    this.d.metrics.actions.inc({ action: action.name, origin, outcome });
  }

  /**
   * Strangers get no answer. They are counted, and audited in aggregate: the first update per
   * sender per window, up to a cap, then one summary line, so a flood cannot fill the disk.
   */
  unauthorized(p: Principal, what = 'update'): void {
    this.d.metrics.unauthorized.inc();
    const now = this.now();
    const w = this.unauthorizedWindow;
    if (now - w.start > UNAUTHORIZED_WINDOW_MS) {
      this.flushUnauthorized();
      this.unauthorizedWindow = { start: now, audited: new Set(), suppressed: 0 };
    }
    const who = principalId(p);
    const chat = p.kind === 'telegram' ? p.chatId : null;
    const key = `${who}@${chat}`;
    const cur = this.unauthorizedWindow;
    if (cur.audited.has(key) || cur.audited.size >= UNAUTHORIZED_AUDITED_PER_WINDOW) {
      cur.suppressed++;
      return;
    }
    cur.audited.add(key);
    this.d.audit.append({ operator: who, chat, origin: 'command', action: truncate(what, 64), target: '', params: {}, outcome: 'unauthorized' });
    this.d.metrics.auditEntries.inc();
  }

  private flushUnauthorized(): void {
    const w = this.unauthorizedWindow;
    if (w.suppressed === 0) return;
    this.d.audit.append({ operator: 'unknown', chat: null, origin: 'command', action: 'unauthorized', target: '', params: {}, outcome: 'unauthorized', detail: `${w.suppressed} more unauthorized updates in this window` });
    this.d.metrics.auditEntries.inc();
  }

  /** For shutdown: waits up to `ms` for running actions, then aborts the rest. */
  async drain(ms: number): Promise<void> {
    const all = Promise.allSettled([...this.inflight]);
    const timer = new Promise((r) => setTimeout(r, ms).unref());
    await Promise.race([all, timer]);
    this.shutdown.abort();
    this.flushUnauthorized();
  }

  /** A read an action makes for its caller (an AI summary's source): charged, then the whole pipeline, origin ai. */
  async inner(operator: Operator, actionName: string, params: unknown): Promise<Outcome> {
    const action = this.d.registry.get(actionName);
    if (!action) return { kind: 'refused', message: `Unknown action ${actionName}.` };
    const charge = this.d.limiter.take(operatorId(operator));
    if (!charge.ok) {
      this.d.metrics.rateLimited.inc();
      if (charge.first) this.audit(operator, 'ai', actionName, '', {}, 'rate_limited', `retry in ${Math.ceil(charge.retryAfterMs / 1000)}s`);
      return { kind: 'rate_limited', retryAfterS: Math.ceil(charge.retryAfterMs / 1000), notify: false };
    }
    return this.afterGate(operator, 'ai', action, params);
  }
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** Params of a request refused before its action could say whether they hold a secret: masked. */
function unknownSecrets(action: AnyAction, params: unknown): unknown {
  if (!action.secret || typeof params !== 'object' || params === null) return params;
  return maskParams(params as Record<string, unknown>, action.secret.params);
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

function firstLine(r: Result): string {
  const b = r.blocks[0];
  if (!b) return 'ok';
  return truncate(b.kind === 'pre' ? b.text.split('\n')[0] ?? '' : b.spans.map((s) => s.text).join(''), 200);
}

/** A one-line error as a Result, for transports. */
export const errorResult = (message: string): Result => ({ blocks: [line('⚠️ ', value(message))] });
