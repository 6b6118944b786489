import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { userInfo } from 'node:os';
import { config as loadDotenv } from 'dotenv';
import { GrammyError } from 'grammy';
import { createApp, VERSION, type App } from './app.js';
import { loadConfig, type Config, type Mode } from './config.js';
import { AuditKeyError, AuditLog, keyIdOf } from './core/audit.js';
import { DirError } from './core/dirs.js';
import { checkAll } from './core/health.js';
import { SetupError, type TargetModule } from './core/target.js';
import {
  AnchorReadError,
  parseHead,
  verifyAuditAsync,
  type VerifyReport,
  type WitnessedHead,
} from './core/audit-verify.js';
import { parseVerbArgs, type FlagKind } from './cli-args.js';
import { runDoctor } from './doctor.js';
import { probeHealth } from './http/probe.js';
import { ListenError } from './http/server.js';
import { exportAudit, ExportError, readExport, verifyExport } from './store/audit-export.js';
import { anchorOf, backupState, BackupError } from './store/backup.js';
import { DbUnreadable, openDb, dbPath, type Db } from './store/db.js';
import { copySqliteToPostgres, MigrateError } from './store/migrate.js';
import { PgError, type PgDb } from './store/postgres.js';
import { openPostgres } from './store/postgres-schema.js';
import { MODULES } from './targets/modules.js';
import { createTelegram } from './transports/telegram/bot.js';
import { WebhookError } from './transports/telegram/webhook.js';
import { createConsole, localPrincipal, runOnce } from './transports/console/console.js';
import { counted, oneLine } from './core/text.js';

/** Each verb's usage: printed by `teleops VERB --help`, and after a usage error. */
const VERB_USAGE = {
  start: 'teleops start                          run the bot (settings from the environment or .env)',
  console: `teleops console [-c "/cmd …" [--json]] the same commands in this terminal, no Telegram needed;
                                         -c runs one and exits 0 (it ran) or 1, --json prints it as JSON`,
  'audit verify': `teleops audit verify [--state-dir DIR] [--head SEQ:HASH] [--file EXPORT [--anchor FILE]]
                                         check the audit log's hash chain, and that a head a witness
                                         saw is still in it (exit 0 intact, 1 broken, 3 keyed but
                                         AUDIT_HMAC_KEY/AUDIT_HMAC_KEY_PREVIOUS missing, or the
                                         database cannot be read and the anchor records nothing;
                                         2 usage or an anchor file that cannot be read); a
                                         read-only DIR is read as it is;
                                         --file checks an export offline against the anchor`,
  'audit export': `teleops audit export [--since SEQ] [--state-dir DIR] > audit.jsonl
                                         the audit entries as stored, one JSON line each, with hashes`,
  'audit rekey': 'teleops audit rekey [--state-dir DIR]  put the log under AUDIT_HMAC_KEY now (a linked rekey entry)',
  doctor: `teleops doctor [--json]                check settings and reachability of everything configured
                                         (exit 0 all fine, 1 something fails; --json: one object per check)`,
  health: "teleops health                         exit 0 when this host's /health says ok (for container healthchecks)",
  backup: `teleops backup FILE [--state-dir DIR]   a consistent copy of the state while the bot runs, its audit
                                         anchor beside it (FILE.anchor), verified (README, "Backup")`,
  migrate: `teleops migrate sqlite-to-postgres [--state-dir DIR]
                                         copy the SQLite state into DATABASE_URL, the audit chain
                                         verified there; run again after stopping to add the rest`,
} as const;
type Verb = keyof typeof VERB_USAGE;

const AUDIT_VERBS = ['audit verify', 'audit export', 'audit rekey'] as const;
const AUDIT_USAGE = `Usage:\n${AUDIT_VERBS.map((v) => `  ${VERB_USAGE[v]}`).join('\n')}`;

const USAGE = `teleops ${VERSION} — an operations console that lives in Telegram

Usage:
${Object.values(VERB_USAGE)
  .map((u) => `  ${u}`)
  .join('\n')}
  teleops --version
  teleops VERB --help                    the usage of one verb

Settings: see .env.example or the README.`;

const SHUTDOWN_DRAIN_MS = 10_000;

