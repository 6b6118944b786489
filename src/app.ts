import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AlertRouter } from './core/alert-router.js';
import { AuditKeyError, AuditLog } from './core/audit.js';
import { AuditMonitor } from './core/audit-monitor.js';
import { AuditWritable } from './core/audit-writable.js';
import { AuditWitnesses } from './core/audit-witness.js';
import { builtinActions } from './core/builtins.js';
import { AuditQuery } from './core/audit-query.js';
import { idsNamed } from './store/people.js';
import { Dispatcher } from './core/dispatcher.js';
import { onBehalf, type OnBehalfRequest } from './core/on-behalf.js';
import type { Integration } from './core/health.js';
import { createLogger, type Logger } from './core/log.js';
import { createMetrics, type Metrics } from './core/metrics.js';
import { Policy } from './core/policy.js';
import { RateLimiter, type Limiter } from './core/ratelimit.js';
import { createRedactor, type Redactor } from './core/redact.js';
import { unknownActions } from './core/quorum.js';
import { Registry } from './core/registry.js';
import { Scopes } from './core/scopes.js';
import type { Result } from './core/result.js';
import type { Config } from './config.js';
import { ApprovalRepo } from './store/approvals.js';
import { ButtonRepo } from './store/buttons.js';
import { SharedRateLimiter } from './store/rate-buckets.js';
import { ChatStateRepo } from './store/chat-state.js';
import { checkpointInBackground } from './store/checkpoints.js';
import type { Db } from './store/db.js';
import { openState } from './store/state.js';
import { ProcessedUpdates } from './store/updates.js';
import { startHttp } from './http/server.js';
import { LeaderLease, thisReplica } from './core/leader.js';
import { serverWitnesses } from './witnesses/index.js';
import { llmIntegration } from './ai/reachable.js';
import { aiActions } from './ai/actions.js';
import type { Agent } from './ai/agent.js';
import type { AiModel } from './ai/providers.js';
import { resolveAi } from './ai/settings.js';
import { AiMemoryRepo } from './store/ai-memory.js';
import { AiUsageRepo, utcDay } from './store/ai-usage.js';
import { counted } from './core/text.js';
import { CardPlacesSlot, placesAction } from './core/places.js';
import { buildTarget, SetupError, type Target, type TargetModule } from './core/target.js';
import type { AnyAction } from './core/action.js';
import { TELEGRAM } from './transports/telegram/principal.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const VERSION: string = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

/**
 * The git commit of the checkout, when there is one (TELEOPS_COMMIT wins, for images): read
 * from .git's files rather than by running git, which would cost a process at every start.
 */
export function gitCommit(root = ROOT): string | undefined {
  if (process.env.TELEOPS_COMMIT) return process.env.TELEOPS_COMMIT;
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const dotGit = join(root, '.git');
  // A worktree's .git is a file naming its git directory, whose refs live in the common one.
  const gitdir = /^gitdir: (.+)$/.exec(read(dotGit) ?? '')?.[1];
  const dir = gitdir === undefined ? dotGit : resolve(root, gitdir);
  const common = resolve(dir, read(join(dir, 'commondir')) ?? '.');
  const head = read(join(dir, 'HEAD'));
  const ref = /^ref: (\S+)$/.exec(head ?? '')?.[1];
  const packed = (name: string): string | undefined =>
    (read(join(common, 'packed-refs')) ?? '')
      .split('\n')
      .find((l) => l.endsWith(` ${name}`))
      ?.slice(0, 40);
  const sha = ref === undefined ? head : (read(join(dir, ref)) ?? read(join(common, ref)) ?? packed(ref));
  return sha !== undefined && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
}

