/**
 * The Bot API methods the fake implements (getUpdates lives in the server, since it
 * waits). Each handler validates like Telegram, changes the World and returns the result.
 */
import type { InlineKeyboardMarkup, User } from 'grammy/types';
import { ApiError, badRequest, isRecord, optBool, optInt, optJson, optStr, reqInt, UploadedFile } from './params.js';
import type { Params } from './params.js';
import type { UpdateQueue } from './updates.js';
import type { Webhooks } from './webhook.js';
import { canonical, checkCaption, checkCommands, checkReplyMarkup, checkText } from './validate.js';
import type { ReplyMarkup } from './validate.js';
import type { ChatState, StoredMessage, TopicRecord, World } from './world.js';

export interface MethodContext {
  readonly world: World;
  readonly queue: UpdateQueue;
  readonly webhooks: Webhooks;
}

type Handler = (ctx: MethodContext, p: Params) => unknown;

/** Telegram's limit for files uploaded by bots. */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);
/** The colours Telegram allows for topic icons. */
const TOPIC_COLORS = [7322096, 16766590, 13338331, 9367192, 16749490, 16478047];
const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';
const MIME_BY_EXT: Record<string, string> = {
  txt: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  json: 'application/json',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  html: 'text/html',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  png: 'image/png',
  jpg: 'image/jpeg',
};

const chatOf = (w: World, p: Params): ChatState => w.resolveChat(optStr(p, 'chat_id'));

function inlineOnly(m: ReplyMarkup | undefined): InlineKeyboardMarkup | undefined {
  return m?.kind === 'inline' ? m.markup : undefined;
}

function markupFields(m: ReplyMarkup | undefined): {
  reply_markup?: InlineKeyboardMarkup;
  keyboard?: Record<string, unknown>;
} {
  if (m === undefined) return {};
  return m.kind === 'inline' ? { reply_markup: m.markup } : { keyboard: m.markup };
}

/** message_thread_id of a send: only in forums, only into an existing open topic. */
function threadOf(state: ChatState, p: Params): number | undefined {
  const thread = optInt(p, 'message_thread_id');
  if (thread === undefined) return undefined;
  const topic = state.chat.is_forum === true ? state.topics.get(thread) : undefined;
  if (topic === undefined) throw badRequest('message thread not found');
  if (topic.closed) throw badRequest('TOPIC_CLOSED');
  return thread;
}

/** The message replied to: reply_parameters or the older reply_to_message_id. */
function replyOf(state: ChatState, p: Params): number | undefined {
  const params = optJson(p, 'reply_parameters');
  let id = optInt(p, 'reply_to_message_id');
  let allowMissing = optBool(p, 'allow_sending_without_reply') ?? false;
  if (params !== undefined) {
    if (!isRecord(params)) throw badRequest("can't parse reply parameters JSON object");
    if (params.chat_id !== undefined && String(params.chat_id) !== String(state.chat.id)) {
      throw new ApiError(400, 'test fake: replies to other chats are not supported');
    }
    id = optInt(params, 'message_id');
    allowMissing = optBool(params, 'allow_sending_without_reply') ?? allowMissing;
  }
  if (id === undefined) return undefined;
  const target = state.byId.get(id);
  if (target !== undefined && !target.deleted) return id;
  if (allowMissing) return undefined;
  throw badRequest('message to be replied not found');
}

function messageOf(state: ChatState, p: Params, missing: string): StoredMessage {
  if (p.inline_message_id !== undefined) throw new ApiError(400, 'test fake: inline messages are not supported');
  const id = reqInt(p, 'message_id', 'message identifier is not specified');
  const msg = state.byId.get(id);
  if (msg === undefined || msg.deleted) throw badRequest(missing);
  return msg;
}

function editable(state: ChatState, p: Params): StoredMessage {
  const msg = messageOf(state, p, 'message to edit not found');
  if (msg.sender !== 'bot') throw badRequest("message can't be edited");
  return msg;
}

function forumOf(w: World, p: Params): ChatState {
  const state = chatOf(w, p);
  if (state.chat.is_forum !== true) throw badRequest('the chat is not a forum');
  return state;
}

function topicName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw badRequest('TOPIC_TITLE_EMPTY');
  if (name.length > 128) throw badRequest('TOPIC_TITLE_INVALID');
  return name;
}

