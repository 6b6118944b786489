/**
 * Telegram's checks on what a bot sends: text and caption limits, entities, inline
 * keyboards, command lists. Stricter than Telegram where Telegram silently repairs input
 * (crossing entities), so that tests catch what the real server would mangle.
 */
import type { BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity } from 'grammy/types';
import { badRequest, isRecord } from './params.js';

export const MAX_TEXT = 4096;
export const MAX_CAPTION = 1024;
export const MAX_CALLBACK_DATA_BYTES = 64;

const ENTITY_TYPES = new Set([
  'mention',
  'hashtag',
  'cashtag',
  'bot_command',
  'url',
  'email',
  'phone_number',
  'bold',
  'italic',
  'underline',
  'strikethrough',
  'spoiler',
  'blockquote',
  'expandable_blockquote',
  'code',
  'pre',
  'text_link',
  'text_mention',
  'custom_emoji',
  'date_time',
]);
/** Entities whose content is shown verbatim, so nothing may be nested inside them. */
const LEAF_TYPES = new Set(['code', 'pre']);
const QUOTE_TYPES = new Set(['blockquote', 'expandable_blockquote']);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface FormattedText {
  readonly text: string;
  readonly entities: MessageEntity[];
}

/** The text of sendMessage / editMessageText, trimmed as Telegram stores it. */
export function checkText(text: unknown, entities: unknown): FormattedText {
  if (typeof text !== 'string') throw badRequest('message text is empty');
  const out = formatted(text, entities);
  if (out.text === '') throw badRequest('message text is empty');
  if (out.text.length > MAX_TEXT) throw badRequest('message is too long');
  return out;
}

/** A caption; an absent or blank caption is no caption. */
export function checkCaption(caption: unknown, entities: unknown): FormattedText | undefined {
  if (caption === undefined) return undefined;
  if (typeof caption !== 'string') throw badRequest('field "caption" must be of type String');
  const out = formatted(caption, entities);
  if (out.text.length > MAX_CAPTION) throw badRequest('message caption is too long');
  return out.text === '' ? undefined : out;
}

function formatted(text: string, entities: unknown): FormattedText {
  if (LONE_SURROGATE.test(text)) throw badRequest('text must be encoded in UTF-8');
  return trimFormatted(text, checkEntities(text, entities));
}

/** Validates entities against the text (offsets in UTF-16 code units) and sorts them. */
export function checkEntities(text: string, raw: unknown): MessageEntity[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw cantParse('entities must be an array');
  const list = raw.map((e: unknown, i) => checkEntity(text, e, i)).sort(entityOrder);
  const open: MessageEntity[] = [];
  for (const e of list) {
    while (open.length > 0 && end(open[open.length - 1] as MessageEntity) <= e.offset) open.pop();
    const outer = open[open.length - 1];
    if (outer !== undefined) {
      if (end(e) > end(outer)) throw cantParse(`${describe(e)} crosses ${describe(outer)}`);
      if (LEAF_TYPES.has(outer.type)) throw cantParse(`${describe(e)} is nested in ${describe(outer)}`);
      if (QUOTE_TYPES.has(e.type) && open.some((o) => QUOTE_TYPES.has(o.type))) {
        throw cantParse(`${describe(e)} is nested in another blockquote`);
      }
    }
    open.push(e);
  }
  return list;
}

function checkEntity(text: string, e: unknown, i: number): MessageEntity {
  if (!isRecord(e)) throw cantParse(`entity ${i} is not an object`);
  const { type, offset, length } = e;
  if (typeof type !== 'string' || !ENTITY_TYPES.has(type))
    throw cantParse(`entity ${i} has unsupported type ${JSON.stringify(type)}`);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length))
    throw cantParse(`entity ${i} needs integer offset and length`);
  const o = offset as number;
  const l = length as number;
  if (o < 0 || l < 1 || o + l > text.length) {
    throw cantParse(`entity ${i} (${type} at ${o}+${l}) is out of range of a text of ${text.length} UTF-16 units`);
  }
  if (splitsSurrogatePair(text, o) || splitsSurrogatePair(text, o + l))
    throw cantParse(`entity ${i} splits a surrogate pair`);
  const base = { offset: o, length: l };
  switch (type) {
    case 'text_link':
      if (typeof e.url !== 'string' || e.url === '') throw cantParse(`text_link entity ${i} needs a url`);
      return { type, ...base, url: e.url };
    case 'text_mention':
      if (!isRecord(e.user) || !Number.isSafeInteger(e.user.id))
        throw cantParse(`text_mention entity ${i} needs a user`);
      return { type, ...base, user: e.user as unknown as MessageEntity.TextMentionMessageEntity['user'] };
    case 'custom_emoji':
      if (typeof e.custom_emoji_id !== 'string') throw cantParse(`custom_emoji entity ${i} needs custom_emoji_id`);
      return { type, ...base, custom_emoji_id: e.custom_emoji_id };
    case 'pre':
      return typeof e.language === 'string' && e.language !== ''
        ? { type, ...base, language: e.language }
        : { type, ...base };
    case 'date_time':
      if (!Number.isSafeInteger(e.unix_time)) throw cantParse(`date_time entity ${i} needs unix_time`);
      return {
        type,
        ...base,
        unix_time: e.unix_time as number,
        date_time_format: (typeof e.date_time_format === 'string'
          ? e.date_time_format
          : 'r') as MessageEntity.DateTimeMessageEntity['date_time_format'],
      };
    default:
      return { type: type as MessageEntity.CommonMessageEntity['type'], ...base };
  }
}

