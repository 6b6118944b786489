/**
 * Transport-neutral output of an action. Targets build these; transports render them.
 *
 * Trust is encoded in the type: `text` and `bold` spans are for strings written by this
 * program (labels, headings); anything that came from outside (a container name, a log
 * line, a pod status) goes into a `value` span or a `pre` block, which every transport
 * renders so that it can never become a link, a mention or formatting.
 */

export type Span =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bold'; readonly text: string }
  | { readonly kind: 'value'; readonly text: string };

export type Block =
  { readonly kind: 'line'; readonly spans: readonly Span[] } | { readonly kind: 'pre'; readonly text: string };

/** A button asks the dispatcher to run an action with fixed parameters when pressed. */
export interface Button {
  readonly label: string;
  readonly action: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** A file to send instead of (or next to) a long message. */
export interface Attachment {
  readonly filename: string;
  /** Streamed so that a large log is never held in memory whole. */
  readonly content: string | Buffer | AsyncIterable<Buffer | string>;
}

/** What a reply to a message does: run `action` with `params` plus the reply's text as `text`. */
export interface ReplyTarget {
  readonly action: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** Identity and lifecycle of a live card. */
export interface CardInfo {
  readonly key: string;
  /** A short plain label ("🟡 build") for places that name a card in plain text, e.g. a forum topic. */
  readonly title?: string;
  /** `item`: one thing, which may get a place of its own (a forum topic); `index`: the list of all items. */
  readonly kind?: 'item' | 'index';
  /** The thing is gone or no longer followed: this is the card's last version (its topic may close). */
  readonly final?: boolean;
  /**
   * What the card shows, for per-chat scopes: a target's place, or (no place) many of them. A
   * card placed in every forum chat goes to a scoped one only when it says, and the scope holds it.
   */
  readonly about?: { readonly target: string; readonly place?: string };
}

export interface Result {
  readonly blocks: readonly Block[];
  /**
   * The action ran but found something wrong (e.g. /audit verify found a break): it is shown
   * like any result, and audited as failed with this detail rather than "ok".
   */
  readonly failure?: string;
  /** Rows of buttons. */
  readonly buttons?: readonly (readonly Button[])[];
  readonly attachment?: Attachment;
  /**
   * A live card (e.g. a tmux session's status): the transport keeps one message per key and
   * edits it in place instead of posting a new one each time.
   */
  readonly card?: CardInfo;
  /**
   * Replying to this message (where the transport has replies) runs this action, e.g. the text
   * goes to the terminal session the card or alert is about. It is an explicit request by the
   * person replying and takes the same pipeline as any other.
   */
  readonly reply?: ReplyTarget;
}

export const text = (t: string): Span => ({ kind: 'text', text: t });
export const bold = (t: string): Span => ({ kind: 'bold', text: t });
export const value = (t: string | number): Span => ({ kind: 'value', text: String(t) });

export const line = (...spans: (Span | string)[]): Block => ({
  kind: 'line',
  spans: spans.map((s) => (typeof s === 'string' ? text(s) : s)),
});
export const pre = (t: string): Block => ({ kind: 'pre', text: t });

export const result = (blocks: Block[], extra: Omit<Result, 'blocks'> = {}): Result => ({
  blocks,
  ...extra,
});

/** One-line result, the common case for short answers. */
export const say = (...spans: (Span | string)[]): Result => result([line(...spans)]);

/** Plain text of a result, for the console, logs and tests. */
export function plainText(r: Pick<Result, 'blocks'>): string {
  return r.blocks.map((b) => (b.kind === 'pre' ? b.text : b.spans.map((s) => s.text).join(''))).join('\n');
}
