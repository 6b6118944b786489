/**
 * The AI operator: a plain-language request becomes tool calls over the registry, each
 * through the dispatcher with origin `ai`. Bounded in tool calls, time, tokens per day and LLM
 * calls per minute; what reaches the provider is redacted; the answer names every action run.
 */
import {
  generateText,
  stepCountIs,
  wrapLanguageModel,
  type LanguageModelMiddleware,
  type LanguageModelUsage,
  type ModelMessage,
} from 'ai';
import { ActionError, type Operator } from '../core/action.js';
import { DeadlineError, withDeadline } from '../core/deadline.js';
import type { Dispatcher } from '../core/dispatcher.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from '../core/metrics.js';
import type { Principal } from '../core/policy.js';
import { RateLimiter, type Limiter } from '../core/ratelimit.js';
import type { Redactor } from '../core/redact.js';
import type { Registry } from '../core/registry.js';
import { bold, line, plainText, say, text, value, type Block, type Result } from '../core/result.js';
import { anySignal } from '../core/signals.js';
import { foldBlankRuns, truncate } from '../core/text.js';
import { authorOf, type AiMemoryRepo } from '../store/ai-memory.js';
import { utcDay, type AiUsageRepo } from '../store/ai-usage.js';
import { Deadline } from './deadline.js';
import { TOOL_OUTPUT_CHARS, wrapUntrusted } from './output.js';
import { SUMMARY_PROMPT, systemPrompt } from './prompt.js';
import type { AiModel } from './providers.js';
import { llmActions, ToolSession, type AgentUi, type TakenAction } from './tools.js';

export type { AgentUi } from './tools.js';

export interface AgentSettings {
  /** AI_MAX_STEPS: most tool calls per request. */
  readonly maxSteps: number;
  /** AI_TIMEOUT_SECONDS, in ms; time waiting for an approval is not counted. */
  readonly timeoutMs: number;
  /** AI_DAILY_TOKEN_BUDGET: input + output tokens per operator per UTC day. */
  readonly dailyTokenBudget: number;
  /** AI_MEMORY_TURNS: the operator's own earlier exchanges in the chat given to the model. */
  readonly memoryTurns: number;
  /** AI_REQUESTS_PER_MINUTE: LLM calls per operator per minute. */
  readonly requestsPerMinute: number;
  readonly toolOutputChars?: number;
  readonly contextChars?: number;
}

export interface AgentDeps {
  readonly model: AiModel;
  readonly dispatcher: Dispatcher;
  readonly registry: Registry;
  readonly redactor: Redactor;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly usage: AiUsageRepo;
  readonly memory: AiMemoryRepo;
  readonly settings: AgentSettings;
  readonly now?: () => number;
  /** The LLM calls' bucket (AgentSettings.requestsPerMinute); replicas pass one they share. */
  readonly llmLimiter?: Limiter;
}

export interface Agent {
  readonly provider: string;
  readonly modelId: string;
  /**
   * Answers one plain-language request. The principal must be one the dispatcher identifies;
   * for anyone else the call is audited as unauthorized and the result has no blocks (send nothing).
   */
  ask(principal: Principal, text: string, ui: AgentUi, signal?: AbortSignal): Promise<Result>;
  /**
   * Two or three lines on what terminal or log output shows (running, waiting, failed, done),
   * for an operator already identified by the dispatcher; no tools. Throws ActionError.
   */
  summarize(operator: Operator, subject: string, output: string, signal: AbortSignal): Promise<string>;
}

/** Longest answer kept from the model; Telegram splits or attaches anything longer anyway. */
const ANSWER_CHARS = 6000;

class LlmRateLimited extends Error {
  override readonly name = 'LlmRateLimited';
  constructor(readonly retryAfterS: number) {
    super(`LLM rate limit: retry in ${retryAfterS}s`);
  }
}

