import { z } from 'zod';
import { ActionError, defineAction, requiredRole, type AnyAction } from './action.js';
import type { AuditLog } from './audit.js';
import { AUDIT_FILTER_USAGE, narrows, parseAuditFilter, type AuditQuery } from './audit-query.js';
import type { VerifyReport } from './audit-verify.js';
import type { Dispatcher } from './dispatcher.js';
import { checkAll, type Integration } from './health.js';
import type { Registry } from './registry.js';
import { bold, line, pre, text, value, type Block } from './result.js';
import type { ChatScope, Scopes } from './scopes.js';
import { closest } from './suggest.js';
import { counted, formatDuration, parseDuration, truncate } from './text.js';

export interface BuiltinDeps {
  readonly registry: () => Registry;
  readonly dispatcher: () => Dispatcher;
  readonly audit: AuditLog;
  readonly auditQuery: AuditQuery;
  /** Verifies the audit log against the last heads the witnesses took, and records the result. */
  readonly auditVerify: () => Promise<VerifyReport>;
  readonly integrations: () => readonly Integration[];
  readonly version: string;
  readonly commit: string | undefined;
  readonly startedAt: number;
  /** Alert muting, persisted so a restart does not unmute. */
  readonly silence: { until(): number; set(until: number): void };
  /** Per-chat scopes: help shows a scoped chat only what it may use. */
  readonly scopes?: Scopes;
  readonly now?: () => number;
}

const RISK_MARK = { read: '', write: ' ✏️', destructive: ' 🔒' } as const;
const STATE_MARK = { up: '🟢', down: '🔴', disabled: '⚪' } as const;

export function helpBlocks(
  registry: Registry,
  role: Parameters<Registry['help']>[0],
  group?: string,
  scope?: ChatScope,
): Block[] {
  const blocks: Block[] = [];
  for (const g of registry.help(role, group, scope)) {
    blocks.push(line(bold(g.target)));
    for (const l of g.lines) blocks.push(line(text(`${l.usage}${RISK_MARK[l.risk]} — ${l.summary}`)));
  }
  blocks.push(line(text('✏️ changes something · 🔒 asks for approval first')));
  return blocks;
}

/**
 * Whether an audited action's parameters are for admins only: it needs the admin role, or it is
 * not registered now (shell switched off since), so its role is unknown.
 */
function adminOnly(registry: Registry, name: string): boolean {
  const a = registry.get(name);
  return a ? requiredRole(a) === 'admin' : /^[a-z][a-z0-9-]*\.[a-z0-9.-]+$/.test(name);
}

/** An entry's parameters (stored redacted), compact: " · {"replicas":5}"; nothing when there are none. */
function paramsOf(params: unknown): string {
  if (params === null || typeof params !== 'object' || Object.keys(params).length === 0) return '';
  return ` · ${truncate(JSON.stringify(params), PARAMS_SHOWN)}`;
}

const PARAMS_SHOWN = 100;

