/**
 * LLM tools derived from the action registry. A tool call is a request like any other: it
 * goes through `dispatcher.dispatch(principal, 'ai', …)` (identity, rate limit, validation,
 * approval, audit) and never runs an action itself. What comes back to the model is
 * redacted, cut to a budget and labelled as untrusted data.
 */
import { Readable } from 'node:stream';
import { jsonSchema, tool, type ToolSet } from 'ai';
import { z } from 'zod';
import type { AnyAction, Role } from '../core/action.js';
import { canonicalJson } from '../core/audit.js';
import type { Dispatcher, PendingApproval } from '../core/dispatcher.js';
import type { Principal } from '../core/policy.js';
import type { Redact, Redactor } from '../core/redact.js';
import type { Registry } from '../core/registry.js';
import { plainText, type Attachment, type Result } from '../core/result.js';
import type { ChatScope } from '../core/scopes.js';
import { truncate } from '../core/text.js';
import { showInvisible } from '../core/visible.js';
import type { Deadline } from './deadline.js';
import { CONTEXT_CHARS, TOOL_OUTPUT_CHARS, wrapUntrusted } from './output.js';

/** What the transport shows while the agent works. */
export interface AgentUi {
  /** One short line ("🔧 docker.logs api (200 lines)…"); the transport shows the latest. */
  progress(line: string): void;
  /** Shows the approval card (with Approve/Deny) and resolves once it is on screen. */
  approval(p: PendingApproval): Promise<void>;
}

/** "docker.logs" ⇄ "docker_logs": provider tool names allow no dots. */
export const toolNameOf = (action: string): string => action.replaceAll('.', '_');

/**
 * The actions a role may hand to the LLM: allowed for the role, in the chat's scope, and not
 * marked `llm: false`.
 */
export function llmActions(registry: Registry, role: Role, scope?: ChatScope): AnyAction[] {
  return registry.allowedFor(role, scope).filter((a) => a.llm !== false);
}

/** Tool name → action; refuses a registry in which two actions would get the same tool name. */
export function toolIndex(actions: readonly AnyAction[]): Map<string, AnyAction> {
  const index = new Map<string, AnyAction>();
  for (const a of actions) {
    const name = toolNameOf(a.name);
    const other = index.get(name);
    if (other) throw new Error(`actions ${other.name} and ${a.name} would both be the LLM tool ${name}`);
    index.set(name, a);
  }
  return index;
}

/** The parameters as the model should write them (the input side of the schema). */
export function inputJsonSchema(params: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...schema } = z.toJSONSchema(params, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return schema;
}

/**
 * Models often send "" for an optional parameter they mean to leave out; it is taken as absent,
 * but only where the action's schema lets the field be absent (optional or defaulted): a
 * required field keeps its "" and is refused by validation as before.
 */
export function dropEmptyOptionals(params: z.ZodType, input: unknown): unknown {
  if (!(params instanceof z.ZodObject) || input === null || typeof input !== 'object' || Array.isArray(input))
    return input;
  const shape = params.shape as Record<string, z.ZodType>;
  return Object.fromEntries(
    Object.entries(input).filter(([k, v]) => !(v === '' && shape[k]?.safeParse(undefined).success === true)),
  );
}

/**
 * A call as a person reads it: "docker.logs api (200 lines)". Each value is redacted before it
 * is escaped and the whole cut: escaped or cut, a secret no longer reads as one.
 */
export function describeCall(action: string, input: unknown, redact: Redact): string {
  const words: string[] = [];
  const extras: string[] = [];
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      // The model's text as the card shows it: a wall of spaces or a bidi control hides nothing here either.
      if (typeof v === 'string' && v !== '') words.push(showInvisible(redact(v)));
      else if (typeof v === 'number') extras.push(`${v} ${k}`);
      else if (v === true) extras.push(k);
      else if (v !== undefined && v !== null && v !== false && v !== '')
        extras.push(`${k}=${redact(JSON.stringify(v))}`);
    }
  }
  const tail = [words.join(' '), extras.length > 0 ? `(${extras.join(', ')})` : ''].filter((s) => s !== '').join(' ');
  return truncate(tail ? `${action} ${tail}` : action, 100);
}

/** One action the agent asked for, and what became of it: for the answer's footer. */
export interface TakenAction {
  readonly label: string;
  status: string;
}

export interface ToolSessionDeps {
  readonly dispatcher: Dispatcher;
  readonly redactor: Redactor;
  readonly principal: Principal;
  readonly ui: AgentUi;
  readonly deadline: Deadline;
  /** Aborts a wait for an approval (the caller gave up); the deadline stands still meanwhile. */
  readonly signal: AbortSignal;
  readonly maxToolCalls: number;
  readonly toolOutputChars?: number;
  readonly contextChars?: number;
  readonly now?: () => number;
}

