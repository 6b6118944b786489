/**
 * A fake Telegram Bot API server over real HTTP, for end-to-end tests and benchmarks:
 * the real grammY stack talks to it through `client.apiRoot`.
 *
 *   const fake = new FakeBotApi();
 *   await fake.start();
 *   const bot = new Bot(fake.token, { client: { apiRoot: fake.apiRoot } });
 *   const runner = run(bot);
 *   fake.sendText({ from: 42, text: '/status' });
 *   const reply = await fake.waitForMessage({ chat: 42, match: /ok/ });
 *   await runner.stop();
 *   await fake.stop();
 *
 * It validates like Telegram (text and caption limits, entities, keyboards, forum
 * topics, "message is not modified"), refuses parse_mode (the project never hand-builds
 * markup), records every call, and can inject faults and enforce rate limits.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type {
  BotCommand,
  Chat,
  Message,
  MessageEntity,
  MessageOrigin,
  Update,
  User,
  UserFromGetMe,
} from 'grammy/types';
import { BodyTooLarge, parseParams, readBody } from './botapi/body.js';
import { METHODS } from './botapi/methods.js';
import type { MethodContext } from './botapi/methods.js';
import { ApiError, badRequest, optInt, optJson } from './botapi/params.js';
import type { Params } from './botapi/params.js';
import { UpdateQueue } from './botapi/updates.js';
import { Webhooks } from './botapi/webhook.js';
import type { PostAnswer, PostOptions, WebhookCall, WebhookDelivery, WebhookInfo } from './botapi/webhook.js';
import { unixNow, World } from './botapi/world.js';
import type {
  CallbackAnswer,
  ChatActionRecord,
  ChatInput,
  ChatState,
  FakeUser,
  StoredDocument,
  StoredMessage,
  TopicRecord,
  UserRef,
} from './botapi/world.js';

export type {
  CallbackAnswer,
  ChatActionRecord,
  ChatInput,
  FakeUser,
  MessageVersion,
  StoredDocument,
  StoredMessage,
  TopicRecord,
  UserRef,
} from './botapi/world.js';
export type { PostAnswer, PostOptions, WebhookCall, WebhookDelivery, WebhookInfo } from './botapi/webhook.js';

export interface FakeBotApiOptions {
  /** Defaults to a random token of a bot with id 7000000001. */
  readonly token?: string;
  readonly username?: string;
  readonly firstName?: string;
  /** update_id of the first update (default 1000, so that offset 0 is never a valid id). */
  readonly firstUpdateId?: number;
  /** Larger bodies get 413 (default 64 MiB). */
  readonly maxBodyBytes?: number;
}

/** A fault for the next request(s) of a method. */
export type Fault =
  /** Answer with this error; 429 carries `parameters.retry_after` (default 1 s). */
  | { readonly code: number; readonly retryAfter?: number; readonly description?: string }
  /** Destroy the connection without an answer; with `after`, once the method has taken effect. */
  | { readonly drop: true; readonly after?: boolean }
  /** Answer normally, this much later. */
  | { readonly delayMs: number }
  /** A half-open connection: the request is read and never answered, until the client gives up. */
  | { readonly hang: true };

export interface Limits {
  readonly perChatPerSecond?: number;
  readonly globalPerSecond?: number;
  /** Telegram's 20 messages a minute in groups (chats with a negative id). */
  readonly perGroupPerMinute?: number;
  /** Methods that count (default: sendMessage, sendDocument, editMessageText, editMessageReplyMarkup). */
  readonly methods?: readonly string[];
}

export interface CallRecord {
  /** Canonical method name (or the path, for unknown ones). */
  method: string;
  chat_id?: number | string;
  /** Arrival time, ms since the epoch. */
  readonly at: number;
  /** performance.now() once the whole request (body included) had arrived. */
  readonly receivedAt: number;
  /**
   * HTTP status of the answer; 0 while pending or when a fault dropped the connection,
   * 499 when the client went away from a long poll.
   */
  status: number;
  description?: string;
  /** Why the fake answered this way, when it was not the method itself. */
  cause?: 'fault' | 'rate-limit' | 'parse_mode';
  params: Params;
}

export interface ParseModeAttempt {
  readonly method: string;
  readonly chat_id?: number | string;
  readonly parse_mode: unknown;
  readonly at: number;
}