function config(mode: Mode): Config {
  const r = loadConfig(process.env, mode);
  if (r.ok) return r.config;
  process.stderr.write(
    `teleops: cannot start — fix these settings (in the environment or ` +
      `.env):\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(2);
}

/** Builds the app, or exits 2 with the one-line reason a target could not be set up. */
async function build(cfg: Config, targets: readonly TargetModule[]): Promise<App> {
  try {
    return await createApp(cfg, targets);
  } catch (e) {
    if (e instanceof DirError || e instanceof DbUnreadable) e.message += ' — check STATE_DIR and AUDIT_ANCHOR_PATH';
    else if (e instanceof PgError) e.message += ' — check DATABASE_URL';
    else if (!(e instanceof SetupError)) throw e;
    // Paths and server answers in it may hold line breaks or terminal escapes: one line, escaped.
    process.stderr.write(`teleops: cannot start — ${oneLine(e.message)}\n`);
    process.exit(2);
  }
}

async function start(targets: readonly TargetModule[]): Promise<void> {
  const cfg = config('start');
  const app = await build(cfg, targets);
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
    limits: {
      globalPerSecond: cfg.TELEGRAM_GLOBAL_PER_SECOND,
      groupPerMinute: cfg.TELEGRAM_CHAT_PER_MINUTE,
      privatePerSecond: cfg.TELEGRAM_PRIVATE_PER_SECOND,
    },
    deadlines: { pollS: cfg.TELEGRAM_POLL_SECONDS, answerS: cfg.TELEGRAM_TIMEOUT_SECONDS },
    db: app.db,
    live: app,
    alertChats,
    places: app.places,
    claims: { owner: app.replica, holdMs: cfg.LEADER_LEASE_SECONDS * 1000 },
    ...(app.agent ? { agent: app.agent } : {}),
    ...(cfg.TELEGRAM_WEBHOOK_URL
      ? {
          webhook: {
            url: cfg.TELEGRAM_WEBHOOK_URL,
            secret: cfg.TELEGRAM_WEBHOOK_SECRET,
            host: cfg.TELEGRAM_WEBHOOK_HOST,
            port: cfg.TELEGRAM_WEBHOOK_PORT,
          },
        }
      : {}),
  });
  app.integrations.push({ name: 'telegram', check: async () => tg.health() });
  for (const w of cfg.AUDIT_WITNESS) if (w.kind === 'telegram') app.witnesses.add(tg.witness(w.chatId));
  app.setAlertDelivery(async (result, shows) => tg.alert(result, shows));

  let stopping = false;
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    app.endLive();
    await Promise.race([tg.stop(), new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS))]);
    await app.close(SHUTDOWN_DRAIN_MS);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (err) => app.log.error({ err }, 'unhandled rejection'));

  try {
    await app.startHttp(['audit', 'telegram']);
  } catch (e) {
    if (!(e instanceof ListenError)) throw e;
    await app.close(0);
    // Paths and server answers in it may hold line breaks or terminal escapes: one line, escaped.
    process.stderr.write(`teleops: cannot start — ${oneLine(e.message)}\n`);
    process.exit(2);
  }
  void integrationSummary(app);
  for (let attempt = 0; !stopping; attempt++) {
    try {
      await tg.start();
      break;
    } catch (err) {
      if (err instanceof GrammyError && (err.error_code === 401 || err.error_code === 404)) {
        process.stderr.write(
          `teleops: Telegram rejected the bot token (${err.description}); check TELEGRAM_BOT_TOKEN.\n`,
        );
        await app.close(0);
        process.exit(2);
      }
      if (err instanceof WebhookError) {
        process.stderr.write(`teleops: cannot start — ${err.message}\n`);
        await tg.stop();
        await app.close(0);
        process.exit(2);
      }
      const delay = Math.min(60_000, 1000 * 2 ** attempt);
      app.log.warn(
        { err: err instanceof Error ? err.message : String(err), retryInMs: delay },
        'Telegram is not reachable; retrying',
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  // A replica that stops leading exits (1) once its work has stopped; its supervisor starts it again, following.
  await app.startBackground((why) => void shutdown(`lost the leader lease: ${why}`, 1));
}

/** One line at start saying what answers and what does not (e.g. Docker unreachable). */
async function integrationSummary(app: App): Promise<void> {
  // Telegram is left out: it is being started now, and says so itself when it cannot be reached.
  const checks = Object.entries(
    await checkAll(
      app.integrations.filter((i) => i.name !== 'telegram'),
      5000,
    ),
  );
  const down = checks.filter(([, h]) => h.state === 'down');
  const parts = checks.map(([n, h]) =>
    h.state === 'down' ? `${n} down (${h.detail})` : `${n} ${h.state === 'up' ? 'up' : 'off'}`,
  );
  app.log[down.length > 0 ? 'warn' : 'info'](`integrations: ${parts.join(', ')}`);
}

async function consoleMode(targets: readonly TargetModule[], flags: ReadonlyMap<string, string[]>): Promise<void> {
  const once = flags.get('-c')?.[0] ?? flags.get('--command')?.[0];
  const json = flags.has('--json');
  if (json && once === undefined)
    usageExit('console', '--json needs -c "/command …"', `Usage:\n  ${VERB_USAGE.console}`);
  // The terminal is the conversation: only errors go to stderr unless LOG_LEVEL says otherwise.
  if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'error';
  const cfg = config('console');
  const app = await build(cfg, targets);
  if (cfg.AUDIT_WITNESS.some((w) => w.kind === 'telegram'))
    app.log.warn('AUDIT_WITNESS: telegram witnesses post only while teleops start runs');
  const deps = {
    dispatcher: app.dispatcher,
    redactor: app.redactor,
    principal: localPrincipal(userInfo().username),
    downloadDir: join(cfg.STATE_DIR, 'downloads'),
    input: process.stdin,
    output: process.stdout,
    ...(app.agent ? { agent: app.agent } : {}),
  } as const;
  if (once !== undefined) {
    const code = await runOnce(deps, once, json);
    await app.close(SHUTDOWN_DRAIN_MS);
    process.exit(code);
  }
  const session = createConsole({
    ...deps,
    ...(process.stdin.isTTY && process.stdout.isTTY ? { terminal: { registry: app.registry } } : {}),
  });
  app.setAlertDelivery(async (r) => session.alert(r));
  await app.startBackground();
  await session.run();
  await app.close(SHUTDOWN_DRAIN_MS);
}

/** Exit codes of `teleops audit verify`. */
const VERIFY_EXIT = { intact: 0, broken: 1, usage: 2, unverifiable: 3 } as const;

function usageError(verb: string, why: string): never {
  process.stderr.write(`teleops ${verb}: ${why}\n`);
  process.exit(VERIFY_EXIT.usage);
}

/** `--state-dir DIR` and `--head SEQ:HASH` (repeatable), already checked by parseVerbArgs. */
function auditArgs(
  cmd: string,
  flags: Map<string, string[]>,
): { stateDir: string | undefined; heads: WitnessedHead[] } {
  const heads = (flags.get('--head') ?? []).map(
    (v) =>
      parseHead(v, `the witnessed head ${v}`) ??
      usageError(cmd, '--head needs SEQ:HASH, as a witness posted it (e.g. 42:9f…, 64 hex digits)'),
  );
  return { stateDir: flags.get('--state-dir')?.at(-1), heads };
}

/** The state dir, anchor and keys the command works on: --state-dir wins over the environment. */
function auditFiles(
  cmd: string,
  stateDirArg: string | undefined,
): {
  stateDir: string;
  open: (write?: boolean) => Db;
  shared: boolean;
  databaseUrl: string;
  anchorPath: string;
  hmacKey?: string;
  previousKeys: string[];
} {
  const r = loadConfig(
    stateDirArg === undefined ? process.env : { ...process.env, STATE_DIR: stateDirArg, AUDIT_ANCHOR_PATH: undefined },
    'offline',
  );
  if (!r.ok) usageError(cmd, `fix these settings:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  const c = r.config;
  const url = c.DATABASE_URL;
  if (!url && !existsSync(dbPath(c.STATE_DIR))) usageError(cmd, `no audit database at ${oneLine(dbPath(c.STATE_DIR))}`);
  return {
    stateDir: c.STATE_DIR,
    // DATABASE_URL holds the chain when set, as for `teleops start`.
    open: (write = false) => {
      try {
        return url ? openPostgres(url).asDb() : openDb(c.STATE_DIR, { readonly: !write });
      } catch (e) {
        if (![DbUnreadable, DirError, PgError, SetupError].some((k) => e instanceof k)) throw e;
        const why = oneLine((e as Error).message);
        if (cmd !== 'audit verify') usageError(cmd, `cannot read the audit log: ${why}`);
        // Its contents destroyed while the anchor says there were entries: what replacing the log looks like.
        if (e instanceof DbUnreadable && e.damaged && recordsEntries(c.auditAnchorPath)) {
          process.stdout.write(`audit log BROKEN (unreadable): ${why}, while the anchor records entries\n`);
          process.exit(VERIFY_EXIT.broken);
        }
        // Otherwise it cannot be said to be intact, nor broken.
        process.stderr.write(`teleops ${cmd}: cannot read the audit log: ${why}\n`);
        process.exit(VERIFY_EXIT.unverifiable);
      }
    },
    shared: url !== '',
    databaseUrl: url,
    anchorPath: c.auditAnchorPath,
    ...(c.AUDIT_HMAC_KEY ? { hmacKey: c.AUDIT_HMAC_KEY } : {}),
    previousKeys: c.AUDIT_HMAC_KEY_PREVIOUS,
  };
}

/** Whether the anchor file holds at least one line (unreadable or missing: no). */
function recordsEntries(anchorPath: string): boolean {
  try {
    return statSync(anchorPath).size > 0;
  } catch {
    return false;
  }
}

async function auditVerify(flags: Map<string, string[]>): Promise<never> {
  const file = flags.get('--file')?.at(-1);
  if (file !== undefined) return verifyExportFile(file, flags);
  if (flags.has('--anchor')) usageError('audit verify', '--anchor goes with --file EXPORT');
  const a = auditArgs('audit verify', flags);
  const { open, anchorPath, hmacKey, previousKeys } = auditFiles('audit verify', a.stateDir);
  const opts = { anchorPath, previousKeys, ...(hmacKey ? { hmacKey } : {}) };
  const db = open();
  let r: VerifyReport;
  try {
    r = await verifyAuditAsync(db, { ...opts, heads: a.heads });
  } catch (e) {
    if (!(e instanceof AnchorReadError)) throw e;
    usageError('audit verify', e.message);
  } finally {
    db.close();
  }
  const against = a.heads.length > 0 ? ` (agrees with the witnessed head${a.heads.length > 1 ? 's' : ''})` : '';
  if (r.ok) {
    process.stdout.write(`audit log intact: ${counted(r.entries, 'entry', 'entries')}, head #${r.headSeq}${against}\n`);
    process.exit(VERIFY_EXIT.intact);
  }
  if (r.unverifiable) {
    process.stdout.write(`${oneLine(r.message)}\n`);
    process.exit(VERIFY_EXIT.unverifiable);
  }
  process.stdout.write(`audit log BROKEN at #${r.firstBadSeq} (${r.kind}): ${oneLine(r.message)}\n`);
  process.exit(VERIFY_EXIT.broken);
}

/** `audit verify --file`: an export, offline, against the anchor (--anchor, else the configured one). */
function verifyExportFile(file: string, flags: Map<string, string[]>): never {
  if (flags.has('--head')) usageError('audit verify', '--head checks the database, not an export');
  const dir = flags.get('--state-dir')?.at(-1);
  const r = loadConfig(
    dir === undefined ? process.env : { ...process.env, STATE_DIR: dir, AUDIT_ANCHOR_PATH: undefined },
    'offline',
  );
  if (!r.ok) usageError('audit verify', `fix these settings:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  let rows;
  try {
    rows = readExport(file);
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    usageError('audit verify', e.message);
  }
  let v;
  try {
    v = verifyExport(rows, {
      anchorPath: flags.get('--anchor')?.at(-1) ?? r.config.auditAnchorPath,
      previousKeys: r.config.AUDIT_HMAC_KEY_PREVIOUS,
      ...(r.config.AUDIT_HMAC_KEY ? { hmacKey: r.config.AUDIT_HMAC_KEY } : {}),
    });
  } catch (e) {
    if (!(e instanceof AnchorReadError)) throw e;
    usageError('audit verify', e.message);
  }
  const part =
    v.from === 1
      ? ''
      : ` (a partial export: it starts at #${v.from}, tied to those before by the anchor's line for #${v.from - 1})`;
  if (v.ok) {
    process.stdout.write(`audit export intact: entries #${v.from}–#${v.to}${part}\n`);
    process.exit(VERIFY_EXIT.intact);
  }
  if (v.unverifiable) {
    process.stdout.write(`${oneLine(v.message)}\n`);
    process.exit(VERIFY_EXIT.unverifiable);
  }
  process.stdout.write(`audit export BROKEN at #${v.firstBadSeq} (${v.kind}): ${oneLine(v.message)}${part}\n`);
  process.exit(VERIFY_EXIT.broken);
}

/** The entries from --since on, as stored, to stdout. */
function auditExport(flags: Map<string, string[]>): never {
  const since = flags.get('--since')?.at(-1) ?? '1';
  if (!/^[1-9][0-9]{0,14}$/.test(since)) usageError('audit export', '--since needs an entry number (1 or more)');
  const db = auditFiles('audit export', flags.get('--state-dir')?.at(-1)).open();
  try {
    db.transaction(() => {
      // Synchronous for files and pipes on Linux: all of it is written before the exit below.
      for (const l of exportAudit(db, Number(since))) process.stdout.write(l);
    })();
  } finally {
    db.close();
  }
  process.exit(0);
}

/** Brings the log under AUDIT_HMAC_KEY now (teleops also does it when it starts). */
function auditRekey(flags: Map<string, string[]>): never {
  const a = auditArgs('audit rekey', flags);
  const { open, shared, anchorPath, hmacKey, previousKeys } = auditFiles('audit rekey', a.stateDir);
  if (!hmacKey)
    usageError(
      'audit rekey',
      'set AUDIT_HMAC_KEY to the key the log should be under (and AUDIT_HMAC_KEY_PREVIOUS to the old one, to rotate)',
    );
  const db = open(true);
  try {
    const before = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM audit').pluck().get()!;
    const log = new AuditLog(db, { hmacKey, previousKeys, anchorPath, shared });
    const head = log.head();
    log.close();
    process.stdout.write(
      head && head.seq > before
        ? `audit log rekeyed: entry #${head.seq} moves it to key id ${keyIdOf(hmacKey)}\n`
        : `audit log already under key id ${keyIdOf(hmacKey)}; nothing to do\n`,
    );
    process.exit(0);
  } catch (e) {
    if (!(e instanceof AuditKeyError)) throw e;
    usageError('audit rekey', e.message);
  } finally {
    db.close();
  }
}

async function backup(file: string, flags: Map<string, string[]>): Promise<never> {
  const { stateDir, shared, anchorPath, hmacKey, previousKeys } = auditFiles(
    'backup',
    flags.get('--state-dir')?.at(-1),
  );
  if (shared) {
    usageError(
      'backup',
      'it copies the SQLite state; with DATABASE_URL, back up PostgreSQL with its own tools (pg_dump, or base backups)',
    );
  }
  try {
    const v = await backupState({
      stateDir,
      anchorPath,
      file: resolve(file),
      previousKeys,
      ...(hmacKey ? { hmacKey } : {}),
    });
    process.stdout.write(
      `backup ${file}: ${counted(v.entries, 'audit entry', 'audit entries')}, head #${v.headSeq}, verified; ` +
        `anchor ${anchorOf(file)}\n`,
    );
    process.exit(0);
  } catch (e) {
    if (!(e instanceof BackupError)) throw e;
    process.stderr.write(`teleops backup: ${e.message}\n`);
    process.exit(1);
  }
}

function migrate(direction: string, flags: Map<string, string[]>, targets: readonly TargetModule[]): never {
  if (direction !== 'sqlite-to-postgres')
    usageError('migrate', `no direction ${JSON.stringify(direction)}: the only one is sqlite-to-postgres`);
  const files = auditFiles('migrate', flags.get('--state-dir')?.at(-1));
  const { stateDir, databaseUrl, anchorPath, hmacKey, previousKeys } = files;
  if (!databaseUrl) usageError('migrate', 'set DATABASE_URL to the PostgreSQL database to copy into');
  if (!existsSync(dbPath(stateDir))) usageError('migrate', `no SQLite state at ${oneLine(dbPath(stateDir))}`);
  const src = openDb(stateDir, { modules: targets });
  let dst: PgDb | undefined;
  let code: number;
  try {
    dst = openPostgres(databaseUrl, targets);
    const r = copySqliteToPostgres(src, dst, {
      anchorPath,
      previousKeys,
      scratchAnchor: join(stateDir, 'migrate.anchor'),
      ...(hmacKey ? { hmacKey } : {}),
    });
    const v = r.verify;
    if (!v.ok) {
      const why = oneLine(v.message);
      process.stderr.write(`teleops migrate: copied, but the chain in PostgreSQL does not verify: ${why}\n`);
    } else {
      process.stdout.write(
        `migrated to ${dst.name}: ${counted(r.copied, 'audit entry', 'audit entries')} added (head #${v.headSeq}, ` +
          `verified against ${anchorPath}), ${counted(r.rows, 'row', 'rows')} of state\n`,
      );
    }
    code = v.ok ? 0 : 1;
  } catch (e) {
    if (!(e instanceof MigrateError || e instanceof PgError)) throw e;
    usageError('migrate', e.message);
  } finally {
    src.close();
    dst?.close();
  }
  process.exit(code);
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

/** The flags each verb accepts; anything else is a usage error. */
const VERB_FLAGS: Record<Verb, Record<string, FlagKind>> = {
  start: {},
  console: { '-c': 'value', '--command': 'value', '--json': 'bool' },
  'audit verify': { '--state-dir': 'value', '--head': 'value', '--file': 'value', '--anchor': 'value' },
  'audit export': { '--state-dir': 'value', '--since': 'value' },
  'audit rekey': { '--state-dir': 'value' },
  migrate: { '--state-dir': 'value' },
  doctor: { '--json': 'bool' },
  health: {},
  backup: { '--state-dir': 'value' },
};

/** Arguments each verb requires, in order (named in its usage). */
const VERB_POSITIONAL: Partial<Record<Verb, readonly string[]>> = { backup: ['FILE'], migrate: ['DIRECTION'] };

function isVerb(v: string): v is Verb {
  return Object.hasOwn(VERB_USAGE, v);
}

/** Splits argv into the verb (`audit` takes a sub-command) and its arguments. */
function verbOf(argv: readonly string[]): { verb: string; rest: string[] } {
  const [cmd = '', ...rest] = argv;
  if (cmd === 'audit' && rest[0] !== undefined && !rest[0].startsWith('-'))
    return { verb: `audit ${rest[0]}`, rest: rest.slice(1) };
  return { verb: cmd, rest };
}

/** `teleops console | head -5`: when the reader goes away, stop quietly, as other CLI tools do. */
function quietOnClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
}

function usageExit(what: string, why: string, usage: string): never {
  process.stderr.write(`teleops ${what}: ${why}\n\n${usage}\n`);
  process.exit(2);
}

/** `targets` is for tests that add a test-only target to the real process. */
export async function main(argv: string[], targets: readonly TargetModule[] = MODULES): Promise<void> {
  loadDotenv({ quiet: true });
  quietOnClosedStdout();
  const { verb, rest } = verbOf(argv);
  if (isVerb(verb)) {
    const p = parseVerbArgs(rest, VERB_FLAGS[verb], VERB_POSITIONAL[verb]);
    const usage = `Usage:\n  ${VERB_USAGE[verb]}`;
    if (p.kind === 'help') return void process.stdout.write(`${usage}\n`);
    if (p.kind === 'error') usageExit(verb, p.message, usage);
    switch (verb) {
      case 'start':
        return start(targets);
      case 'console':
        return consoleMode(targets, p.flags);
      case 'audit verify':
        return auditVerify(p.flags);
      case 'audit rekey':
        return auditRekey(p.flags);
      case 'audit export':
        return auditExport(p.flags);
      case 'doctor':
        return process.exit(await runDoctor(process.env, process.stdout, { json: p.flags.has('--json') }));
      case 'health':
        return health();
      case 'backup':
        return backup(p.positional[0]!, p.flags);
      case 'migrate':
        return migrate(p.positional[0]!, p.flags, targets);
    }
  }
  switch (verb) {
    case 'audit':
      if (rest.length === 0 || rest.every((a) => a === '--help' || a === '-h'))
        return void process.stdout.write(`${AUDIT_USAGE}\n`);
      usageExit(
        'audit',
        `unknown option ${JSON.stringify(rest.find((a) => a !== '--help' && a !== '-h'))}`,
        AUDIT_USAGE,
      );
      break;
    case '--version':
    case '-v':
      if (rest.length > 0) usageExit(verb, `unexpected argument ${JSON.stringify(rest[0])}`, USAGE);
      return void process.stdout.write(`${VERSION}\n`);
    case '':
    case 'help':
    case '--help':
    case '-h':
      if (rest[0] !== undefined && isVerb(rest.join(' ')))
        return void process.stdout.write(`Usage:\n  ${VERB_USAGE[rest.join(' ') as Verb]}\n`);
      if (rest[0] === 'audit' && rest.length === 1) return void process.stdout.write(`${AUDIT_USAGE}\n`);
      if (rest.length > 0) usageExit(verb || 'help', `no verb ${JSON.stringify(rest.join(' '))}`, USAGE);
      return void process.stdout.write(`${USAGE}\n`);
  }
  if (verb.startsWith('audit ')) usageExit('audit', `unknown command ${JSON.stringify(verb.slice(6))}`, AUDIT_USAGE);
  usageExit(verb, 'unknown command', USAGE);
}
