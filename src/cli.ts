import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { config as loadDotenv } from 'dotenv';
import { GrammyError } from 'grammy';
import { createApp, SetupError, VERSION, type App, type TargetFactory } from './app.js';
import { loadConfig, type Config, type Mode } from './config.js';
import { verifyAuditAsync } from './core/audit-verify.js';
import { runDoctor } from './doctor.js';
import { probeHealth } from './http/probe.js';
import { openDb, dbPath } from './store/db.js';
import { TARGETS } from './targets/index.js';
import { createTelegram } from './transports/telegram/bot.js';
import { TopicsSlot } from './transports/telegram/topics.js';
import { consoleAlerts, runConsole } from './transports/console/console.js';

const USAGE = `teleops ${VERSION} — an operations console that lives in Telegram

Usage:
  teleops start                          run the bot (settings from the environment or .env)
  teleops console                        the same commands in this terminal, no Telegram needed
  teleops audit verify [--state-dir DIR] check the audit log's hash chain (exit 0 intact, 1 broken)
  teleops doctor                         check settings and reachability of everything configured
  teleops health                         exit 0 when this host's /health says ok (for container healthchecks)
  teleops --version

Settings: see .env.example or the README.`;

const SHUTDOWN_DRAIN_MS = 10_000;

function config(mode: Mode): Config {
  const r = loadConfig(process.env, mode);
  if (r.ok) return r.config;
  process.stderr.write(`teleops: cannot start — fix these settings (in the environment or .env):\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(2);
}

/** Builds the app, or exits 2 with the one-line reason a target could not be set up. */
async function build(cfg: Config, targets: readonly TargetFactory[]): Promise<App> {
  try {
    return await createApp(cfg, targets);
  } catch (e) {
    if (!(e instanceof SetupError)) throw e;
    process.stderr.write(`teleops: cannot start — ${e.message}\n`);
    process.exit(2);
  }
}

async function start(targets: readonly TargetFactory[]): Promise<void> {
  const cfg = config('start');
  const topics = new TopicsSlot();
  const app = await build(cfg, [...targets, topics.target]);
  const alertChats = cfg.ALERT_CHAT_ID.length > 0 ? cfg.ALERT_CHAT_ID : app.policy.operatorChats();
  const tg = createTelegram({
    token: cfg.TELEGRAM_BOT_TOKEN,
    apiRoot: cfg.TELEGRAM_API_ROOT,
    dispatcher: app.dispatcher,
    registry: app.registry,
    buttons: app.buttons,
    updates: app.updates,
    redactor: app.redactor,
    metrics: app.metrics,
    log: app.log,
    limits: { globalPerSecond: cfg.TELEGRAM_GLOBAL_PER_SECOND, groupPerMinute: cfg.TELEGRAM_CHAT_PER_MINUTE, privatePerSecond: cfg.TELEGRAM_PRIVATE_PER_SECOND },
    db: app.db,
    live: app,
    alertChats,
    topics,
    ...(app.agent ? { agent: app.agent } : {}),
  });
  app.integrations.push({ name: 'telegram', check: async () => tg.health() });
  app.setAlertDelivery(async (result) => tg.alert(result));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await Promise.race([tg.stop(), new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS))]);
    await app.close(SHUTDOWN_DRAIN_MS);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled rejection'));

  await app.startHttp(['audit', 'telegram']);
  for (let attempt = 0; !stopping; attempt++) {
    try {
      await tg.start();
      break;
    } catch (err) {
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        process.stderr.write(`teleops: Telegram rejected the bot token (${err.description}); check TELEGRAM_BOT_TOKEN.\n`);
        await app.close(0);
        process.exit(2);
      }
      const delay = Math.min(60_000, 1000 * 2 ** attempt);
      app.log.warn({ err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'Telegram is not reachable; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  await app.startBackground();
}

async function consoleMode(targets: readonly TargetFactory[]): Promise<void> {
  // The terminal is the conversation: only errors go to stderr unless LOG_LEVEL says otherwise.
  if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'error';
  const cfg = config('console');
  const app = await build(cfg, targets);
  const alert = consoleAlerts(process.stdout, app.redactor);
  app.setAlertDelivery(async (r) => alert(r));
  await app.startBackground();
  await runConsole({
    dispatcher: app.dispatcher,
    redactor: app.redactor,
    principal: { kind: 'console', name: userInfo().username },
    downloadDir: join(cfg.STATE_DIR, 'downloads'),
    input: process.stdin,
    output: process.stdout,
    ...(app.agent ? { agent: app.agent } : {}),
  });
  await app.close(SHUTDOWN_DRAIN_MS);
}

async function auditVerify(args: string[]): Promise<never> {
  const i = args.indexOf('--state-dir');
  if (i >= 0 && !args[i + 1]) {
    process.stderr.write('teleops audit verify: --state-dir needs a directory\n');
    process.exit(2);
  }
  const stateDir = i >= 0 ? args[i + 1]! : (process.env.STATE_DIR ?? '.state');
  if (!existsSync(dbPath(stateDir))) {
    process.stderr.write(`teleops audit verify: no audit database at ${dbPath(stateDir)}\n`);
    process.exit(2);
  }
  const anchorPath = i < 0 && process.env.AUDIT_ANCHOR_PATH ? process.env.AUDIT_ANCHOR_PATH : join(stateDir, 'audit.anchor');
  const db = openDb(stateDir, { readonly: true });
  const hmacKey = process.env.AUDIT_HMAC_KEY?.trim();
  const r = await verifyAuditAsync(db, { ...(hmacKey ? { hmacKey } : {}), anchorPath });
  db.close();
  if (r.ok) {
    process.stdout.write(`audit log intact: ${r.entries} entries, head #${r.headSeq}\n`);
    process.exit(0);
  }
  process.stdout.write(`audit log BROKEN at #${r.firstBadSeq} (${r.kind}): ${r.message}\n`);
  process.exit(1);
}

async function health(): Promise<never> {
  const r = loadConfig(process.env, 'offline');
  if (!r.ok) {
    process.stderr.write(`teleops health: ${r.problems.join('; ')}\n`);
    process.exit(2);
  }
  if (r.config.HTTP_PORT === 0) {
    process.stderr.write('teleops health: HTTP_PORT=0 disables /health; set HTTP_PORT to check it\n');
    process.exit(2);
  }
  const p = await probeHealth(r.config.HTTP_HOST, r.config.HTTP_PORT);
  (p.ok ? process.stdout : process.stderr).write(`teleops health: ${p.line}\n`);
  process.exit(p.ok ? 0 : 1);
}

/** `targets` is for tests that add a test-only target to the real process. */
export async function main(argv: string[], targets: readonly TargetFactory[] = TARGETS): Promise<void> {
  loadDotenv({ quiet: true });
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start':
      return start(targets);
    case 'console':
      return consoleMode(targets);
    case 'audit':
      if (rest[0] === 'verify') await auditVerify(rest.slice(1));
      break;
    case 'doctor':
      return process.exit(await runDoctor(process.env, process.stdout));
    case 'health':
      return health();
    case '--version':
    case '-v':
      process.stdout.write(`${VERSION}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
  }
  process.stderr.write(`teleops: unknown command "${argv.join(' ')}"\n\n${USAGE}\n`);
  process.exit(2);
}
