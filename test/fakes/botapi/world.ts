/**
 * The state behind the fake Bot API: users, chats, the messages in each chat (with their
 * edit history), documents, forum topics, callback queries and the bot's commands.
 * Method handlers (methods.ts) and the test-side API (../botapi.ts) both work on it.
 */
import type {
  BotCommand,
  Chat,
  Document,
  ForumTopic,
  InlineKeyboardMarkup,
  Message,
  MessageEntity,
  User,
  UserFromGetMe,
} from 'grammy/types';
import { badRequest } from './params.js';

export interface FakeUser {
  readonly id: number;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly username?: string;
  readonly languageCode?: string;
  readonly isBot?: boolean;
}
/** A user id, or a user with details. */
export type UserRef = number | FakeUser;

export interface ChatInput {
  readonly id: number;
  readonly type: 'private' | 'group' | 'supergroup';
  readonly isForum?: boolean;
  readonly title?: string;
  readonly username?: string;
}

/** A previous version of an edited message. */
export interface MessageVersion {
  readonly text?: string;
  readonly caption?: string;
  readonly entities: readonly MessageEntity[];
  readonly reply_markup?: InlineKeyboardMarkup;
  /** When it was replaced (ms). */
  readonly replaced_at: number;
}

export interface StoredDocument {
  readonly chat_id: number;
  readonly message_id: number;
  readonly file_id: string;
  readonly file_unique_id: string;
  readonly file_name: string;
  readonly mime_type: string;
  readonly bytes: Buffer;
  readonly caption?: string;
}

export interface StoredMessage {
  readonly chat_id: number;
  readonly message_id: number;
  /** Who wrote it: the bot (through the API), a user (through the test API), or Telegram (service messages). */
  readonly sender: 'bot' | 'user' | 'service';
  readonly date: number;
  text?: string;
  caption?: string;
  /** Entities of the text, or of the caption. */
  entities: MessageEntity[];
  reply_markup?: InlineKeyboardMarkup;
  /** A reply keyboard, keyboard removal or force-reply sent with the message. */
  keyboard?: Record<string, unknown>;
  readonly message_thread_id?: number;
  /** message_id of the message this one replies to. */
  readonly reply_to?: number;
  readonly document?: StoredDocument;
  /** A photo a user sent (one size). */
  readonly photo?: StoredDocument;
  /** Earlier versions, oldest first. */
  readonly history: MessageVersion[];
  edit_date?: number;
  deleted: boolean;
  /** The message as the Bot API returns it now. */
  raw: Message;
}

export interface TopicRecord {
  readonly message_thread_id: number;
  name: string;
  readonly icon_color: number;
  icon_custom_emoji_id?: string;
  closed: boolean;
}

export interface CallbackAnswer {
  readonly callback_query_id: string;
  readonly text?: string;
  readonly show_alert: boolean;
  readonly url?: string;
  readonly cache_time?: number;
  readonly at: number;
}

export interface ChatActionRecord {
  readonly chat_id: number;
  readonly action: string;
  readonly message_thread_id?: number;
  readonly at: number;
}

export interface ChatState {
  readonly chat: Chat;
  nextMessageId: number;
  readonly byId: Map<number, StoredMessage>;
  /** In message_id order. */
  readonly list: StoredMessage[];
  readonly topics: Map<number, TopicRecord>;
  readonly documents: StoredDocument[];
}

export interface NewMessage {
  readonly sender: StoredMessage['sender'];
  readonly from?: User;
  readonly text?: string;
  readonly caption?: string;
  readonly entities?: MessageEntity[];
  readonly reply_markup?: InlineKeyboardMarkup;
  readonly keyboard?: Record<string, unknown>;
  readonly message_thread_id?: number;
  readonly reply_to?: number;
  readonly document?: Omit<StoredDocument, 'chat_id' | 'message_id' | 'file_id' | 'file_unique_id' | 'caption'>;
  /** The bytes of a photo (a user's). */
  readonly photo?: Buffer;
  /** Extra wire fields (forward_origin, forum_topic_created…). */
  readonly extra?: Partial<Message>;
}

export const unixNow = (): number => Math.floor(Date.now() / 1000);

export class World {
  readonly bot: UserFromGetMe;
  private readonly chats = new Map<number, ChatState>();
  private readonly users = new Map<number, User>();
  private readonly chatsByUsername = new Map<string, number>();
  private readonly files = new Map<string, StoredDocument>();
  /** Callback queries sent to the bot; `answered` once answerCallbackQuery succeeded. */
  readonly callbackQueries = new Map<string, { answered: boolean }>();
  readonly callbackAnswers: CallbackAnswer[] = [];
  readonly chatActions: ChatActionRecord[] = [];
  /** Command lists by scope and language. */
  readonly commandSets = new Map<string, BotCommand[]>();
  /** The list of the last successful setMyCommands, whatever its scope. */
  lastCommands: BotCommand[] | undefined;
  private serial = 0;

