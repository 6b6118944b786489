/**
 * Transport-neutral renderings of agent sessions: the live card of one session, the list,
 * and the alerts. Everything the agent wrote (answers, tool input, errors) goes in `value`
 * spans and `pre` blocks, and is redacted here before it is cut to fit: a cut could leave
 * half a secret that the transport's redactor no longer recognises.
 */
import type { Alert } from '../../core/alerts.js';
import { bold, line, pre, result, text, value, type Block, type Button, type Result } from '../../core/result.js';
import { counted, stripAnsi, truncate } from '../../core/text.js';
import { redactDeepWith, type Redact } from '../../core/redact.js';
import type { SessionView } from './sessions.js';
import type { AgentState } from './store.js';

export type LiveCard = Result & { readonly card: NonNullable<Result['card']> };

export const cardKey = (name: string): string => `agent:${name}`;

/** Last lines of the answer on a card, and the longest line shown. */
export const CARD_LINES = 12;
const LINE_MAX = 160;
/** A tool's input on a card: enough to see what it does; the transcript has all of it. */
export const TOOL_SHOWN_MAX = 300;
/** Buttons on the list (Telegram allows 100 per keyboard; a phone screen far fewer). */
const LIST_BUTTONS = 30;

export const STATE_EMOJI: Readonly<Record<AgentState, string>> = {
  idle: '⚪',
  working: '🟢',
  waiting: '🟡',
  done: '✅',
  failed: '🔴',
  interrupted: '⏸',
};

const STATE_WORD: Readonly<Record<AgentState, string>> = {
  idle: 'waiting for a prompt',
  working: 'working',
  waiting: 'waiting for approval',
  done: 'turn done',
  failed: 'failed',
  interrupted: 'interrupted',
};

/** What a tool is about, in one line: a command, a path (and how much is written), or its input as JSON. */
export function toolSummary(input: Readonly<Record<string, unknown>>, redact: Redact): string {
  const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const path = s(input.file_path) ?? s(input.path);
  const content = s(input.content);
  const raw =
    s(input.command) ??
    (path !== undefined
      ? `${path}${content !== undefined ? ` (${content.length} characters)` : ''}`
      : JSON.stringify(redactDeepWith(input, redact)));
  const one = stripAnsi(redact(raw)).replace(/\s+/g, ' ').trim();
  return one.length <= TOOL_SHOWN_MAX ? one : `${truncate(one, TOOL_SHOWN_MAX)} (${one.length} characters)`;
}

/** Stop · Log of one session: `since` keeps them from reaching a later session of its name. */
const buttons = (v: Pick<SessionView, 'name' | 'createdAt'>): Button[][] => [
  [
    { label: '⏹ Stop', action: 'agent.stop', params: { name: v.name, since: v.createdAt } },
    { label: '📄 Log', action: 'agent.log', params: { name: v.name, since: v.createdAt } },
  ],
];

const money = (usd: number): string => `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)}`;

export const cardTitle = (v: Pick<SessionView, 'name' | 'state'>): string => `${STATE_EMOJI[v.state]} ${v.name}`;

/** The session, where it works and what it has cost. */
function headBlocks(v: SessionView): Block[] {
  const tokens = v.inputTokens + v.outputTokens;
  return [
    line(text(`${STATE_EMOJI[v.state]} `), value(v.name), text(` · ${v.kind} · `), bold(STATE_WORD[v.state])),
    line(text('dir: '), value(v.dir)),
    line(
      text(
        `${counted(v.turns, 'turn')} · ${money(v.costUsd)} in all · ${money(v.spentTodayUsd)} ` +
          `today${tokens > 0 ? ` · ${tokens} tokens` : ''}`,
      ),
    ),
  ];
}

const failureBlocks = (v: SessionView, redact: Redact): Block[] =>
  v.failure ? [line(text('error: '), value(truncate(stripAnsi(redact(v.failure)), TOOL_SHOWN_MAX)))] : [];

/** The card's whole body: the head, the tool it is on, its error, and the end of its answer. */
function bodyBlocks(v: SessionView, redact: Redact): Block[] {
  const blocks = headBlocks(v);
  if (v.tool)
    blocks.push(line(text('tool: '), value(v.tool.name), text(' '), value(toolSummary(v.tool.input, redact))));
  blocks.push(...failureBlocks(v, redact));
  const lines = stripAnsi(redact(v.answerTail))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-CARD_LINES)
    .map((l) => truncate(l, LINE_MAX));
  blocks.push(pre(lines.length > 0 ? lines.join('\n') : '(no answer yet)'));
  return blocks;
}

/** The live card of one session; replying to it is the session's next prompt. */
export function statusCard(v: SessionView, redact: Redact): LiveCard {
  return {
    ...result(bodyBlocks(v, redact), {
      buttons: buttons(v),
      reply: { action: 'agent.prompt', params: { name: v.name, since: v.createdAt } },
    }),
    card: { key: cardKey(v.name), title: cardTitle(v), kind: 'item', about: { target: 'agents' } },
  };
}

/** The last version of the card of an ended session. */
export function endedCard(name: string): LiveCard {
  return {
    ...result([line(text('⚪ '), value(name), text(' · '), bold('ended'))]),
    card: { key: cardKey(name), title: `⚪ ${name}`, kind: 'item', final: true, about: { target: 'agents' } },
  };
}

export function listResult(views: readonly SessionView[]): Result {
  if (views.length === 0)
    return result([line(text('No agent sessions. /agent new <claude|codex> <name> [dir] [prompt…] starts one.'))]);
  const blocks: Block[] = [line(bold(`${counted(views.length, 'agent session')}`))];
  for (const v of views) {
    blocks.push(
      line(
        text(`${STATE_EMOJI[v.state]} `),
        value(v.name),
        text(` · ${v.kind} · `),
        value(v.dir),
        text(` · ${STATE_WORD[v.state]} · ${counted(v.turns, 'turn')} · ${money(v.spentTodayUsd)} today`),
      ),
    );
  }
  // One button per session, opening its live card.
  const rows = views
    .slice(0, LIST_BUTTONS)
    .map((v) => [{ label: `${STATE_EMOJI[v.state]} ${v.name}`, action: 'agent.show', params: { name: v.name } }]);
  return result(blocks, { buttons: rows });
}

const ALERT_HEAD: Readonly<Record<'done' | 'failed' | 'waiting', string>> = {
  done: 'finished its turn',
  failed: 'failed',
  waiting: 'asks to use a tool',
};

/** A new message (so the phone notifies) when a turn ends, fails, or waits for approval. */
export function agentAlert(v: SessionView, what: 'done' | 'failed' | 'waiting', redact: Redact): Alert {
  // Alert chats may be operators': the state and the error, not what the agent read or printed.
  const blocks = [...headBlocks(v), ...failureBlocks(v, redact)];
  blocks.splice(0, 1, line(text(`${STATE_EMOJI[v.state]} `), value(v.name), text(` ${ALERT_HEAD[what]}`)));
  return {
    source: 'agents',
    key: `agents:${v.name}:${what}`,
    result: result(blocks, {
      buttons: buttons(v),
      reply: { action: 'agent.prompt', params: { name: v.name, since: v.createdAt } },
    }),
  };
}
