import { Readable } from 'node:stream';
import { GrammyError, InputFile, type Api } from 'grammy';
import type { InlineKeyboardButton, InlineKeyboardMarkup, Message } from 'grammy/types';
import type { ApprovalCard } from '../../core/approvals.js';
import type { Redactor } from '../../core/redact.js';
import type { Button, Result } from '../../core/result.js';
import type { ButtonRef, ButtonRepo } from '../../store/buttons.js';
import type { ReplyRepo } from '../../store/telegram.js';
import { encodeCallback } from './callback-data.js';
import {
  CUT_NOTE,
  firstPart,
  OVERFLOW_NOTE,
  renderResult,
  TELEGRAM_TEXT_LIMIT,
  toTelegramText,
  withNote,
  type TelegramText,
} from './format.js';

export interface Where {
  readonly chatId: number;
  /** Forum topic to post in. */
  readonly threadId?: number;
  readonly replyTo?: number;
}

/** Where a sent card lives, stored with the approval so it can be edited after a restart. */
export interface CardRef {
  readonly chatId: number;
  readonly messageId: number;
  /** Its parameters went as a document before it: the message is the card's brief form. */
  readonly document?: true;
}

/**
 * An approval card goes as one message only when it fits with room to spare: its later
 * versions (who decided, what came of it) are longer, and must fit in the same message.
 */
const CARD_INLINE_MAX = TELEGRAM_TEXT_LIMIT - 500;

/** Turns transport-neutral results into Telegram messages, keyboards and documents. */
export class Replier {
  constructor(
    readonly api: Api,
    private readonly buttons: ButtonRepo,
    private readonly redactor: Redactor,
    private readonly replies?: ReplyRepo,
  ) {}

  /** Sends a result; when it says what a reply to it does, that is remembered for each part. */
  async send(where: Where, result: Result): Promise<Message[]> {
    const sent = await this.sendParts(where, result);
    if (result.reply) for (const m of sent) this.remember(m, result);
    return sent;
  }

  /** A reply to this message will run the result's reply target. */
  remember(msg: Pick<Message, 'chat' | 'message_id'>, result: Result): void {
    if (result.reply) this.replies?.put(msg.chat.id, msg.message_id, result.reply);
  }

  private async sendParts(where: Where, result: Result): Promise<Message[]> {
    const rendered = renderResult(result, this.redactor.redact);
    const keyboard = result.buttons?.length ? this.storedKeyboard(where.chatId, result.buttons) : undefined;
    const sent: Message[] = [];
    if ('overflow' in rendered) {
      // The document first: the note under the preview points at it only once it is there.
      let note = OVERFLOW_NOTE;
      try {
        sent.push(await this.sendDocument(where, 'output.txt', rendered.documentText));
      } catch {
        note = CUT_NOTE;
      }
      sent.push(await this.sendText(where, withNote(rendered.preview, note), keyboard));
    } else {
      const parts = rendered.messages;
      for (let i = 0; i < parts.length; i++) {
        sent.push(await this.sendText(where, parts[i]!, i === parts.length - 1 ? keyboard : undefined));
      }
    }
    if (result.attachment)
      sent.push(await this.sendDocument(where, result.attachment.filename, result.attachment.content));
    return sent;
  }

  /**
   * An approval card with Approve / Deny, bound to the approval's id and request hash. The
   * card is shown in full: when it does not fit in one message, its parameters go first as
   * a document, and the card (in brief, naming that document) follows with the buttons. It
   * throws when any of it could not be sent: the approval must then not be offered.
   */
  async sendCard(where: Where, card: ApprovalCard, approval: { id: string; token: string }): Promise<CardRef> {
    const whole = toTelegramText(card.blocks, this.redactor.redact);
    if (whole.text.length <= CARD_INLINE_MAX) {
      const msg = await this.sendText(where, whole, approvalKeyboard(approval));
      return { chatId: msg.chat.id, messageId: msg.message_id };
    }
    const brief = toTelegramText(card.brief.blocks, this.redactor.redact);
    if (brief.text.length > CARD_INLINE_MAX)
      throw new Error('the approval card does not fit in a message even without its parameters');
    const doc = await this.sendDocument(where, card.document.filename, card.document.content);
    const msg = await this.sendText({ ...where, replyTo: doc.message_id }, brief, approvalKeyboard(approval));
    return { chatId: msg.chat.id, messageId: msg.message_id, document: true };
  }

  /**
   * A later version of an approval card, in the form it was sent in; its buttons only while
   * `open` (an approval still awaiting its second operator), none once decided.
   */
  async editCard(ref: CardRef, card: ApprovalCard, open?: { id: string; token: string }): Promise<void> {
    await this.editText(
      ref,
      firstPart(toTelegramText((ref.document ? card.brief : card).blocks, this.redactor.redact)),
      open && approvalKeyboard(open),
    );
  }

  /** The one message of a live card: its first 4000 characters when it is longer. */
  renderCard(card: Result): TelegramText {
    return firstPart(toTelegramText(card.blocks, this.redactor.redact));
  }

