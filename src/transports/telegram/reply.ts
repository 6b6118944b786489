import { Readable } from 'node:stream';
import { InputFile, type Api } from 'grammy';
import type { InlineKeyboardButton, InlineKeyboardMarkup, Message } from 'grammy/types';
import type { Redactor } from '../../core/redact.js';
import type { Button, Result } from '../../core/result.js';
import type { ButtonRepo } from '../../store/buttons.js';
import { renderResult, type TelegramText } from './format.js';

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
}

export const APPROVAL_PREFIX = 'a';
export const BUTTON_PREFIX = 'b';

/** Turns transport-neutral results into Telegram messages, keyboards and documents. */
export class Replier {
  constructor(
    private readonly api: Api,
    private readonly buttons: ButtonRepo,
    private readonly redactor: Redactor,
  ) {}

  async send(where: Where, result: Result): Promise<Message[]> {
    const rendered = renderResult(result, this.redactor.redact);
    const keyboard = result.buttons?.length ? this.keyboard(where.chatId, result.buttons) : undefined;
    const sent: Message[] = [];
    if ('overflow' in rendered) {
      sent.push(await this.sendText(where, rendered.preview, keyboard));
      sent.push(await this.sendDocument(where, 'output.txt', rendered.documentText));
    } else {
      const parts = rendered.messages;
      for (let i = 0; i < parts.length; i++) {
        sent.push(await this.sendText(where, parts[i]!, i === parts.length - 1 ? keyboard : undefined));
      }
    }
    if (result.attachment) sent.push(await this.sendDocument(where, result.attachment.filename, result.attachment.content));
    return sent;
  }

  /** An approval card with Approve / Deny, bound to the approval's id and request hash. */
  async sendCard(where: Where, card: Result, approval: { id: string; token: string }): Promise<Message> {
    const rendered = renderResult(card, this.redactor.redact, { maxMessages: 1 });
    const text = 'overflow' in rendered ? rendered.preview : rendered.messages[0]!;
    return this.sendText(where, text, approvalKeyboard(approval));
  }

  async editCard(ref: CardRef, card: Result, approval?: { id: string; token: string }): Promise<void> {
    const rendered = renderResult(card, this.redactor.redact, { maxMessages: 1 });
    const t = 'overflow' in rendered ? rendered.preview : rendered.messages[0]!;
    await this.api.editMessageText(ref.chatId, ref.messageId, t.text, {
      entities: t.entities,
      link_preview_options: { is_disabled: true },
      reply_markup: approval ? approvalKeyboard(approval) : { inline_keyboard: [] },
    });
  }

  private sendText(where: Where, t: TelegramText, keyboard?: InlineKeyboardMarkup): Promise<Message> {
    return this.api.sendMessage(where.chatId, t.text, {
      entities: t.entities,
      link_preview_options: { is_disabled: true },
      ...(where.threadId !== undefined ? { message_thread_id: where.threadId } : {}),
      ...(where.replyTo !== undefined ? { reply_parameters: { message_id: where.replyTo, allow_sending_without_reply: true } } : {}),
      ...(keyboard ? { reply_markup: keyboard } : {}),
    });
  }

  /** Streams the content through the redactor into the upload: never whole in memory. */
  private sendDocument(where: Where, filename: string, content: string | Buffer | AsyncIterable<Buffer | string>): Promise<Message> {
    const source = typeof content === 'string' || Buffer.isBuffer(content) ? Readable.from([content]) : Readable.from(content);
    const redacted = source.pipe(this.redactor.lineStream());
    return this.api.sendDocument(where.chatId, new InputFile(redacted, safeFilename(filename)), {
      ...(where.threadId !== undefined ? { message_thread_id: where.threadId } : {}),
    });
  }

  private keyboard(chatId: number, rows: readonly (readonly Button[])[]): InlineKeyboardMarkup {
    const now = Date.now();
    return {
      inline_keyboard: rows.map((row) =>
        row.map(
          (b): InlineKeyboardButton => ({
            text: this.redactor.redact(b.label).slice(0, 64),
            callback_data: `${BUTTON_PREFIX}:${this.buttons.put({ chatId, action: b.action, params: { ...b.params } }, now)}`,
          }),
        ),
      ),
    };
  }
}

function approvalKeyboard(a: { id: string; token: string }): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [
        { text: '✅ Approve', callback_data: `${APPROVAL_PREFIX}:${a.id}:${a.token}:y` },
        { text: '❌ Deny', callback_data: `${APPROVAL_PREFIX}:${a.id}:${a.token}:n` },
      ],
    ],
  };
}

/** File names come from container and session names: keep them plain. */
const safeFilename = (name: string): string => name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'output.txt';
