import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { DeadlineError, withDeadline } from './deadline.js';
import {
  ActionError,
  maskParams,
  mutates,
  requiredRole,
  ROLE_RANK,
  type ActionContext,
  type AnyAction,
  type ChatState,
  type Names,
  type Operator,
  type Origin,
} from './action.js';
import { ApprovalService, type ApprovedRun } from './approval-service.js';
import { cardBody, type ApprovalRow, type ApprovalStore } from './approvals.js';
import type { AuditEntryInput, AuditLog, AuditOutcome } from './audit.js';
import { AuditWritable } from './audit-writable.js';
import { parseCommandLine } from './commands.js';
import { hidesUnsafe, hidesUnsafeIn } from './hidden.js';
import { operatorError } from './issues.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Outcome } from './outcome.js';
import { ProgressBus } from './progress.js';
import type { Policy, Principal } from './policy.js';
import type { Limiter } from './ratelimit.js';
import { usageOf, type CommandLookup, type Registry } from './registry.js';
import { plainText, type Block } from './result.js';
import { namesParams, quorumOf, type QuorumRule } from './quorum.js';
import type { ChatScope, Scopes } from './scopes.js';
import { StrangerLog } from './strangers.js';
import { truncate } from './text.js';
import { describeUploads, type Upload } from './uploads.js';

export type { Outcome, PendingApproval } from './outcome.js';

type ScopeCheck = { kind: 'inside' } | { kind: 'outside'; why: string } | { kind: 'error'; message: string };
const INSIDE: ScopeCheck = { kind: 'inside' };
/** After an approved request's bound: time for the replica that ran it to record how it ended. */
const RUN_RECORD_MS = 30_000;

export interface DispatcherDeps {
  readonly registry: Registry;
  readonly policy: Policy;
  readonly limiter: Limiter;
  readonly audit: AuditLog;
  readonly approvals: ApprovalStore;
  /** Each chat's small memory (store/chat-state.ts keeps it). */
  readonly chatState: { forChat(chatId: number): ChatState };
  readonly metrics: Metrics;
  readonly redactDeep: <T>(v: T) => T;
  readonly redact: (s: string) => string;
  readonly log: Logger;
  readonly confirmTtlMs: number;
  /** How long decided approvals are kept (APPROVAL_RETENTION_DAYS). */
  readonly approvalRetentionMs: number;
  /** Requests that need two distinct operators to approve them (APPROVAL_QUORUM). */
  readonly approvalQuorum?: readonly QuorumRule[];
  readonly actionTimeoutMs: number;
  readonly aiMutationsAllowed: boolean;
  /** Per-chat scopes (SCOPES); absent: every chat sees everything its roles allow. */
  readonly scopes?: Scopes;
  /** Whether the audit log can be written (the app's, which alerts and feeds /health). */
  readonly auditWritable?: AuditWritable;
  readonly now?: () => number;
}

/**
 * The single path every request takes, whatever its origin (DESIGN.md §1):
 * identify → rate-limit → validate → approve → audit → run → audit → result.
 * Approvals are `approvals`' to keep; strangers are `strangers`' to log.
 */
export class Dispatcher {
  /** The approval lifecycle: cards, the expiry timer, decisions, pruning, `settled`. */
  readonly approvals: ApprovalService;
  private readonly strangers: StrangerLog;
  private readonly now: () => number;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly shutdown = new AbortController();
  /** Notes of runs in progress, for the transports to show (core/progress.ts). */
  readonly progress = new ProgressBus();
  private readonly writable: AuditWritable;

  constructor(private readonly d: DispatcherDeps) {
    this.now = d.now ?? (() => Date.now());
    this.writable = d.auditWritable ?? new AuditWritable({ log: d.log });
    const record = (...entries: AuditEntryInput[]) => this.record(...entries);
    this.strangers = new StrangerLog({ record, metrics: d.metrics, now: this.now });
    this.approvals = new ApprovalService({
      store: d.approvals,
      record,
      writable: this.writable,
      actorOf: (o) => d.policy.actorOf(o),
      runApproved: (row, by) => this.runApproved(row, by),
      redact: d.redact,
      metrics: d.metrics,
      log: d.log,
      ttlMs: d.confirmTtlMs,
      retentionMs: d.approvalRetentionMs,
      now: this.now,
      quorumOf: (action, params, names) => quorumOf(d.approvalQuorum ?? [], action, params, names),
      // The action's own bound, and time for the replica that ran it to record the end.
      runGraceMs: (action) => (d.registry.get(action)?.timeoutMs ?? d.actionTimeoutMs) + RUN_RECORD_MS,
    });
  }

