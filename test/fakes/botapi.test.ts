import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { autoRetry } from '@grammyjs/auto-retry';
import { run } from '@grammyjs/runner';
import type { RunnerHandle } from '@grammyjs/runner';
import { Bot, GrammyError, HttpError, InputFile } from 'grammy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBotApi } from './botapi.js';

const USER = 42;
const OTHER = 43;
const GROUP = -1001234567890;
const FORUM = -1009876543210;

let fake: FakeBotApi;
let runners: RunnerHandle[] = [];

beforeEach(async () => {
  fake = new FakeBotApi();
  await fake.start();
});

afterEach(async () => {
  await Promise.all(runners.map((r) => (r.isRunning() ? r.stop() : undefined)));
  runners = [];
  await fake.stop();
});

const newBot = (token = fake.token) => new Bot(token, { client: { apiRoot: fake.apiRoot } });

function startRunner(bot: Bot): RunnerHandle {
  const runner = run(bot, { runner: { fetch: { timeout: 5 }, silent: true } });
  runners.push(runner);
  return runner;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

async function apiError(p: Promise<unknown>): Promise<GrammyError> {
  const e = await failure(p);
  expect(e).toBeInstanceOf(GrammyError);
  return e as GrammyError;
}

const pollPending = () => fake.calls.some((c) => c.method === 'getUpdates' && c.status === 0);

describe('FakeBotApi with grammY and the runner', () => {
  it('delivers a /command to the bot and stores its reply', async () => {
    const bot = newBot();
    bot.command('start', (ctx) => ctx.reply(`hello ${ctx.from?.id ?? '?'} ${ctx.match}`));
    startRunner(bot);
    const { message } = fake.sendText({ from: USER, text: '/start now' });
    expect(message.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }]);

    const reply = await fake.waitForMessage({ chat: USER, match: /^hello 42 now$/ });
    expect(reply.sender).toBe('bot');
    expect(reply.message_id).toBeGreaterThan(message.message_id);
    expect(reply.raw.from?.id).toBe(fake.botInfo.id);
    expect(fake.calls.find((c) => c.method === 'getMe')?.status).toBe(200);
    expect(fake.calls.find((c) => c.method === 'sendMessage')).toMatchObject({ chat_id: USER, status: 200 });
  });

  it('answers a wrong token with 401 and an unknown method with 404, like Telegram', async () => {
    const e = await apiError(newBot('1:wrong').api.getMe());
    expect(e.error_code).toBe(401);
    expect(e.description).toBe('Unauthorized');

    const res = await fetch(`${fake.apiRoot}/bot${fake.token}/sendCarrierPigeon`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found' });

    const cased = await fetch(`${fake.apiRoot}/bot${fake.token}/GETME`);
    expect((await cased.json()) as unknown).toMatchObject({ ok: true, result: { id: fake.botInfo.id, is_bot: true } });
  });

  it('takes GET query strings and url-encoded forms with JSON-encoded fields', async () => {
    fake.createUser({ id: USER });
    const get = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage?chat_id=${USER}&text=from%20get`);
    expect(get.status).toBe(200);
    fake.createUser({ id: OTHER });
    const form = new URLSearchParams({
      chat_id: String(OTHER),
      text: 'form',
      reply_markup: JSON.stringify({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] }),
    });
    const post = await fetch(`${fake.apiRoot}/bot${fake.token}/sendMessage`, { method: 'POST', body: form });
    expect(post.status).toBe(200);
    expect(fake.lastMessage(USER)?.text).toBe('from get');
    expect(fake.lastMessage(OTHER)?.reply_markup).toEqual({ inline_keyboard: [[{ text: 'Go', callback_data: 'go' }]] });
    expect((await apiError(newBot().api.sendMessage(-5, 'x'))).description).toBe('Bad Request: chat not found');
  });
});

describe('getUpdates', () => {
  it('holds a long poll until an update arrives', async () => {
    const bot = newBot();
    const started = Date.now();
    // A poll that were only answered at its timeout (60 s) would outlast the test's (30 s).
    const poll = bot.api.getUpdates({ timeout: 60 });
    await fake.waitFor(pollPending);
    setTimeout(() => fake.sendText({ from: USER, text: 'late' }), 300);
    const updates = await poll;
    expect(updates.map((u) => u.message?.text)).toEqual(['late']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('answers an empty list when the timeout passes', async () => {
    const started = Date.now();
    expect(await newBot().api.getUpdates({ timeout: 1 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('confirms updates with offset, honours limit and negative offsets', async () => {
    const api = newBot().api;
    const ids = ['a', 'b', 'c'].map((text) => fake.sendText({ from: USER, text }).updateId);
    expect(ids[0]).toBe(1000);
    expect((await api.getUpdates()).map((u) => u.update_id)).toEqual(ids);
    expect((await api.getUpdates({ limit: 2 })).map((u) => u.update_id)).toEqual(ids.slice(0, 2));
    expect((await api.getUpdates({ offset: (ids[0] as number) + 1 })).map((u) => u.update_id)).toEqual(ids.slice(1));
    expect(fake.pendingUpdates).toBe(2);
    expect((await api.getUpdates({ offset: -1 })).map((u) => u.update_id)).toEqual(ids.slice(2));
    expect(await api.getUpdates({ offset: (ids[2] as number) + 1 })).toEqual([]);
    expect(fake.pendingUpdates).toBe(0);
  });

  it('filters by allowed_updates, which persists, and skips chat_member by default', async () => {
    const api = newBot().api;
    fake.pushUpdate({ chat_member: {} as never });
    fake.sendText({ from: USER, text: 'm1' });
    const first = await api.getUpdates();
    expect(first.map((u) => Object.keys(u)[0])).toEqual(['message']);
    const offset = (first[0]?.update_id ?? 0) + 1;
    fake.pushUpdate({ inline_query: { id: '1', from: fake.createUser({ id: USER }), query: 'q', offset: '' } });
    fake.sendText({ from: USER, text: 'm2' });
    const only = await api.getUpdates({ offset, allowed_updates: ['inline_query'] });
    expect(only.map((u) => u.inline_query?.query)).toEqual(['q']);
    fake.sendText({ from: USER, text: 'm3' });
    expect(await api.getUpdates({ offset: (only[0]?.update_id ?? 0) + 1 })).toEqual([]);
  });

  it('answers a second concurrent getUpdates with 409 Conflict', async () => {
    const bot = newBot();
    const first = bot.api.getUpdates({ timeout: 3 });
    await fake.waitFor(pollPending);
    const e = await apiError(newBot().api.getUpdates({ timeout: 0 }));
    expect(e.error_code).toBe(409);
    expect(e.description).toMatch(/^Conflict: terminated by other getUpdates request/);
    fake.sendText({ from: USER, text: 'still there' });
    expect((await first).map((u) => u.message?.text)).toEqual(['still there']);
  });

  it('lets a new poll replace one whose client went away, without a 409', async () => {
    const first = startRunner(newBot());
    await fake.waitFor(pollPending);
    await first.stop();
    const next = newBot().api.getUpdates({ timeout: 3 });
    const polls = () => fake.calls.filter((c) => c.method === 'getUpdates');
    await fake.waitFor(() => polls().length === 2);
    // Longer than the fake's conflict grace: a 409 would have been answered by now.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(polls()[1]?.status).toBe(0);
    fake.sendText({ from: USER, text: 'hi' });
    expect((await next).map((u) => u.message?.text)).toEqual(['hi']);
    expect(polls().map((c) => c.status)).toEqual([499, 200]);
  });

  it('redelivers a confirmed update with the same update_id', async () => {
    const seen: number[] = [];
    const bot = newBot();
    bot.on('message', (ctx) => {
      seen.push(ctx.update.update_id);
    });
    startRunner(bot);
    const { updateId } = fake.sendText({ from: USER, text: 'once' });
    await fake.waitFor(() => seen.length === 1);
    await fake.waitFor(() => fake.pendingUpdates === 0, 5000, 'confirmation');
    fake.redeliver(updateId);
    await fake.waitFor(() => seen.length === 2);
    expect(seen).toEqual([updateId, updateId]);
    expect(fake.deliveryCount(updateId)).toBe(2);
    const next = fake.sendText({ from: USER, text: 'after' }).updateId;
    await fake.waitFor(() => seen.length === 3);
    expect(seen[2]).toBe(next);
    expect(() => fake.redeliver(999_999)).toThrow(/no update 999999/);
  });
});

describe('webhook', () => {
  it('records setWebhook, refuses getUpdates while it is set, and posts updates with the secret', async () => {
    const bot = newBot();
    expect((await apiError(bot.api.setWebhook('http://bot.example.test/hook'))).description).toContain(
      'HTTPS URL must be provided',
    );
    expect(
      (await apiError(bot.api.setWebhook('https://bot.example.test/hook', { secret_token: 'a b' }))).error_code,
    ).toBe(400);
    await bot.api.setWebhook('https://bot.example.test/hook', { secret_token: 's3cret', allowed_updates: ['message'] });
    expect(fake.webhook).toEqual({
      url: 'https://bot.example.test/hook',
      secret_token: 's3cret',
      allowed_updates: ['message'],
    });
    expect((await bot.api.getWebhookInfo()).url).toBe('https://bot.example.test/hook');
    expect((await apiError(bot.api.getUpdates())).error_code).toBe(409);

    const seen: { path: string; secret: unknown; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', secret: req.headers['x-telegram-bot-api-secret-token'], body });
        res.writeHead(seen.length === 1 ? 200 : 401).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const to = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const { updateId } = fake.sendText({ from: USER, text: '/start' });
      expect((await fake.postWebhook(updateId, { to })).status).toBe(200);
      expect((await fake.postWebhook(updateId, { to, secret: null })).status).toBe(401);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(seen.map((s) => [s.path, s.secret])).toEqual([
      ['/hook', 's3cret'],
      ['/hook', undefined],
    ]);
    expect(JSON.parse(seen[0]!.body)).toMatchObject({ message: { text: '/start' } });

    await bot.api.deleteWebhook();
    expect(fake.webhook).toBeUndefined();
    expect(fake.webhookCalls.map((c) => c.method)).toEqual(['setWebhook', 'deleteWebhook']);
    expect(await bot.api.getUpdates({ timeout: 0 })).toHaveLength(1);
  });
  it('delivers each update where `pick` says, retries a failure elsewhere, and logs every attempt', async () => {
    await newBot().api.setWebhook('https://bot.example.test/hook', { secret_token: 's3cret' });
    const listen = async (status: number) => {
      const server = createServer((req, res) => req.resume().on('end', () => res.writeHead(status).end()));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      return { server, to: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    };
    const [down, up] = [await listen(502), await listen(200)];
    try {
      const tried: [number, number][] = [];
      fake.deliverWebhooks([down.to, up.to], {
        pick: (u, attempt) => {
          tried.push([u.update_id, attempt]);
          return attempt === 0 && u.update_id % 2 === 0 ? down.to : up.to;
        },
      });
      const even = fake.sendText({ from: USER, text: 'one' }).updateId;
      const odd = fake.sendText({ from: USER, text: 'two' }).updateId;
      expect(even % 2).toBe(0);
      await fake.waitFor(() => fake.pendingUpdates === 0);
      expect(tried.sort()).toEqual([
        [even, 0],
        [even, 1],
        [odd, 0],
      ]);
      expect(fake.webhookDeliveries).toEqual(
        expect.arrayContaining([
          { updateId: even, to: down.to, status: 502 },
          { updateId: even, to: up.to, status: 200 },
          { updateId: odd, to: up.to, status: 200 },
        ]),
      );
      expect(fake.webhookDeliveries).toHaveLength(3);
      expect(fake.deliveryCount(even)).toBe(2);
    } finally {
      for (const { server } of [down, up]) await new Promise((r) => server.close(r));
    }
  });
});

describe('messages', () => {
  it('enforces the 4096-unit text limit in UTF-16 and rejects empty text', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    await api.sendMessage(USER, 'x'.repeat(4096));
    expect((await apiError(api.sendMessage(USER, 'x'.repeat(4097)))).description).toBe(
      'Bad Request: message is too long',
    );
    await api.sendMessage(USER, '😀'.repeat(2048));
    expect((await apiError(api.sendMessage(USER, '😀'.repeat(2049)))).description).toBe(
      'Bad Request: message is too long',
    );
    for (const empty of ['', '  \n\t ']) {
      expect((await apiError(api.sendMessage(USER, empty))).description).toBe('Bad Request: message text is empty');
    }
    expect(fake.messages(USER)).toHaveLength(2);
  });

  it('trims whitespace like Telegram and clips entities to it', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const m = await api.sendMessage(USER, '  bold \n', { entities: [{ type: 'bold', offset: 1, length: 5 }] });
    expect(m.text).toBe('bold');
    expect(m.entities).toEqual([{ type: 'bold', offset: 0, length: 4 }]);
  });

  it('rejects entities out of range or crossing as "can\'t parse entities"', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const bad = [
      [{ type: 'bold' as const, offset: 3, length: 5 }],
      [
        { type: 'bold' as const, offset: 0, length: 3 },
        { type: 'italic' as const, offset: 2, length: 3 },
      ],
      [
        { type: 'code' as const, offset: 0, length: 5 },
        { type: 'bold' as const, offset: 1, length: 2 },
      ],
    ];
    for (const entities of bad) {
      expect((await apiError(api.sendMessage(USER, 'hello', { entities }))).description).toMatch(
        /^Bad Request: can't parse entities/,
      );
    }
    const nested = await api.sendMessage(USER, 'hello', {
      entities: [
        { type: 'italic', offset: 1, length: 2 },
        { type: 'bold', offset: 0, length: 5 },
      ],
    });
    expect(nested.entities).toEqual([
      { type: 'bold', offset: 0, length: 5 },
      { type: 'italic', offset: 1, length: 2 },
    ]);
  });

  it('rejects callback_data over 64 bytes and captions over 1024 characters', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const keyboard = (data: string) => ({ reply_markup: { inline_keyboard: [[{ text: 'b', callback_data: data }]] } });
    await api.sendMessage(USER, 'ok', keyboard('d'.repeat(64)));
    for (const data of ['d'.repeat(65), 'é'.repeat(33)]) {
      expect((await apiError(api.sendMessage(USER, 'no', keyboard(data)))).description).toBe(
        'Bad Request: BUTTON_DATA_INVALID',
      );
    }
    const file = () => new InputFile(Buffer.from('data'), 'a.txt');
    await api.sendDocument(USER, file(), { caption: 'c'.repeat(1024) });
    expect((await apiError(api.sendDocument(USER, file(), { caption: 'c'.repeat(1025) }))).description).toBe(
      'Bad Request: message caption is too long',
    );
  });

  it('refuses parse_mode, records it, and stores nothing', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const e = await apiError(api.sendMessage(USER, '<b>x</b>', { parse_mode: 'HTML' }));
    expect(e.error_code).toBe(400);
    expect(e.description).toBe('test fake: parse_mode is not allowed');
    expect(fake.parseModeAttempts).toMatchObject([{ method: 'sendMessage', chat_id: USER, parse_mode: 'HTML' }]);
    expect(fake.messages(USER)).toEqual([]);
  });

  it('edits with history and answers "message is not modified" like Telegram', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const markup = { inline_keyboard: [[{ text: 'Approve', callback_data: 'a' }]] };
    const sent = await api.sendMessage(USER, 'pending', { reply_markup: markup });
    const same = await apiError(api.editMessageText(USER, sent.message_id, 'pending', { reply_markup: markup }));
    expect(same.description).toMatch(/^Bad Request: message is not modified: /);

    await api.editMessageText(USER, sent.message_id, 'approved', { reply_markup: markup });
    // Leaving out reply_markup removes the keyboard, which is a change.
    const edited = await api.editMessageText(USER, sent.message_id, 'approved');
    expect(edited).not.toHaveProperty('reply_markup');
    const stored = fake.message(USER, sent.message_id);
    expect(stored?.text).toBe('approved');
    expect(stored?.history.map((v) => [v.text, v.reply_markup !== undefined])).toEqual([
      ['pending', true],
      ['approved', true],
    ]);
    expect((await apiError(api.editMessageReplyMarkup(USER, sent.message_id))).description).toMatch(
      /message is not modified/,
    );
    await api.editMessageReplyMarkup(USER, sent.message_id, { reply_markup: markup });
    expect(fake.message(USER, sent.message_id)?.reply_markup).toEqual(markup);

    expect((await apiError(api.editMessageText(USER, 999, 'x'))).description).toBe(
      'Bad Request: message to edit not found',
    );
    await api.deleteMessage(USER, sent.message_id);
    expect(fake.messages(USER)).toEqual([]);
    expect(fake.message(USER, sent.message_id)?.deleted).toBe(true);
    expect((await apiError(api.editMessageText(USER, sent.message_id, 'x'))).description).toBe(
      'Bad Request: message to edit not found',
    );
    expect((await apiError(api.deleteMessage(USER, sent.message_id))).description).toBe(
      'Bad Request: message to delete not found',
    );
  });

  it('round-trips a multi-megabyte document sent as a multipart stream', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    const bytes = randomBytes(6 * 1024 * 1024 + 17);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 256 * 1024) yield bytes.subarray(i, i + 256 * 1024);
    }
    const name = 'pod logs; web-1 "v2".txt';
    const sent = await api.sendDocument(USER, new InputFile(chunks(), name), {
      caption: 'logs',
      reply_markup: { inline_keyboard: [[{ text: 'More', callback_data: 'more' }]] },
    });
    expect(sent.document).toMatchObject({ file_name: name, file_size: bytes.length, mime_type: 'text/plain' });
    const [doc] = fake.documents(USER);
    expect(doc?.file_name).toBe(name);
    expect(doc?.bytes.equals(bytes)).toBe(true);
    expect(fake.lastMessage(USER)).toMatchObject({
      caption: 'logs',
      reply_markup: { inline_keyboard: [[{ text: 'More', callback_data: 'more' }]] },
    });

    const again = await api.sendDocument(USER, sent.document?.file_id as string);
    expect(again.document?.file_name).toBe(name);
    expect(fake.documents(USER)[1]?.bytes.equals(bytes)).toBe(true);
  });

  it('carries replies and forwards both ways', async () => {
    const bot = newBot();
    bot.on('message', (ctx) =>
      ctx.reply(
        `replied to ${ctx.msg.reply_to_message?.message_id ?? 'none'}, origin ${ctx.msg.forward_origin?.type ?? 'none'}`,
        {
          reply_parameters: { message_id: ctx.msg.message_id },
        },
      ),
    );
    startRunner(bot);
    const first = fake.sendText({ from: USER, text: 'one', forwardFrom: 77 });
    const answer = await fake.waitForMessage({ chat: USER, match: 'replied to none, origin user' });
    expect(answer.reply_to).toBe(first.message.message_id);
    expect(first.message.forward_origin).toMatchObject({ type: 'user', sender_user: { id: 77 } });
    fake.sendText({ from: USER, text: 'two', replyTo: answer.message_id });
    await fake.waitForMessage({ chat: USER, match: `replied to ${answer.message_id}, origin none` });
    expect(() => fake.sendText({ from: USER, chat: GROUP, text: 'x' })).toThrow(/createChat first/);
    const e = await apiError(bot.api.sendMessage(USER, 'x', { reply_parameters: { message_id: 999 } }));
    expect(e.description).toBe('Bad Request: message to be replied not found');
  });

  it('turns a user edit into an edited_message update and keeps the old text', async () => {
    const bot = newBot();
    const edits: string[] = [];
    bot.on('edited_message', (ctx) => {
      edits.push(`${ctx.editedMessage.text ?? ''} @${ctx.editedMessage.edit_date}`);
    });
    startRunner(bot);
    const { message } = fake.sendText({ from: USER, text: '/status' });
    fake.editText({ from: USER, messageId: message.message_id, text: '/docker stop web' });
    await fake.waitFor(() => edits.length === 1);
    expect(edits[0]).toMatch(/^\/docker stop web @\d+$/);
    expect(fake.message(USER, message.message_id)?.history.map((v) => v.text)).toEqual(['/status']);
    expect(() => fake.editText({ from: OTHER, chat: USER, messageId: message.message_id, text: 'x' })).toThrow(
      /private chat of 42/,
    );
  });

  it('answers 413 to a body over the size limit', async () => {
    const small = new FakeBotApi({ maxBodyBytes: 100_000 });
    await small.start();
    try {
      small.createUser({ id: USER });
      const api = new Bot(small.token, { client: { apiRoot: small.apiRoot } }).api;
      const e = await apiError(api.sendDocument(USER, new InputFile(Buffer.alloc(300_000, 1), 'big.bin')));
      expect(e.error_code).toBe(413);
      await api.sendDocument(USER, new InputFile(Buffer.alloc(50_000, 1), 'small.bin'));
      expect(small.documents(USER).map((d) => d.file_name)).toEqual(['small.bin']);
    } finally {
      await small.stop();
    }
  });

  it('runs a callback query round trip through the bot', async () => {
    const bot = newBot();
    bot.command('ask', (ctx) =>
      ctx.reply('Restart web?', { reply_markup: { inline_keyboard: [[{ text: 'Yes', callback_data: 'yes' }]] } }),
    );
    bot.callbackQuery('yes', async (ctx) => {
      await ctx.answerCallbackQuery({ text: 'Done' });
      await ctx.editMessageText('Restarted');
    });
    startRunner(bot);
    fake.sendText({ from: USER, text: '/ask' });
    const card = await fake.waitForMessage({ chat: USER, match: 'Restart web?' });
    expect(() => fake.pressButton({ from: USER, messageId: card.message_id, data: 'no' })).toThrow(
      /no button with data "no"/,
    );
    const id = fake.pressButton({ from: USER, messageId: card.message_id, data: 'yes' });
    await fake.waitForMessage({ chat: USER, match: 'Restarted' });
    expect(fake.callbackAnswers).toMatchObject([{ callback_query_id: id, text: 'Done', show_alert: false }]);
    const twice = await apiError(bot.api.answerCallbackQuery(id));
    expect(twice.description).toMatch(/query ID is invalid/);
    expect(fake.message(USER, card.message_id)?.reply_markup).toBeUndefined();
  });

  it('records chat actions and the command menu', async () => {
    const api = newBot().api;
    fake.createUser({ id: USER });
    await api.sendChatAction(USER, 'typing');
    expect(fake.chatActions(USER)).toMatchObject([{ action: 'typing' }]);
    await api.setMyCommands([{ command: 'status', description: 'Show status' }]);
    expect(fake.commands).toEqual([{ command: 'status', description: 'Show status' }]);
    expect(await api.getMyCommands()).toEqual([{ command: 'status', description: 'Show status' }]);
    expect((await apiError(api.setMyCommands([{ command: 'Bad-Name', description: 'x' }]))).description).toBe(
      'Bad Request: BOT_COMMAND_INVALID',
    );
  });
});

describe('forum topics', () => {
  it('creates, uses, closes, reopens, renames and deletes topics only in forums', async () => {
    const api = newBot().api;
    fake.createChat({ id: FORUM, type: 'supergroup', isForum: true, title: 'ops' });
    fake.createChat({ id: GROUP, type: 'supergroup', title: 'plain' });
    expect((await apiError(api.createForumTopic(GROUP, 'x'))).description).toBe('Bad Request: the chat is not a forum');

    const topic = await api.createForumTopic(FORUM, 'web-1');
    expect(topic.name).toBe('web-1');
    const sent = await api.sendMessage(FORUM, 'in topic', { message_thread_id: topic.message_thread_id });
    expect(sent).toMatchObject({ message_thread_id: topic.message_thread_id, is_topic_message: true });
    expect((await apiError(api.sendMessage(FORUM, 'x', { message_thread_id: 999 }))).description).toBe(
      'Bad Request: message thread not found',
    );

    await api.closeForumTopic(FORUM, topic.message_thread_id);
    expect(
      (await apiError(api.sendMessage(FORUM, 'x', { message_thread_id: topic.message_thread_id }))).description,
    ).toBe('Bad Request: TOPIC_CLOSED');
    expect((await apiError(api.closeForumTopic(FORUM, topic.message_thread_id))).description).toBe(
      'Bad Request: TOPIC_NOT_MODIFIED',
    );
    await api.reopenForumTopic(FORUM, topic.message_thread_id);
    await api.editForumTopic(FORUM, topic.message_thread_id, { name: 'web-1 (restarting)' });
    expect(fake.topics(FORUM)).toMatchObject([
      { message_thread_id: topic.message_thread_id, name: 'web-1 (restarting)', closed: false },
    ]);

    const { message } = fake.sendText({ from: USER, chat: FORUM, threadId: topic.message_thread_id, text: 'hi' });
    expect(message).toMatchObject({ message_thread_id: topic.message_thread_id, chat: { id: FORUM, is_forum: true } });
    await api.deleteForumTopic(FORUM, topic.message_thread_id);
    expect(fake.topics(FORUM)).toEqual([]);
    expect(fake.messages(FORUM)).toEqual([]);
    expect((await apiError(api.deleteForumTopic(FORUM, topic.message_thread_id))).description).toBe(
      'Bad Request: TOPIC_ID_INVALID',
    );
  });
});

describe('faults and limits', () => {
  it('answers 429 with retry_after, which auto-retry waits out', async () => {
    fake.createUser({ id: USER });
    const plain = newBot();
    fake.failNext('sendMessage', { code: 429, retryAfter: 1 });
    const e = await apiError(plain.api.sendMessage(USER, 'x'));
    expect(e.error_code).toBe(429);
    expect(e.parameters.retry_after).toBe(1);

    const retrying = newBot();
    retrying.api.config.use(autoRetry());
    fake.failNext('sendMessage', { code: 429, retryAfter: 1 });
    const started = Date.now();
    await retrying.api.sendMessage(USER, 'after waiting');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.calls.filter((c) => c.method === 'sendMessage').map((c) => c.status)).toEqual([429, 429, 200]);
    expect(fake.messages(USER).map((m) => m.text)).toEqual(['after waiting']);
  });

  it('injects 5xx errors and delays', async () => {
    fake.createUser({ id: USER });
    const api = newBot().api;
    fake.failNext('sendMessage', { code: 500 }, 2);
    expect((await apiError(api.sendMessage(USER, 'a'))).error_code).toBe(500);
    expect((await apiError(api.sendMessage(USER, 'a'))).description).toBe('Internal Server Error');
    fake.failNext('*', { delayMs: 300 });
    const started = Date.now();
    await api.sendMessage(USER, 'slow');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('surfaces a dropped connection as an HttpError, before or after the effect', async () => {
    fake.createUser({ id: USER });
    const api = newBot().api;
    fake.failNext('sendMessage', { drop: true });
    expect(await failure(api.sendMessage(USER, 'lost'))).toBeInstanceOf(HttpError);
    expect(fake.messages(USER)).toEqual([]);
    fake.failNext('sendMessage', { drop: true, after: true });
    expect(await failure(api.sendMessage(USER, 'sent, answer lost'))).toBeInstanceOf(HttpError);
    expect(fake.messages(USER).map((m) => m.text)).toEqual(['sent, answer lost']);
    await api.sendMessage(USER, 'fine');
    expect(fake.calls.filter((c) => c.method === 'sendMessage').map((c) => c.status)).toEqual([0, 0, 200]);
  });

  it('enforces per-chat and global rates with 429 retry_after when asked', async () => {
    fake.createUser({ id: USER });
    fake.createUser({ id: OTHER });
    const api = newBot().api;
    fake.enforceLimits({ perChatPerSecond: 2, globalPerSecond: 3 });
    await api.sendMessage(USER, '1');
    await api.sendMessage(USER, '2');
    const e = await apiError(api.sendMessage(USER, '3'));
    expect(e.error_code).toBe(429);
    expect(e.parameters.retry_after).toBe(1);
    await api.sendMessage(OTHER, '1');
    expect((await apiError(api.sendMessage(OTHER, '2'))).error_code).toBe(429);
    await api.sendChatAction(USER, 'typing');
    fake.enforceLimits(undefined);
    await api.sendMessage(USER, '3');
    expect(fake.calls.filter((c) => c.cause === 'rate-limit')).toHaveLength(2);
  });
});

describe('test-side helpers', () => {
  it('explains a waitForMessage timeout with the last messages', async () => {
    fake.createUser({ id: USER });
    await newBot().api.sendMessage(USER, 'something else');
    await expect(fake.waitForMessage({ chat: USER, match: /never/, timeoutMs: 100 })).rejects.toThrow(
      /no bot message in chat 42 was a message matching \/never\/ within 100 ms; last messages: #1 "something else"/,
    );
  });

  it('accounts its own processing time', async () => {
    fake.createUser({ id: USER });
    const api = newBot().api;
    const started = performance.now();
    for (let i = 0; i < 20; i++) await api.sendMessage(USER, `m${i}`);
    const wall = performance.now() - started;
    expect(fake.requestCount).toBe(20);
    expect(fake.serverTimeMs).toBeGreaterThan(0);
    expect(fake.serverTimeMs).toBeLessThan(wall);
  });

  it('says when an update was handed to the bot and when each request had arrived in full', async () => {
    fake.createUser({ id: USER });
    const api = newBot().api;
    const { updateId } = fake.sendText({ from: USER, text: 'hi' });
    expect(fake.handedOverAt(updateId)).toBeUndefined();
    const before = performance.now();
    const [update] = await api.getUpdates({ timeout: 0 });
    const handed = fake.handedOverAt(updateId)!;
    expect(update?.update_id).toBe(updateId);
    expect(handed).toBeGreaterThanOrEqual(before);
    expect(handed).toBeLessThanOrEqual(performance.now());
    await api.sendMessage(USER, 'reply');
    const reply = fake.calls.findLast((c) => c.method === 'sendMessage')!;
    expect(reply.receivedAt).toBeGreaterThan(handed);
    expect(fake.calls.find((c) => c.method === 'getUpdates')!.receivedAt).toBeLessThan(handed);
  });

  it('stops promptly while a long poll is held', async () => {
    // Waiting for the poll's timeout (60 s) would outlast the test's (30 s).
    const poll = newBot()
      .api.getUpdates({ timeout: 60 })
      .catch((e: unknown) => e);
    await fake.waitFor(pollPending);
    await fake.stop();
    expect(await poll).toEqual([]);
  });
});