/** The actions every deployment has: help, status, identity, audit, approvals, alert muting. */
export function builtinActions(d: BuiltinDeps): AnyAction[] {
  const now = d.now ?? Date.now;
  return [
    defineAction({
      name: 'core.start',
      summary: 'Welcome and the list of commands',
      target: 'core',
      risk: 'read',
      params: z.object({}),
      llm: false,
      command: { path: ['start'] },
      run: async (ctx) => ({
        blocks: [
          line(bold('teleops'), ` — you are ${ctx.operator.role}. Commands:`),
          ...helpBlocks(d.registry(), ctx.operator.role, undefined, d.scopes?.of(ctx.operator.chatId)),
        ],
      }),
    }),
    defineAction({
      name: 'core.help',
      summary: "List the commands you can use, all or one group's (/help <group>)",
      target: 'core',
      risk: 'read',
      params: z.object({ group: z.string().max(32).optional() }),
      llm: false,
      command: { path: ['help'], usage: '[group]' },
      run: async (ctx, p) => {
        const group = p.group?.replace(/^\//, '').toLowerCase();
        const scope = d.scopes?.of(ctx.operator.chatId);
        const groups = d.registry().groups(ctx.operator.role, scope);
        if (group !== undefined && !groups.includes(group)) {
          const near = closest(group, groups);
          const meant = near.length > 0 ? `Did you mean ${near.join(' or ')}? ` : '';
          throw new ActionError(`No command group "${truncate(group, 32)}". ${meant}Groups: ${groups.join(', ')}.`);
        }
        return { blocks: helpBlocks(d.registry(), ctx.operator.role, group, scope) };
      },
    }),
    defineAction({
      name: 'core.status',
      summary: 'Version, uptime and the state of every integration',
      target: 'core',
      risk: 'read',
      params: z.object({}),
      command: { path: ['status'] },
      run: async (ctx) => {
        // A target's integration is named after it; its details name its places (hosts, contexts),
        // which a scoped chat sees only when its scope holds them all.
        const scope = d.scopes?.of(ctx.operator.chatId);
        const seen = d.integrations().filter((i) => scope?.sees({ target: i.name, risk: 'read' }) ?? true);
        const checks = await checkAll(seen);
        return {
          blocks: [
            line(
              bold('teleops '),
              value(d.version),
              d.commit ? text(` (${d.commit.slice(0, 12)})`) : text(''),
              text(` · up ${formatDuration(now() - d.startedAt)}`),
            ),
            ...Object.entries(checks).map(([name, h]) =>
              scope && !scope.holdsAll(name)
                ? line(`${STATE_MARK[h.state]} ${name}: ${h.state} (its details name places outside this chat's scope)`)
                : line(`${STATE_MARK[h.state]} ${name}: ${h.state} — `, value(h.detail)),
            ),
          ],
        };
      },
    }),
    defineAction({
      name: 'core.whoami',
      summary: 'Your user id, this chat id and your role',
      target: 'core',
      risk: 'read',
      params: z.object({}),
      llm: false,
      command: { path: ['whoami'] },
      run: async (ctx) => ({
        blocks: [
          line(
            'User ',
            value(ctx.operator.userId),
            ' · chat ',
            value(ctx.operator.chatId),
            ' · role ',
            value(ctx.operator.role),
          ),
        ],
      }),
    }),
    defineAction({
      name: 'audit.recent',
      summary:
        'The last n audit entries (default 10), filtered by person, action, outcome, time or target: ' +
        '/audit @alice 24h, /audit failed, /audit tg:123 1h',
      target: 'core',
      risk: 'read',
      minRole: 'operator',
      params: z.object({
        n: z.coerce.number().int().min(1).max(100).default(10),
        filter: z
          .string()
          .max(500)
          .default('')
          .superRefine((s, c) => {
            const f = parseAuditFilter(s);
            if (typeof f === 'string') c.addIssue({ code: 'custom', message: f });
          })
          .describe(`filter words: ${AUDIT_FILTER_USAGE}`),
      }),
      command: { path: ['audit'], usage: AUDIT_FILTER_USAGE, parse: (tokens) => ({ filter: tokens.join(' ') }) },
      run: async (ctx, p) => {
        const f = parseAuditFilter(p.filter);
        if (typeof f === 'string') throw new ActionError(f);
        const limit = f.limit ?? p.n;
        const registry = d.registry();
        // A scoped chat reads its own entries only: other chats' requests name places it may not see.
        const own = d.scopes?.of(ctx.operator.chatId) !== undefined;
        const rows =
          narrows(f) || own
            ? d.auditQuery.find(f, {
                limit,
                now: now(),
                ...(own ? { chat: ctx.operator.chatId } : {}),
                ...(ctx.operator.role === 'admin'
                  ? {}
                  : {
                      searchable: registry
                        .list()
                        .filter((a) => !adminOnly(registry, a.name))
                        .map((a) => a.name),
                    }),
              })
            : d.audit.recent(limit);
        if (typeof rows === 'string') throw new ActionError(rows);
        if (rows.length === 0)
          return {
            blocks: [
              narrows(f)
                ? line('No audit entries match ', value(p.filter.trim()), '.')
                : line(own ? 'No audit entries from this chat yet.' : 'The audit log is empty.'),
            ],
          };
        const lines = rows.map((e) => {
          // What an admin-only action was asked to do (a shell command line) is for admins only.
          const hide = ctx.operator.role !== 'admin' && adminOnly(d.registry(), e.action);
          const target = hide ? ' [admin only]' : e.target ? ` ${e.target}` : '';
          const detail = e.detail && !hide ? ` (${e.detail})` : '';
          return (
            `#${e.seq} ${e.ts.slice(0, 19).replace('T', ' ')} ${e.operator} ${e.origin} ${e.action}${target} ` +
            `→ ${e.outcome}${detail}${hide ? '' : paramsOf(e.params)}`
          );
        });
        const heading = line(
          bold(`Last ${counted(rows.length, 'audit entry', 'audit entries')}`),
          ...(narrows(f) ? [text(' matching '), value(p.filter.trim())] : []),
          own ? ' of this chat (newest first)' : ' (newest first)',
        );
        return { blocks: [heading, pre(lines.join('\n'))] };
      },
    }),
    defineAction({
      name: 'audit.verify',
      summary: 'Recompute the audit hash chain and check it against the anchor file and the witnessed heads',
      target: 'core',
      risk: 'read',
      minRole: 'operator',
      params: z.object({}),
      timeoutMs: 300_000,
      command: { path: ['audit', 'verify'] },
      run: async () => {
        const r = await d.auditVerify();
        if (r.ok)
          return {
            blocks: [line(`✅ Audit log intact: ${counted(r.entries, 'entry', 'entries')}, head #${r.headSeq}.`)],
          };
        if (r.unverifiable) return { blocks: [line('⚠️ ', value(r.message))] };
        return {
          blocks: [line(bold('❌ Audit log broken'), ` at #${r.firstBadSeq} (${r.kind}): `, value(r.message))],
          failure: `broken at #${r.firstBadSeq} (${r.kind}): ${r.message}`,
        };
      },
    }),
    defineAction({
      name: 'core.cancel',
      summary: 'Cancel your pending approvals in this chat',
      target: 'core',
      risk: 'write',
      params: z.object({}),
      llm: false,
      command: { path: ['cancel'] },
      run: async (ctx) => {
        const n = d.dispatcher().cancelPending(ctx.operator).length;
        return {
          blocks: [line(n === 0 ? 'Nothing to cancel.' : `Cancelled ${n} pending approval${n === 1 ? '' : 's'}.`)],
        };
      },
    }),
    defineAction({
      name: 'alerts.silence',
      summary: 'Mute alerts for a while (e.g. 30m, 2h), or "off" to unmute; the audit log\'s alarms are never muted',
      target: 'core',
      risk: 'write',
      params: z.object({ duration: z.string().max(16) }),
      llm: false,
      command: { path: ['silence'], usage: '<duration>' },
      subject: (p) => `alerts for ${p.duration}`,
      run: async (ctx, p) => {
        // One switch for every chat: a chat that sees only part of teleops does not mute the rest.
        if (ctx.within)
          throw new ActionError(
            "This chat's scope covers only part of what teleops watches, and /silence mutes every chat: " +
              'use a chat without a scope.',
          );
        if (p.duration.toLowerCase() === 'off') {
          d.silence.set(0);
          return { blocks: [line('🔔 Alerts are on again.')] };
        }
        const ms = parseDuration(p.duration);
        if (ms === undefined || ms <= 0 || ms > 7 * 24 * 3600_000) {
          throw new ActionError('Give a duration up to 7d, like 30m, 2h or 1h30m, or "off".');
        }
        d.silence.set(now() + ms);
        return { blocks: [line(`🔕 Alerts muted for ${formatDuration(ms)}. /silence off turns them back on.`)] };
      },
    }),
  ];
}