  identify(p: Principal): Operator | null {
    return this.d.policy.identify(p);
  }

  /** The chat's scope (SCOPES); undefined when it has none. */
  scopeOf(chatId: number): ChatScope | undefined {
    return this.d.scopes?.of(chatId);
  }

  /** The operator's name in the audit log (and in per-person budgets). */
  actorOf(o: Operator): string {
    return this.d.policy.actorOf(o);
  }

  /** Runs a slash command typed by a person ("/docker restart api"), with the files sent with it. */
  async command(
    principal: Principal,
    origin: Origin,
    textLine: string,
    botUsername?: string,
    uploads?: readonly Upload[],
  ): Promise<Outcome> {
    const parsed = parseCommandLine(textLine, botUsername);
    if (!parsed) return { kind: 'ignored' };
    const gate = this.gate(principal, origin, parsed.words.join('.'));
    const lookup = () => this.d.registry.lookup(parsed);
    if (gate.kind !== 'pass') return mayHoldSecret(gate.outcome, () => matched(lookup()));
    const found = lookup();
    if (found.kind !== 'match') return { kind: 'refused', message: found.message };
    const { action, params } = found.match;
    return this.afterGate(gate.operator, origin, action, params, usageOf(action), uploads);
  }

  /** Runs an action by name with raw parameters (buttons, the LLM, alerts, a reply with files). */
  async dispatch(
    principal: Principal,
    origin: Origin,
    actionName: string,
    params: unknown,
    uploads?: readonly Upload[],
  ): Promise<Outcome> {
    const gate = this.gate(principal, origin, actionName);
    if (gate.kind !== 'pass') return mayHoldSecret(gate.outcome, () => this.d.registry.get(actionName));
    const action = this.d.registry.get(actionName);
    if (!action) return { kind: 'refused', message: `Unknown action ${actionName}.` };
    return this.afterGate(gate.operator, origin, action, params, undefined, uploads);
  }

  /** Identity, then the rate limit: both happen before anything else looks at the request. */
  private gate(
    p: Principal,
    origin: Origin,
    what: string,
  ): { kind: 'pass'; operator: Operator } | { kind: 'stop'; outcome: Outcome } {
    const operator = this.identify(p);
    if (!operator) {
      this.unauthorized(p, what);
      return { kind: 'stop', outcome: { kind: 'ignored' } };
    }
    // The local operator at the terminal is not throttled (a pasted or piped burst would be cut
    // short); every request is still audited. What an LLM asks for is, wherever it runs.
    const unthrottled = p.chatKind === 'local' && origin !== 'ai';
    const charge = unthrottled ? { ok: true as const } : this.d.limiter.take(this.d.policy.actorOf(operator));
    if (!charge.ok) {
      this.d.metrics.rateLimited.inc();
      if (charge.first)
        this.audit(
          operator,
          origin,
          what,
          '',
          {},
          'rate_limited',
          `retry in ${Math.ceil(charge.retryAfterMs / 1000)}s`,
        );
      return {
        kind: 'stop',
        outcome: { kind: 'rate_limited', retryAfterS: Math.ceil(charge.retryAfterMs / 1000), notify: charge.first },
      };
    }
    return { kind: 'pass', operator };
  }

