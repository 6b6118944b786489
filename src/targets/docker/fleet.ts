import { z } from 'zod';
import { ActionError, defineAction, type ActionContext, type AnyAction, type CommandSpec } from '../../core/action.js';
import type { AlertSink } from '../../core/alerts.js';
import { bindArgs, tokenize, UsageError } from '../../core/commands.js';
import { bold, line, result, text, value, type Block, type Button, type Result } from '../../core/result.js';
import { counted } from '../../core/text.js';
import { HOST_NAME, HOST_NAME_RULE, takeHost } from './hosts.js';
import type { ContainerSummary, DockerPort } from './port.js';
import { isProjectRef } from './project.js';
import { resolveContainer } from './resolve.js';
import { shortId } from './summary.js';

/** The chat's current Docker host (`/docker use <host>`), in the chat-state store. */
export const CHAT_HOST = 'docker.host';
/** Telegram allows 100 buttons on a message; `ps` over every host keeps under it. */
const MAX_BUTTONS = 90;

const hostName = z.string().regex(HOST_NAME, { error: HOST_NAME_RULE });
/** What the LLM reads about the host param: the names it may use. */
const hostParam = (fleet: Fleet) =>
  hostName.describe(
    `Docker host, one of: ${fleet.names.join(', ')}; omit for the chat’s current host (docker.ps: every host)`,
  );

/** One configured host and the Docker actions bound to its Engine. */
export interface DockerHost {
  readonly name: string;
  /** As configured, for /hosts. */
  readonly url: string;
  readonly port: DockerPort;
  readonly actions: ReadonlyMap<string, AnyAction>;
}

/**
 * Many Docker hosts behind one set of actions. Each Docker action takes a `host` param
 * (`@edge` on a command), which `bind` fixes from the chat's current host before anything
 * else sees the request, so an approved request runs where its card said. With one host
 * configured nothing is added to what the actions show; with more, results, subjects (hence
 * cards and audit entries), alerts and the buttons they carry name their host.
 */
export class Fleet {
  readonly names: readonly string[];
  /** The actions that take a host: every host's own, by name. */
  readonly hosted: ReadonlySet<string>;
  private readonly byName: ReadonlyMap<string, DockerHost>;

  constructor(readonly hosts: readonly DockerHost[]) {
    if (hosts.length === 0) throw new Error('a fleet needs a host');
    this.names = hosts.map((h) => h.name);
    this.byName = new Map(hosts.map((h) => [h.name, h]));
    this.hosted = new Set([...hosts[0]!.actions.values()].filter(hasShape).map((a) => a.name));
  }

  get many(): boolean {
    return this.hosts.length > 1;
  }

  get(name: string): DockerHost {
    const h = this.byName.get(name);
    if (!h) throw new ActionError(`unknown Docker host ${name}; hosts: ${this.names.join(', ')}`);
    return h;
  }

  /**
   * The chat's current host, or the first configured one its scope holds; a host no longer
   * configured is refused.
   */
  current(ctx: Pick<ActionContext, 'chat' | 'within'>): string {
    const chosen = this.many ? ctx.chat.get(CHAT_HOST) : undefined;
    if (chosen === undefined) return this.names.find((n) => ctx.within?.(n) ?? true) ?? this.names[0]!;
    if (!this.byName.has(chosen))
      throw new ActionError(
        `this chat uses Docker host ${chosen}, which is no longer configured; choose another with ` +
          `/docker use <host> (${this.names.join(', ')})`,
      );
    return chosen;
  }

  /**
   * The host a request acts on: its own, else the chat's, named even when it is the only one (a
   * rule of APPROVAL_QUORUM names it, and an approval must not run on another host configured
   * since); undefined means every host (`ps` only).
   */
  pin(
    ctx: Pick<ActionContext, 'chat' | 'within'>,
    p: { host?: string | undefined },
    everyHost: boolean,
  ): string | undefined {
    if (p.host !== undefined) return this.get(p.host).name;
    return everyHost ? undefined : this.current(ctx);
  }

  /**
   * A result as shown for `host`: a line naming it, and every Docker button bound to it. A live
   * card names its host itself, in every version (its later versions do not come through here).
   */
  mark(r: Result, host: string): Result {
    if (!this.many) return r;
    const blocks = r.card ? r.blocks : [hostLine(host), ...r.blocks];
    return { ...r, blocks, ...withHostButtons(r, host, this.hosted) };
  }

  /** Alerts from one host's watcher: about that host (scopes route them), naming it when there are several. */
  sink(sink: AlertSink, host: string): AlertSink {
    if (!this.many) return { raise: (a) => sink.raise({ ...a, place: host }) };
    return {
      raise: (a) => sink.raise({ ...a, key: `${a.key}@${host}`, place: host, result: this.mark(a.result, host) }),
    };
  }
}