export interface SendTextOptions {
  readonly from: UserRef;
  /** Defaults to the private chat of `from`. */
  readonly chat?: number;
  readonly text: string;
  readonly replyTo?: number;
  readonly threadId?: number;
  /** A user (id or details) or any MessageOrigin. */
  readonly forwardFrom?: UserRef | MessageOrigin;
  /** Replaces the entities Telegram would add (bot_command for every /command). */
  readonly entities?: MessageEntity[];
}

/** A user sends a photo or a document, with an optional caption. */
export interface SendFileOptions {
  readonly from: UserRef;
  /** Defaults to the private chat of `from`. */
  readonly chat?: number;
  readonly caption?: string;
  readonly replyTo?: number;
  readonly threadId?: number;
  readonly photo?: Buffer;
  readonly document?: { readonly name: string; readonly bytes: Buffer; readonly mime?: string };
}

export interface EditTextOptions {
  readonly from: UserRef;
  /** Defaults to the private chat of `from`. */
  readonly chat?: number;
  readonly messageId: number;
  readonly text: string;
  readonly entities?: MessageEntity[];
}

export interface PressButtonOptions {
  readonly from: UserRef;
  /** Defaults to the private chat of `from`. */
  readonly chat?: number;
  readonly messageId: number;
  readonly data: string;
  /** Send even if the message has no button with this data (a forged callback). */
  readonly unchecked?: boolean;
}

export interface WaitForMessageOptions {
  readonly chat: number;
  /** Tested against the text, caption and document file name; a string must be contained. */
  readonly match?: RegExp | string;
  /** Only messages with a greater message_id. */
  readonly after?: number;
  readonly threadId?: number;
  readonly timeoutMs?: number;
}

export interface DeliverOptions {
  /** Deliveries under way at once (default: the webhook's max_connections, else Telegram's 40). */
  readonly parallel?: number;
  /** Where attempt `attempt` (0 first) at delivering `update` goes: one of the replicas (default: each in turn). */
  readonly pick?: (update: Update, attempt: number) => string;
  /** No answer in this long is a failed attempt (default 10 s). */
  readonly timeoutMs?: number;
}

interface Delivery {
  readonly replicas: readonly string[];
  readonly parallel: number;
  readonly pick: DeliverOptions['pick'];
  readonly timeoutMs: number | undefined;
  readonly inFlight: Set<number>;
  next: number;
  on: boolean;
}

interface Waiter {
  readonly check: () => boolean;
  readonly fail: (e: Error) => void;
}

const DEFAULT_BOT_ID = 7000000001;
const DEFAULT_TIMEOUT_MS = 5000;
/** How long a second getUpdates waits for the first to go away before it gets 409. */
const CONFLICT_GRACE_MS = 100;
/** nginx's "client closed request". */
const CLIENT_CLOSED = 499;
const DEFAULT_LIMITED = ['sendMessage', 'sendDocument', 'editMessageText', 'editMessageReplyMarkup'];
const COMMAND = /(?<![\w/])\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])/g;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function faultError(f: { code: number; retryAfter?: number; description?: string }): ApiError {
  if (f.code === 429) {
    const after = f.retryAfter ?? 1;
    return new ApiError(429, f.description ?? `Too Many Requests: retry after ${after}`, { retry_after: after });
  }
  const known: Record<number, string> = {
    400: 'Bad Request: injected by test',
    403: 'Forbidden: bot was blocked by the user',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };
  return new ApiError(f.code, f.description ?? known[f.code] ?? `Error ${f.code}`);
}

/** Telegram marks every /command in a user's text as a bot_command entity. */
export function commandEntities(text: string): MessageEntity[] {
  return [...text.matchAll(COMMAND)].map((m) => ({
    type: 'bot_command' as const,
    offset: m.index,
    length: m[0].length,
  }));
}

const matches = (m: StoredMessage, match: RegExp | string | undefined): boolean =>
  match === undefined ||
  // search() ignores lastIndex, so a /g regex behaves the same on every call.
  [m.text, m.caption, m.document?.file_name].some(
    (s) => s !== undefined && (typeof match === 'string' ? s.includes(match) : s.search(match) >= 0),
  );

const preview = (m: StoredMessage): string =>
  `#${m.message_id} ${JSON.stringify((m.text ?? m.caption ?? m.document?.file_name ?? '').slice(0, 120))}`;