  /** `usage` is the command's usage line, shown with invalid arguments of a typed command. */
  private async afterGate(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    rawParams: unknown,
    usage?: string,
    uploads?: readonly Upload[],
  ): Promise<Outcome> {
    const refuse = (outcome: 'forbidden' | 'invalid', recorded: unknown, detail: string, message = detail) => {
      this.audit(operator, origin, action.name, '', recorded, outcome, detail);
      this.count(action, origin, outcome);
      return mayHoldSecret({ kind: 'refused', message }, () => action);
    };
    if (ROLE_RANK[operator.role] < ROLE_RANK[requiredRole(action)]) {
      const needs = requiredRole(action);
      const message = `${action.name} needs the ${needs} role; you are ${operator.role}.`;
      return refuse('forbidden', unknownSecrets(action, rawParams), `needs ${needs}`, message);
    }
    // The agent is offered only the tools it may call; this holds even if a name gets past that list.
    if (origin === 'ai' && action.llm === false) {
      const detail = 'not available to the LLM agent';
      return refuse('forbidden', unknownSecrets(action, rawParams), detail, `${action.name} is ${detail}.`);
    }
    const parsed = (action.params as z.ZodType).safeParse(rawParams ?? {}, { error: operatorError });
    if (!parsed.success) {
      const message = parsed.error.issues
        .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
        .join('; ');
      const answer = `Invalid input for ${action.name}: ${message}${usage ? `. Usage: ${usage}` : ''}`;
      return refuse('invalid', unknownSecrets(action, rawParams), message, answer);
    }
    let params = parsed.data as Record<string, unknown>;
    if (action.bind) {
      try {
        params = action.bind(this.context(operator, origin, action, this.shutdown.signal), params) as Record<
          string,
          unknown
        >;
      } catch (e) {
        return refuse('invalid', unknownSecrets(action, params), this.errorMessage(action, e));
      }
    }
    // A chat without a scope pays nothing for scopes, not even an await.
    const outside = this.d.scopes?.of(operator.chatId)
      ? await this.outsideScope(operator, origin, action, params)
      : INSIDE;
    if (outside.kind === 'error') return refuse('invalid', unknownSecrets(action, params), outside.message);
    if (outside.kind === 'outside') {
      const message = `${action.name}: ${outside.why}.`;
      return refuse('forbidden', unknownSecrets(action, params), outside.why, message);
    }
    let names: Names | undefined;
    try {
      names = await this.namesOf(operator, origin, action, params);
    } catch (e) {
      return refuse('invalid', unknownSecrets(action, params), this.errorMessage(action, e));
    }
    // Files go only to an action that takes them, and only one that runs now (a card cannot hold them).
    const needsCard = this.needsApproval(action, origin, params, names);
    if (uploads?.length && (!action.uploads || needsCard))
      return refuse('invalid', unknownSecrets(action, params), `${action.name} takes no files.`);
    if (needsCard) {
      // A card would show a secret and keep it in the approvals table: a person types it, directly.
      const recorded = await this.recorded(operator, origin, action, params);
      if (recorded !== params) return this.refuseCard(operator, origin, action, params, recorded, SECRET_AT_PROMPT);
      return this.requestApproval(operator, origin, action, params, names);
    }
    return this.execute(operator, origin, action, params, undefined, uploads);
  }

  /**
   * Whether the bound request acts outside the chat's scope: asked here, for every origin, so no
   * command, button, LLM tool call or alert button can reach a place the chat may not.
   */
  private async outsideScope(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
  ): Promise<ScopeCheck> {
    const scope = this.d.scopes?.of(operator.chatId);
    if (!scope) return INSIDE;
    let places: readonly string[] | undefined;
    try {
      places = action.where
        ? await this.withTimeout(action, async (signal) =>
            action.where!(this.context(operator, origin, action, signal), params),
          )
        : undefined;
    } catch (e) {
      return { kind: 'error', message: this.errorMessage(action, e) };
    }
    const why = scope.refusal(action, places);
    return why === undefined ? { kind: 'inside' } : { kind: 'outside', why };
  }

  /**
   * Whether the card would hide part of what runs: a secret-looking span that holds more than a
   * secret's own characters, where anything may stand (`https://ci:x;curl …|sh;#@host` is hidden
   * up to the `@`). Asked of every text the card redacts (every string of the request, as its
   * lines and previews show them), then of the whole card once escaped.
   */
  private cardHides(action: AnyAction, params: Record<string, unknown>, preview: readonly Block[]): boolean {
    const redact = this.d.redact;
    const subject = this.subject(action, params);
    if (hidesUnsafe(subject, redact) || hidesUnsafeIn(params, redact)) return true;
    const { target, body } = cardBody({ action: action.name, subject, params, preview }, redact);
    return hidesUnsafe(plainText({ blocks: [target, ...body] }), redact);
  }

  /** A request that needs a card but may not have one: audited forbidden, its message deleted (may hold a secret). */
  private refuseCard(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
    recorded: Record<string, unknown>,
    why: { readonly message: string; readonly detail: string },
  ): Outcome {
    this.audit(operator, origin, action.name, this.subject(action, params), recorded, 'forbidden', why.detail);
    this.count(action, origin, 'forbidden');
    return { kind: 'refused', message: `${action.name}: ${why.message}`, secret: true };
  }

  /**
   * The params as the audit records them: the action's secret ones masked when it says this
   * request holds a secret (or cannot say). Returns `params` itself when nothing is secret.
   */
  private async recorded(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const secret = action.secret;
    if (!secret) return params;
    const holds = await this.withTimeout(action, (signal) =>
      secret.when(this.context(operator, origin, action, signal), params),
    ).catch(() => true);
    return holds ? maskParams(params, secret.params) : params;
  }

