/**
 * Live follows (`/docker logs -f`, `/tmux tail -f`): a target's stream of lines shown in ONE
 * live card, edited in place as lines arrive, for a bounded time, with a Stop button. The
 * target supplies only the source of lines; this module owns the rest, the same for every
 * target: the ring of the last lines (bounded memory), redaction before any cut, the time
 * limit, the Stop action, and the card's last version saying why it ended.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from './action.js';
import { UsageError } from './commands.js';
import { bold, line, pre, result, text, value, type Block, type Result, type Span } from './result.js';
import { formatDuration, parseDuration, truncate } from './text.js';

/** How long a follow runs unless `for <duration>` says otherwise (#19: "default 5 minutes"). */
export const FOLLOW_DEFAULT_MS = 5 * 60_000;
/** The longest `for <duration>` accepted: a forgotten follow must not edit a card for hours. */
export const FOLLOW_MAX_MS = 30 * 60_000;
/** Lines kept and shown; older ones are dropped as new ones arrive. */
export const FOLLOW_LINES = 15;
/** A kept line is cut to this (after redaction), so the card stays far under a message's size. */
export const FOLLOW_LINE_MAX = 160;
/** Follows running at once per target; one more is refused until one ends. */
export const FOLLOW_MAX_ACTIVE = 10;
/** Changes within this are shown in one edit (the outbox also coalesces edits of one card). */
const EMIT_EVERY_MS = 1000;

/** What a source hands the follow: new lines after the ones before, or the whole view anew. */
export interface FollowFeed {
  /** New lines, e.g. of a log. */
  append(lines: readonly string[]): void;
  /** The whole view, replacing what was shown, e.g. a terminal pane. */
  replace(lines: readonly string[]): void;
}

export interface FollowSpec {
  /** Heading spans of the card ("📄 Logs of web (3f2a1b)"); untrusted parts in `value` spans. */
  readonly heading: readonly Span[];
  /** A short plain label of the card. */
  readonly title: string;
  readonly durationMs: number;
  /** Who started it, as the card names people. */
  readonly by: string;
  /**
   * Feeds lines until `signal` aborts, or until what it follows ends by itself: then it
   * resolves with why ("container exited with code 0"). Throwing ends the follow as failed.
   */
  readonly source: (feed: FollowFeed, signal: AbortSignal) => Promise<string>;
}

export interface FollowDeps {
  /** The target kind: names the Stop action (`<target>.follow-stop`) and prefixes card keys. */
  readonly target: string;
  readonly redact: (text: string) => string;
  readonly clock?: () => number;
  readonly maxActive?: number;
}

interface Running {
  readonly id: string;
  readonly spec: FollowSpec;
  readonly startedAt: number;
  readonly abort: AbortController;
  readonly limit: NodeJS.Timeout;
  lines: string[];
  emit?: NodeJS.Timeout;
}

type LiveCard = Result & { readonly card: NonNullable<Result['card']> };

const ID = /^[0-9a-f]{12}$/;

/** `for 10m` (or just `10m`) as typed after a follow's subject: the duration, validated. */
export const followFor = z
  .string()
  .max(20)
  .refine(
    (s) => {
      const ms = parseDuration(s);
      return ms !== undefined && ms >= 1000 && ms <= FOLLOW_MAX_MS;
    },
    { error: `a duration from 1s to ${formatDuration(FOLLOW_MAX_MS)}, e.g. 10m` },
  );

/** `<subject> [for <duration>]` → `{ [subject]: …, for: … }`; anything else is a usage error. */
export function parseFollowArgs(subject: string, tokens: readonly string[]): Record<string, unknown> {
  const [first, ...rest] = tokens;
  const out: Record<string, unknown> = first === undefined ? {} : { [subject]: first };
  const duration = rest[0] === 'for' ? rest.slice(1) : rest;
  if (duration.length > 1 || (rest[0] === 'for' && duration.length === 0)) {
    throw new UsageError('after the name, only "for <duration>" (e.g. for 10m)');
  }
  if (duration[0] !== undefined) out.for = duration[0];
  return out;
}

/** The running follows of one target, their cards, and the action behind their Stop button. */
export class Follows {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<(card: Result) => void>();
  readonly stopAction: AnyAction;

  constructor(private readonly d: FollowDeps) {
    this.stopAction = defineAction({
      name: `${d.target}.follow-stop`,
      summary: 'Stop a live follow (its Stop button)',
      target: d.target,
      // Ends a view, changes nothing: whoever may see the card may stop it.
      risk: 'read',
      llm: false,
      params: z.object({ id: z.string().regex(ID) }),
      subject: (p) => `follow ${p.id}`,
      // It reaches no place of the target, only a card already shown.
      where: () => [],
      run: async (ctx, p) => {
        const card = this.stop(p.id, ctx.operator.display);
        if (!card) throw new ActionError('this follow has already ended');
        return card;
      },
    });
  }

