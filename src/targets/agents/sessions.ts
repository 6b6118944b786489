/**
 * The agent sessions teleops keeps: creating them (name, directory, limits), running one
 * prompt at a time in each through its agent's runner, every tool call through the gate,
 * the day's budget, the transcript, and what the live cards and alerts are made from.
 */
import { ActionError, type Operator } from '../../core/action.js';
import type { AlertSink } from '../../core/alerts.js';
import type { Logger } from '../../core/log.js';
import { redactDeepWith } from '../../core/redact.js';
import { formatDuration } from '../../core/text.js';
import { checkAgentDir, staysInside } from './dirs.js';
import { DENIED, type ToolDecision, type ToolGate } from './gate.js';
import { imageType, INBOX, saveToInbox } from './inbox.js';
import { errorText, type AgentRunner, type RunningTurn, type TurnEnd, type TurnImage } from './runner.js';
import type { AgentSettings } from './settings.js';
import {
  utcDay,
  type AgentKind,
  type AgentSessionRepo,
  type AgentSessionRow,
  type AgentState,
  type TranscriptKind,
} from './store.js';

/** Letters, digits, `_`, `-`; not starting with `-`; short enough for a button and a topic. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,31}$/;
/** `/agent <name> …` must not shadow a verb. */
export const VERBS = ['new', 'ls', 'show', 'log', 'stop', 'end'] as const;
export const NAME_RULE = 'letters, digits, _ and -, at most 32 characters, not starting with -';
/** Streamed answer kept for the card (its end) and for the transcript (its start, up to this). */
const TAIL_CHARS = 4000;
const ANSWER_MAX = 200_000;
/** A tool's input as kept in the transcript. */
const TOOL_INPUT_MAX = 20_000;

/** A file sent with a prompt: the sender's name for it (untrusted) and its bytes. */
export interface SentFile {
  readonly name: string;
  readonly bytes: Buffer;
}

export interface SessionView extends AgentSessionRow {
  /** The end of the answer being streamed (or the last one), as the agent wrote it. */
  readonly answerTail: string;
  /** The tool the agent is on now. */
  readonly tool?: { readonly name: string; readonly input: Readonly<Record<string, unknown>> };
  /** Why the last turn failed (the agent's words). */
  readonly failure?: string;
  readonly spentTodayUsd: number;
}

export type SessionEvent =
  { readonly kind: 'changed'; readonly view: SessionView } | { readonly kind: 'ended'; readonly name: string };

export interface AgentSessionsDeps {
  readonly repo: AgentSessionRepo;
  readonly settings: AgentSettings;
  readonly runners: Readonly<Record<AgentKind, AgentRunner>>;
  readonly gate: ToolGate;
  readonly alerts: AlertSink;
  readonly log: Logger;
  readonly redact: (text: string) => string;
  /** The environment of an agent's process (no teleops secrets, its own provider key). */
  readonly env: (kind: AgentKind) => NodeJS.ProcessEnv;
  readonly now: () => number;
  /** Tokens of each finished turn, for teleops_agent_tokens_total. */
  readonly onTokens?: (kind: AgentKind, input: number, output: number) => void;
  /** Made into an alert; kept apart so cards.ts owns every rendering. */
  readonly alertFor: (view: SessionView, what: 'done' | 'failed' | 'waiting') => Parameters<AlertSink['raise']>[0];
}

interface Live {
  answer: string;
  tail: string;
  tool?: { name: string; input: Readonly<Record<string, unknown>> };
  failure?: string;
  turn?: RunningTurn;
  /** Aborted when the turn ends: a question still open at the gate is withdrawn. */
  ended: AbortController;
  settled: Promise<void>;
}

export class AgentSessions {
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Set<(e: SessionEvent) => void>();

  constructor(private readonly d: AgentSessionsDeps) {
    // A turn that was running when teleops stopped is over: its process went with it.
    for (const row of d.repo.all()) {
      if (row.state === 'working' || row.state === 'waiting') d.repo.setState(row.name, 'interrupted', d.now());
    }
  }