  /** What the request's names stand for on the target: asked only when a quorum rule names a parameter of it. */
  private async namesOf(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
  ): Promise<Names | undefined> {
    const names = action.names;
    if (!names || !mutates(action) || !namesParams(this.d.approvalQuorum ?? [], action.name)) return undefined;
    return this.withTimeout(action, (signal) => names(this.context(operator, origin, action, signal), params));
  }

  /** Whether an approved request's rules, asked again of the target now, want two operators. */
  private async quorumRose(requester: Operator, action: AnyAction, row: ApprovalRow): Promise<boolean> {
    const names = await this.namesOf(requester, row.origin, action, row.params);
    return names !== undefined && quorumOf(this.d.approvalQuorum ?? [], action.name, row.params, names) === 2;
  }

  private needsApproval(
    action: AnyAction,
    origin: Origin,
    params: Record<string, unknown>,
    names: Names | undefined,
  ): boolean {
    // What a target's own process asks for on someone's behalf is never decided without a person.
    if (origin === 'agent') return true;
    if (!mutates(action)) return false;
    // A change APPROVAL_QUORUM names waits for two people, whoever asks, however risky it is and
    // however it spells what it acts on.
    if (quorumOf(this.d.approvalQuorum ?? [], action.name, params, names) === 2) return true;
    if (origin === 'ai') return !this.d.aiMutationsAllowed;
    return action.risk === 'destructive';
  }

  private async requestApproval(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
    names?: Names,
  ): Promise<Outcome> {
    const failed = (stage: string, e: unknown): Outcome => {
      const message = this.errorMessage(action, e);
      this.audit(operator, origin, action.name, this.subject(action, params), params, 'failed', `${stage}: ${message}`);
      this.count(action, origin, 'failed');
      return { kind: 'failed', action: action.name, message };
    };
    if (action.settle) {
      try {
        params = (await this.withTimeout(action, (signal) =>
          action.settle!(this.context(operator, origin, action, signal), params),
        )) as Record<string, unknown>;
      } catch (e) {
        return failed('settle', e);
      }
    }
    let preview: readonly Block[] = [];
    if (action.preview) {
      try {
        preview = await this.withTimeout(action, (signal) =>
          action.preview!(this.context(operator, origin, action, signal), params),
        );
      } catch (e) {
        return failed('preview', e);
      }
    }
    if (this.cardHides(action, params, preview))
      return this.refuseCard(operator, origin, action, params, params, HIDDEN);
    // An approval that could not be audited could never run: say so now, not after the press.
    if (this.writable.failing !== undefined) return { kind: 'refused', message: this.writable.refusal(action.name) };
    const subject = this.subject(action, params);
    const request = {
      operator,
      origin,
      action: action.name,
      params,
      subject,
      minRole: requiredRole(action),
      preview,
      ...(names ? { names } : {}),
    };
    try {
      return { kind: 'approval', approval: this.approvals.request(request) };
    } catch (e) {
      // The approvals table lives beside the audit log: a full disk refuses both.
      const why = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      this.d.log.error({ err: why, action: action.name }, 'an approval could not be stored');
      return {
        kind: 'failed',
        action: action.name,
        message: `the approval could not be stored: ${this.d.redact(why)}`,
      };
    }
  }

  /** Approve or Deny pressed: identity and the rate limit first, then the approval's owner decides. */
  async decide(
    principal: Principal,
    approvalId: string,
    token: string,
    decision: 'approve' | 'deny',
  ): Promise<Outcome> {
    const gate = this.gate(principal, 'button', `approval.${decision}`);
    if (gate.kind !== 'pass') return gate.outcome;
    return this.approvals.decide(gate.operator, approvalId, token, decision);
  }

  /** /cancel: withdraws the operator's own pending approvals in this chat. */
  cancelPending(operator: Operator): ApprovalRow[] {
    return this.approvals.cancelPending(operator);
  }