  /** Edits a message's text and keyboard; false when Telegram says nothing changed. */
  async editText(ref: CardRef, t: TelegramText, keyboard?: InlineKeyboardMarkup): Promise<boolean> {
    try {
      await this.api.editMessageText(ref.chatId, ref.messageId, t.text, {
        entities: t.entities,
        link_preview_options: { is_disabled: true },
        reply_markup: keyboard ?? { inline_keyboard: [] },
      });
      return true;
    } catch (err) {
      if (isNotModified(err)) return false;
      throw err;
    }
  }

  sendText(where: Where, t: TelegramText, keyboard?: InlineKeyboardMarkup): Promise<Message> {
    return this.api.sendMessage(where.chatId, t.text, {
      entities: t.entities,
      link_preview_options: { is_disabled: true },
      ...(where.threadId !== undefined ? { message_thread_id: where.threadId } : {}),
      ...(where.replyTo !== undefined
        ? { reply_parameters: { message_id: where.replyTo, allow_sending_without_reply: true } }
        : {}),
      ...(keyboard ? { reply_markup: keyboard } : {}),
    });
  }

  /** Streams the content through the redactor into the upload: never whole in memory. */
  private sendDocument(
    where: Where,
    filename: string,
    content: string | Buffer | AsyncIterable<Buffer | string>,
  ): Promise<Message> {
    const source =
      typeof content === 'string' || Buffer.isBuffer(content)
        ? Readable.from([content])
        : Readable.from(coalesce(content));
    const redacted = source.pipe(this.redactor.lineStream());
    return this.api.sendDocument(where.chatId, new InputFile(redacted, safeFilename(filename)), {
      ...(where.threadId !== undefined ? { message_thread_id: where.threadId } : {}),
    });
  }

  /**
   * The keyboard, or none when its buttons cannot be stored (a full or read-only state
   * directory): a read still answers, without buttons that could not work.
   */
  private storedKeyboard(chatId: number, rows: readonly (readonly Button[])[]): InlineKeyboardMarkup | undefined {
    let refs: ButtonRef[];
    try {
      refs = this.store(chatId, rows);
    } catch {
      return undefined;
    }
    return this.markup(rows, refs);
  }

  /** Stores each button (its id goes in the callback data) and builds the keyboard. */
  keyboard(chatId: number, rows: readonly (readonly Button[])[]): InlineKeyboardMarkup {
    return this.markup(rows, this.store(chatId, rows));
  }

  private store(chatId: number, rows: readonly (readonly Button[])[]): ButtonRef[] {
    return this.buttons.putAll(
      chatId,
      rows.flat().map((b) => ({ action: b.action, params: { ...b.params } })),
    );
  }

  private markup(rows: readonly (readonly Button[])[], refs: readonly ButtonRef[]): InlineKeyboardMarkup {
    // Most labels repeat ("🔄 Restart" on every row): each distinct one is redacted once.
    const labels = new Map<string, string>();
    const label = (raw: string): string => {
      let text = labels.get(raw);
      if (text === undefined) labels.set(raw, (text = this.redactor.redact(raw).slice(0, 64)));
      return text;
    };
    let i = 0;
    return {
      inline_keyboard: rows.map((row) =>
        row.map((b): InlineKeyboardButton => {
          const ref = refs[i++]!;
          return { text: label(b.label), callback_data: encodeCallback({ kind: 'button', ref }) };
        }),
      ),
    };
  }
}

function approvalKeyboard(a: { id: string; token: string }): InlineKeyboardMarkup {
  const data = (decision: 'approve' | 'deny') =>
    encodeCallback({ kind: 'approval', id: a.id, token: a.token, decision });
  return {
    inline_keyboard: [
      [
        { text: '✅ Approve', callback_data: data('approve') },
        { text: '❌ Deny', callback_data: data('deny') },
      ],
    ],
  };
}

/**
 * Log sources yield a line at a time; gathering them into larger chunks turns thousands of
 * tiny redactor passes and socket writes into a few (memory stays bounded by `min`).
 */
async function* coalesce(source: AsyncIterable<Buffer | string>, min = 64 * 1024): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    parts.push(b);
    size += b.length;
    if (size >= min) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}

/** File names come from container and session names: keep them plain. */
const safeFilename = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'output.txt';

const badRequest = (err: unknown, re: RegExp): boolean =>
  err instanceof GrammyError && err.error_code === 400 && re.test(err.description);

/** The edit changed nothing (same text and keyboard, or the same topic name): as good as done. */
export const isNotModified = (err: unknown): boolean => badRequest(err, /message is not modified|TOPIC_NOT_MODIFIED/i);

/** The message is gone (deleted by someone) or can no longer be edited: post a new one. */
export const isMessageGone = (err: unknown): boolean =>
  badRequest(err, /message to edit not found|MESSAGE_ID_INVALID|message can't be edited/i);

/** The forum topic is gone or closed: recreate it, or write outside it. */
export const isThreadGone = (err: unknown): boolean =>
  badRequest(err, /message thread not found|TOPIC_CLOSED|TOPIC_DELETED|TOPIC_ID_INVALID/i);

/** The bot may not write to the chat any more (removed, blocked) or the chat is gone. */
export const isChatGone = (err: unknown): boolean =>
  (err instanceof GrammyError && err.error_code === 403) ||
  badRequest(err, /chat not found|CHAT_WRITE_FORBIDDEN|not enough rights to send/i);