export interface App {
  readonly config: Config;
  readonly db: Db;
  readonly audit: AuditLog;
  readonly dispatcher: Dispatcher;
  readonly registry: Registry;
  readonly redactor: Redactor;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly buttons: ButtonRepo;
  readonly updates: ProcessedUpdates;
  readonly policy: Policy;
  /** Where the audit head is posted; a transport adds its own (telegram:<chat id>). */
  readonly witnesses: AuditWitnesses;
  /** The AI operator, when an LLM is configured; plain text goes to `agent.ask`. */
  readonly agent?: Agent;
  /** Integrations for /status and /health; transports add theirs. */
  readonly integrations: Integration[];
  /** This process among replicas on one database (host:pid): the leader lease and update claims name it. */
  readonly replica: string;
  /** Subscribes to every target's live cards. */
  onCard(listener: (card: Result) => void): () => void;
  /** Every target's live cards as they are now. */
  cards(): Result[];
  /** Where a transport that can place live cards apart (forum topics) plugs in. */
  readonly places: CardPlacesSlot;
  /**
   * Where alerts go; a transport sets it (the console prints, Telegram posts), and sends each
   * only to the chats `shows` allows (per-chat scopes).
   */
  setAlertDelivery(deliver: (result: Result, shows: (chatId: number) => boolean) => Promise<void>): void;
  /**
   * Starts the background work (watchers, pollers, witnesses, the audit monitor). On a shared
   * database only the replica holding the leader lease runs it; `onLost` is told when this one
   * stops leading, after its work has stopped.
   */
  startBackground(onLost?: (why: string) => void): Promise<void>;
  /** Ends every live follow; called before transports stop, so their last cards go out. */
  endLive(): void;
  startHttp(essential: readonly string[]): Promise<void>;
  close(drainMs: number): Promise<void>;
}

