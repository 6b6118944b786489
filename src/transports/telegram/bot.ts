import { Bot, BotError, GrammyError, HttpError, type Context } from 'grammy';
import type { Message, Update } from 'grammy/types';
import { autoRetry } from '@grammyjs/auto-retry';
import { run, sequentialize, type RunnerHandle } from '@grammyjs/runner';
import type { Agent } from '../../ai/agent.js';
import type { Dispatcher, Outcome } from '../../core/dispatcher.js';
import type { Health } from '../../core/health.js';
import type { Logger } from '../../core/log.js';
import type { Metrics } from '../../core/metrics.js';
import type { Principal } from '../../core/policy.js';
import type { Redactor } from '../../core/redact.js';
import type { Registry } from '../../core/registry.js';
import { line, say, value, type ReplyTarget, type Result } from '../../core/result.js';
import { showsCard } from '../../core/scopes.js';
import type { ButtonRepo } from '../../store/buttons.js';
import type { Db } from '../../store/db.js';
import { CardMessageRepo, ForumRepo, ReplyRepo } from '../../store/telegram.js';
import type { Orphan, ProcessedUpdates } from '../../store/updates.js';
import { botFetch } from './bot-fetch.js';
import { deadlineTransformer, networkRetryTransformer, type CallDeadlines } from './deadline.js';
import { CardBoard, type LiveCards, type ShowContext } from './cards.js';
import { showProgress } from './progress.js';
import { floodWaitTransformer, limitTransformer, RateGate, type Limits } from './limits.js';
import { Outbox } from './outbox.js';
import { telegramWitness } from './witness.js';
import type { Witness } from '../../core/audit-witness.js';
import { askInChat } from './agent-chat.js';
import { approvalCards } from './approval-card.js';
import { decodeCallback } from './callback-data.js';
import { principalOf, telegramPrincipal } from './principal.js';
import { isThreadGone, Replier, type Where } from './reply.js';
import { Forums, topicsControl } from './topics.js';
import { thisReplica } from '../../core/leader.js';
import type { CardPlacesSlot } from '../../core/places.js';
import { TurnQueue } from './turns.js';
import { uploadOf, type FileSource } from './uploads.js';
import type { Upload } from '../../core/uploads.js';
import { startWebhook, WebhookError, type Receipt, type WebhookServer } from './webhook.js';

export interface TelegramDeps {
  readonly token: string;
  readonly apiRoot: string;
  readonly dispatcher: Dispatcher;
  readonly registry: Registry;
  readonly buttons: ButtonRepo;
  readonly updates: ProcessedUpdates;
  readonly redactor: Redactor;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: Limits;
  readonly deadlines: CallDeadlines;
  /** Where the transport keeps its cards, reply targets and forum topics. */
  readonly db: Db;
  /** Live cards of every target, edited in place as they change. */
  readonly live: LiveCards;
  /** Chats that receive alerts (forum chats with topics on get them too, in their ALERTS topic). */
  readonly alertChats: readonly number[];
  /** Where a target's `/<target> topics` finds this transport's forum topics. */
  readonly places?: CardPlacesSlot;
  /** The AI operator, when an LLM is configured: plain text goes to it. */
  readonly agent?: Agent;
  /** Webhook mode: Telegram posts updates to `url`, served on host:port; without it, long polling. */
  readonly webhook?: WebhookSettings;
  /**
   * This process among those sharing the database, and how long its claim on an update holds
   * unrenewed: after that, another process adopts what it left (default: host:pid, 15 s).
   */
  readonly claims?: { readonly owner: string; readonly holdMs: number };
}

export interface WebhookSettings {
  readonly url: string;
  readonly secret: string;
  readonly host: string;
  readonly port: number;
}

