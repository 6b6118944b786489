import { z } from 'zod';
import { ActionError, defineAction, type ActionContext, type AnyAction } from '../../core/action.js';
import { bold, line, pre, result, text, value, type Block, type Button, type Result } from '../../core/result.js';
import { compareNames, counted, truncate } from '../../core/text.js';
import { containerButtons, containerSpans, parseEngineTime, stateEmoji, stateLine, table } from './format.js';
import { logsAction } from './logs.js';
import type { Redactor } from '../../core/redact.js';
import type { ContainerDetails, ContainerSummary, DockerPort } from './port.js';
import { isProjectRef, projectIds, projectPreview, restartProject } from './project.js';
import { CONTAINER_REF, findContainer, isContainerRef } from './resolve.js';
import { binaryBytes, computeStats, decimalBytes } from './stats.js';
import type { ExpectedStops } from './stops.js';

export interface DockerActionDeps {
  readonly port: DockerPort;
  readonly stops: ExpectedStops;
  /** Fields are redacted before they are cut, so a cut secret cannot slip past the transport's redactor. */
  readonly redactor: Redactor;
  readonly clock?: () => number;
}

export const PS_PAGE_SIZE = 10;
/** `/docker stats` without a container samples at most this many (each takes ~1 s). */
export const STATS_MAX_CONTAINERS = 20;
const TOP_MAX_PROCESSES = 100;
const STOP_GRACE_SECONDS = 10;

const containerRef = z.string().regex(CONTAINER_REF, { error: 'a name, an id prefix or compose project/service' });
const containerParams = z.object({ container: containerRef });

const psParams = z.object({
  all: z.boolean().default(false),
  filter: z
    .string()
    .max(64)
    .regex(/^[\w./:@-]+$/, { error: 'letters, digits and . _ - / : @ only' })
    .optional(),
  page: z.coerce.number().int().min(1).max(10_000).default(1),
});

/** `/docker ps [all] [filter]`: "all" (or -a, --all) anywhere; the first other word filters. */
export function parsePsArgs(tokens: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rest: string[] = [];
  for (const t of tokens) {
    if (t === 'all' || t === '-a' || t === '--all') out.all = true;
    else rest.push(t);
  }
  if (rest.length > 0) out.filter = rest.join(' ');
  return out;
}