const hostLine = (host: string): Block => line(text('🖥 host '), value(host));

function withHostButtons(r: Result, host: string, hosted: ReadonlySet<string>): Pick<Result, 'buttons'> {
  if (!r.buttons) return {};
  const bind = (b: Button): Button =>
    hosted.has(b.action) && b.params.host === undefined ? { ...b, params: { ...b.params, host } } : b;
  return { buttons: r.buttons.map((row) => row.map(bind)) };
}

/** A command that also takes `@host`: on its first argument (`web@edge`, `@edge`) or last (`… @edge`). */
function hostCommand(c: CommandSpec, many: boolean): CommandSpec {
  return {
    ...c,
    ...(many ? { usage: `${c.usage ? `${c.usage} ` : ''}[@host]` } : {}),
    parse: (_tokens, raw) => {
      const { raw: rest, host } = takeHost(raw);
      const params = c.parse ? c.parse(tokenize(rest), rest) : bindArgs(c.usage ?? '', rest);
      return host === undefined ? params : { ...params, host };
    },
  };
}

type HostParams = Record<string, unknown> & { host?: string };

/**
 * The registry's Docker actions: each host's own action of the same name, chosen by `host`.
 * `docker.ps` without a host lists every host, grouped (the chat's current host steers the rest).
 */
export function fleetActions(fleet: Fleet): AnyAction[] {
  const templates = [...fleet.hosts[0]!.actions.values()];
  const wrap = (a: AnyAction): AnyAction => {
    if (!fleet.hosted.has(a.name)) return a;
    const everyHost = a.name === 'docker.ps';
    const on = (ctx: ActionContext, p: HostParams) => {
      const host = p.host ?? fleet.current(ctx);
      const { host: _drop, ...rest } = p;
      return { host, action: fleet.get(host).actions.get(a.name)!, params: rest };
    };
    return {
      ...a,
      params: (a.params as z.ZodObject).extend({ host: hostParam(fleet).optional() }),
      ...(a.command ? { command: hostCommand(a.command, fleet.many) } : {}),
      ...(a.subject
        ? {
            subject: (p: HostParams) =>
              `${a.subject!(p)}${fleet.many && p.host !== undefined ? ` on host ${p.host}` : ''}`,
          }
        : {}),
      bind: (ctx: ActionContext, p: HostParams) => {
        const host = fleet.pin(ctx, p, everyHost);
        return host === undefined ? p : { ...p, host };
      },
      ...(takesContainer(a)
        ? {
            names: async (ctx: ActionContext, p: HostParams) => {
              const host = fleet.get(p.host ?? fleet.current(ctx));
              return {
                container: containerNames(String(p.container), await host.port.list({ all: true }, ctx.signal)),
              };
            },
          }
        : {}),
      // Bound: its host, the only one, or (ps) every host, each shown only where the chat's scope allows.
      where: (_ctx: ActionContext, p: HostParams) =>
        p.host !== undefined ? [p.host] : fleet.many ? [] : [fleet.names[0]!],
      // Asked of the request's own host, which it keeps.
      ...(a.settle
        ? {
            settle: async (ctx: ActionContext, p: HostParams) => {
              const t = on(ctx, p);
              return { ...(await t.action.settle!(ctx, t.params)), host: t.host };
            },
          }
        : {}),
      ...(a.preview
        ? {
            preview: (ctx: ActionContext, p: HostParams) => {
              const t = on(ctx, p);
              return t.action.preview!(ctx, t.params);
            },
          }
        : {}),
      run: async (ctx: ActionContext, p: HostParams) => {
        if (everyHost && fleet.many && p.host === undefined) return psEveryHost(fleet, ctx, p);
        const t = on(ctx, p);
        return fleet.mark(await t.action.run(ctx, t.params), t.host);
      },
    };
  };
  // With one host there is nothing to choose: no /docker use.
  return [...templates.map(wrap), hostsAction(fleet), ...(fleet.many ? [useAction(fleet)] : [])];
}

const takesContainer = (a: AnyAction): boolean => a.params instanceof z.ZodObject && 'container' in a.params.shape;

/**
 * What a container reference stands for, each way a rule may name it: the container's name, its
 * id (whole and as the CLI shortens it), its compose `project/service` and `project/` (an id
 * prefix or a service resolved), or all of that for every container of a project (`shop/`).
 */
function containerNames(ref: string, all: readonly ContainerSummary[]): string[] {
  const named = (c: ContainerSummary) => [
    c.name,
    c.id,
    shortId(c.id),
    ...(c.project ? [`${c.project}/`, ...(c.service ? [`${c.project}/${c.service}`] : [])] : []),
  ];
  if (isProjectRef(ref)) return all.filter((c) => c.project === ref.slice(0, -1)).flatMap(named);
  return named(resolveContainer(ref, all));
}