export class FakeBotApi {
  readonly token: string;
  /** Every request, in arrival order. */
  readonly calls: CallRecord[] = [];
  readonly parseModeAttempts: ParseModeAttempt[] = [];
  /** Every POST of deliverWebhooks, in the order the answers (or failures) came. */
  readonly webhookDeliveries: WebhookDelivery[] = [];
  private readonly world: World;
  private readonly queue: UpdateQueue;
  private readonly webhooks = new Webhooks();
  private readonly ctx: MethodContext;
  private readonly maxBodyBytes: number;
  private server: Server | undefined;
  private address: AddressInfo | undefined;
  private readonly faults = new Map<string, Fault[]>();
  private readonly missing = new Set<string>();
  private limits: { readonly l: Limits; readonly methods: ReadonlySet<string> } | undefined;
  private readonly windows = new Map<string, number[]>();
  private waiters: Waiter[] = [];
  private busyMs = 0;
  /** performance.now() when getUpdates last wrote each update out. */
  private readonly handedOver = new Map<number, number>();
  private requests = 0;
  private delivery: Delivery | undefined;

  constructor(options: FakeBotApiOptions = {}) {
    this.token = options.token ?? `${DEFAULT_BOT_ID}:AA${randomBytes(32).toString('base64url').slice(0, 33)}`;
    const id = /^(\d+):[\w-]+$/.exec(this.token)?.[1];
    if (id === undefined) throw new Error('fake Bot API: a token looks like <bot id>:<secret>');
    const bot: UserFromGetMe = {
      id: Number(id),
      is_bot: true,
      first_name: options.firstName ?? 'Teleops Test',
      username: options.username ?? 'teleops_test_bot',
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
    };
    this.world = new World(bot);
    this.queue = new UpdateQueue(options.firstUpdateId ?? 1000);
    this.ctx = { world: this.world, queue: this.queue, webhooks: this.webhooks };
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  }