/** Only these update kinds are fetched at all; edits, channel posts and inline queries never arrive. */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;
const PRUNE_MS = 3600_000;
/** 429s waited out in a row before a call fails (each wait at most a minute). */
const FLOOD_WAITS = 20;
/** Waits between tries of a call that got no answer: 1 s, doubled up to 30 s. */
const NETWORK_RETRY = { initialMs: 1000, maxMs: 30_000 } as const;
/** How long a shutdown waits for queued automatic writes (final card states) to go out. */
const OUTBOX_DRAIN_MS = 3000;
const UPLOAD_HOW =
  'A photo or file goes to what takes one: send it as a reply to its card, in its topic, ' +
  'or with the command as its caption.';
/** Agent turns at once in one chat, and waiting or running per person there. */
const AGENT_TURNS = { perChat: 3, perPerson: 3 } as const;
/** How long what getWebhookInfo said serves health checks (probes come every few seconds). */
const WEBHOOK_INFO_MS = 30_000;
/** A delivery Telegram reports failed this recently shows in the health detail. */
const WEBHOOK_ERROR_RECENT_S = 300;

export interface TelegramTransport {
  start(): Promise<void>;
  /** Stops polling and waits for handlers that are running (bounded by the caller). */
  stop(): Promise<void>;
  /** Queues an alert (through the outbox) for each alert chat and forum chat that `shows` allows. */
  alert(result: Result, shows?: (chatId: number) => boolean): void;
  /** An audit witness posting into a chat or channel (AUDIT_WITNESS=telegram:<chat id>). */
  witness(chatId: number): Witness;
  health(): Promise<Health>;
}