export function createAgent(d: AgentDeps): Agent {
  const now = d.now ?? Date.now;
  const s = d.settings;
  // LLM calls have their own bucket: a long agent turn does not eat the operator's commands.
  const llmLimiter = d.llmLimiter ?? new RateLimiter(s.requestsPerMinute, now);

  function middleware(who: string): LanguageModelMiddleware {
    const charge = () => {
      const c = llmLimiter.take(who);
      if (!c.ok) throw new LlmRateLimited(Math.ceil(c.retryAfterMs / 1000));
    };
    return {
      specificationVersion: 'v3',
      // The one place every prompt passes on its way out: user text, memory, tool output, tool arguments.
      transformParams: async ({ params }) => ({ ...params, prompt: d.redactor.redactDeep(params.prompt) }),
      wrapGenerate: async ({ doGenerate }) => {
        charge();
        return doGenerate();
      },
      wrapStream: async ({ doStream }) => {
        charge();
        return doStream();
      },
    };
  }

  function count(who: string, day: string, u: LanguageModelUsage): void {
    const input = u.inputTokens ?? 0;
    const output = u.outputTokens ?? 0;
    d.usage.add(who, day, input, output);
    d.metrics.llmTokens.inc({ provider: d.model.provider, kind: 'input' }, input);
    d.metrics.llmTokens.inc({ provider: d.model.provider, kind: 'output' }, output);
  }

  async function ask(principal: Principal, request: string, ui: AgentUi, signal?: AbortSignal): Promise<Result> {
    const operator = d.dispatcher.identify(principal);
    if (!operator) {
      d.dispatcher.unauthorized(principal, 'ai');
      return { blocks: [] };
    }
    const who = d.dispatcher.actorOf(operator);
    const day = utcDay(now());
    const used = d.usage.total(who, day);
    if (used >= s.dailyTokenBudget) {
      return say(
        `🪫 Your AI budget for today is used up (${used} of ${s.dailyTokenBudget} tokens). It renews at 00:00 UTC; ` +
          `slash commands work as always.`,
      );
    }

    const deadline = new Deadline(s.timeoutMs, now);
    const callerSignal = signal ?? new AbortController().signal;
    const abortSignal = anySignal([deadline.signal, callerSignal]);
    const session = new ToolSession({
      dispatcher: d.dispatcher,
      redactor: d.redactor,
      principal,
      ui,
      deadline,
      signal: callerSignal,
      maxToolCalls: s.maxSteps,
      ...(s.toolOutputChars !== undefined ? { toolOutputChars: s.toolOutputChars } : {}),
      ...(s.contextChars !== undefined ? { contextChars: s.contextChars } : {}),
      now,
    });
    const tools = session.tools(llmActions(d.registry, operator.role, d.dispatcher.scopeOf(operator.chatId)));
    const messages: ModelMessage[] = [
      // Only the operator's own earlier exchanges: in a group, nobody else's words reach this request.
      ...d.memory
        .recent(operator.chatId, authorOf(operator), s.memoryTurns)
        .map((m): ModelMessage => ({ role: m.role, content: m.content })),
      { role: 'user', content: d.redactor.redact(request) },
    ];
    let forcedAnswer = false;
    let budgetSpent = false;
    const stopReason = (): string =>
      budgetSpent
        ? 'your AI token budget for today is used up'
        : (session.stopReason ??
          (session.calls >= s.maxSteps
            ? `the limit of ${s.maxSteps} tool calls was reached`
            : 'the model gave no answer'));

    ui.progress('🤔 Thinking…');
    try {
      const res = await generateText({
        model: wrapLanguageModel({ model: d.model.model, middleware: middleware(who) }),
        system: systemPrompt(operator, now()),
        messages,
        tools,
        // A denial, the call cap or repeated calls leave the model one step to answer (tool choice none).
        prepareStep: () => {
          if (!session.mustAnswer && session.calls < s.maxSteps) return {};
          forcedAnswer = true;
          return { toolChoice: 'none' };
        },
        stopWhen: [stepCountIs(s.maxSteps + 1), () => forcedAnswer, () => budgetSpent],
        onStepFinish: (step) => {
          count(who, day, step.usage);
          budgetSpent = d.usage.total(who, day) >= s.dailyTokenBudget;
        },
        abortSignal,
        maxRetries: 1,
      });
      return finish(operator, request, res.text, session.taken, res.text.trim() === '' ? stopReason() : undefined);
    } catch (e) {
      if (deadline.expired)
        return finish(operator, request, '', session.taken, `it took longer than ${Math.round(s.timeoutMs / 1000)}s`);
      if (callerSignal.aborted) return finish(operator, request, '', session.taken, 'the request was cancelled');
      // A model that still calls tools when it may only answer makes the SDK throw; the reason is ours.
      if (forcedAnswer) return finish(operator, request, '', session.taken, stopReason());
      if (e instanceof LlmRateLimited)
        return finish(operator, request, '', session.taken, `too many AI requests; try again in ${e.retryAfterS}s`);
      const message = truncate(d.redactor.redact(e instanceof Error ? e.message : String(e)), 300);
      d.log.warn({ err: message, provider: d.model.provider }, 'LLM request failed');
      return finish(operator, request, '', session.taken, `the AI provider failed: ${message}`);
    } finally {
      deadline.dispose();
    }
  }

  async function summarize(operator: Operator, subject: string, output: string, signal: AbortSignal): Promise<string> {
    const who = d.dispatcher.actorOf(operator);
    const day = utcDay(now());
    if (d.usage.total(who, day) >= s.dailyTokenBudget)
      throw new ActionError('Your AI budget for today is used up; it renews at 00:00 UTC.');
    try {
      const budget = 2 * TOOL_OUTPUT_CHARS;
      const res = await withDeadline(
        'AI summary',
        s.timeoutMs,
        (abortSignal) =>
          generateText({
            model: wrapLanguageModel({ model: d.model.model, middleware: middleware(who) }),
            system: SUMMARY_PROMPT,
            prompt: `Output of ${subject}:\n${wrapUntrusted('output', d.redactor.redact(output), budget)}`,
            maxOutputTokens: 300,
            abortSignal,
            maxRetries: 1,
          }),
        signal,
      );
      count(who, day, res.totalUsage);
      const text = d.redactor.redact(res.text.trim());
      if (text === '') throw new ActionError('The AI gave no summary; try again, or read the output itself.');
      return truncate(text, 1000);
    } catch (e) {
      if (e instanceof ActionError) throw e;
      if (e instanceof DeadlineError) throw new ActionError(`${e.message}; try again.`);
      if (e instanceof LlmRateLimited) throw new ActionError(`Too many AI requests; try again in ${e.retryAfterS}s.`);
      const message = truncate(d.redactor.redact(e instanceof Error ? e.message : String(e)), 300);
      d.log.warn({ err: message, provider: d.model.provider }, 'LLM summary failed');
      throw new ActionError(`The AI provider failed: ${message}`);
    }
  }

  /**
   * The answer, then every action the agent asked for and what became of it; remembered for the
   * operator in this chat.
   */
  function finish(
    operator: Operator,
    request: string,
    answer: string,
    taken: readonly TakenAction[],
    stopped?: string,
  ): Result {
    const clean = foldBlankRuns(truncate(d.redactor.redact(answer.trim()), ANSWER_CHARS).split('\n'));
    // The model's words may echo untrusted output, so they are values: never links, mentions or markup.
    const blocks: Block[] = clean.map((l) => line(value(l)));
    if (stopped) blocks.push(line(text(`⚠️ I stopped before finishing: `), value(stopped), text('.')));
    if (taken.length > 0) {
      blocks.push(line(bold('Actions taken:')));
      for (const t of taken) blocks.push(line(text('• '), value(t.label), text(' — '), value(t.status)));
    }
    const result: Result = { blocks };
    if (s.memoryTurns > 0 && request.trim() !== '') {
      d.memory.append(
        operator.chatId,
        authorOf(operator),
        d.redactor.redact(request),
        d.redactor.redact(plainText(result)),
        s.memoryTurns,
        now(),
      );
    }
    return result;
  }

  return { provider: d.model.provider, modelId: d.model.modelId, ask, summarize };
}
