/**
 * Transport-neutral renderings of the watcher's knowledge: the status card of one watched
 * pane, the index card of all of them, and the alert raised on an alertable change.
 * Terminal text and names go in `value` spans and `pre` blocks only.
 */
import type { Alert } from '../../core/alerts.js';
import type { Redact } from '../../core/redact.js';
import {
  bold,
  line,
  pre,
  result,
  text,
  value,
  type Block,
  type Button,
  type ReplyTarget,
  type Result,
} from '../../core/result.js';
import { compareNames, formatDuration, truncate } from '../../core/text.js';
import { STATE_EMOJI, type TmuxState } from './classify.js';
import type { TmuxEvent, WatchEntry } from './watcher.js';

/** A Result that is a live card: edited in place whenever the watcher has news for its key. */
export type LiveCard = Result & { readonly card: NonNullable<Result['card']> };

export const cardKey = (target: string): string => `tmux:${target}`;
/** Not a possible `cardKey`: a target never starts with `:`. */
export const INDEX_KEY = 'tmux::index';

const CARD_LINE_MAX = 160;

/** Buttons of a status card and of an alert: Refresh · Tail · Enter / Ctrl-C · Log · Kill. */
export function cardButtons(target: string, session: string): Button[][] {
  return [
    [
      { label: '🔄 Refresh', action: 'tmux.refresh', params: { target } },
      { label: '📜 Tail', action: 'tmux.tail', params: { target } },
      { label: '⏎ Enter', action: 'tmux.keys', params: { target, keys: ['Enter'] } },
    ],
    [
      { label: '✋ Ctrl-C', action: 'tmux.keys', params: { target, keys: ['C-c'] } },
      { label: '📄 Log', action: 'tmux.log', params: { target } },
      { label: '✖ Kill', action: 'tmux.kill', params: { target: session } },
    ],
  ];
}

const STATE_WORD: Readonly<Record<TmuxState, string>> = {
  running: 'running',
  waiting: 'waiting for input',
  error: 'error',
  done: 'done',
  idle: 'idle',
  stuck: 'stuck',
  gone: 'gone',
};

/** `🟡 build (alias api) · waiting for input` */
export function titleBlock(e: Pick<WatchEntry, 'state' | 'target' | 'alias'>): Block {
  const spans = [text(`${STATE_EMOJI[e.state]} `), value(e.target)];
  if (e.alias) spans.push(text(' ('), value(e.alias), text(')'));
  spans.push(text(' · '), bold(STATE_WORD[e.state]));
  return line(...spans);
}

/**
 * Terminal text is redacted here, before it is cut to fit: a cut could leave part of a secret
 * that the transport's redactor no longer recognises (34 of a bot token's 35 characters).
 */
function bodyBlocks(e: WatchEntry, now: number, redact: Redact): Block[] {
  const blocks: Block[] = [titleBlock(e)];
  const command = e.startCommand || e.command;
  const facts = [text(`${formatDuration(now - e.stateSince)} in this state`)];
  if (e.exitStatus !== undefined) facts.push(text(` · exit status ${e.exitStatus}`));
  blocks.push(line(...facts));
  if (command) blocks.push(line(text('command: '), value(truncate(redact(command), 200))));
  const shown =
    e.lines.length > 0
      ? redact(e.lines.join('\n'))
          .split('\n')
          .map((l) => truncate(l, CARD_LINE_MAX))
      : [];
  blocks.push(pre(shown.length > 0 ? shown.join('\n') : '(no output)'));
  return blocks;
}

/** Replying to a card or an alert types the reply into the pane (tmux.send, a `write`). */
const replyTo = (target: string): ReplyTarget => ({ action: 'tmux.send', params: { target } });

/** `🟡 build (api)`: names the card where only plain text fits, e.g. a forum topic. */
export function cardTitle(e: Pick<WatchEntry, 'state' | 'target' | 'alias'>): string {
  return `${STATE_EMOJI[e.state]} ${e.target}${e.alias ? ` (${e.alias})` : ''}`;
}

/** The card of one watched pane; its last version once the pane is gone. */
export function statusCard(e: WatchEntry, now: number, redact: Redact): LiveCard {
  return {
    ...result(bodyBlocks(e, now, redact), { buttons: cardButtons(e.target, e.session), reply: replyTo(e.target) }),
    card: {
      key: cardKey(e.target),
      title: cardTitle(e),
      kind: 'item',
      final: e.state === 'gone',
      about: { target: 'tmux', place: e.session },
    },
  };
}

/** The last version of the card of a pane that is no longer watched. */
export function unwatchedCard(target: string): LiveCard {
  return {
    ...result([line(text('⚪ '), value(target), text(' · '), bold('no longer watched'))], {
      buttons: [[{ label: '👁 Watch', action: 'tmux.watch', params: { target } }]],
    }),
    card: {
      key: cardKey(target),
      title: `⚪ ${target}`,
      kind: 'item',
      final: true,
      about: { target: 'tmux', place: target.split(':')[0]! },
    },
  };
}

/** Order of the index card: what needs a person first. */
export const INDEX_ORDER: readonly TmuxState[] = ['error', 'waiting', 'stuck', 'running', 'idle', 'done', 'gone'];

/** One card listing every watched pane by state, for the INDEX topic. */
export function indexCard(entries: readonly WatchEntry[], now: number): LiveCard {
  const blocks: Block[] = [line(bold('Terminal sessions'))];
  for (const state of INDEX_ORDER) {
    const of = entries.filter((e) => e.state === state).sort((a, b) => compareNames(a.target, b.target));
    for (const e of of) {
      const spans = [text(`${STATE_EMOJI[state]} `), value(e.target)];
      if (e.alias) spans.push(text(' ('), value(e.alias), text(')'));
      spans.push(text(` · ${STATE_WORD[state]} ${formatDuration(now - e.stateSince)}`));
      blocks.push(line(...spans));
    }
  }
  if (entries.length === 0) blocks.push(line(text('Nothing is watched. /tmux watch <session> starts.')));
  return {
    ...result(blocks),
    // Every watched session: only a chat whose scope holds all of them gets it.
    card: { key: INDEX_KEY, title: 'Terminal sessions', kind: 'index', about: { target: 'tmux' } },
  };
}

/**
 * The alert for an alertable state change: a new message (so the phone notifies) with the
 * last lines and the card's buttons. Undefined for events that are not alertable.
 */
export function alertFor(event: TmuxEvent, now: number, redact: Redact): Alert | undefined {
  if (event.kind !== 'state_changed' || !event.alertable) return undefined;
  const e = event.entry;
  const blocks = bodyBlocks(e, now, redact);
  if (e.line !== undefined) blocks.splice(1, 0, line(text('line: '), value(truncate(redact(e.line), CARD_LINE_MAX))));
  return {
    source: 'tmux',
    key: `tmux:${e.target}:${event.to}`,
    place: e.session,
    result: result(blocks, { buttons: cardButtons(e.target, e.session), reply: replyTo(e.target) }),
  };
}