  constructor(bot: UserFromGetMe) {
    this.bot = bot;
  }

  nextSerial(): number {
    return ++this.serial;
  }

  user(ref: UserRef): User {
    const input: FakeUser = typeof ref === 'number' ? { id: ref } : ref;
    if (!Number.isSafeInteger(input.id) || input.id <= 0)
      throw new Error(`fake Bot API: user id must be a positive integer, got ${input.id}`);
    const known = this.users.get(input.id);
    if (known !== undefined && typeof ref === 'number') return known;
    const user: User = {
      id: input.id,
      is_bot: input.isBot ?? false,
      first_name: input.firstName ?? known?.first_name ?? `User${input.id}`,
      ...(input.lastName !== undefined ? { last_name: input.lastName } : {}),
      ...(input.username !== undefined ? { username: input.username } : {}),
      ...(input.languageCode !== undefined ? { language_code: input.languageCode } : {}),
    };
    this.users.set(user.id, user);
    return user;
  }

  createChat(input: ChatInput): Chat {
    if (this.chats.has(input.id)) throw new Error(`fake Bot API: chat ${input.id} already exists`);
    let chat: Chat;
    if (input.type === 'private') {
      if (input.id <= 0) throw new Error('fake Bot API: a private chat id is the (positive) user id');
      const user = this.user(input.id);
      chat = {
        id: input.id,
        type: 'private',
        first_name: user.first_name,
        ...(user.username ? { username: user.username } : {}),
      };
    } else {
      if (input.id >= 0) throw new Error('fake Bot API: group and supergroup ids are negative');
      if (input.isForum === true && input.type !== 'supergroup')
        throw new Error('fake Bot API: only supergroups can be forums');
      const title = input.title ?? `Chat ${input.id}`;
      chat =
        input.type === 'group'
          ? { id: input.id, type: 'group', title }
          : {
              id: input.id,
              type: 'supergroup',
              title,
              ...(input.username !== undefined ? { username: input.username } : {}),
              ...(input.isForum === true ? { is_forum: true as const } : {}),
            };
    }
    if (input.username !== undefined) this.chatsByUsername.set(input.username.toLowerCase(), input.id);
    this.chats.set(input.id, { chat, nextMessageId: 1, byId: new Map(), list: [], topics: new Map(), documents: [] });
    return chat;
  }

  chat(id: number): ChatState | undefined {
    return this.chats.get(id);
  }

  /** The private chat of a user with the bot, created on first use. */
  privateChat(userId: number): ChatState {
    const known = this.chats.get(userId);
    if (known !== undefined) return known;
    this.createChat({ id: userId, type: 'private' });
    return this.chats.get(userId) as ChatState;
  }

  /** The chat a method's chat_id names; users' private chats exist once the user is known. */
  resolveChat(chatId: number | string | undefined): ChatState {
    if (chatId === undefined || chatId === '') throw badRequest('chat_id is empty');
    let id: number | undefined;
    if (typeof chatId === 'number') id = chatId;
    else if (chatId.startsWith('@')) id = this.chatsByUsername.get(chatId.slice(1).toLowerCase());
    else if (/^-?\d+$/.test(chatId)) id = Number(chatId);
    const state =
      id === undefined
        ? undefined
        : (this.chats.get(id) ?? (id > 0 && this.users.has(id) ? this.privateChat(id) : undefined));
    if (state === undefined) throw badRequest('chat not found');
    return state;
  }

  addMessage(state: ChatState, m: NewMessage): StoredMessage {
    const message_id = state.nextMessageId++;
    let document: StoredDocument | undefined;
    if (m.document !== undefined) {
      const n = this.nextSerial();
      document = {
        ...m.document,
        chat_id: state.chat.id,
        message_id,
        file_id: `BQACAgIAAxkBAAI${n.toString(36).padStart(6, '0')}fake`,
        file_unique_id: `AgAD${n.toString(36).padStart(6, '0')}`,
        ...(m.caption !== undefined ? { caption: m.caption } : {}),
      };
      this.files.set(document.file_id, document);
      state.documents.push(document);
    }
    let photo: StoredDocument | undefined;
    if (m.photo !== undefined) {
      const n = this.nextSerial();
      photo = {
        chat_id: state.chat.id,
        message_id,
        file_id: `AgACAgIAAxkBAAI${n.toString(36).padStart(6, '0')}fake`,
        file_unique_id: `AQAD${n.toString(36).padStart(6, '0')}`,
        file_name: 'photo.jpg',
        mime_type: 'image/jpeg',
        bytes: m.photo,
      };
      this.files.set(photo.file_id, photo);
    }
    const stored: StoredMessage = {
      chat_id: state.chat.id,
      message_id,
      sender: m.sender,
      date: unixNow(),
      entities: m.entities ?? [],
      history: [],
      deleted: false,
      raw: { message_id, date: 0, chat: state.chat },
      ...(m.text !== undefined ? { text: m.text } : {}),
      ...(m.caption !== undefined ? { caption: m.caption } : {}),
      ...(m.reply_markup !== undefined ? { reply_markup: m.reply_markup } : {}),
      ...(m.keyboard !== undefined ? { keyboard: m.keyboard } : {}),
      ...(m.message_thread_id !== undefined ? { message_thread_id: m.message_thread_id } : {}),
      ...(m.reply_to !== undefined ? { reply_to: m.reply_to } : {}),
      ...(document !== undefined ? { document } : {}),
      ...(photo !== undefined ? { photo } : {}),
    };
    stored.raw = this.toRaw(state, stored, m.from, m.extra);
    state.byId.set(message_id, stored);
    state.list.push(stored);
    return stored;
  }