export function dockerActions(deps: DockerActionDeps): AnyAction[] {
  const { port, stops, redactor } = deps;
  /** A field as shown: redacted whole, then cut; one field's secret never hides another field. */
  const field = (s: string, max: number): string => truncate(redactor.redact(s), max);
  const clock = deps.clock ?? Date.now;
  const subject = (p: { container: string }): string => `container ${p.container}`;

  const current = (ctx: ActionContext, ref: string): Promise<ContainerDetails> => findContainer(port, ref, ctx.signal);

  const ps = defineAction({
    name: 'docker.ps',
    summary: 'List containers grouped by compose project, with buttons for logs, restart, stop/start',
    target: 'docker',
    risk: 'read',
    params: psParams,
    command: { path: ['docker', 'ps'], usage: '[all] [filter]', aliases: [['ps'], ['docker']], parse: parsePsArgs },
    timeoutMs: 30_000,
    async run(ctx, p) {
      const everything = await port.list({ all: true }, ctx.signal);
      const needle = p.filter?.toLowerCase();
      const matching = needle
        ? everything.filter((c) =>
            [c.name, c.image, c.project ?? '', c.service ?? ''].some((s) => s.toLowerCase().includes(needle)),
          )
        : everything;
      // A crash-looping container is what an operator opens the bot for: never hidden by default.
      const shown = p.all ? matching : matching.filter((c) => c.state === 'running' || c.state === 'restarting');
      const hidden = matching.length - shown.length;
      const ordered = [...shown].sort(
        (a, b) =>
          Number(!a.project) - Number(!b.project) ||
          compareNames(a.project ?? '', b.project ?? '') ||
          compareNames(a.name, b.name),
      );
      const pages = Math.max(1, Math.ceil(ordered.length / PS_PAGE_SIZE));
      const page = Math.min(p.page, pages);
      const slice = ordered.slice((page - 1) * PS_PAGE_SIZE, page * PS_PAGE_SIZE);
      // The list already says what `docker ps` says (state, uptime, health). Restart counts and
      // the last exit code need one inspect per container: asked only for rows (re)started
      // within the hour or restarting, where a crash loop would show, so a page of long-running
      // containers costs no more than the list.
      const loops = await Promise.all(
        slice.map((c) =>
          RECENT.test(c.status)
            ? port.inspect(c.id, ctx.signal).then(
                (d): RestartInfo => ({ count: d.restartCount, exitCode: d.state.exitCode }),
                (e: unknown) => {
                  if (e instanceof ActionError) return undefined;
                  throw e;
                },
              )
            : undefined,
        ),
      );
      const restarting = shown.filter((c) => c.state === 'restarting').length;
      const blocks: Block[] = [
        line(
          text('🐳 '),
          bold(p.all ? 'Containers' : 'Running containers'),
          text(`: ${shown.length}`),
          ...(restarting > 0 ? [text(` (${restarting} restarting)`)] : []),
          ...(p.filter ? [text(' matching '), value(p.filter)] : []),
          text(pages > 1 ? ` · page ${page}/${pages}` : ''),
        ),
      ];
      if (shown.length === 0) blocks.push(line(text(p.all ? 'No containers.' : 'No running containers.')));
      const buttons: Button[][] = [];
      let group: string | undefined | null = null;
      slice.forEach((c, i) => {
        if (c.project !== group && (c.project !== undefined || slice.some((x) => x.project !== undefined))) {
          blocks.push(
            c.project ? line(text('📦 '), bold('compose '), value(c.project)) : line(text('📦 '), bold('standalone')),
          );
        }
        group = c.project;
        blocks.push(psRow(c, loops[i]));
        buttons.push(containerButtons(c.name, c.state === 'running', { logsLabel: `📄 ${truncate(c.name, 24)}` }));
      });
      const nav: Button[] = [];
      const base = { all: p.all, ...(p.filter ? { filter: p.filter } : {}) };
      if (page > 1) nav.push({ label: '◀ Previous', action: 'docker.ps', params: { ...base, page: page - 1 } });
      if (page < pages) nav.push({ label: 'Next ▶', action: 'docker.ps', params: { ...base, page: page + 1 } });
      if (nav.length > 0) buttons.push(nav);
      if (hidden > 0) {
        blocks.push(line(text(`${hidden} stopped container${hidden === 1 ? '' : 's'} not shown.`)));
        buttons.push([{ label: `Show all (+${hidden} stopped)`, action: 'docker.ps', params: { ...base, all: true } }]);
      }
      return result(blocks, buttons.length > 0 ? { buttons } : {});
    },
  });

  const inspect = defineAction({
    name: 'docker.inspect',
    summary: 'Summarize a container: image, command, state, health, ports, mounts, env names, labels',
    target: 'docker',
    risk: 'read',
    params: containerParams,
    command: { path: ['docker', 'inspect'], usage: '<container>' },
    timeoutMs: 20_000,
    subject,
    async run(ctx, p) {
      const d = await current(ctx, p.container);
      return result(inspectBlocks(d, clock(), field), { buttons: [containerButtons(d.name, d.state.running)] });
    },
  });

  const stats = defineAction({
    name: 'docker.stats',
    summary: 'One snapshot of CPU, memory, network and block I/O and pids, for one or all running containers',
    target: 'docker',
    risk: 'read',
    params: z.object({ container: containerRef.optional() }),
    command: { path: ['docker', 'stats'], usage: '[container]' },
    timeoutMs: 45_000,
    async run(ctx, p) {
      let targets: { id: string; name: string }[];
      let more = 0;
      if (p.container) {
        const c = await current(ctx, p.container);
        if (!c.state.running) throw new ActionError(`container ${c.name} is not running (${c.state.status})`);
        targets = [c];
      } else {
        const running = (await port.list({ all: false }, ctx.signal)).sort((a, b) => compareNames(a.name, b.name));
        targets = running.slice(0, STATS_MAX_CONTAINERS);
        more = running.length - targets.length;
      }
      if (targets.length === 0) return result([line(text('No running containers.'))]);
      ctx.progress?.(`Sampling ${counted(targets.length, 'container')}: the Engine takes two readings, a few seconds…`);
      // Each snapshot waits about a second for the Engine's second reading: taken together (at
      // most STATS_MAX_CONTAINERS), the answer comes after one such wait, not one per batch.
      const snaps = await Promise.all(
        targets.map(async (c) => {
          try {
            return computeStats(await port.stats(c.id, ctx.signal));
          } catch (e) {
            if (e instanceof ActionError && p.container === undefined) return undefined;
            throw e;
          }
        }),
      );
      const rows = [['NAME', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O', 'BLOCK I/O', 'PIDS']];
      targets.forEach((c, i) => {
        const s = snaps[i];
        if (!s) return rows.push([c.name, '-', '-', '-', '-', '-', '-']);
        return rows.push([
          c.name,
          `${s.cpuPercent.toFixed(2)}%`,
          `${binaryBytes(s.memUsed)} / ${s.memLimit > 0 ? binaryBytes(s.memLimit) : '-'}`,
          `${s.memPercent.toFixed(2)}%`,
          `${decimalBytes(s.netRx)} / ${decimalBytes(s.netTx)}`,
          `${decimalBytes(s.blockRead)} / ${decimalBytes(s.blockWrite)}`,
          String(s.pids),
        ]);
      });
      const blocks: Block[] = [line(text('📊 '), bold('Container stats'), text(' (one snapshot)')), pre(table(rows))];
      if (more > 0) blocks.push(line(text(`${more} more running; name one: /docker stats <container>`)));
      return result(blocks);
    },
  });

  const top = defineAction({
    name: 'docker.top',
    summary: 'Processes running inside a container',
    target: 'docker',
    risk: 'read',
    params: containerParams,
    command: { path: ['docker', 'top'], usage: '<container>' },
    timeoutMs: 20_000,
    subject,
    async run(ctx, p) {
      const c = await current(ctx, p.container);
      if (!c.state.running) throw new ActionError(`container ${c.name} is not running (${c.state.status})`);
      const t = await port.top(c.id, ctx.signal);
      const rows = [t.titles, ...t.processes.slice(0, TOP_MAX_PROCESSES)].map((r) => r.map((cell) => field(cell, 120)));
      const blocks: Block[] = [
        line(text('⚙️ '), bold('Processes in '), ...containerSpans(c.name, c.id), text(`: ${t.processes.length}`)),
        pre(table(rows)),
      ];
      if (t.processes.length > TOP_MAX_PROCESSES) blocks.push(line(text(`first ${TOP_MAX_PROCESSES} shown`)));
      return result(blocks);
    },
  });

  const df = defineAction({
    name: 'docker.df',
    summary: 'Disk used by images, containers, volumes and build cache, and how much is reclaimable',
    target: 'docker',
    risk: 'read',
    params: z.object({}),
    command: { path: ['docker', 'df'] },
    timeoutMs: 60_000,
    async run(ctx) {
      const u = await port.diskUsage(ctx.signal);
      const rows = [
        ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
        ...u.rows.map((r) => [
          r.kind,
          String(r.total),
          String(r.active),
          decimalBytes(r.size),
          `${decimalBytes(r.reclaimable)}${r.size > 0 ? ` (${Math.round((100 * r.reclaimable) / r.size)}%)` : ''}`,
        ]),
      ];
      return result([line(text('💾 '), bold('Docker disk usage')), pre(table(rows))]);
    },
  });

  const start = defineAction({
    name: 'docker.start',
    summary: 'Start a stopped container',
    target: 'docker',
    risk: 'write',
    params: containerParams,
    command: { path: ['docker', 'start'], usage: '<container>' },
    timeoutMs: 30_000,
    subject,
    // Asked only when a card is needed (the LLM's request): none for a container already running.
    preview: async (ctx, p) => {
      const d = await current(ctx, p.container);
      if (d.state.running) throw new ActionError(`container ${d.name} is already running; nothing to start`);
      return [line(text('Now: ')), stateLine(d, clock())];
    },
    async run(ctx, p) {
      const before = await current(ctx, p.container);
      if (before.state.running) return afterResult('Already running:', before, clock());
      await port.start(before.id, ctx.signal);
      return afterResult('Started', await port.inspect(before.id, ctx.signal), clock());
    },
  });

  const stop = defineAction({
    name: 'docker.stop',
    summary: `Stop a running container (SIGTERM, then SIGKILL after ${STOP_GRACE_SECONDS}s)`,
    target: 'docker',
    risk: 'destructive',
    params: containerParams,
    command: { path: ['docker', 'stop'], usage: '<container>' },
    timeoutMs: 60_000,
    subject,
    // No card for what would do nothing. The grace line stays on the card while it runs.
    preview: async (ctx, p) => {
      const d = await current(ctx, p.container);
      if (!d.state.running)
        throw new ActionError(`container ${d.name} is already stopped (${d.state.status}); nothing to stop`);
      return [line(text('Now: ')), stateLine(d, clock()), graceLine(d.name)];
    },
    async run(ctx, p) {
      // Re-checked here: the approval may be minutes old.
      const before = await current(ctx, p.container);
      if (!before.state.running) return afterResult('Not running, nothing to stop:', before, clock());
      stops.expect(before.id);
      ctx.progress?.(graceNote('Stopping', before.name));
      try {
        await port.stop(before.id, { graceSeconds: STOP_GRACE_SECONDS }, ctx.signal);
      } catch (e) {
        stops.forget(before.id);
        throw e;
      }
      return afterResult('Stopped', await port.inspect(before.id, ctx.signal), clock());
    },
  });

  const restart = defineAction({
    name: 'docker.restart',
    summary:
      `Restart a container (stop with a ${STOP_GRACE_SECONDS}s grace period, then start), or every container ` +
      'of a compose project ("project/"), dependencies first',
    target: 'docker',
    risk: 'destructive',
    params: z.object({
      container: z.string().refine((s) => isContainerRef(s) || isProjectRef(s), {
        error: 'a name, an id prefix, compose project/service, or project/ for a whole compose project',
      }),
      ids: z
        .array(z.string().regex(/^[0-9a-f]{64}$/))
        .max(1000)
        .optional()
        .describe("a project's containers as its approval card listed them; set by teleops"),
    }),
    command: { path: ['docker', 'restart'], usage: '<container>' },
    // A project restarts one container after another, each within its grace period.
    timeoutMs: 600_000,
    subject: (p) => (isProjectRef(p.container) ? `compose project ${p.container.slice(0, -1)}` : subject(p)),
    // A project restarts the containers its card listed, not those it has when the button is pressed.
    settle: async (ctx, p) => {
      if (isProjectRef(p.container)) return { ...p, ids: await projectIds(port, p.container, ctx.signal) };
      const { ids: _ids, ...one } = p;
      return one;
    },
    preview: async (ctx, p) => {
      if (isProjectRef(p.container)) return projectPreview(port, p.container, STOP_GRACE_SECONDS, ctx.signal);
      const d = await current(ctx, p.container);
      return [line(text('Now: ')), stateLine(d, clock()), ...(d.state.running ? [graceLine(d.name)] : [])];
    },
    async run(ctx, p) {
      if (isProjectRef(p.container)) {
        return restartProject({ port, stops, graceSeconds: STOP_GRACE_SECONDS }, ctx, p.container, p.ids);
      }
      const before = await current(ctx, p.container);
      if (before.state.running) {
        stops.expect(before.id);
        ctx.progress?.(graceNote('Restarting', before.name));
      }
      try {
        await port.restart(before.id, { graceSeconds: STOP_GRACE_SECONDS }, ctx.signal);
      } catch (e) {
        stops.forget(before.id);
        throw e;
      }
      const after = await port.inspect(before.id, ctx.signal);
      return afterResult('Restarted', after, clock(), before);
    },
  });

  return [ps, inspect, logsAction({ port, redactor, clock }), stats, top, df, start, stop, restart];
}

/** Status words of the Engine for a container started less than an hour ago, or restarting. */
const RECENT = /^(Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes?)\b|Restarting\b)/;
/** Up for seconds only: with restarts behind it, a crash loop caught between two exits. */
const JUST_UP = /^Up (Less than a second|\d+ seconds?)\b/;

interface RestartInfo {
  readonly count: number;
  /** The last exit code; the Engine resets it to 0 when the container starts again. */
  readonly exitCode: number;
}

/**
 * "🟢 api · Up 2 hours (healthy) · restarts 3 · nginx:1.25"; a crash loop, whether caught
 * restarting or just up again, is "🔁 api · Restarting (3) 2 seconds ago · restarts 7 · last exit 3 · …".
 */
function psRow(c: ContainerSummary, restarts: RestartInfo | undefined): Block {
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.status)?.[1];
  const count = restarts?.count ?? 0;
  const looping = c.state === 'restarting' || (c.state === 'running' && count > 0 && JUST_UP.test(c.status));
  return line(
    text(`${looping ? '🔁' : stateEmoji(c.state, health)} `),
    value(c.name),
    text(' · '),
    value(c.status),
    ...(count > 0 ? [text(' · restarts '), value(count)] : []),
    ...(c.state === 'restarting' && restarts ? [text(' · last exit '), value(restarts.exitCode)] : []),
    text(' · '),
    value(c.image),
  );
}

