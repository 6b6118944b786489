/**
 * Renders a transport-neutral Result as Telegram messages: plain text plus entities, never
 * parse_mode, so nothing in the text can be read as markup.
 *
 * Telegram auto-detects URLs, @mentions, #hashtags, /commands, e-mail addresses and phone
 * numbers in plain text even when no entity is sent, but not inside `code` and `pre`
 * entities. That is why only `text` and `bold` spans (strings written by this program) are
 * sent as plain text, and every `value` span and `pre` block (untrusted: names, log lines,
 * terminal output) is covered by a `code` or `pre` entity, in every part of a split message.
 */
import type { MessageEntity } from 'grammy/types';
import type { Block, Result } from '../../core/result.js';

/** Telegram's limit for a message, in UTF-16 code units. */
export const TELEGRAM_TEXT_LIMIT = 4096;
/** Where messages are split: below the limit, leaving room for a caller's prefix. */
export const SPLIT_AT = 4000;
const PREVIEW_AT = 1000;
export const NO_OUTPUT = '(no output)';
/** Said only under a preview whose document has been sent (just above it). */
export const OVERFLOW_NOTE = '… full output in the document above';
/** Said under a preview when the document could not be sent. */
export const CUT_NOTE = '… cut here: the full output could not be sent as a document';

export interface TelegramText {
  text: string;
  entities: MessageEntity[];
}

export type Rendered = { messages: TelegramText[] } | { overflow: true; preview: TelegramText; documentText: string };

/** A preview with a note under it. */
export const withNote = (t: TelegramText, note: string): TelegramText => ({
  text: `${t.text}\n${note}`,
  entities: t.entities,
});

type Style = 'bold' | 'code' | 'pre';

/** Lone surrogates become U+FFFD, so a span boundary never falls inside a character. */
const wellFormed = (s: string): string => s.replace(/\p{Cs}/gu, '\uFFFD');

/** The whole result as one text: blocks joined by newlines, each span redacted first. */
export function toTelegramText(blocks: readonly Block[], redact: (s: string) => string): TelegramText {
  let text = '';
  const entities: MessageEntity[] = [];
  const add = (s: string, style?: Style): void => {
    const t = wellFormed(redact(s));
    if (style !== undefined && t.length > 0) entities.push({ type: style, offset: text.length, length: t.length });
    text += t;
  };
  blocks.forEach((b, i) => {
    if (i > 0) text += '\n';
    if (b.kind === 'pre') add(b.text, 'pre');
    else for (const s of b.spans) add(s.text, s.kind === 'text' ? undefined : s.kind === 'bold' ? 'bold' : 'code');
  });
  return { text, entities };
}

const isBlank = (s: string): boolean => !/\S/.test(s);
const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

export interface Range {
  start: number;
  end: number;
}

/**
 * The ranges of `text` that become separate messages, each at most `limit` UTF-16 units and
 * not blank. A part ends, in order of preference, before a newline (which is dropped), after
 * a space or tab, or at the limit (never between the two halves of a surrogate pair); a cut
 * is only taken in the second half of the window, so parts stay large. Blank parts are
 * dropped: whatever lies between two ranges (or before the first, or after the last) is
 * whitespace only.
 */
export function cutPoints(text: string, limit: number): Range[] {
  if (!Number.isInteger(limit) || limit < 2) throw new RangeError(`limit must be an integer >= 2, got ${limit}`);
  const ranges: Range[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.length;
    let next = end;
    if (text.length - pos > limit) {
      const half = pos + limit / 2;
      const nl = text.lastIndexOf('\n', pos + limit);
      const blank = Math.max(text.lastIndexOf(' ', pos + limit - 1), text.lastIndexOf('\t', pos + limit - 1));
      if (nl > half) {
        end = nl;
        next = nl + 1;
      } else if (blank > half) {
        end = next = blank + 1;
      } else {
        end = next = isHigh(text.charCodeAt(pos + limit - 1)) ? pos + limit - 1 : pos + limit;
      }
    }
    if (!isBlank(text.slice(pos, end))) ranges.push({ start: pos, end });
    pos = next;
  }
  return ranges;
}

/** Cuts a text into parts; an entity cut by a split is clipped and continues in the next part. */
export function splitText(t: TelegramText, limit: number = SPLIT_AT): TelegramText[] {
  return cutPoints(t.text, limit).map(({ start, end }) => ({
    text: t.text.slice(start, end),
    entities: t.entities.flatMap((e) => {
      const from = Math.max(e.offset, start);
      const to = Math.min(e.offset + e.length, end);
      return to > from ? [{ ...e, offset: from - start, length: to - from }] : [];
    }),
  }));
}

/** The first message's worth of a text; when more is left it ends with "…", and claims nothing more. */
export function firstPart(t: TelegramText): TelegramText {
  const parts = splitText(t);
  const first = parts[0];
  if (!first) return { text: NO_OUTPUT, entities: [] };
  return parts.length > 1 ? { text: `${first.text}\n…`, entities: first.entities } : first;
}

/** Plain text cut the same way, e.g. for captions. */
export function splitPlain(text: string, limit: number): string[] {
  return cutPoints(text, limit).map(({ start, end }) => text.slice(start, end));
}

/**
 * One to `maxMessages` messages, or, when more would be needed, a short preview (the first
 * lines, still with their entities) and the whole plain text to send as a document. The
 * preview carries no note: the sender adds OVERFLOW_NOTE once the document is sent, or
 * CUT_NOTE when it could not be.
 */
export function renderResult(
  result: Pick<Result, 'blocks'>,
  redact: (s: string) => string,
  opts: { maxMessages?: number } = {},
): Rendered {
  const whole = toTelegramText(result.blocks, redact);
  if (isBlank(whole.text)) return { messages: [{ text: NO_OUTPUT, entities: [] }] };
  const messages = splitText(whole);
  if (messages.length <= (opts.maxMessages ?? 3)) return { messages };
  const head = splitText(whole, PREVIEW_AT)[0]!;
  return { overflow: true, preview: head, documentText: whole.text };
}