function sendMessage({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  const message_thread_id = threadOf(state, p);
  const reply_to = replyOf(state, p);
  const { text, entities } = checkText(p.text, optJson(p, 'entities'));
  const markup = checkReplyMarkup(optJson(p, 'reply_markup'), false);
  return world.addMessage(state, {
    sender: 'bot',
    text,
    entities,
    message_thread_id,
    reply_to,
    ...markupFields(markup),
  }).raw;
}

function sendDocument({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  const message_thread_id = threadOf(state, p);
  const reply_to = replyOf(state, p);
  const caption = checkCaption(p.caption, optJson(p, 'caption_entities'));
  const markup = checkReplyMarkup(optJson(p, 'reply_markup'), false);
  const input = p.document;
  let document;
  if (input instanceof UploadedFile) {
    if (input.data.length === 0) throw badRequest('file must be non-empty');
    if (input.data.length > MAX_UPLOAD_BYTES) throw new ApiError(413, 'Request Entity Too Large');
    const name = input.filename === '' ? 'document' : input.filename;
    const ext = /\.([a-z0-9]{1,8})$/i.exec(name)?.[1]?.toLowerCase() ?? '';
    document = { file_name: name, mime_type: MIME_BY_EXT[ext] ?? input.contentType, bytes: input.data };
  } else if (typeof input === 'string' && input !== '') {
    const known = world.document(input);
    if (known === undefined) throw badRequest('wrong file identifier/HTTP URL specified');
    document = { file_name: known.file_name, mime_type: known.mime_type, bytes: known.bytes };
  } else {
    throw badRequest('there is no document in the request');
  }
  return world.addMessage(state, {
    sender: 'bot',
    document,
    message_thread_id,
    reply_to,
    ...markupFields(markup),
    ...(caption !== undefined ? { caption: caption.text, entities: caption.entities } : {}),
  }).raw;
}

function editMessageText({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  const msg = editable(state, p);
  if (msg.text === undefined) throw badRequest('there is no text in the message to edit');
  const { text, entities } = checkText(p.text, optJson(p, 'entities'));
  const reply_markup = inlineOnly(checkReplyMarkup(optJson(p, 'reply_markup'), true));
  if (
    text === msg.text &&
    canonical(entities) === canonical(msg.entities) &&
    canonical(reply_markup) === canonical(msg.reply_markup)
  ) {
    throw badRequest(NOT_MODIFIED);
  }
  world.edit(state, msg, { text, entities, reply_markup });
  return msg.raw;
}

function editMessageReplyMarkup({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  const msg = editable(state, p);
  const reply_markup = inlineOnly(checkReplyMarkup(optJson(p, 'reply_markup'), true));
  if (canonical(reply_markup) === canonical(msg.reply_markup)) throw badRequest(NOT_MODIFIED);
  world.edit(state, msg, { text: msg.text, caption: msg.caption, entities: msg.entities, reply_markup });
  return msg.raw;
}

function deleteMessage({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  messageOf(state, p, 'message to delete not found').deleted = true;
  return true;
}

function answerCallbackQuery({ world }: MethodContext, p: Params): unknown {
  const id = optStr(p, 'callback_query_id');
  const query = id === undefined ? undefined : world.callbackQueries.get(id);
  if (id === undefined || query === undefined || query.answered) {
    throw badRequest('query is too old and response timeout expired or query ID is invalid');
  }
  const text = optStr(p, 'text');
  if (text !== undefined && text.length > 200) throw badRequest('MESSAGE_TOO_LONG');
  const url = optStr(p, 'url');
  const cache_time = optInt(p, 'cache_time');
  query.answered = true;
  world.callbackAnswers.push({
    callback_query_id: id,
    show_alert: optBool(p, 'show_alert') ?? false,
    at: Date.now(),
    ...(text !== undefined ? { text } : {}),
    ...(url !== undefined ? { url } : {}),
    ...(cache_time !== undefined ? { cache_time } : {}),
  });
  return true;
}

function sendChatAction({ world }: MethodContext, p: Params): unknown {
  const state = chatOf(world, p);
  const action = optStr(p, 'action');
  if (action === undefined || !CHAT_ACTIONS.has(action)) throw badRequest('wrong parameter action in request');
  const message_thread_id = threadOf(state, p);
  world.chatActions.push({
    chat_id: state.chat.id,
    action,
    at: Date.now(),
    ...(message_thread_id !== undefined ? { message_thread_id } : {}),
  });
  return true;
}

const commandKey = (p: Params): string =>
  `${canonical(optJson(p, 'scope') ?? { type: 'default' })}|${optStr(p, 'language_code') ?? ''}`;

function setMyCommands({ world }: MethodContext, p: Params): unknown {
  const commands = checkCommands(optJson(p, 'commands'));
  world.commandSets.set(commandKey(p), commands);
  world.lastCommands = commands;
  return true;
}

function getMyCommands({ world }: MethodContext, p: Params): unknown {
  return world.commandSets.get(commandKey(p)) ?? [];
}

function deleteMyCommands({ world }: MethodContext, p: Params): unknown {
  world.commandSets.delete(commandKey(p));
  return true;
}

function createForumTopic({ world }: MethodContext, p: Params): unknown {
  const state = forumOf(world, p);
  const name = topicName(p.name);
  const color = optInt(p, 'icon_color') ?? (TOPIC_COLORS[0] as number);
  if (!TOPIC_COLORS.includes(color)) throw badRequest('TOPIC_ICON_COLOR_INVALID');
  const emoji = optStr(p, 'icon_custom_emoji_id');
  // The topic's id is the id of its "topic created" service message, as in Telegram.
  const thread = state.nextMessageId;
  world.addMessage(state, {
    sender: 'service',
    message_thread_id: thread,
    extra: {
      forum_topic_created: { name, icon_color: color, ...(emoji !== undefined ? { icon_custom_emoji_id: emoji } : {}) },
    },
  });
  const topic: TopicRecord = {
    message_thread_id: thread,
    name,
    icon_color: color,
    closed: false,
    ...(emoji !== undefined ? { icon_custom_emoji_id: emoji } : {}),
  };
  state.topics.set(thread, topic);
  return world.forumTopic(topic);
}

function editForumTopic({ world }: MethodContext, p: Params): unknown {
  const state = forumOf(world, p);
  const topic = world.topicOf(state, reqInt(p, 'message_thread_id', 'message thread identifier is not specified'));
  // An absent or empty name keeps the name; an empty icon id removes the icon.
  const name = p.name === undefined || p.name === '' ? topic.name : topicName(p.name);
  const emojiParam = optStr(p, 'icon_custom_emoji_id');
  const emoji = emojiParam === undefined ? topic.icon_custom_emoji_id : emojiParam === '' ? undefined : emojiParam;
  if (name === topic.name && emoji === topic.icon_custom_emoji_id) throw badRequest('TOPIC_NOT_MODIFIED');
  topic.name = name;
  topic.icon_custom_emoji_id = emoji;
  return true;
}

const setClosed =
  (closed: boolean): Handler =>
  ({ world }, p) => {
    const state = forumOf(world, p);
    const topic = world.topicOf(state, reqInt(p, 'message_thread_id', 'message thread identifier is not specified'));
    if (topic.closed === closed) throw badRequest('TOPIC_NOT_MODIFIED');
    topic.closed = closed;
    return true;
  };

function deleteForumTopic({ world }: MethodContext, p: Params): unknown {
  const state = forumOf(world, p);
  world.deleteTopic(state, reqInt(p, 'message_thread_id', 'message thread identifier is not specified'));
  return true;
}

function getMe({ world }: MethodContext): User {
  return world.bot;
}

function setWebhook({ queue, webhooks }: MethodContext, p: Params): unknown {
  return webhooks.setWebhook(queue, p);
}

function deleteWebhook({ queue, webhooks }: MethodContext, p: Params): unknown {
  return webhooks.deleteWebhook(queue, p);
}

function getWebhookInfo({ queue, webhooks }: MethodContext): unknown {
  return webhooks.info(queue);
}

/** A file's path for the download route (`/file/bot<token>/<file_path>`). */
export const filePath = (fileId: string): string => `files/${fileId}`;

function getFile({ world }: MethodContext, p: Params): unknown {
  const known = world.document(optStr(p, 'file_id') ?? '');
  if (known === undefined) throw badRequest('invalid file_id');
  return {
    file_id: known.file_id,
    file_unique_id: known.file_unique_id,
    file_size: known.bytes.length,
    file_path: filePath(known.file_id),
  };
}

/** Canonical method names; Telegram matches them case-insensitively. */
export const METHODS: ReadonlyMap<string, { name: string; run: Handler }> = new Map(
  Object.entries({
    getMe,
    setWebhook,
    deleteWebhook,
    getWebhookInfo,
    setMyCommands,
    getMyCommands,
    deleteMyCommands,
    sendMessage,
    editMessageText,
    editMessageReplyMarkup,
    deleteMessage,
    answerCallbackQuery,
    sendChatAction,
    sendDocument,
    getFile,
    createForumTopic,
    editForumTopic,
    closeForumTopic: setClosed(true),
    reopenForumTopic: setClosed(false),
    deleteForumTopic,
  } satisfies Record<string, Handler>).map(([name, run]) => [name.toLowerCase(), { name, run }]),
);