export function createTelegram(d: TelegramDeps): TelegramTransport {
  // grammY's `fetch` option is typed as node-fetch's; it uses only what botFetch provides.
  const bot = new Bot(d.token, { client: { apiRoot: d.apiRoot, fetch: botFetch as never } });
  let lastPoll: { ok: boolean; at: number; error?: string } = { ok: false, at: 0, error: 'not started' };
  // auto-retry retries network failures for as long as they last: said once when they start
  // (at start-up too, where the first call would otherwise wait in silence) and once when over.
  let unreachable = false;
  // The first transformer installed is the innermost: every attempt (retries included) has its
  // deadline, is counted, and waits its turn under the limits.
  bot.api.config.use(deadlineTransformer(d.deadlines));
  bot.api.config.use(async (prev, method, payload, signal) => {
    try {
      const res = await prev(method, payload, signal);
      if (method === 'getUpdates') lastPoll = { ok: true, at: Date.now() };
      if (!res.ok) d.metrics.telegramErrors.inc({ method, code: String(res.error_code) });
      if (unreachable) {
        unreachable = false;
        d.log.info({ method }, 'Telegram is reachable again');
      }
      return res;
    } catch (err) {
      if (method === 'getUpdates') lastPoll = { ok: false, at: Date.now(), error: describe(err) };
      d.metrics.telegramErrors.inc({ method, code: err instanceof HttpError ? 'network' : 'error' });
      if (err instanceof HttpError && !signal?.aborted && !unreachable) {
        unreachable = true;
        d.log.warn({ method, err: describe(err) }, 'Telegram is not reachable; retrying');
      }
      throw err;
    }
  });
  // The runner asks for the next updates as soon as a batch arrives. Waiting one turn of the
  // event loop lets the batch's handlers run up to their first I/O before the poll is built.
  bot.api.config.use(async (prev, method, payload, signal) => {
    if (method === 'getUpdates') await new Promise((r) => setImmediate(r));
    return prev(method, payload, signal);
  });
  // One gate spaces every write, direct replies' and the outbox's alike.
  const gate = new RateGate(d.limits);
  bot.api.config.use(limitTransformer(gate));
  bot.api.config.use(floodWaitTransformer(FLOOD_WAITS));
  bot.api.config.use(networkRetryTransformer(NETWORK_RETRY));
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 60, rethrowHttpErrors: false }));
  const files: FileSource = { api: bot.api, token: d.token, apiRoot: d.apiRoot };
  const replies = new ReplyRepo(d.db);
  const replier = new Replier(bot.api, d.buttons, d.redactor, replies);
  const outbox = new Outbox({ delay: (chatId) => gate.delay(chatId), log: d.log });
  const forums = new Forums(new ForumRepo(d.db), replier, d.redactor.redact, d.log);
  // Approval cards are edited as they are decided, expire or are cancelled, even after a restart.
  const cards = approvalCards(d.dispatcher.approvals, replier, outbox, d.log, (chatId, key) =>
    forums.threadOf(chatId, key),
  );
  const board = new CardBoard({
    replier,
    repo: new CardMessageRepo(d.db),
    outbox,
    forums,
    shows: (chatId, card) => showsCard(d.dispatcher.scopeOf(chatId), card.card?.about),
    log: d.log,
  });
  const offProgress = showProgress(d.dispatcher.progress, replier, d.log);
  if (d.places) d.places.service = topicsControl({ forums, board, outbox, live: d.live });

  /** An alert goes to the chat's ALERTS topic when it has one (or to the chat, if that topic is gone). */
  async function sendAlert(chatId: number, result: Result): Promise<void> {
    const threadId = forums.alertsThread(chatId);
    try {
      await replier.send({ chatId, ...(threadId !== undefined ? { threadId } : {}) }, result);
    } catch (err) {
      if (threadId === undefined || !isThreadGone(err)) throw err;
      await replier.send({ chatId }, result);
    }
  }

  /** Replying to a card or an alert, or writing in a session's topic, runs the message's reply target. */
  function replyTargetOf(msg: Message, chatId: number): ReplyTarget | undefined {
    const replied = msg.reply_to_message;
    const target = replied ? replies.get(chatId, replied.message_id) : undefined;
    if (target) return target;
    if (msg.is_topic_message && msg.message_thread_id !== undefined)
      return forums.topicAt(chatId, msg.message_thread_id)?.reply;
    return undefined;
  }

  /**
   * Telegram re-delivers updates whose confirmation it missed; each runs at most once. When the
   * claim cannot be written (a full disk) the update is handled anyway: nothing mutating runs
   * unaudited then, and a read answered twice after a restart is the lesser harm than silence.
   */
  function claim(update: Update): boolean {
    try {
      return d.updates.claim(update.update_id, JSON.stringify(update), owner, Date.now() + holdMs);
    } catch (err) {
      d.log.warn({ err: describe(err), update: update.update_id }, 'could not record an update as seen; handling it');
      return true;
    }
  }
  const { owner, holdMs } = d.claims ?? { owner: thisReplica(), holdMs: 15_000 };
  /** A claim's record changes; a failure costs at most a notice or a rerun after a crash, never the update. */
  function record(what: string, change: () => void): void {
    try {
      change();
    } catch (err) {
      d.log.warn({ err: describe(err) }, `could not record that an update ${what}`);
    }
  }
  // Telegram re-delivers updates whose confirmation it missed; each runs at most once.
  // Handlers in flight are tracked so that a shutdown can let them finish.
  const inflight = new Set<Promise<void>>();
  // Aborts agent turns on shutdown (one may be waiting on an approval for minutes).
  const stopping = new AbortController();
  const turns = new TurnQueue(AGENT_TURNS);
  // Updates the webhook claimed before answering Telegram: not claimed (and so dropped) again here.
  const claimed = new WeakSet<Update>();
  bot.use(async (ctx, next) => {
    if (!claimed.delete(ctx.update) && !claim(ctx.update)) return;
    const p = next();
    inflight.add(p);
    try {
      await p;
    } finally {
      inflight.delete(p);
      record('was handled', () => d.updates.finish(ctx.update.update_id));
    }
  });
  // One chat's messages run in order; other chats are not held up. Button presses get their own
  // lane so an Approve can be pressed while the same chat waits on something slow. Agent turns
  // leave the lane (askOffLane): they may take minutes.
  bot.use(
    sequentialize((ctx: Context) => (ctx.chat ? `${ctx.callbackQuery ? 'cb' : 'msg'}:${ctx.chat.id}` : undefined)),
  );
  // Out of its chat's queue: from here, a process that dies may have done part of it.
  bot.use(async (ctx, next) => {
    let mine = true;
    record('started', () => (mine = d.updates.start(ctx.update.update_id, owner)));
    if (!mine) {
      d.log.warn(
        { update: ctx.update.update_id },
        'not handling an update adopted while it waited here: its adopter begins it',
      );
      return;
    }
    await next();
  });

  bot.on('message', async (ctx) => {
    const since = Date.now();
    const principal = principalOf(ctx);
    if (!principal) return refuseSender(ctx, 'message');
    const where: Where = {
      chatId: ctx.chat.id,
      ...(ctx.msg.is_topic_message ? { threadId: ctx.msg.message_thread_id } : {}),
    };
    const text = ctx.msg.text;
    const upload = ctx.msg.forward_origin || ctx.msg.via_bot ? undefined : uploadOf(ctx.msg, files);
    if (upload) {
      if (!d.dispatcher.identify(principal)) return d.dispatcher.unauthorized(principal, 'message');
      const outcome = await withUpload(ctx.msg, principal, upload);
      await forgetSecret(ctx.chat.id, ctx.msg.message_id, outcome);
      await render(where, outcome, { since });
      return;
    }
    if (ctx.msg.forward_origin || ctx.msg.via_bot || text === undefined) {
      if (!d.dispatcher.identify(principal)) return d.dispatcher.unauthorized(principal, 'message');
      if (ctx.msg.forward_origin && text !== undefined) {
        await replier.send(where, say('Forwarded messages are never executed. Type the command yourself.'));
      }
      return;
    }
    if (!text.startsWith('/')) {
      if (!d.dispatcher.identify(principal)) return d.dispatcher.unauthorized(principal, 'message');
      const target = replyTargetOf(ctx.msg, ctx.chat.id);
      if (!target) {
        if (d.agent) await askOffLane(d.agent, where, principal, text);
        else await replier.send(where, say('I take slash commands; /help lists them.'));
        return;
      }
      // A person typed this text for the session explicitly: a request like any other.
      const outcome = await d.dispatcher.dispatch(principal, 'command', target.action, { ...target.params, text });
      await forgetSecret(ctx.chat.id, ctx.msg.message_id, outcome);
      await render(where, outcome, { since });
      return;
    }
    const outcome = await d.dispatcher.command(principal, 'command', text, bot.botInfo.username);
    await forgetSecret(ctx.chat.id, ctx.msg.message_id, outcome);
    await render(where, outcome, { since });
  });

  /**
   * A photo or document goes with its caption's command ("/agent build look at this"), or as
   * the text of a reply to a card, or of a message in a card's topic, to an action that takes files.
   */
  async function withUpload(msg: Message, principal: Principal, upload: Upload): Promise<Outcome> {
    const caption = msg.caption?.trim() ?? '';
    if (caption.startsWith('/'))
      return d.dispatcher.command(principal, 'command', caption, bot.botInfo.username, [upload]);
    const target = replyTargetOf(msg, msg.chat.id);
    if (!target) return { kind: 'refused', message: UPLOAD_HOW };
    const params = { ...target.params, ...(caption !== '' ? { text: caption } : {}) };
    return d.dispatcher.dispatch(principal, 'command', target.action, params, [upload]);
  }

  /** A message that held a secret (a password typed for a terminal) does not stay in the chat. */
  async function forgetSecret(chatId: number, messageId: number, outcome: Outcome): Promise<void> {
    if (!('secret' in outcome && outcome.secret)) return;
    await bot.api
      .deleteMessage(chatId, messageId)
      .catch((err: unknown) =>
        d.log.warn({ err: describe(err), chatId }, 'could not delete a message holding a secret'),
      );
  }

  bot.on('callback_query:data', async (ctx) => {
    const since = Date.now();
    const principal = principalOf(ctx);
    if (!principal) return refuseSender(ctx, 'callback');
    const msg = ctx.callbackQuery.message;
    const data = ctx.callbackQuery.data;
    const where: Where = {
      chatId: ctx.chat!.id,
      ...(msg && 'is_topic_message' in msg && msg.is_topic_message && msg.message_thread_id !== undefined
        ? { threadId: msg.message_thread_id }
        : {}),
    };
    let outcome: Outcome;
    const pressed = decodeCallback(data);
    if (pressed?.kind === 'approval') {
      outcome = await d.dispatcher.decide(principal, pressed.id, pressed.token, pressed.decision);
    } else if (pressed?.kind === 'button' && d.dispatcher.identify(principal)) {
      const stored = d.buttons.get(pressed.ref, ctx.chat!.id);
      outcome = stored
        ? await d.dispatcher.dispatch(principal, 'button', stored.action, stored.params)
        : { kind: 'refused', message: 'This button has expired; run the command again.' };
    } else {
      d.dispatcher.unauthorized(principal, 'callback');
      outcome = { kind: 'ignored' };
    }
    if (outcome.kind === 'ignored') return;
    await ctx.answerCallbackQuery(
      outcome.kind === 'refused' ? { text: outcome.message.slice(0, 200), show_alert: true } : {},
    );
    if (outcome.kind !== 'refused')
      await render(where, outcome, { since, ...(msg ? { pressed: msg.message_id } : {}) });
  });

  /**
   * An agent turn may take minutes (the model, approvals): it runs outside the chat's message
   * lane, so everyone's commands and buttons go on meanwhile. Shutdown still waits for it.
   */
  async function askOffLane(agent: Agent, where: Where, principal: Principal, text: string): Promise<void> {
    const turn = turns.submit(where.chatId, principal.userId, async () => {
      if (stopping.signal.aborted) return;
      const chat = { api: bot.api, replier, cards, agent, redactor: d.redactor, log: d.log };
      await askInChat(chat, where, principal, text, stopping.signal);
    });
    if (!turn) {
      await replier.send(
        where,
        say(
          `⏳ You already have ${AGENT_TURNS.perPerson} requests for the assistant in this chat; send this one ` +
            `again once they are answered.`,
        ),
      );
      return;
    }
    const tracked = turn.catch((err: unknown) => d.log.error({ err }, 'agent turn failed'));
    inflight.add(tracked);
    void tracked.finally(() => inflight.delete(tracked));
  }

  /** Bots (an anonymous group admin writes as one) never act: counted and audited like any stranger. */
  function refuseSender(ctx: Context, what: string): void {
    if (ctx.from && ctx.chat) d.dispatcher.unauthorized(telegramPrincipal(ctx.from.id, ctx.chat), what);
  }

  bot.catch((err) => {
    d.log.error({ err: err.error, update: err.ctx.update.update_id }, 'update handler failed');
  });

  async function render(where: Where, outcome: Outcome, show: ShowContext): Promise<void> {
    switch (outcome.kind) {
      case 'ignored':
        return;
      case 'rate_limited':
        // A message deleted as a possible password is always answered: it must not just vanish.
        if (outcome.notify || outcome.secret)
          await replier.send(
            where,
            say(
              `⏳ Slow down: you can send another request in ${outcome.retryAfterS}s.` +
                (outcome.secret ? ' Your message was deleted: it may have held a password.' : ''),
            ),
          );
        return;
      case 'refused':
        await replier.send(where, { blocks: [line('⚠️ ', value(outcome.message))] });
        return;
      case 'failed':
        await replier.send(where, { blocks: [line(`⚠️ ${outcome.action} failed: `, value(outcome.message))] });
        return;
      case 'approval':
        await cards.offer(where, outcome.approval);
        return;
      case 'done':
        if (outcome.result.card) await board.show(where, outcome.result, show);
        else await replier.send(where, outcome.result);
        return;
    }
  }

  let webhookInFlight = 0;
  /** Webhook delivery: claimed now, handled by the same middleware as a polled update. */
  function receive(update: Update): Receipt {
    if (!claim(update)) return 'duplicate';
    handle(update);
    return 'accepted';
  }

  /** Handles an update this process holds (claimed by the webhook, or adopted). */
  function handle(update: Update): void {
    claimed.add(update);
    webhookInFlight++;
    const handled: Promise<void> = bot
      .handleUpdate(update)
      .catch(async (err: unknown) => {
        if (err instanceof BotError) await bot.errorHandler(err);
        else d.log.error({ err, update: update.update_id }, 'update handler failed');
      })
      .finally(() => {
        webhookInFlight--;
        inflight.delete(handled);
      });
    inflight.add(handled);
  }

  /**
   * Keeps this process's claims alive while it works, and adopts what a process that stopped
   * left: an update still queued there runs here (nothing of it ran); one it had started may
   * have run in part, so its chat is told instead of it running twice.
   */
  function tendClaims(): void {
    const until = Date.now() + holdMs;
    record('is still being handled', () => {
      if (inflight.size > 0) d.updates.renew(owner, until);
    });
    let orphans: Orphan[] = [];
    record('was adopted', () => (orphans = d.updates.adoptOrphans(owner, until)));
    for (const o of orphans) {
      const update = JSON.parse(o.body) as Update;
      d.log.warn({ update: o.updateId, state: o.state }, 'adopting an update whose process stopped');
      // Of two handlers of one update (this process adopted its own), the first to begin it runs it.
      if (o.state === 'queued') handle(update);
      else void interrupted(update).finally(() => record('was handled', () => d.updates.finish(o.updateId)));
    }
  }

  async function interrupted(update: Update): Promise<void> {
    const msg = update.message ?? update.callback_query?.message;
    if (!msg) return;
    // Pointed at by a reply, never quoted: the text may be a password typed for a terminal.
    const what = update.message ? 'this message' : 'a button press on this message';
    await replier
      .send(
        {
          chatId: msg.chat.id,
          ...(msg.is_topic_message ? { threadId: msg.message_thread_id } : {}),
          replyTo: msg.message_id,
        },
        say(
          `⚠️ Interrupted: the teleops process handling ${what} stopped before it finished. ` +
            `It may have run in part; check before you send it again.`,
        ),
      )
      .catch((err: unknown) => d.log.warn({ err: describe(err) }, 'could not tell a chat of an interrupted update'));
  }

  /** Listens first, so that Telegram finds the server as soon as it knows the URL. */
  async function startWebhookMode(w: WebhookSettings): Promise<WebhookServer> {
    hook ??= await startWebhook({
      host: w.host,
      port: w.port,
      path: new URL(w.url).pathname,
      secret: w.secret,
      receive,
      inFlight: () => webhookInFlight,
      metrics: d.metrics,
      log: d.log,
    });
    try {
      await bot.api.setWebhook(w.url, { secret_token: w.secret, allowed_updates: ALLOWED_UPDATES });
    } catch (err) {
      if (err instanceof GrammyError && err.error_code === 400)
        throw new WebhookError(`Telegram refused TELEGRAM_WEBHOOK_URL: ${err.description}`);
      throw err;
    }
    return hook;
  }

  let webhookInfo: { at: number; health: Promise<Health> } | undefined;
  /**
   * What Telegram says of the webhook: set elsewhere or deleted (another instance polling) is
   * down, since nothing arrives here then; failed deliveries are shown, but a restart would not
   * mend a broken proxy, so they do not make /health answer 503.
   */
  function webhookHealth(url: string): Promise<Health> {
    if (webhookInfo && Date.now() - webhookInfo.at < WEBHOOK_INFO_MS) return webhookInfo.health;
    const health = bot.api.getWebhookInfo().then(
      (info): Health => {
        if (info.url !== url)
          return {
            state: 'down',
            detail:
              `the webhook at Telegram is ${info.url ? 'another URL' : 'not set'} (another instance polling?); ` +
              'restart to set it again',
          };
        const failed =
          info.last_error_date !== undefined && Date.now() / 1000 - info.last_error_date < WEBHOOK_ERROR_RECENT_S
            ? `; Telegram's last delivery failed: ${info.last_error_message ?? 'no reason given'}`
            : '';
        return {
          state: 'up',
          detail: `webhook as @${bot.botInfo.username}, ${info.pending_update_count} updates pending${failed}`,
        };
      },
      (err: unknown): Health => ({ state: 'down', detail: describe(err) }),
    );
    webhookInfo = { at: Date.now(), health };
    return health;
  }

  let hook: WebhookServer | undefined;
  let hooked = false;
  let runner: RunnerHandle | undefined;
  let prune: NodeJS.Timeout | undefined;
  let offCard: (() => void) | undefined;
  let claims: NodeJS.Timeout | undefined;
  function startTimers(): void {
    prune = setInterval(() => replies.prune(), PRUNE_MS);
    prune.unref();
    tendClaims();
    claims = setInterval(tendClaims, holdMs / 3);
    claims.unref();
    offCard = d.live.onCard((card) => board.update(card));
  }

  return {
    async start() {
      await bot.init();
      // The menu is a convenience: start-up neither waits for it nor fails without it (a
      // self-hosted or older Bot API may not know the method; a 429 may ask for minutes).
      void bot.api
        .setMyCommands(d.registry.menu())
        .catch((err: unknown) =>
          d.log.warn({ err: describe(err) }, 'the command menu could not be registered; commands work without it'),
        );
      if (d.webhook) {
        const server = await startWebhookMode(d.webhook);
        hooked = true;
        startTimers();
        d.log.info({ bot: bot.botInfo.username, port: server.port }, 'serving the Telegram webhook');
        return;
      }
      // Back from webhook mode (or never in it): Telegram refuses getUpdates while a webhook is set.
      await bot.api.deleteWebhook();
      // Telegram has just answered: healthy from now on, not only once the first long poll
      // returns (up to its timeout later, with no updates). A failing poll turns this down.
      lastPoll = { ok: true, at: Date.now() };
      runner = run(bot, {
        runner: {
          fetch: { allowed_updates: ALLOWED_UPDATES, timeout: d.deadlines.pollS },
          silent: true,
          maxRetryTime: Infinity,
          retryInterval: 'exponential',
        },
        sink: { concurrency: 64 },
      });
      startTimers();
      d.log.info({ bot: bot.botInfo.username }, 'polling Telegram');
    },
    async stop() {
      stopping.abort();
      clearInterval(prune);
      clearInterval(claims);
      offCard?.();
      offProgress();
      if (runner?.isRunning()) await runner.stop();
      // Stops taking updates at once; those already taken run to their end.
      const closed = hook?.close();
      await Promise.allSettled([...inflight]);
      await closed;
      await outbox.stop(OUTBOX_DRAIN_MS);
      cards.close();
    },
    alert(result, shows) {
      for (const chatId of new Set([...d.alertChats, ...forums.chats()])) {
        if (shows && !shows(chatId)) continue;
        outbox.enqueue({
          chatId,
          priority: 'alert',
          what: `alert to chat ${chatId}`,
          run: () => sendAlert(chatId, result),
        });
      }
    },
    witness(chatId) {
      return telegramWitness(bot.api, chatId);
    },
    async health() {
      const queued = outbox.queued > 0 ? `, ${outbox.queued} automatic messages queued` : '';
      if (hooked && d.webhook) {
        const h = await webhookHealth(d.webhook.url);
        return h.state === 'up' ? { ...h, detail: h.detail + queued } : h;
      }
      if (lastPoll.ok && Date.now() - lastPoll.at < 120_000)
        return { state: 'up', detail: `polling as @${bot.isInited() ? bot.botInfo.username : '?'}${queued}` };
      return { state: 'down', detail: lastPoll.error ?? 'no successful poll in the last 2 minutes' };
    },
  };
}

function describe(err: unknown): string {
  if (err instanceof GrammyError) return `${err.method}: ${err.error_code} ${err.description}`;
  if (err instanceof HttpError) return `network: ${err.error instanceof Error ? err.error.message : err.message}`;
  return err instanceof Error ? err.message : String(err);
}
