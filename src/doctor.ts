import { accessSync, constants, existsSync } from 'node:fs';
import { makeDirs } from './core/dirs.js';
import { llmIntegration } from './ai/reachable.js';
import { loadConfig, type Config } from './config.js';
import { hasKeyedEntry, verifyAuditAsync } from './core/audit-verify.js';
import { checkAll, type Integration } from './core/health.js';
import { silentLogger } from './core/log.js';
import { createRedactor } from './core/redact.js';
import { dbPath, DbUnreadable, openDb, openMemoryDb, type Db } from './store/db.js';
import { PgDb } from './store/postgres.js';
import { buildTarget } from './core/target.js';
import { MODULES } from './targets/modules.js';
import { botFetch } from './transports/telegram/bot-fetch.js';
import { counted } from './core/text.js';

type Line = { ok: boolean | 'off' | 'warn'; name: string; detail: string; fix?: string };

/** What to try when an integration is down. */
const FIX: Record<string, string> = {
  ...Object.fromEntries(MODULES.flatMap((m) => (m.fix ? [[m.name, m.fix]] : []))),
  llm: 'check AI_BASE_URL, the network and the API key, or set AI_PROVIDER=none',
};

/**
 * `teleops doctor`: one line per setting problem and per integration, each with a fix hint.
 * Returns the exit code: 0 when everything configured works.
 */
export async function runDoctor(
  env: NodeJS.ProcessEnv,
  out: NodeJS.WritableStream,
  opts: { json?: boolean } = {},
): Promise<number> {
  const lines: Line[] = [];
  const print = (out: NodeJS.WritableStream, lines: Line[]) => (opts.json ? printJson : printText)(out, lines);
  const r = loadConfig(env, 'start');
  if (!r.ok) {
    for (const p of r.problems) lines.push({ ok: false, name: 'settings', detail: p });
    const soft = loadConfig(env, 'doctor');
    if (!soft.ok) return print(out, lines);
  } else lines.push({ ok: true, name: 'settings', detail: 'all settings valid' });
  const cfg = r.ok
    ? r.config
    : (loadConfig(env, 'doctor') as Extract<ReturnType<typeof loadConfig>, { ok: true }>).config;

  try {
    makeDirs(cfg.STATE_DIR);
    accessSync(cfg.STATE_DIR, constants.W_OK);
    lines.push({ ok: true, name: 'state', detail: `${cfg.STATE_DIR} is writable` });
  } catch (e) {
    lines.push({
      ok: false,
      name: 'state',
      detail: `${cfg.STATE_DIR}: ${(e as Error).message}`,
      fix: 'set STATE_DIR to a writable directory',
    });
  }
  if (cfg.DATABASE_URL) {
    // Reached, not migrated: doctor changes nothing.
    try {
      const pg = new PgDb(cfg.DATABASE_URL);
      pg.close();
      lines.push({ ok: true, name: 'database', detail: `${pg.name} answers` });
    } catch (e) {
      lines.push({ ok: false, name: 'database', detail: (e as Error).message, fix: 'check DATABASE_URL' });
    }
  } else if (existsSync(dbPath(cfg.STATE_DIR))) {
    lines.push(await auditCheck(cfg));
  } else lines.push({ ok: true, name: 'audit', detail: 'no log yet (created on first start)' });
  if (!cfg.AUDIT_HMAC_KEY) {
    lines.push({
      ok: 'warn',
      name: 'audit key',
      detail: 'AUDIT_HMAC_KEY unset: plain SHA-256 chain',
      fix:
        'set AUDIT_HMAC_KEY so that database access alone cannot rewrite history; teleops adopts it at its next ' +
        'start with a linked rekey entry (README, "Audit keys")',
    });
  }

  const integrations: Integration[] = [];
  if (cfg.TELEGRAM_BOT_TOKEN) integrations.push(telegramCheck(cfg.TELEGRAM_API_ROOT, cfg.TELEGRAM_BOT_TOKEN));
  integrations.push(llmIntegration(cfg));
  const log = silentLogger();
  const scratch = openMemoryDb(MODULES);
  const redactor = createRedactor(cfg.secrets);
  for (const m of MODULES) {
    try {
      const t = await buildTarget(m, { config: cfg, alerts: { raise: () => {} }, log, db: scratch, redactor });
      if (t?.integration) integrations.push(t.integration);
    } catch (e) {
      lines.push({ ok: false, name: 'target', detail: (e as Error).message });
    }
  }
  for (const [name, h] of Object.entries(await checkAll(integrations, 5000))) {
    const ok = h.state === 'disabled' ? 'off' : h.state === 'up';
    lines.push({
      ok,
      name,
      detail: redactor.redact(h.detail),
      ...(ok === false && FIX[name] ? { fix: FIX[name] } : {}),
    });
  }
  scratch.close();
  return print(out, lines);
}