/** Composition root: config → store → ports → registry → dispatcher. Transports attach to the result. */
export async function createApp(
  config: Config,
  modules: readonly TargetModule[],
  opts: { log?: Logger; model?: AiModel } = {},
): Promise<App> {
  const redactor = createRedactor(config.secrets);
  const log = opts.log ?? createLogger(config.LOG_LEVEL, redactor.redact);
  // A state directory that cannot be written gives a copy to read: the bot answers reads, degraded.
  const state = openState(config.STATE_DIR, {
    fsync: config.AUDIT_FSYNC,
    modules,
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : {}),
  });
  const db = state.db;
  const auditKeys = {
    ...(config.AUDIT_HMAC_KEY ? { hmacKey: config.AUDIT_HMAC_KEY } : {}),
    previousKeys: config.AUDIT_HMAC_KEY_PREVIOUS,
    anchorPath: config.auditAnchorPath,
  };
  let audit: AuditLog;
  try {
    audit = new AuditLog(db, { ...auditKeys, unwritable: state.unwritable, shared: state.engine === 'postgres' });
  } catch (e) {
    db.close();
    throw e instanceof AuditKeyError ? new SetupError(e.message) : e;
  }
  const metrics = createMetrics();
  const policy = new Policy({
    transport: TELEGRAM,
    operators: config.AUTHORIZED_USER_IDS,
    admins: config.ADMIN_USER_IDS,
    viewers: config.VIEWER_USER_IDS,
    chats: config.AUTHORIZED_CHAT_IDS,
    consoleRole: config.CONSOLE_ROLE,
  });
  const chatState = new ChatStateRepo(db);
  const global = chatState.forChat(0);
  const startedAt = Date.now();
  const commit = gitCommit();
  // Built-ins describe the registry they are part of (help) and call the dispatcher (cancel).
  const late: { registry?: Registry; dispatcher?: Dispatcher; agent?: Agent } = {};

  let deliver: (result: Result, shows: (chatId: number) => boolean) => Promise<void> = async () => {};
  const scopes = new Scopes(config.SCOPES, modules);
  const witnesses = new AuditWitnesses({
    head: () => audit.head(),
    keyId: audit.currentKeyId,
    schedule: config.AUDIT_WITNESS_EVERY,
    destructive: (name) => late.registry?.get(name)?.risk === 'destructive',
    store: { get: (k) => global.get(k), set: (k, v) => global.set(k, v) },
    metrics,
    log,
  });
  for (const w of serverWitnesses(config.AUDIT_WITNESS)) witnesses.add(w);
  audit.onAppend((e) => witnesses.appended(e));

  const alerts = new AlertRouter({
    cooldownMs: config.ALERT_COOLDOWN_SECONDS * 1000,
    deliver: (result, alert) => deliver(result, (chat) => scopes.shows(chat, alert.source, alert.place)),
    silencedUntil: () => Number(global.get('alerts.silenced_until') ?? 0),
    metrics,
    log,
  });

  const auditWritable = new AuditWritable({ log, alerts, dir: config.STATE_DIR, failing: state.unwritable });
  const places = new CardPlacesSlot();
  const plugged: Target[] = [];
  // `/<target> topics` for targets whose live cards may have places of their own, once they are on.
  const placeActions: AnyAction[] = [];
  for (const m of modules) {
    try {
      const approve = (r: OnBehalfRequest) => onBehalf(late.dispatcher!)(r);
      const t = await buildTarget(m, { config, alerts, log, db, redactor, metrics, approve });
      if (!t) continue;
      plugged.push(t);
      if (m.topics && t.actions.length > 0) placeActions.push(placesAction(places, m.name, m.topics.summary));
    } catch (e) {
      db.close();
      throw new SetupError(e instanceof Error ? e.message : String(e));
    }
  }
  // A copy in memory has no WAL; once the database on disk replaces it, SQLite checkpoints it itself.
  const stopCheckpoints =
    state.engine === 'sqlite' && state.unwritable === undefined ? checkpointInBackground(db) : async () => {};
  // The LLM, when one is configured (a test hands in its own model). The AI SDK (about a third of
  // the modules a start loads) is imported only then.
  const wanted = resolveAi(config);
  const ai = opts.model
    ? { ok: true as const, model: opts.model }
    : wanted.provider === 'none'
      ? { ok: false as const, reason: wanted.reason }
      : (await import('./ai/providers.js')).modelFromSettings(config);
  const aiMemory = new AiMemoryRepo(db);
  const aiUsage = new AiUsageRepo(db);
  // Replicas on one PostgreSQL charge the same buckets: the limits hold per operator, not per replica.
  const limiter = (perMinute: number, scope: string): Limiter =>
    state.engine === 'postgres' ? new SharedRateLimiter(db, perMinute, scope) : new RateLimiter(perMinute);
  if (!ai.ok) log.info({ reason: ai.reason }, 'AI operator off');
  let lease: LeaderLease | undefined;
  const replica = thisReplica();
  const integrations: Integration[] = [
    // Configured is not reachable: /status and /health ask the provider's models list (no tokens).
    opts.model
      ? { name: 'llm', check: async () => ({ state: 'up', detail: `${opts.model!.provider} ${opts.model!.modelId}` }) }
      : llmIntegration(config),
    {
      name: 'audit',
      check: async () => {
        const unwritable = auditWritable.health();
        if (unwritable) return unwritable;
        const head = audit.head();
        return monitor.health(head ? `${counted(audit.count(), 'entry', 'entries')}, head #${head.seq}` : 'empty');
      },
    },
    ...plugged.flatMap((t) => (t.integration ? [t.integration] : [])),
  ];

  const monitor = new AuditMonitor({
    db,
    verify: auditKeys,
    heads: () => witnesses.heads(),
    alerts,
    log,
    everyMs: config.AUDIT_VERIFY_EVERY,
  });
  const named = idsNamed(db);
  const builtins = builtinActions({
    registry: () => late.registry!,
    dispatcher: () => late.dispatcher!,
    audit,
    auditQuery: new AuditQuery(db, audit, (h) => named(h).map((userId) => policy.actorOf({ userId, display: '' }))),
    auditVerify: () => monitor.verify(),
    integrations: () => integrations,
    version: VERSION,
    commit,
    startedAt,
    silence: {
      until: () => Number(global.get('alerts.silenced_until') ?? 0),
      set: (t) => global.set('alerts.silenced_until', t > 0 ? String(t) : undefined),
    },
    scopes,
  });
  const targetActions = [...plugged.flatMap((t) => t.actions), ...placeActions];
  const aiOwn = aiActions({
    memory: aiMemory,
    redactor,
    summaries: modules.flatMap((m) => (m.summaries ?? []).map((s) => ({ ...s, target: m.name }))),
    has: (name) => targetActions.some((a) => a.name === name),
    registry: () => late.registry!,
    dispatcher: () => late.dispatcher!,
    agent: () => late.agent!,
  });
  // Without an LLM its spellings stay known, so "/docker summary web" says what is missing.
  const registry = (late.registry = ai.ok
    ? new Registry([...builtins, ...aiOwn, ...targetActions])
    : new Registry([...builtins, ...targetActions], {
        unavailable: { actions: aiOwn, reason: `needs an LLM, and none is configured (${ai.reason})` },
      }));
  for (const a of unknownActions(config.APPROVAL_QUORUM, (name) => registry.get(name) !== undefined))
    log.warn(`APPROVAL_QUORUM names ${a}, which is no action here: that rule never applies`);
  const dispatcher = (late.dispatcher = new Dispatcher({
    registry,
    policy,
    limiter: limiter(config.RATE_LIMIT_PER_MINUTE, 'requests'),
    audit,
    approvals: new ApprovalRepo(db),
    chatState,
    metrics,
    redact: redactor.redact,
    redactDeep: redactor.redactDeep,
    log,
    confirmTtlMs: config.CONFIRM_TTL_SECONDS * 1000,
    approvalRetentionMs: config.APPROVAL_RETENTION_DAYS * 24 * 3600_000,
    approvalQuorum: config.APPROVAL_QUORUM,
    actionTimeoutMs: config.ACTION_TIMEOUT_SECONDS * 1000,
    aiMutationsAllowed: config.AI_DESTRUCTIVE_ALLOWED,
    auditWritable,
    scopes,
  }));
  const agent = (late.agent = ai.ok
    ? (await import('./ai/agent.js')).createAgent({
        model: ai.model,
        dispatcher,
        registry,
        redactor,
        metrics,
        log,
        usage: aiUsage,
        memory: aiMemory,
        llmLimiter: limiter(config.AI_REQUESTS_PER_MINUTE, 'llm'),
        settings: {
          maxSteps: config.AI_MAX_STEPS,
          timeoutMs: config.AI_TIMEOUT_SECONDS * 1000,
          dailyTokenBudget: config.AI_DAILY_TOKEN_BUDGET,
          memoryTurns: config.AI_MEMORY_TURNS,
          requestsPerMinute: config.AI_REQUESTS_PER_MINUTE,
        },
      })
    : undefined);

  const buttons = new ButtonRepo(db);
  const updates = new ProcessedUpdates(db);
  let http: Server | undefined;
  const prune = setInterval(() => {
    const weekAgo = Date.now() - 7 * 24 * 3600_000;
    buttons.prune();
    dispatcher.approvals.prune();
    updates.prune(weekAgo);
    aiUsage.prune(utcDay(weekAgo));
  }, 3600_000);
  prune.unref();

  return {
    config,
    db,
    audit,
    dispatcher,
    registry,
    redactor,
    metrics,
    log,
    buttons,
    updates,
    policy,
    witnesses,
    ...(agent ? { agent } : {}),
    integrations,
    replica,
    places,
    onCard(listener) {
      const offs = plugged.flatMap((t) => (t.onCard ? [t.onCard(listener)] : []));
      return () => offs.forEach((off) => off());
    },
    cards() {
      return plugged.flatMap((t) => t.cards?.() ?? []);
    },
    setAlertDelivery(d) {
      deliver = d;
    },
    async startBackground(onLost) {
      const work = async () => {
        for (const t of plugged) await t.start?.();
        witnesses.start();
        monitor.start();
      };
      if (state.engine === 'postgres') {
        const l = new LeaderLease({
          db,
          id: replica,
          leaseMs: config.LEADER_LEASE_SECONDS * 1000,
          log,
          onLead: () => void work().catch((err: unknown) => log.error({ err }, 'background work failed to start')),
          onLose: (why) => {
            monitor.stop();
            witnesses.stop();
            void Promise.allSettled(plugged.map((t) => t.stop?.())).then(() => onLost?.(why));
          },
        });
        lease = l;
        integrations.push({ name: 'leader', check: async () => l.health() });
        l.start();
      } else await work();
      const reopen = () => {
        state.reopen();
        audit.reopen();
      };
      auditWritable.watch({ reopen, append: (e) => audit.append(e) });
    },
    endLive() {
      for (const t of plugged) t.endLive?.();
    },
    async startHttp(essential) {
      if (config.HTTP_PORT === 0) return;
      http = await startHttp({
        host: config.HTTP_HOST,
        port: config.HTTP_PORT,
        version: VERSION,
        startedAt,
        integrations: () => integrations,
        essential,
        metrics,
        log,
        redact: redactor.redact,
      });
      log.info({ host: config.HTTP_HOST, port: config.HTTP_PORT }, 'health and metrics listening');
    },
    async close(drainMs) {
      clearInterval(prune);
      lease?.stop();
      monitor.stop();
      auditWritable.stop();
      await dispatcher.drain(drainMs);
      witnesses.stop();
      await Promise.allSettled(plugged.map((t) => t.stop?.()));
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
      audit.close();
      await stopCheckpoints();
      db.close();
    },
  };
}