  /** An approved request runs as its requester, if they may still ask for it and it still exists. */
  private runApproved(row: ApprovalRow, approvedBy: string): ApprovedRun {
    const action = this.d.registry.get(row.action);
    if (!action) return { refused: `${row.action} is no longer available.` };
    const role = this.d.policy.roleOf(row.requesterId);
    if (!role || ROLE_RANK[role] < ROLE_RANK[row.minRole]) {
      return { refused: 'The requester is no longer authorized for this.' };
    }
    const requester: Operator = { userId: row.requesterId, chatId: row.chatId, role, display: row.requester };
    return {
      run: async (began) => {
        const refuse = (why: string, message = `${action.name}: ${why}.`): Outcome => {
          this.audit(
            requester,
            row.origin,
            action.name,
            this.subject(action, row.params),
            row.params,
            'forbidden',
            why,
          );
          return { kind: 'refused', message };
        };
        // Asked again: the scopes may have changed since the card (a restart), or where it acts.
        const outside = await this.outsideScope(requester, row.origin, action, row.params);
        if (outside.kind !== 'inside') return refuse(outside.kind === 'outside' ? outside.why : outside.message);
        // What its names stand for may have moved since (an alias given to another session): a
        // request one person approved must not now reach what a rule keeps for two.
        if (row.quorum === 1 && (await this.quorumRose(requester, action, row).catch(() => true))) {
          const why = 'what it names has changed since the card, and now needs two operators';
          return refuse(why, `${action.name}: ${why}; ask again.`);
        }
        return this.execute(requester, row.origin, action, row.params, approvedBy, undefined, began);
      },
    };
  }

  private async execute(
    operator: Operator,
    origin: Origin,
    action: AnyAction,
    params: Record<string, unknown>,
    approvedBy?: string,
    uploads?: readonly Upload[],
    began?: () => void,
  ): Promise<Outcome> {
    const subject = this.subject(action, params);
    const detail = approvedBy ? `approved by ${approvedBy}` : uploads?.length ? describeUploads(uploads) : undefined;
    const recorded = await this.recorded(operator, origin, action, params);
    // The LLM never types a secret: not without a card, nor once the prompt appeared after one.
    if (origin === 'ai' && recorded !== params)
      return this.refuseCard(operator, origin, action, params, recorded, SECRET_AT_PROMPT);
    const secret = recorded !== params ? { secret: true } : {};
    // An action that cannot be audited before it runs does not run.
    if (mutates(action) && !this.audit(operator, origin, action.name, subject, recorded, 'started', detail))
      return { kind: 'refused', message: this.writable.refusal(action.name) };
    began?.();
    const started = performance.now();
    const report = this.progress.reporter(operator, action.name, this.d.redact);
    const run = this.withTimeout(action, (signal) =>
      action.run(
        {
          ...this.context(operator, origin, action, signal),
          progress: report.say,
          ...(uploads?.length ? { uploads } : {}),
        },
        params,
      ),
    );
    this.inflight.add(run);
    try {
      const result = await run;
      const outcome = result.failure === undefined ? 'ok' : 'failed';
      this.audit(
        operator,
        origin,
        action.name,
        subject,
        recorded,
        outcome,
        // Redacted before the cut, which could leave part of a secret the audit's redactor misses.
        result.failure === undefined ? detail : truncate(this.d.redact(result.failure), 500),
      );
      this.count(action, origin, outcome);
      return { kind: 'done', action: action.name, result, ...secret };
    } catch (e) {
      const message = this.errorMessage(action, e);
      const timedOut = e instanceof DeadlineError;
      this.audit(
        operator,
        origin,
        action.name,
        subject,
        recorded,
        timedOut ? 'timeout' : 'failed',
        truncate(message, 500),
      );
      this.count(action, origin, timedOut ? 'timeout' : 'failed');
      return { kind: 'failed', action: action.name, message, ...secret };
    } finally {
      report.end();
      this.inflight.delete(run);
      this.d.metrics.actionDuration.observe({ action: action.name }, (performance.now() - started) / 1000);
    }
  }

  private context(operator: Operator, origin: Origin, action: AnyAction, signal: AbortSignal): ActionContext {
    const scope = this.d.scopes?.of(operator.chatId);
    const chat = this.d.chatState.forChat(operator.chatId);
    return {
      operator,
      origin,
      signal,
      chat,
      ...(scope ? { within: (place: string) => scope.within(action.target, place) } : {}),
    };
  }

  private withTimeout<T>(action: AnyAction, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(action.name, action.timeoutMs ?? this.d.actionTimeoutMs, fn, this.shutdown.signal);
  }