const exitCode = (lines: Line[]): number => (lines.every((l) => l.ok !== false) ? 0 : 1);

/** The audit log's verdict, verified where it lies, through a read-only connection. */
async function auditCheck(cfg: Config): Promise<Line> {
  let db: Db;
  try {
    db = openDb(cfg.STATE_DIR, { readonly: true });
  } catch (e) {
    if (!(e instanceof DbUnreadable)) throw e;
    return {
      ok: false,
      name: 'audit',
      detail: `cannot read it: ${e.message}`,
      fix: 'restore the state directory from a backup (teleops backup), or move the file aside to start a new log',
    };
  }
  const keys = {
    ...(cfg.AUDIT_HMAC_KEY ? { hmacKey: cfg.AUDIT_HMAC_KEY } : {}),
    previousKeys: cfg.AUDIT_HMAC_KEY_PREVIOUS,
    anchorPath: cfg.auditAnchorPath,
  };
  const v = await verifyAuditAsync(db, keys);
  // A key set since the last start is adopted at the next one; until then the log is unkeyed.
  const plain =
    !v.ok && !v.unverifiable && cfg.AUDIT_HMAC_KEY !== '' && !hasKeyedEntry(db)
      ? await verifyAuditAsync(db, { anchorPath: cfg.auditAnchorPath })
      : undefined;
  const unadopted = plain?.ok === true;
  db.close();
  return v.ok
    ? { ok: true, name: 'audit', detail: `intact, ${counted(v.entries, 'entry', 'entries')}` }
    : unadopted
      ? {
          ok: 'warn',
          name: 'audit',
          detail: `intact, ${counted(plain!.entries, 'entry', 'entries')}, not yet under AUDIT_HMAC_KEY`,
          fix:
            'teleops adopts the key at its next start (or run `teleops audit rekey`); if you did not just ' +
            'set the key, the log was rewritten without it',
        }
      : v.unverifiable
        ? {
            ok: 'warn',
            name: 'audit',
            detail: v.message,
            fix: 'put the key the log was written with in AUDIT_HMAC_KEY_PREVIOUS (see the README, "Audit keys")',
          }
        : {
            ok: false,
            name: 'audit',
            detail: v.message,
            fix: 'the log was changed outside teleops: investigate before trusting it',
          };
}

function printText(out: NodeJS.WritableStream, lines: Line[]): number {
  for (const l of lines) {
    const mark = l.ok === 'off' ? '·' : l.ok === 'warn' ? '!' : l.ok ? '✓' : '✗';
    out.write(`${mark} ${l.name}: ${l.detail}${l.fix ? ` — ${l.fix}` : ''}\n`);
  }
  return exitCode(lines);
}

/** `doctor --json`: `{ ok, checks: [{ name, status: ok|warn|fail|off, detail, fix }] }`, for scripts. */
function printJson(out: NodeJS.WritableStream, lines: Line[]): number {
  const status = (ok: Line['ok']) => (ok === 'off' ? 'off' : ok === 'warn' ? 'warn' : ok ? 'ok' : 'fail');
  const checks = lines.map((l) => ({ name: l.name, status: status(l.ok), detail: l.detail, fix: l.fix ?? null }));
  out.write(`${JSON.stringify({ ok: exitCode(lines) === 0, checks })}\n`);
  return exitCode(lines);
}

function telegramCheck(apiRoot: string, token: string): Integration {
  return {
    name: 'telegram',
    check: async (signal) => {
      try {
        // The bot's own client: its errors name the cause (ENOTFOUND, ECONNREFUSED, a TLS failure).
        const res = await botFetch(`${apiRoot}/bot${token}/getMe`, { signal });
        const body = (await res.json()) as { ok: boolean; result?: { username: string }; description?: string };
        if (body.ok) return { state: 'up', detail: `bot @${body.result?.username} at ${apiRoot}` };
        return {
          state: 'down',
          detail: `${apiRoot} rejected the bot token (${body.description ?? res.status}) — check TELEGRAM_BOT_TOKEN`,
        };
      } catch (e) {
        return {
          state: 'down',
          detail: `cannot reach ${apiRoot}: ${(e as Error).message} — check the network or TELEGRAM_API_ROOT`,
        };
      }
    },
  };
}