const hasShape = (a: AnyAction): boolean => a.params instanceof z.ZodObject && !('host' in a.params.shape);

/** Every host's `ps`, asked in parallel; a host that fails is one line, not the answer. */
async function psEveryHost(fleet: Fleet, ctx: ActionContext, p: HostParams): Promise<Result> {
  const answers = await Promise.all(
    fleet.hosts.filter(inScope(ctx)).map(async (h) => {
      try {
        return { host: h.name, r: await h.actions.get('docker.ps')!.run(ctx, p) };
      } catch (e) {
        if (e instanceof ActionError) return { host: h.name, down: e.message };
        throw e;
      }
    }),
  );
  const blocks: Block[] = [];
  const buttons: Button[][] = [];
  let count = 0;
  for (const a of answers) {
    if ('down' in a) {
      blocks.push(line(text('🔴 '), bold('host '), value(a.host), text(': '), value(a.down ?? '')));
      continue;
    }
    blocks.push(line(text('🖥 '), bold('host '), value(a.host)), ...a.r.blocks);
    for (const row of withHostButtons(a.r, a.host, fleet.hosted).buttons ?? []) {
      if (count + row.length > MAX_BUTTONS) break;
      buttons.push([...row]);
      count += row.length;
    }
  }
  return result(blocks, buttons.length > 0 ? { buttons } : {});
}

/** Whether the chat's scope holds a host (every host, when the chat has no scope). */
const inScope =
  (ctx: ActionContext) =>
  (h: DockerHost): boolean =>
    ctx.within?.(h.name) ?? true;

/** `/hosts`: each host's state, Engine version and containers, asked in parallel. */
function hostsAction(fleet: Fleet): AnyAction {
  return defineAction({
    name: 'docker.hosts',
    summary: 'The Docker hosts: state, Engine version and containers of each, and this chat’s current one',
    target: 'docker',
    risk: 'read',
    params: z.object({}),
    command: { path: ['docker', 'hosts'], aliases: [['hosts']] },
    timeoutMs: 30_000,
    where: () => [],
    async run(ctx) {
      let current: string | undefined;
      try {
        current = fleet.current(ctx);
      } catch {
        current = undefined;
      }
      const shown = fleet.hosts.filter(inScope(ctx));
      const rows = await Promise.all(
        shown.map(async (h): Promise<{ up: boolean; row: Block }> => {
          const mark = fleet.many && h.name === current ? '▶ ' : '• ';
          try {
            const [v, list] = await Promise.all([h.port.version(ctx.signal), h.port.list({ all: true }, ctx.signal)]);
            const running = list.filter((c) => c.state === 'running').length;
            const row = line(
              text(`${mark}🟢 `),
              value(h.name),
              text(' · Engine '),
              value(v.version),
              text(` · ${running} running of ${counted(list.length, 'container')} · `),
              value(h.url),
            );
            return { up: true, row };
          } catch (e) {
            if (!(e instanceof ActionError)) throw e;
            const why = [text(' · down: '), value(e.message), text(' · '), value(h.url)];
            return { up: false, row: line(text(`${mark}🔴 `), value(h.name), ...why) };
          }
        }),
      );
      const down = rows.filter((r) => !r.up).length;
      const head = line(
        text('🖥 '),
        bold('Docker hosts'),
        text(`: ${shown.length}${down > 0 ? ` (${down} down)` : ''}`),
      );
      const buttons = fleet.many
        ? shown.map((h): Button[] => [{ label: `Use ${h.name}`, action: 'docker.use', params: { host: h.name } }])
        : [];
      return result([head, ...rows.map((r) => r.row)], buttons.length > 0 ? { buttons } : {});
    },
  });
}

/** `/docker use <host>`: the chat's current host, kept across restarts in the chat-state store. */
function useAction(fleet: Fleet): AnyAction {
  return defineAction({
    name: 'docker.use',
    summary: 'Set this chat’s current Docker host (used when a command names no @host)',
    target: 'docker',
    // It steers every later Docker command in the chat: a change, not a read.
    risk: 'write',
    params: z.object({ host: hostParam(fleet) }),
    subject: (p) => `host ${p.host}`,
    where: (_ctx, p) => [p.host],
    command: {
      path: ['docker', 'use'],
      usage: '<host>',
      parse: (tokens) => {
        if (tokens.length !== 1) throw new UsageError('name one host; /hosts lists them');
        return { host: tokens[0]!.replace(/^@/, '') };
      },
    },
    async run(ctx, p) {
      const h = fleet.get(p.host);
      ctx.chat.set(CHAT_HOST, h.name);
      return result([line(text('This chat now uses Docker host '), value(h.name), text('.'))]);
    },
  });
}