/** Longest a tool's attached file is read for the model (bytes); the tail is what counts. */
const ATTACHMENT_READ_BYTES = 4 * 1024 * 1024;
/** A repeated call gets its old answer this many times; then the model must answer. */
export const MAX_REPEATS = 2;

/**
 * The tools of one request, with its state: how many calls were made, which calls were
 * already made (a repeat is not dispatched again) and which a person refused (never retried).
 */
export class ToolSession {
  readonly taken: TakenAction[] = [];
  calls = 0;
  repeats = 0;
  /** Why the model may only answer from now on (a denial, the call limit, the rate limit). */
  stopReason: string | undefined;
  private readonly seen = new Map<string, Promise<string>>();
  private outputUsed = 0;
  private readonly now: () => number;

  constructor(private readonly d: ToolSessionDeps) {
    this.now = d.now ?? Date.now;
  }

  /** True when the next step must be an answer, not more tool calls. */
  get mustAnswer(): boolean {
    return this.stopReason !== undefined || this.repeats >= MAX_REPEATS;
  }

  tools(actions: readonly AnyAction[]): ToolSet {
    const set: ToolSet = {};
    for (const [name, action] of toolIndex(actions)) {
      set[name] = tool({
        description: action.summary,
        inputSchema: jsonSchema<Record<string, unknown>>(() => inputJsonSchema(action.params as z.ZodType)),
        execute: (input: Record<string, unknown>, { abortSignal }) => this.call(action, input, abortSignal),
      });
    }
    return set;
  }

  private call(action: AnyAction, raw: unknown, abortSignal?: AbortSignal): Promise<string> {
    const input = dropEmptyOptionals(action.params as z.ZodType, raw ?? {});
    const key = `${action.name} ${canonicalJson(input)}`;
    const earlier = this.seen.get(key);
    if (earlier) {
      this.repeats++;
      return earlier.then((answer) =>
        answer.startsWith('DENIED') || answer.startsWith('EXPIRED') || answer.startsWith('CANCELLED')
          ? answer
          : `REPEATED: ${action.name} was already called with exactly these arguments in this request; it was not ` +
            `run again. Use the earlier result.`,
      );
    }
    if (this.calls >= this.d.maxToolCalls) {
      this.stopReason ??= `the limit of ${this.d.maxToolCalls} tool calls per request was reached`;
      return Promise.resolve(`LIMIT: ${this.stopReason}; ${action.name} was not run. Answer with what you have.`);
    }
    if (this.stopReason) return Promise.resolve(`STOPPED: ${this.stopReason}; ${action.name} was not run. Answer now.`);
    this.calls++;
    const answer = this.run(action, input, abortSignal);
    this.seen.set(key, answer);
    return answer;
  }

  private async run(action: AnyAction, input: unknown, abortSignal?: AbortSignal): Promise<string> {
    const label = this.d.redactor.redact(describeCall(action.name, input, this.d.redactor.redact));
    const taken: TakenAction = { label, status: 'running' };
    this.taken.push(taken);
    this.d.ui.progress(`🔧 ${label}…`);
    // The request may end (deadline, cancel) while an action runs; the action itself stays bounded by its own timeout.
    const outcome = await untilAborted(
      this.d.dispatcher.dispatch(this.d.principal, 'ai', action.name, input),
      abortSignal,
    );
    switch (outcome.kind) {
      case 'ignored':
        taken.status = 'not allowed';
        this.stopReason = 'the operator is not authorized here';
        return 'REFUSED: not authorized.';
      case 'rate_limited':
        taken.status = 'rate limited';
        this.stopReason = `the operator's request budget is used up (retry in ${outcome.retryAfterS}s)`;
        return `RATE LIMITED: ${this.stopReason}. Do not call more tools; answer now.`;
      case 'refused':
        taken.status = `refused: ${truncate(outcome.message, 120)}`;
        return `REFUSED:\n${this.wrap(action.name, outcome.message)}`;
      case 'failed':
        taken.status = 'failed';
        return `FAILED:\n${this.wrap(action.name, outcome.message)}`;
      case 'done':
        taken.status = 'ok';
        return this.wrap(action.name, await resultText(outcome.result, this.d.redactor, this.budget(), this.d.signal));
      case 'approval':
        return this.approval(action, outcome.approval, taken);
    }
  }