  private errorMessage(action: AnyAction, e: unknown): string {
    if (e instanceof ActionError || e instanceof DeadlineError) return this.d.redact(e.message);
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

  private audit(
    op: Operator,
    origin: Origin,
    action: string,
    target: string,
    params: unknown,
    outcome: AuditOutcome,
    detail?: string,
  ): boolean {
    const operator = this.d.policy.actorOf(op);
    const entry = { operator, chat: op.chatId, origin, action, target, params: params ?? {}, outcome };
    return this.record(detail !== undefined ? { ...entry, detail } : entry);
  }

  /**
   * Every audit entry of the pipeline, its approvals and its strangers: redacted, then counted;
   * several at once are one group (AuditLog.appendAll: one commit, in their order). False when
   * they could not be written; what already happened is still answered.
   */
  private record(...entries: AuditEntryInput[]): boolean {
    const written = this.writable.attempt(() =>
      this.d.audit.appendAll(
        entries.map(({ detail, ...rest }) => ({
          ...rest,
          target: this.d.redact(rest.target),
          params: this.d.redactDeep(rest.params ?? {}),
          ...(detail !== undefined ? { detail: this.d.redact(detail) } : {}),
        })),
      ),
    );
    if (written) this.d.metrics.auditEntries.inc(entries.length);
    return written;
  }

  private count(action: AnyAction, origin: Origin, outcome: string): void {
    this.d.metrics.actions.inc({ action: action.name, origin, outcome });
  }

  /** Strangers get no answer; they are counted and audited in aggregate. */
  unauthorized(p: Principal, what = 'update'): void {
    this.strangers.record(p, what);
  }

  /** For shutdown: waits up to `ms` for running actions, then aborts the rest. */
  async drain(ms: number): Promise<void> {
    const all = Promise.allSettled([...this.inflight]);
    const timer = new Promise((r) => setTimeout(r, ms).unref());
    await Promise.race([all, timer]);
    this.shutdown.abort(new Error('shutting down'));
    this.approvals.stop();
    this.strangers.flush();
  }

  /** A read an action makes for its caller (an AI summary's source): charged, then the whole pipeline, origin ai. */
  async inner(operator: Operator, actionName: string, params: unknown): Promise<Outcome> {
    return this.charged(operator, 'ai', actionName, params);
  }

  /**
   * What a target's own process asks for on `operator`'s behalf (an agent's tool call): charged,
   * then the whole pipeline, origin agent, which always ends at an approval card.
   */
  async onBehalf(operator: Operator, actionName: string, params: unknown): Promise<Outcome> {
    return this.charged(operator, 'agent', actionName, params);
  }

  private async charged(operator: Operator, origin: Origin, actionName: string, params: unknown): Promise<Outcome> {
    const action = this.d.registry.get(actionName);
    if (!action) return { kind: 'refused', message: `Unknown action ${actionName}.` };
    const charge = this.d.limiter.take(this.actorOf(operator));
    if (!charge.ok) {
      this.d.metrics.rateLimited.inc();
      const retry = `retry in ${Math.ceil(charge.retryAfterMs / 1000)}s`;
      if (charge.first) this.audit(operator, origin, actionName, '', {}, 'rate_limited', retry);
      return { kind: 'rate_limited', retryAfterS: Math.ceil(charge.retryAfterMs / 1000), notify: false };
    }
    return this.afterGate(operator, origin, action, params);
  }
}

/** Params of a request refused before its action could say whether they hold a secret: masked. */
/**
 * A request refused before its action could tell whether it holds a secret (a password typed
 * at a prompt): marked as if it did, so that the message it came in does not stay in the chat.
 */
/** Why a request that needs a card may not have one. */
const SECRET_AT_PROMPT = {
  message: 'this goes to a password prompt (or was marked secret); only a person can send it, directly.',
  detail: 'a secret needs a direct request by a person',
} as const;
const HIDDEN = {
  message:
    'the approval card would hide part of what runs: text that reads as a secret (a password, a token, ' +
    "credentials in a URL) but holds more than a secret's own characters (spaces, quotes, calls, an @, or what " +
    'ends, joins or expands commands). Nothing was done: keep secrets out of the request (refer to an environment ' +
    'variable or a file on the host).',
  detail: 'the approval card would hide part of what runs',
} as const;

const matched = (l: CommandLookup): AnyAction | undefined => (l.kind === 'match' ? l.match.action : undefined);

function mayHoldSecret<O extends Outcome>(o: O, actionOf: () => AnyAction | undefined): O {
  if (o.kind !== 'refused' && o.kind !== 'rate_limited') return o;
  return actionOf()?.secret !== undefined ? { ...o, secret: true } : o;
}

function unknownSecrets(action: AnyAction, params: unknown): unknown {
  if (!action.secret || typeof params !== 'object' || params === null) return params;
  return maskParams(params as Record<string, unknown>, action.secret.params);
}