  /** Replaces text/caption, entities and keyboard of a message, keeping the old version. */
  edit(
    state: ChatState,
    msg: StoredMessage,
    next: Pick<StoredMessage, 'text' | 'caption' | 'entities' | 'reply_markup'>,
  ): void {
    msg.history.push({
      entities: msg.entities,
      replaced_at: Date.now(),
      ...(msg.text !== undefined ? { text: msg.text } : {}),
      ...(msg.caption !== undefined ? { caption: msg.caption } : {}),
      ...(msg.reply_markup !== undefined ? { reply_markup: msg.reply_markup } : {}),
    });
    if (next.text !== undefined) msg.text = next.text;
    if (msg.document !== undefined) msg.caption = next.caption;
    msg.entities = next.entities;
    msg.reply_markup = next.reply_markup;
    msg.edit_date = unixNow();
    msg.raw = this.toRaw(state, msg, msg.raw.from, {});
  }

  document(fileId: string): StoredDocument | undefined {
    return this.files.get(fileId);
  }

  /** The message as the Bot API would return it. */
  private toRaw(
    state: ChatState,
    m: StoredMessage,
    from: User | undefined,
    extra: Partial<Message> | undefined,
  ): Message {
    const sender = from ?? (m.sender === 'bot' || m.sender === 'service' ? this.bot : undefined);
    const raw: Message = {
      message_id: m.message_id,
      date: m.date,
      chat: state.chat,
      ...(sender ? { from: sender } : {}),
    };
    if (m.message_thread_id !== undefined) {
      raw.message_thread_id = m.message_thread_id;
      raw.is_topic_message = true;
    }
    const replied = m.reply_to === undefined ? undefined : state.byId.get(m.reply_to);
    if (replied !== undefined) {
      const { reply_to_message: _nested, ...shallow } = replied.raw;
      raw.reply_to_message = { ...shallow, reply_to_message: undefined };
    }
    if (m.edit_date !== undefined) raw.edit_date = m.edit_date;
    if (m.text !== undefined) {
      raw.text = m.text;
      if (m.entities.length > 0) raw.entities = m.entities;
    }
    if (m.document !== undefined) {
      const d: Document = {
        file_id: m.document.file_id,
        file_unique_id: m.document.file_unique_id,
        file_name: m.document.file_name,
        mime_type: m.document.mime_type,
        file_size: m.document.bytes.length,
      };
      raw.document = d;
    }
    if (m.photo !== undefined) {
      const { file_id, file_unique_id, bytes } = m.photo;
      raw.photo = [{ file_id, file_unique_id, width: 640, height: 480, file_size: bytes.length }];
    }
    if ((m.document !== undefined || m.photo !== undefined) && m.caption !== undefined) {
      raw.caption = m.caption;
      if (m.entities.length > 0) raw.caption_entities = m.entities;
    }
    if (m.reply_markup !== undefined) raw.reply_markup = m.reply_markup;
    return Object.assign(raw, extra);
  }

  topicOf(state: ChatState, threadId: number): TopicRecord {
    const topic = state.topics.get(threadId);
    if (topic === undefined) throw badRequest('TOPIC_ID_INVALID');
    return topic;
  }

  /** Removes a topic; its messages are deleted with it. */
  deleteTopic(state: ChatState, threadId: number): void {
    this.topicOf(state, threadId);
    state.topics.delete(threadId);
    for (const m of state.list) if (m.message_thread_id === threadId) m.deleted = true;
  }

  forumTopic(t: TopicRecord): ForumTopic {
    return {
      message_thread_id: t.message_thread_id,
      name: t.name,
      icon_color: t.icon_color,
      ...(t.icon_custom_emoji_id !== undefined ? { icon_custom_emoji_id: t.icon_custom_emoji_id } : {}),
    };
  }
}