  private now(): number {
    return (this.d.clock ?? Date.now)();
  }

  /** Duration of `for <duration>`, or the default. */
  static duration(forArg: string | undefined): number {
    return forArg === undefined ? FOLLOW_DEFAULT_MS : (parseDuration(forArg) ?? FOLLOW_DEFAULT_MS);
  }

  /** Starts following; the answer is the card's first version, for the transport to post. */
  start(spec: FollowSpec): LiveCard {
    const max = this.d.maxActive ?? FOLLOW_MAX_ACTIVE;
    if (this.running.size >= max) {
      throw new ActionError(`${max} live follows are running already; stop one first`);
    }
    const id = randomBytes(6).toString('hex');
    const abort = new AbortController();
    const limit = setTimeout(() => this.end(id, `time up (${formatDuration(spec.durationMs)})`), spec.durationMs);
    limit.unref();
    const f: Running = { id, spec, startedAt: this.now(), abort, limit, lines: [] };
    this.running.set(id, f);
    const feed: FollowFeed = {
      append: (lines) => this.took(f, [...f.lines, ...this.clean(lines)]),
      replace: (lines) => this.took(f, this.clean(lines)),
    };
    // Started once the first card exists: a source that ends at once leaves a last card,
    // which the transport shows instead. What it throws, even at once, ends the follow.
    void Promise.resolve()
      .then(() => spec.source(feed, abort.signal))
      .then(
        (why) => this.end(id, why),
        (e: unknown) => this.end(id, `failed: ${e instanceof ActionError ? e.message : 'internal error'}`),
      );
    return this.card(f);
  }

  /** A person ends one follow; its last card, or undefined when it had ended already. */
  stop(id: string, by: string): LiveCard | undefined {
    return this.end(id, 'stopped', by);
  }

  /** Ends every follow (teleops is stopping). */
  stopAll(why: string): void {
    for (const id of [...this.running.keys()]) this.end(id, why);
  }

  onCard(listener: (card: Result) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Redacted as a whole (a secret may span lines), then cut line by line. */
  private clean(lines: readonly string[]): string[] {
    if (lines.length === 0) return [];
    return this.d
      .redact(lines.join('\n'))
      .split('\n')
      .map((l) => truncate(l, FOLLOW_LINE_MAX));
  }

  private took(f: Running, lines: string[]): void {
    if (!this.running.has(f.id)) return;
    f.lines = lines.slice(-FOLLOW_LINES);
    if (f.emit) return;
    f.emit = setTimeout(() => {
      f.emit = undefined;
      if (this.running.has(f.id)) this.publish(this.card(f));
    }, EMIT_EVERY_MS);
    f.emit.unref();
  }

  /** `why` is written by this program; `by` names a person and is shown as a value. */
  private end(id: string, why: string, by?: string): LiveCard | undefined {
    const f = this.running.get(id);
    if (!f) return undefined;
    this.running.delete(id);
    clearTimeout(f.limit);
    clearTimeout(f.emit);
    f.abort.abort(new Error(why));
    const last = this.card(f, { why, ...(by !== undefined ? { by } : {}) });
    this.publish(last);
    return last;
  }

  private publish(card: Result): void {
    for (const l of this.listeners) l(card);
  }

  private card(f: Running, ended?: { why: string; by?: string }): LiveCard {
    const ran = formatDuration(this.now() - f.startedAt);
    const status: Block =
      ended === undefined
        ? line(text(`🔴 live · for up to ${formatDuration(f.spec.durationMs)} · started by `), value(f.spec.by))
        : line(
            text('⏹ '),
            bold('ended'),
            text(`: ${ended.why}`),
            ...(ended.by !== undefined ? [text(' by '), value(ended.by)] : []),
            text(` · after ${ran}`),
          );
    const blocks: Block[] = [line(...f.spec.heading), status];
    blocks.push(pre(f.lines.length > 0 ? f.lines.join('\n') : '(no output yet)'));
    const stop = [[{ label: '⏹ Stop', action: this.stopAction.name, params: { id: f.id } }]];
    return {
      ...result(blocks, ended === undefined ? { buttons: stop } : {}),
      card: { key: `${this.d.target}:follow:${f.id}`, title: f.spec.title, final: ended !== undefined },
    };
  }
}