const end = (e: MessageEntity): number => e.offset + e.length;
const describe = (e: MessageEntity): string => `${e.type} at ${e.offset}+${e.length}`;
const cantParse = (why: string) => badRequest(`can't parse entities: ${why}`);

/** Outer entities first; on an identical range, code and pre are innermost. */
function entityOrder(a: MessageEntity, b: MessageEntity): number {
  return a.offset - b.offset || b.length - a.length || Number(LEAF_TYPES.has(a.type)) - Number(LEAF_TYPES.has(b.type));
}

function splitsSurrogatePair(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length) return false;
  const before = text.charCodeAt(at - 1);
  const after = text.charCodeAt(at);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** Telegram strips leading and trailing whitespace; entities are clipped to what is left. */
export function trimFormatted(text: string, entities: MessageEntity[]): FormattedText {
  let start = 0;
  let stop = text.length;
  while (start < stop && /\s/.test(text[start] as string)) start++;
  while (stop > start && /\s/.test(text[stop - 1] as string)) stop--;
  if (start === 0 && stop === text.length) return { text, entities };
  const clipped: MessageEntity[] = [];
  for (const e of entities) {
    const s = Math.max(e.offset, start);
    const t = Math.min(end(e), stop);
    if (t > s) clipped.push({ ...e, offset: s - start, length: t - s });
  }
  return { text: text.slice(start, stop), entities: clipped };
}

export type ReplyMarkup =
  | { readonly kind: 'inline'; readonly markup: InlineKeyboardMarkup }
  | { readonly kind: 'keyboard'; readonly markup: Record<string, unknown> };

const BUTTON_ACTIONS = [
  'callback_data',
  'url',
  'login_url',
  'switch_inline_query',
  'switch_inline_query_current_chat',
  'switch_inline_query_chosen_chat',
  'copy_text',
  'callback_game',
  'pay',
  'web_app',
] as const;
const MAX_BUTTONS = 100;

/**
 * reply_markup of a send or edit. An empty inline keyboard means "no keyboard", as in
 * Telegram. Edits accept only inline keyboards.
 */
export function checkReplyMarkup(raw: unknown, inlineOnly: boolean): ReplyMarkup | undefined {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) throw badRequest("can't parse reply keyboard markup JSON object");
  if ('inline_keyboard' in raw) {
    const rows = raw.inline_keyboard;
    if (!Array.isArray(rows)) throw badRequest("can't parse inline keyboard button: rows must be an array");
    const checked = rows.map((row: unknown) => {
      if (!Array.isArray(row)) throw badRequest("can't parse inline keyboard button: each row must be an array");
      return row.map(checkButton);
    });
    const count = checked.reduce((n, row) => n + row.length, 0);
    if (count > MAX_BUTTONS) throw badRequest('reply markup is too long');
    return count === 0 ? undefined : { kind: 'inline', markup: { inline_keyboard: checked } };
  }
  if (inlineOnly) throw badRequest('inline keyboard expected');
  if (Array.isArray(raw.keyboard) || raw.remove_keyboard === true || raw.force_reply === true) {
    return { kind: 'keyboard', markup: raw };
  }
  throw badRequest("can't parse reply keyboard markup JSON object");
}

function checkButton(b: unknown): InlineKeyboardButton {
  if (!isRecord(b)) throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an object");
  if (typeof b.text !== 'string' || b.text.trim() === '') throw badRequest('BUTTON_TEXT_INVALID');
  const actions = BUTTON_ACTIONS.filter((k) => b[k] !== undefined);
  if (actions.length === 0) {
    throw badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
  }
  if (actions.length > 1)
    throw badRequest(`can't parse inline keyboard button: more than one of ${actions.join(', ')}`);
  if (b.callback_data !== undefined) {
    const bytes = typeof b.callback_data === 'string' ? Buffer.byteLength(b.callback_data, 'utf8') : 0;
    if (bytes < 1 || bytes > MAX_CALLBACK_DATA_BYTES) throw badRequest('BUTTON_DATA_INVALID');
  }
  if (b.url !== undefined && !validButtonUrl(b.url)) throw badRequest('BUTTON_URL_INVALID');
  return b as unknown as InlineKeyboardButton;
}

function validButtonUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  try {
    return ['http:', 'https:', 'tg:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

const COMMAND = /^[a-z0-9_]{1,32}$/;

export function checkCommands(raw: unknown): BotCommand[] {
  if (!Array.isArray(raw)) throw badRequest("can't parse commands JSON object");
  if (raw.length > 100) throw badRequest('too many commands');
  return raw.map((c: unknown): BotCommand => {
    if (!isRecord(c) || typeof c.command !== 'string' || !COMMAND.test(c.command))
      throw badRequest('BOT_COMMAND_INVALID');
    const d = c.description;
    if (typeof d !== 'string' || d.trim() === '' || d.length > 256) throw badRequest('BOT_COMMAND_DESCRIPTION_INVALID');
    return { command: c.command, description: d };
  });
}

/** JSON with sorted keys, for "is it the same?" comparisons. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    isRecord(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