  /** Shows the card, then waits (bounded by the card's expiry) for the person's decision. */
  private async approval(action: AnyAction, p: PendingApproval, taken: TakenAction): Promise<string> {
    taken.status = 'waiting for approval';
    this.d.ui.progress(`⏳ ${taken.label}: waiting for approval…`);
    this.d.deadline.pause();
    try {
      // Asked before the card is up, so a fast tap's outcome is not missed; the owner settles it.
      const settled = this.d.dispatcher.approvals.settled(p.id);
      try {
        await this.d.ui.approval(p);
      } catch {
        // Nobody can press a card that was never shown; it expires by itself.
        taken.status = 'failed: the approval card could not be shown';
        this.stopReason = 'the approval card could not be shown';
        return 'FAILED: the approval card could not be shown to the operator; nothing was done. Do not retry.';
      }
      const s = await untilAborted(settled, this.d.signal);
      switch (s.state) {
        case 'approved': {
          const o = s.outcome;
          if (o?.kind === 'done') {
            taken.status = `approved by ${s.by}, done`;
            return `APPROVED by ${s.by} and run. Result:\n${this.wrap(action.name, plainText(o.result))}`;
          }
          if (o === undefined) {
            taken.status = `approved by ${s.by}, end unknown`;
            return (
              `APPROVED by ${s.by}, but how its run ended is not known here (another replica ran it and did not ` +
              'record its end, or this process restarted). Do not retry; tell the operator to check its card.'
            );
          }
          taken.status = `approved by ${s.by}, failed`;
          const message = o.kind === 'failed' || o.kind === 'refused' ? o.message : 'it did not run';
          return `APPROVED by ${s.by}, but it did not succeed:\n${this.wrap(action.name, message)}`;
        }
        case 'denied':
          taken.status = `denied by ${s.by}`;
          this.stopReason = `${s.by} denied ${action.name}`;
          return `DENIED by ${s.by}: do not retry this action. Nothing was done. Tell the operator and stop.`;
        case 'cancelled':
          taken.status = `cancelled by ${s.by}`;
          this.stopReason = `${s.by} cancelled ${action.name}`;
          return `CANCELLED by ${s.by}: nothing was done; do not retry this action.`;
        case 'expired':
        case 'gone':
          taken.status = 'expired without a decision';
          this.stopReason = `nobody approved ${action.name} in time`;
          return 'EXPIRED: nobody approved it in time; nothing was done. Do not retry this action.';
      }
    } finally {
      this.d.deadline.resume();
    }
  }

  private budget(): number {
    const left = (this.d.contextChars ?? CONTEXT_CHARS) - this.outputUsed;
    return Math.max(0, Math.min(this.d.toolOutputChars ?? TOOL_OUTPUT_CHARS, left));
  }

  private wrap(action: string, body: string): string {
    const max = this.budget();
    if (max < 200) {
      return (
        `[The output budget of this request is used up; ${action} ran but its output is not shown. Answer ` +
        `with what you have, or suggest a narrower question.]`
      );
    }
    const out = wrapUntrusted(action, this.d.redactor.redact(body), max);
    this.outputUsed += Math.min(out.length, max);
    return out;
  }
}

/** `p`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', abort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

/**
 * A result as text for the model: its blocks, and the end of an attached file (a long log),
 * redacted line by line. The file is read only up to a bound and then closed.
 */
export async function resultText(r: Result, redactor: Redactor, budget: number, signal: AbortSignal): Promise<string> {
  const body = plainText(r);
  if (!r.attachment) return body;
  const tail = await attachmentTail(r.attachment, redactor, Math.max(budget, 1000), signal);
  return `${body}\n[attached file ${r.attachment.filename}, its end:]\n${tail}`;
}

async function attachmentTail(a: Attachment, redactor: Redactor, keep: number, signal: AbortSignal): Promise<string> {
  const c = a.content;
  const source = Readable.from(typeof c === 'string' || Buffer.isBuffer(c) ? [c] : c);
  const redacted = source.pipe(redactor.lineStream());
  let tail = '';
  let cut = false;
  let bytes = 0;
  try {
    for await (const chunk of redacted) {
      const s = String(chunk);
      bytes += s.length;
      tail += s;
      if (tail.length > keep * 2) {
        tail = tail.slice(-keep);
        cut = true;
      }
      if (bytes > ATTACHMENT_READ_BYTES || signal.aborted) break;
    }
  } finally {
    source.destroy();
    redacted.destroy();
  }
  if (tail.length > keep) {
    tail = tail.slice(-keep);
    cut = true;
  }
  // The text was redacted line by line before it was cut; a cut line is dropped to keep lines whole.
  return cut ? tail.slice(tail.indexOf('\n') + 1) : tail;
}