  on(listener: (e: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): SessionView[] {
    return this.d.repo.all().map((r) => this.viewOf(r));
  }

  view(name: string): SessionView | undefined {
    const row = this.d.repo.get(name);
    return row ? this.viewOf(row) : undefined;
  }

  /** The session, or an error that names the ones there are. */
  get(name: string): SessionView {
    const v = this.view(name);
    if (v) return v;
    const names = this.d.repo.all().map((r) => r.name);
    throw new ActionError(
      `no agent session named ${name}${names.length > 0 ? `; there are: ${names.join(', ')}` : ''}`,
    );
  }

  async create(o: { kind: AgentKind; name: string; dir?: string; requester: Operator }): Promise<SessionView> {
    if (!NAME.test(o.name)) throw new ActionError(`invalid session name: use ${NAME_RULE}`);
    if ((VERBS as readonly string[]).includes(o.name.toLowerCase()))
      throw new ActionError(`${o.name} is a verb of /agent; choose another name`);
    if (this.d.repo.get(o.name)) throw new ActionError(`there is already an agent session named ${o.name}`);
    const max = this.d.settings.maxSessions;
    if (this.d.repo.count() >= max)
      throw new ActionError(
        `${max} agent sessions are kept already (AGENT_MAX_SESSIONS); end one with /agent end <name>`,
      );
    const dir = await checkAgentDir(o.dir ?? this.d.settings.defaultDir, this.d.settings.roots);
    this.d.repo.create({ name: o.name, kind: o.kind, dir, chatId: o.requester.chatId, at: this.d.now() });
    const view = this.get(o.name);
    this.emit({ kind: 'changed', view });
    return view;
  }

  /**
   * Starts the next turn of a session; returns once it runs, the turn goes on. Files sent with
   * the prompt are saved in the session's inbox and named in the prompt; pictures also go to
   * the agent as images.
   */
  async prompt(name: string, text: string, requester: Operator, files: readonly SentFile[] = []): Promise<SessionView> {
    const row = this.get(name);
    if (this.live.get(name)?.turn)
      throw new ActionError(`${name} is still working; wait for it, or /agent stop ${name}`);
    // Checked again at every turn: the directory may have been replaced by a link since.
    await checkAgentDir(row.dir, this.d.settings.roots);
    if (this.live.get(name)?.turn)
      throw new ActionError(`${name} is still working; wait for it, or /agent stop ${name}`);
    const budget = this.d.settings.dailyBudgetUsd;
    const spent = this.d.repo.spentOn(utcDay(this.d.now()));
    if (spent >= budget) {
      throw new ActionError(
        `the agents' daily budget is spent: $${spent.toFixed(2)} of $${budget.toFixed(2)} today ` +
          `(AGENT_DAILY_BUDGET_USD)`,
      );
    }
    const saved: string[] = [];
    const images: TurnImage[] = [];
    for (const f of files) {
      saved.push(`${INBOX}/${await saveToInbox(row.dir, f.name, f.bytes)}`);
      const mime = imageType(f.bytes);
      if (mime) images.push({ mime, data: f.bytes });
    }
    if (this.live.get(name)?.turn)
      throw new ActionError(`${name} is still working; wait for it, or /agent stop ${name}`);
    const prompt = withFiles(text, saved);
    const live: Live = { answer: '', tail: '', ended: new AbortController(), settled: Promise.resolve() };
    this.live.set(name, live);
    this.line(name, 'prompt', `${requester.display}: ${prompt}`);
    this.setState(name, 'working');
    let usage = { costUsd: 0, inputTokens: 0, outputTokens: 0 };
    const turn = this.d.runners[row.kind].run({
      prompt,
      ...(images.length > 0 ? { images } : {}),
      ...(row.sessionId ? { resume: row.sessionId } : {}),
      cwd: row.dir,
      env: this.d.env(row.kind),
      ...(this.model(row.kind) ? { model: this.model(row.kind)! } : {}),
      maxTurns: this.d.settings.maxTurns,
      gate: (tool, input) => this.ask(row, live, requester, tool, input),
      onEvent: (e) => {
        switch (e.type) {
          case 'session':
            this.d.repo.setSessionId(name, e.id, this.d.now());
            return;
          case 'text':
            if (live.answer.length < ANSWER_MAX) live.answer += e.delta;
            live.tail = tailOf(live.tail + e.delta, TAIL_CHARS);
            break;
          case 'tool':
            live.tool = { name: e.tool, input: e.input };
            // Strings redacted before they become JSON, whose escapes (`\n`) the redactor reads as text.
            this.line(
              name,
              'tool',
              `${e.tool} ${capped(JSON.stringify(redactDeepWith(e.input, this.d.redact)), TOOL_INPUT_MAX)}`,
            );
            break;
          case 'usage':
            // Claude reports the turn's totals once; Codex reports each model call: add them.
            usage = {
              costUsd: usage.costUsd + e.costUsd,
              inputTokens: usage.inputTokens + e.inputTokens,
              outputTokens: usage.outputTokens + e.outputTokens,
            };
            return;
        }
        this.changed(name);
      },
    });
    live.turn = turn;
    const timer = setTimeout(() => {
      live.failure =
        `still running after ${formatDuration(this.d.settings.turnTimeoutMs)} ` +
        `(AGENT_TURN_TIMEOUT_MINUTES): interrupted`;
      void turn.interrupt();
    }, this.d.settings.turnTimeoutMs);
    timer.unref();
    live.settled = turn.done
      .catch((e: unknown): TurnEnd => ({ outcome: 'failed', detail: errorText(e) }))
      .then((end) => {
        clearTimeout(timer);
        this.finish(name, live, end, usage);
      });
    return this.get(name);
  }

  /** Interrupts the running turn; false when none runs. */
  async stop(name: string): Promise<boolean> {
    this.get(name);
    const live = this.live.get(name);
    if (!live?.turn) return false;
    await live.turn.interrupt();
    await live.settled;
    return true;
  }

  /** Stops and forgets a session (what it spent today still counts). */
  async end(name: string): Promise<void> {
    await this.stop(name);
    this.d.repo.remove(name);
    this.live.delete(name);
    this.emit({ kind: 'ended', name });
  }

  /** Settles when the session has no turn running. */
  async idle(name: string): Promise<void> {
    await this.live.get(name)?.settled;
  }

  /** Interrupts every running turn, for shutdown. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live.keys()].map((n) => this.stop(n).catch(() => false)));
  }

  transcript(name: string): { at: number; kind: TranscriptKind; text: string }[] {
    this.get(name);
    return this.d.repo.lines(name);
  }

  private model(kind: AgentKind): string | undefined {
    return kind === 'claude' ? this.d.settings.modelClaude : this.d.settings.modelCodex;
  }

  private async ask(
    row: AgentSessionRow,
    live: Live,
    requester: Operator,
    tool: string,
    input: Readonly<Record<string, unknown>>,
  ): Promise<ToolDecision> {
    const { name, dir } = row;
    if (this.d.settings.autoAllowTools.includes(tool) && (await staysInside(input, dir))) {
      this.line(name, 'decision', `${tool}: allowed without asking (AGENT_AUTO_ALLOW_TOOLS)`);
      return { allow: true, reason: 'AGENT_AUTO_ALLOW_TOOLS' };
    }
    this.setState(name, 'waiting');
    this.d.alerts.raise(this.d.alertFor(this.get(name), 'waiting'));
    let decision: ToolDecision;
    try {
      const chatId = row.chatId ?? requester.chatId;
      decision = await this.d.gate({ session: name, requester, chatId, tool, input, signal: live.ended.signal });
    } catch (e) {
      this.d.log.warn({ err: errorText(e), session: name }, 'agent tool gate failed; the tool is denied');
      decision = { allow: false, reason: 'the approval failed' };
    }
    this.line(
      name,
      'decision',
      `${tool}: ${decision.allow ? 'allowed' : 'denied'}${decision.reason ? ` (${decision.reason})` : ''}`,
    );
    // A decision that comes after the turn ended (stopped meanwhile) changes nothing.
    if (live.turn && this.live.get(name) === live) this.setState(name, 'working');
    return decision.allow ? decision : { allow: false, reason: DENIED };
  }

  private finish(
    name: string,
    live: Live,
    end: TurnEnd,
    usage: { costUsd: number; inputTokens: number; outputTokens: number },
  ): void {
    live.turn = undefined;
    live.tool = undefined;
    live.ended.abort();
    if (!this.d.repo.get(name)) return;
    const now = this.d.now();
    this.d.repo.addTurn(name, usage, now);
    const kind = this.d.repo.get(name)?.kind;
    if (kind) this.d.onTokens?.(kind, usage.inputTokens, usage.outputTokens);
    if (live.answer !== '') this.line(name, 'answer', live.answer);
    if (end.outcome === 'failed') live.failure = end.detail ?? 'the agent failed';
    else if (end.outcome === 'ok') live.failure = undefined;
    const cost = usage.costUsd > 0 ? `, $${usage.costUsd.toFixed(4)}` : '';
    this.line(
      name,
      end.outcome === 'failed' ? 'error' : 'result',
      `${end.outcome}${end.detail ? `: ${end.detail}` : ''} (${usage.inputTokens} tokens in, ${usage.outputTokens} ` +
        `out${cost})`,
    );
    const state: AgentState = end.outcome === 'ok' ? 'done' : end.outcome === 'failed' ? 'failed' : 'interrupted';
    this.setState(name, state);
    // A timeout is a failure to hear about; an interrupt someone asked for is not.
    if (state === 'done') this.d.alerts.raise(this.d.alertFor(this.get(name), 'done'));
    else if (state === 'failed' || live.failure) this.d.alerts.raise(this.d.alertFor(this.get(name), 'failed'));
  }

  private setState(name: string, state: AgentState): void {
    this.d.repo.setState(name, state, this.d.now());
    this.changed(name);
  }

  private changed(name: string): void {
    const view = this.view(name);
    if (view) this.emit({ kind: 'changed', view });
  }

  private emit(e: SessionEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.d.log.warn({ err: errorText(err) }, 'agent card listener failed');
      }
    }
  }

  /** Transcript lines are stored redacted, so the database holds no secret an agent printed. */
  private line(name: string, kind: TranscriptKind, text: string): void {
    this.d.repo.addLine(name, kind, this.d.redact(text), this.d.now());
  }

  private viewOf(row: AgentSessionRow): SessionView {
    const live = this.live.get(row.name);
    return {
      ...row,
      answerTail: live?.tail ?? '',
      ...(live?.tool ? { tool: live.tool } : {}),
      ...(live?.failure ? { failure: live.failure } : {}),
      spentTodayUsd: this.d.repo.spentOn(utcDay(this.d.now()), row.name),
    };
  }
}

/**
 * The last `max` characters of `s` from the start of a line (of a word, in a line longer than
 * that): a line cut anywhere could begin with the rest of a secret whose name was cut off.
 */
function tailOf(s: string, max: number): string {
  if (s.length <= max) return s;
  const t = s.slice(-max);
  const nl = t.indexOf('\n');
  if (nl !== -1) return t.slice(nl + 1);
  const blank = t.search(/\s/);
  return blank === -1 ? '' : t.slice(blank + 1);
}

const capped = (s: string, max: number): string =>
  s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters in all)`;

/** The prompt with the files sent with it named, as paths from the session's directory. */
function withFiles(text: string, saved: readonly string[]): string {
  if (saved.length === 0) return text;
  const files = `Files sent with this prompt, saved in the working directory: ${saved.join(', ')}`;
  return text.trim() === '' ? files : `${text}\n\n${files}`;
}