/** What the wait after Approve is: a container that ignores SIGTERM holds the request for the whole grace period. */
const graceLine = (name: string): Block =>
  line(
    text('Stopping sends SIGTERM to '),
    value(name),
    text(
      `, then SIGKILL if it is still running after ${STOP_GRACE_SECONDS} s: this can take up ` +
        `to ${STOP_GRACE_SECONDS} s.`,
    ),
  );

/** Said while a stop waits: without it the chat is silent for up to the whole grace period. */
const graceNote = (verb: string, name: string): string =>
  `${verb} ${name}: SIGTERM sent; waiting up to ${STOP_GRACE_SECONDS} s for it to exit before SIGKILL…`;

/** Every mutating action answers with the container's state after it acted. */
function afterResult(verb: string, d: ContainerDetails, now: number, before?: ContainerDetails): Result {
  const blocks: Block[] = [line(bold(verb), text(' '), ...containerSpans(d.name, d.id)), stateLine(d, now)];
  if (d.state.running) blocks.push(line(text('started at '), value(d.state.startedAt)));
  if (before?.state.running) blocks.push(line(text('previously started at '), value(before.state.startedAt)));
  return result(blocks, { buttons: [containerButtons(d.name, d.state.running)] });
}

/** `field` redacts then cuts each free-text field on its own (see DockerActionDeps.redactor). */
function inspectBlocks(d: ContainerDetails, now: number, field: (s: string, max: number) => string): Block[] {
  const kv = (k: string, v: string | number): Block => line(bold(`${k}: `), value(v));
  const blocks: Block[] = [line(text('🔎 '), bold('Container '), ...containerSpans(d.name, d.id)), stateLine(d, now)];
  const project = d.labels['com.docker.compose.project'];
  const service = d.labels['com.docker.compose.service'];
  if (project && service) blocks.push(kv('Compose', field(`${project}/${service}`, 200)));
  blocks.push(kv('Image', field(d.image, 300)));
  blocks.push(kv('Command', field(d.command.join(' '), 300)));
  blocks.push(kv('Exit code', d.state.exitCode), kv('OOM-killed', d.state.oomKilled ? 'yes' : 'no'));
  blocks.push(kv('Started', parseEngineTime(d.state.startedAt) === undefined ? 'never started' : d.state.startedAt));
  blocks.push(
    kv(
      'Restart policy',
      d.restartPolicy.name + (d.restartPolicy.maximumRetryCount > 0 ? `:${d.restartPolicy.maximumRetryCount}` : ''),
    ),
  );
  blocks.push(kv('Restarts', d.restartCount));
  if (d.memoryLimit > 0) blocks.push(kv('Memory limit', binaryBytes(d.memoryLimit)));
  blocks.push(
    kv(
      'Ports',
      d.ports.length > 0
        ? d.ports.map((p) => (p.host ? `${p.host} → ${p.container}` : p.container)).join(', ')
        : 'none',
    ),
  );
  blocks.push(
    kv(
      'Mounts',
      d.mounts.length > 0
        ? d.mounts
            .map((m) => `${field(m.source || m.type, 300)} → ${field(m.destination, 300)}${m.rw ? '' : ' (ro)'}`)
            .join(', ')
        : 'none',
    ),
  );
  blocks.push(kv('Env (names only)', d.envNames.length > 0 ? d.envNames.map((n) => field(n, 200)).join(', ') : 'none'));
  const labels = Object.entries(d.labels);
  if (labels.length > 0) {
    blocks.push(line(bold(`Labels (${labels.length}):`)));
    blocks.push(
      pre(
        labels
          .slice(0, 40)
          .map(([k, v]) => `${field(k, 200)}=${field(v, 200)}`)
          .join('\n'),
      ),
    );
  }
  if (d.health) {
    blocks.push(line(bold('Health: '), value(d.health.status), text(` · failing streak ${d.health.failingStreak}`)));
    const last = d.health.log.slice(-3);
    if (last.length > 0) {
      blocks.push(
        pre(
          last
            .map((r) => `${r.start} exit ${r.exitCode}: ${field(r.output.trim().replace(/\s*\n\s*/g, ' | '), 300)}`)
            .join('\n'),
        ),
      );
    }
  }
  return blocks;
}