  // ---- lifecycle

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error('fake Bot API: already started');
    const server = createServer((req, res) => this.onRequest(req, res));
    // Idle keep-alive connections stay open until stop(), so a client never races a server-side close.
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.address = server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    if (this.delivery) this.delivery.on = false;
    this.queue.close();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.fail(new Error('fake Bot API stopped'));
  }

  /** `http://127.0.0.1:<port>`, for `new Bot(token, { client: { apiRoot } })`. */
  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get port(): number {
    if (this.address === undefined) throw new Error('fake Bot API: not started');
    return this.address.port;
  }

  get botInfo(): UserFromGetMe {
    return this.world.bot;
  }

  // ---- what users do

  createChat(input: ChatInput): Chat {
    return this.world.createChat(input);
  }

  /** Registers a user (or updates their details); users given by id alone are created on first use. */
  createUser(user: FakeUser): User {
    return this.world.user(user);
  }

  /** A user sends a text message; Telegram's bot_command entities are added. */
  sendText(o: SendTextOptions): { updateId: number; message: Message } {
    const from = this.world.user(o.from);
    const state = this.chatForTest(o.chat, from.id);
    if (o.replyTo !== undefined && state.byId.get(o.replyTo)?.deleted !== false) {
      throw new Error(`fake Bot API: no message ${o.replyTo} in chat ${state.chat.id} to reply to`);
    }
    if (o.threadId !== undefined && state.chat.is_forum !== true)
      throw new Error(`fake Bot API: chat ${state.chat.id} is not a forum`);
    const forward_origin = o.forwardFrom === undefined ? undefined : this.origin(o.forwardFrom);
    const msg = this.world.addMessage(state, {
      sender: 'user',
      from,
      text: o.text,
      entities: o.entities ?? commandEntities(o.text),
      ...(o.replyTo !== undefined ? { reply_to: o.replyTo } : {}),
      ...(o.threadId !== undefined ? { message_thread_id: o.threadId } : {}),
      ...(forward_origin !== undefined ? { extra: { forward_origin } } : {}),
    });
    // Users write only in private chats and groups, never in channels.
    const update = this.queue.push({ message: msg.raw as NonNullable<Update['message']> });
    this.notify();
    return { updateId: update.update_id, message: msg.raw };
  }

  /** A user sends a photo or a document; the bot can fetch it with getFile and the file route. */
  sendFile(o: SendFileOptions): { updateId: number; message: Message } {
    const from = this.world.user(o.from);
    const state = this.chatForTest(o.chat, from.id);
    if (o.replyTo !== undefined && state.byId.get(o.replyTo)?.deleted !== false) {
      throw new Error(`fake Bot API: no message ${o.replyTo} in chat ${state.chat.id} to reply to`);
    }
    const caption = o.caption;
    const msg = this.world.addMessage(state, {
      sender: 'user',
      from,
      ...(caption !== undefined ? { caption, entities: commandEntities(caption) } : {}),
      ...(o.photo !== undefined ? { photo: o.photo } : {}),
      ...(o.document !== undefined
        ? {
            document: {
              file_name: o.document.name,
              mime_type: o.document.mime ?? 'application/octet-stream',
              bytes: o.document.bytes,
            },
          }
        : {}),
      ...(o.replyTo !== undefined ? { reply_to: o.replyTo } : {}),
      ...(o.threadId !== undefined ? { message_thread_id: o.threadId } : {}),
    });
    const update = this.queue.push({ message: msg.raw as NonNullable<Update['message']> });
    this.notify();
    return { updateId: update.update_id, message: msg.raw };
  }

  /** A user edits one of their text messages: an edited_message update. */
  editText(o: EditTextOptions): { updateId: number; message: Message } {
    const from = this.world.user(o.from);
    const state = this.chatForTest(o.chat, from.id);
    const msg = state.byId.get(o.messageId);
    if (
      msg === undefined ||
      msg.deleted ||
      msg.sender !== 'user' ||
      msg.raw.from?.id !== from.id ||
      msg.text === undefined
    ) {
      throw new Error(`fake Bot API: user ${from.id} has no text message ${o.messageId} in chat ${state.chat.id}`);
    }
    this.world.edit(state, msg, {
      text: o.text,
      entities: o.entities ?? commandEntities(o.text),
      reply_markup: undefined,
    });
    const update = this.queue.push({ edited_message: msg.raw as NonNullable<Update['edited_message']> });
    this.notify();
    return { updateId: update.update_id, message: msg.raw };
  }

  /** Queues any update (edited_message, channel_post, inline_query, my_chat_member…); returns its update_id. */
  pushUpdate(body: Omit<Update, 'update_id'>): number {
    const id = this.queue.push(body).update_id;
    this.notify();
    return id;
  }

  /** A user presses an inline button of a message; returns the callback query id. */
  pressButton(o: PressButtonOptions): string {
    const from = this.world.user(o.from);
    const state = this.chatForTest(o.chat, from.id);
    const msg = state.byId.get(o.messageId);
    if (msg === undefined || msg.deleted)
      throw new Error(`fake Bot API: no message ${o.messageId} in chat ${state.chat.id}`);
    const buttons = (msg.reply_markup?.inline_keyboard ?? []).flat();
    if (o.unchecked !== true && !buttons.some((b) => 'callback_data' in b && b.callback_data === o.data)) {
      const offered = buttons.map((b) => ('callback_data' in b ? b.callback_data : `(${b.text})`));
      throw new Error(
        `fake Bot API: message ${o.messageId} has no button with data ${JSON.stringify(o.data)}; it has ${JSON.stringify(offered)}`,
      );
    }
    const id = `${this.world.bot.id}${String(this.world.nextSerial()).padStart(9, '0')}`;
    this.world.callbackQueries.set(id, { answered: false });
    this.queue.push({
      callback_query: { id, from, message: msg.raw, chat_instance: `ci${Math.abs(state.chat.id)}`, data: o.data },
    });
    this.notify();
    return id;
  }

  /** Delivers an already delivered update again, with the same update_id. */
  redeliver(updateId: number): void {
    this.queue.redeliver(updateId);
    this.notify();
  }

  // ---- what tests look at

  /** Messages the bot sent to a chat and has not deleted, oldest first. */
  messages(chatId: number): StoredMessage[] {
    return (this.world.chat(chatId)?.list ?? []).filter((m) => m.sender === 'bot' && !m.deleted);
  }

  /** Every message of a chat: the bot's, the users', service messages, deleted ones. */
  history(chatId: number): readonly StoredMessage[] {
    return this.world.chat(chatId)?.list ?? [];
  }

  lastMessage(chatId: number): StoredMessage | undefined {
    return this.messages(chatId).at(-1);
  }

  /** Any message of a chat by id, deleted or not. */
  message(chatId: number, messageId: number): StoredMessage | undefined {
    return this.world.chat(chatId)?.byId.get(messageId);
  }

  documents(chatId: number): readonly StoredDocument[] {
    return this.world.chat(chatId)?.documents ?? [];
  }

  /** Open and closed topics of a forum. */
  topics(chatId: number): TopicRecord[] {
    return [...(this.world.chat(chatId)?.topics.values() ?? [])];
  }

  get callbackAnswers(): readonly CallbackAnswer[] {
    return this.world.callbackAnswers;
  }

  chatActions(chatId?: number): ChatActionRecord[] {
    return this.world.chatActions.filter((a) => chatId === undefined || a.chat_id === chatId);
  }

  /** The command list of the last successful setMyCommands. */
  get commands(): readonly BotCommand[] | undefined {
    return this.world.lastCommands;
  }

  /** Every update ever queued, by update_id. */
  get updates(): ReadonlyMap<number, Update> {
    return this.queue.all;
  }

  /** Updates not yet confirmed by an offset. */
  get pendingUpdates(): number {
    return this.queue.pending;
  }

  /** How many times getUpdates returned an update. */
  deliveryCount(updateId: number): number {
    return this.queue.deliveryCount(updateId);
  }

  /** Total time spent handling requests (parsing, validating, answering; not waiting), in ms. */
  get serverTimeMs(): number {
    return this.busyMs;
  }

  /**
   * performance.now() when getUpdates last wrote this update to the bot: with a reply's
   * CallRecord.receivedAt, the span that was the bot's (and the network's), not the fake's.
   */
  handedOverAt(updateId: number): number | undefined {
    return this.handedOver.get(updateId);
  }

  get requestCount(): number {
    return this.requests;
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  /**
   * Resolves with the first truthy value of `probe`, which is evaluated now and after
   * every request and every test-side action.
   */
  waitFor<T>(
    probe: () => T | undefined | null | false,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    what = 'condition',
  ): Promise<T> {
    const truthy = (v: T | undefined | null | false): v is T => v !== undefined && v !== null && v !== false;
    try {
      const now = probe();
      if (truthy(now)) return Promise.resolve(now);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`fake Bot API: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => {
          const v = probe();
          if (!truthy(v)) return false;
          clearTimeout(timer);
          resolve(v);
          return true;
        },
        fail: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The first live bot message in a chat that matches; the error on timeout shows the last messages. */
  async waitForMessage(o: WaitForMessageOptions): Promise<StoredMessage> {
    const found = () =>
      this.messages(o.chat).find(
        (m) =>
          (o.after === undefined || m.message_id > o.after) &&
          (o.threadId === undefined || m.message_thread_id === o.threadId) &&
          matches(m, o.match),
      );
    try {
      return await this.waitFor(found, o.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'a message');
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes('timed out')) throw e;
      const last = this.messages(o.chat).slice(-5).map(preview).join(', ') || 'none';
      const what = o.match === undefined ? 'any message' : `a message matching ${String(o.match)}`;
      throw new Error(
        `fake Bot API: no bot message in chat ${o.chat} ${o.after !== undefined ? `after #${o.after} ` : ''}was ${what} within ${o.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms; last messages: ${last}`,
      );
    }
  }

  /** Resolves once getUpdates has returned the update (at least `times` times). */
  async waitForDelivery(updateId: number, times = 1, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    await this.waitFor(() => this.queue.deliveryCount(updateId) >= times, timeoutMs, `delivery of update ${updateId}`);
  }

  // ---- webhook mode

  /** The webhook set now (setWebhook), if any. */
  get webhook(): WebhookInfo | undefined {
    return this.webhooks.current;
  }

  /** Every setWebhook and deleteWebhook, in order. */
  get webhookCalls(): readonly WebhookCall[] {
    return this.webhooks.calls;
  }

  /**
   * Telegram delivers an update (by id: one created by sendText, pressButton…, delivered again
   * with the same id when posted again) to the webhook, through the proxy at `o.to`; resolves
   * with the bot's answer. Options forge what Telegram never would: a wrong or missing secret,
   * another body, method or path.
   */
  async postWebhook(update: number | Update, o: PostOptions): Promise<PostAnswer> {
    const u = typeof update === 'number' ? this.queue.all.get(update) : update;
    if (u === undefined) throw new Error(`fake Bot API: no update ${String(update)} was ever created`);
    try {
      return await this.webhooks.post(u, o);
    } finally {
      this.notify();
    }
  }

  /**
   * From now on the fake delivers pending updates to the webhook itself, as Telegram does: each
   * to one of `replicas` (origins behind the proxy, taken in turn unless `pick` chooses), and on
   * an error, a refusal or no answer again (to the next one, or where `pick` says) after a
   * growing pause, until one answers 2xx. Returns a function that stops delivering (deliveries
   * under way finish).
   */
  deliverWebhooks(replicas: readonly string[], o: DeliverOptions = {}): () => void {
    if (replicas.length === 0) throw new Error('fake Bot API: deliverWebhooks needs at least one replica');
    const d: Delivery = {
      replicas,
      parallel: o.parallel ?? this.webhooks.current?.max_connections ?? 40,
      pick: o.pick,
      timeoutMs: o.timeoutMs,
      inFlight: new Set(),
      next: 0,
      on: true,
    };
    this.delivery = d;
    this.pump();
    return () => {
      d.on = false;
    };
  }

  private pump(): void {
    const d = this.delivery;
    if (d === undefined || !d.on || this.webhooks.current === undefined) return;
    while (d.inFlight.size < d.parallel) {
      const update = this.queue.nextPending(d.inFlight);
      if (update === undefined) return;
      d.inFlight.add(update.update_id);
      void this.deliver(d, update);
    }
  }

  private async deliver(d: Delivery, update: Update): Promise<void> {
    for (let attempt = 0; d.on && this.webhooks.current !== undefined; attempt++) {
      const to = d.pick ? d.pick(update, attempt) : (d.replicas[d.next++ % d.replicas.length] as string);
      this.queue.countDelivery(update.update_id);
      const status = await this.webhooks.post(update, { to, timeoutMs: d.timeoutMs }).then(
        (a) => a.status,
        () => 0,
      );
      this.webhookDeliveries.push({ updateId: update.update_id, to, status });
      if (status >= 200 && status < 300) {
        this.queue.ack(update.update_id);
        break;
      }
      await delay(Math.min(1000, 50 * 2 ** attempt));
    }
    d.inFlight.delete(update.update_id);
    this.notify();
  }

  // ---- faults and limits

  /** The next `times` calls of `method` ('*' for any method) fail this way. */
  failNext(method: string, fault: Fault, times = 1): void {
    const key = method === '*' ? '*' : method.toLowerCase();
    const list = this.faults.get(key) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(key, list);
  }

  /**
   * These methods answer 404 "Not Found" from now on, as a self-hosted or older Bot API server
   * answers a method it does not know; an empty list knows every method again.
   */
  unsupported(methods: readonly string[]): void {
    this.missing.clear();
    for (const m of methods) this.missing.add(m.toLowerCase());
  }

  /** Answers 429 with retry_after when a limit would be exceeded; `undefined` turns it off. */
  enforceLimits(limits: Limits | undefined): void {
    this.limits = limits === undefined ? undefined : { l: limits, methods: new Set(limits.methods ?? DEFAULT_LIMITED) };
    this.windows.clear();
  }

  // ---- HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now();
    readBody(req, this.maxBodyBytes)
      .then(
        (body) => this.handle(req, res, body, at),
        (e: unknown) => {
          if (e instanceof BodyTooLarge && !res.headersSent) {
            res.setHeader('connection', 'close');
            this.send(
              res,
              { method: req.url ?? '', at, receivedAt: performance.now(), status: 0, params: {} },
              new ApiError(413, 'Request Entity Too Large'),
            );
          } else {
            res.destroy();
          }
        },
      )
      .catch((e: unknown) => {
        res.destroy(e instanceof Error ? e : undefined);
      });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: Buffer, at: number): Promise<void> {
    let t0 = performance.now();
    const receivedAt = t0;
    /** Time spent waiting (long poll, injected delay) is not the fake's own cost. */
    const idle = async <T>(p: Promise<T>): Promise<T> => {
      this.busyMs += performance.now() - t0;
      this.notify();
      try {
        return await p;
      } finally {
        t0 = performance.now();
      }
    };
    this.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = /^\/file\/bot([^/]*)\/files\/([^/]+)$/.exec(url.pathname);
    if (file !== null) return this.serveFile(res, file[1]!, file[2]!, at, receivedAt);
    const route = /^\/bot([^/]*)\/([^/]+)$/.exec(url.pathname);
    const call: CallRecord = { method: route?.[2] ?? url.pathname, at, receivedAt, status: 0, params: {} };
    this.calls.push(call);
    try {
      if (route === null) throw new ApiError(404, 'Not Found');
      if (route[1] !== this.token) throw new ApiError(401, 'Unauthorized');
      const lower = (route[2] as string).toLowerCase();
      const method = METHODS.get(lower);
      if ((method === undefined && lower !== 'getupdates') || this.missing.has(lower))
        throw new ApiError(404, 'Not Found');
      call.method = method?.name ?? 'getUpdates';
      const params = parseParams(req.headers['content-type'], url.searchParams, body);
      call.params = params;
      const chatId = params.chat_id;
      if (typeof chatId === 'number' || typeof chatId === 'string')
        call.chat_id = /^-?\d+$/.test(String(chatId)) ? Number(chatId) : chatId;
      const fault = this.takeFault(call.method);
      if (fault !== undefined) {
        call.cause = 'fault';
        if ('code' in fault) throw faultError(fault);
        if ('hang' in fault) return await idle(this.hang(res, call));
        if ('delayMs' in fault) await idle(delay(fault.delayMs));
        else if (fault.after !== true) return this.drop(res, call);
      }
      if ('parse_mode' in params) {
        call.cause = 'parse_mode';
        this.parseModeAttempts.push({
          method: call.method,
          parse_mode: params.parse_mode,
          at,
          ...(call.chat_id !== undefined ? { chat_id: call.chat_id } : {}),
        });
        throw new ApiError(400, 'test fake: parse_mode is not allowed');
      }
      this.enforce(call);
      let result: unknown;
      if (method !== undefined) {
        result = method.run(this.ctx, params);
      } else {
        const updates = this.getUpdates(params, res);
        result = Array.isArray(updates) ? updates : await idle(updates);
        if (result === undefined) {
          call.status = CLIENT_CLOSED;
          call.description = 'client closed the connection';
          return;
        }
      }
      if (fault !== undefined && 'drop' in fault) return this.drop(res, call);
      this.send(res, call, result);
    } catch (e) {
      this.send(
        res,
        call,
        e instanceof ApiError
          ? e
          : new ApiError(500, `test fake: internal error: ${e instanceof Error ? e.message : String(e)}`),
      );
    } finally {
      this.busyMs += performance.now() - t0;
      this.notify();
    }
  }

  /** The bytes of a file the bot found with getFile (what Telegram serves at its file route). */
  private serveFile(res: ServerResponse, token: string, fileId: string, at: number, receivedAt: number): void {
    const known = token === this.token ? this.world.document(decodeURIComponent(fileId)) : undefined;
    this.calls.push({ method: 'file', at, receivedAt, status: known ? 200 : 404, params: { file_id: fileId } });
    if (known === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': known.mime_type, 'content-length': known.bytes.length });
    res.end(known.bytes);
  }

  private send(res: ServerResponse, call: CallRecord, outcome: unknown): void {
    let status = 200;
    let payload: unknown;
    if (outcome instanceof ApiError) {
      status = outcome.code;
      call.description = outcome.description;
      payload = {
        ok: false,
        error_code: outcome.code,
        description: outcome.description,
        ...(outcome.parameters ? { parameters: outcome.parameters } : {}),
      };
    } else {
      payload = { ok: true, result: outcome };
    }
    if (res.destroyed) return;
    const json = JSON.stringify(payload);
    call.status = status;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
    if (call.method === 'getUpdates' && Array.isArray(outcome)) {
      const now = performance.now();
      for (const u of outcome as Update[]) this.handedOver.set(u.update_id, now);
    }
  }

  private drop(res: ServerResponse, call: CallRecord): void {
    call.status = 0;
    call.description = 'connection dropped';
    res.socket?.destroy();
  }

  /** Holds the request without an answer until the client closes the connection. */
  private hang(res: ServerResponse, call: CallRecord): Promise<void> {
    call.description = 'no answer (half-open connection)';
    return new Promise((resolve) => {
      if (res.socket === null || res.socket.destroyed) resolve();
      else res.socket.once('close', () => resolve());
    });
  }

  private takeFault(method: string): Fault | undefined {
    for (const key of [method.toLowerCase(), '*']) {
      const list = this.faults.get(key);
      if (list !== undefined && list.length > 0) return list.shift();
    }
    return undefined;
  }

  /** Sliding windows per chat, per group and overall; a refused request does not count. */
  private enforce(call: CallRecord): void {
    const limits = this.limits;
    if (limits === undefined || !limits.methods.has(call.method)) return;
    const { l } = limits;
    const now = Date.now();
    const chat = call.chat_id;
    const checks: [string, number | undefined, number][] = [['*', l.globalPerSecond, 1000]];
    if (chat !== undefined) {
      checks.push([`c${chat}`, l.perChatPerSecond, 1000]);
      if (typeof chat === 'number' && chat < 0) checks.push([`g${chat}`, l.perGroupPerMinute, 60_000]);
    }
    let waitMs = 0;
    const windows: number[][] = [];
    for (const [key, max, span] of checks) {
      if (max === undefined) continue;
      let w = this.windows.get(key);
      if (w === undefined) this.windows.set(key, (w = []));
      while (w.length > 0 && (w[0] as number) <= now - span) w.shift();
      if (w.length >= max) waitMs = Math.max(waitMs, (w[0] as number) + span - now);
      windows.push(w);
    }
    if (waitMs > 0) {
      call.cause = 'rate-limit';
      const after = Math.max(1, Math.ceil(waitMs / 1000));
      throw new ApiError(429, `Too Many Requests: retry after ${after}`, { retry_after: after });
    }
    for (const w of windows) w.push(now);
  }

  /** Long polling; a promise while the request waits (undefined if the client went away). */
  private getUpdates(p: Params, res: ServerResponse): Update[] | Promise<Update[] | undefined> {
    const offset = optInt(p, 'offset') ?? 0;
    const limit = Math.min(100, Math.max(1, optInt(p, 'limit') ?? 100));
    const timeout = Math.max(0, optInt(p, 'timeout') ?? 0);
    const allowed = optJson(p, 'allowed_updates');
    if (allowed !== undefined && !(Array.isArray(allowed) && allowed.every((t) => typeof t === 'string'))) {
      throw badRequest("can't parse allowed_updates JSON array");
    }
    const begin = (): Update[] | Promise<Update[] | undefined> => {
      if (this.webhooks.current !== undefined) {
        throw new ApiError(
          409,
          "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        );
      }
      if (this.queue.polling) {
        throw new ApiError(
          409,
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
        );
      }
      this.queue.setAllowed(allowed as string[] | undefined);
      this.queue.confirm(offset);
      const ready = this.queue.take(offset, limit);
      if (ready.length > 0 || timeout === 0) return ready;
      return new Promise((resolve) => {
        const abandon = this.queue.wait(offset, limit, timeout * 1000, resolve);
        res.on('close', () => {
          abandon();
          resolve(undefined);
        });
      });
    };
    return this.queue.polling ? this.conflictGrace().then(begin) : begin();
  }

  /** A client that aborted its poll may still look connected for a moment; give it that moment. */
  private async conflictGrace(): Promise<void> {
    const until = Date.now() + CONFLICT_GRACE_MS;
    while (this.queue.polling && Date.now() < until) await delay(5);
  }

  // ---- helpers

  private notify(): void {
    this.pump();
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      try {
        return !w.check();
      } catch (e) {
        w.fail(e instanceof Error ? e : new Error(String(e)));
        return false;
      }
    });
  }

  /** The chat a user acts in; in Telegram nobody else can write in a user's private chat. */
  private chatForTest(chatId: number | undefined, userId: number): ChatState {
    if (chatId === undefined) return this.world.privateChat(userId);
    const state = this.world.chat(chatId);
    if (state === undefined) throw new Error(`fake Bot API: chat ${chatId} does not exist; call createChat first`);
    if (state.chat.type === 'private' && chatId !== userId)
      throw new Error(`fake Bot API: user ${userId} cannot act in the private chat of ${chatId}`);
    return state;
  }

  private origin(from: UserRef | MessageOrigin): MessageOrigin {
    if (typeof from === 'object' && 'type' in from) return from;
    return { type: 'user', date: unixNow(), sender_user: this.world.user(from) };
  }
}
