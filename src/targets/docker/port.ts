import Docker from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ActionError } from '../../core/action.js';
import { demux, type LogFrame } from './logstream.js';

/**
 * The small surface of the Docker Engine API that the actions and the event watcher use.
 * Everything coming back is validated and reduced to what we show; environment variable
 * values never cross this boundary (only their names do).
 */
export interface DockerPort {
  /** DOCKER_HOST as given (or the default socket), for messages and /health. */
  readonly host: string;
  ping(signal?: AbortSignal): Promise<void>;
  version(signal?: AbortSignal): Promise<EngineVersion>;
  list(opts: { all: boolean }, signal?: AbortSignal): Promise<ContainerSummary[]>;
  inspect(id: string, signal?: AbortSignal): Promise<ContainerDetails>;
  /**
   * Log frames, demultiplexed (a TTY container's log, which is not multiplexed, is recognised
   * by its first bytes). `ref` is an id or a name. The iterable streams from the Engine:
   * ending the iteration early, or aborting `signal`, closes the connection; a stall longer
   * than the timeout ends it with an error.
   */
  logs(ref: string, opts: LogsOptions, signal?: AbortSignal): Promise<AsyncIterable<LogFrame>>;
  /** One snapshot, with the previous sample the Engine takes for CPU deltas. */
  stats(id: string, signal?: AbortSignal): Promise<RawStats>;
  top(id: string, signal?: AbortSignal): Promise<ProcessTable>;
  /** 'noop' when the container was already in the wanted state. */
  start(id: string, signal?: AbortSignal): Promise<'done' | 'noop'>;
  stop(id: string, opts?: { graceSeconds?: number }, signal?: AbortSignal): Promise<'done' | 'noop'>;
  restart(id: string, opts?: { graceSeconds?: number }, signal?: AbortSignal): Promise<void>;
  /**
   * Container events from `since` (unix seconds) on. Resolves once the Engine has accepted the
   * subscription; the iterable ends when the connection does (daemon stopped, socket gone).
   */
  events(opts: EventsOptions, signal: AbortSignal): Promise<AsyncIterable<DockerEvent>>;
}

export interface EngineVersion {
  readonly version: string;
  readonly apiVersion: string;
}

export interface ContainerSummary {
  readonly id: string;
  /** Without the leading slash. */
  readonly name: string;
  readonly image: string;
  /** created, running, paused, restarting, removing, exited, dead */
  readonly state: string;
  /** The Engine's human status, e.g. "Up 2 hours (healthy)". */
  readonly status: string;
  readonly labels: Readonly<Record<string, string>>;
  /** From the compose labels, when the container belongs to a compose project. */
  readonly project?: string;
  readonly service?: string;
}

export interface HealthRun {
  readonly start: string;
  readonly exitCode: number;
  readonly output: string;
}

export interface ContainerDetails {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly createdAt: string;
  readonly state: {
    readonly status: string;
    readonly running: boolean;
    readonly paused: boolean;
    readonly restarting: boolean;
    readonly oomKilled: boolean;
    readonly exitCode: number;
    readonly error: string;
    readonly startedAt: string;
    readonly finishedAt: string;
  };
  readonly health?: { readonly status: string; readonly failingStreak: number; readonly log: readonly HealthRun[] };
  readonly restartCount: number;
  readonly restartPolicy: { readonly name: string; readonly maximumRetryCount: number };
  readonly ports: readonly { readonly container: string; readonly host?: string }[];
  readonly mounts: readonly { readonly type: string; readonly source: string; readonly destination: string; readonly rw: boolean }[];
  /** Names only: values may be secrets and never leave the port. */
  readonly envNames: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly tty: boolean;
  /** Bytes; 0 when unlimited. */
  readonly memoryLimit: number;
}

export interface LogsOptions {
  /** Last N lines; 'all' for everything. */
  readonly tail: number | 'all';
  /** Unix seconds. */
  readonly since?: number;
}

export interface EventsOptions {
  /** Unix seconds; events at or after it are replayed from the Engine's buffer. */
  readonly since?: number;
  /** Engine event names, e.g. die, oom, kill, "health_status". */
  readonly actions: readonly string[];
}

export interface DockerEvent {
  /** e.g. "die", "oom", "kill", "health_status: unhealthy". */
  readonly action: string;
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly exitCode?: number;
  /** For "kill": the signal sent, as the Engine reports it ("15", "SIGTERM"). */
  readonly signal?: string;
  /** Unix seconds and nanoseconds (the latter approximate: beyond 2^53). */
  readonly time: number;
  readonly timeNano: number;
}

export interface ProcessTable {
  readonly titles: readonly string[];
  readonly processes: readonly (readonly string[])[];
}

const cpuSchema = z.object({
  cpu_usage: z.object({ total_usage: z.number().default(0), percpu_usage: z.array(z.number()).nullish() }).default({ total_usage: 0 }),
  system_cpu_usage: z.number().nullish(),
  online_cpus: z.number().nullish(),
});

const statsSchema = z.object({
  cpu_stats: cpuSchema.default({ cpu_usage: { total_usage: 0 } }),
  precpu_stats: cpuSchema.default({ cpu_usage: { total_usage: 0 } }),
  memory_stats: z
    .object({ usage: z.number().nullish(), limit: z.number().nullish(), stats: z.record(z.string(), z.number()).nullish() })
    .default({}),
  networks: z.record(z.string(), z.object({ rx_bytes: z.number().default(0), tx_bytes: z.number().default(0) })).nullish(),
  blkio_stats: z
    .object({ io_service_bytes_recursive: z.array(z.object({ op: z.string(), value: z.number() })).nullish() })
    .nullish(),
  pids_stats: z.object({ current: z.number().nullish() }).nullish(),
});

/** The part of `GET /containers/{id}/stats?stream=false` that `stats.ts` computes with. */
export type RawStats = z.output<typeof statsSchema>;

const labelsSchema = z.record(z.string(), z.string()).nullish().transform((l) => l ?? {});

const summarySchema = z.object({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  Image: z.string().default(''),
  State: z.string().default(''),
  Status: z.string().default(''),
  Labels: labelsSchema,
});

const inspectSchema = z.object({
  Id: z.string(),
  Name: z.string().default(''),
  Created: z.string().default(''),
  Path: z.string().default(''),
  Args: z.array(z.string()).nullish(),
  State: z.object({
    Status: z.string().default(''),
    Running: z.boolean().default(false),
    Paused: z.boolean().default(false),
    Restarting: z.boolean().default(false),
    OOMKilled: z.boolean().default(false),
    ExitCode: z.number().default(0),
    Error: z.string().default(''),
    StartedAt: z.string().default(''),
    FinishedAt: z.string().default(''),
    Health: z
      .object({
        Status: z.string().default(''),
        FailingStreak: z.number().default(0),
        Log: z
          .array(z.object({ Start: z.string().default(''), ExitCode: z.number().default(0), Output: z.string().default('') }))
          .nullish(),
      })
      .nullish(),
  }),
  Config: z
    .object({
      Image: z.string().default(''),
      Env: z.array(z.string()).nullish(),
      Labels: labelsSchema,
      Tty: z.boolean().default(false),
    })
    .default({ Image: '', Labels: {}, Tty: false }),
  HostConfig: z
    .object({
      RestartPolicy: z.object({ Name: z.string().default(''), MaximumRetryCount: z.number().default(0) }).nullish(),
      Memory: z.number().default(0),
    })
    .default({ Memory: 0 }),
  RestartCount: z.number().default(0),
  Mounts: z
    .array(z.object({ Type: z.string().default(''), Source: z.string().default(''), Destination: z.string().default(''), RW: z.boolean().default(true) }))
    .nullish(),
  NetworkSettings: z
    .object({
      Ports: z
        .record(z.string(), z.array(z.object({ HostIp: z.string().default(''), HostPort: z.string().default('') })).nullish())
        .nullish(),
    })
    .nullish(),
});

const versionSchema = z.object({ Version: z.string().default('?'), ApiVersion: z.string().default('?') });

const topSchema = z.object({
  Titles: z.array(z.string()).nullish(),
  Processes: z.array(z.array(z.string())).nullish(),
});

const eventSchema = z.object({
  Type: z.string().default(''),
  Action: z.string().default(''),
  Actor: z.object({ ID: z.string(), Attributes: labelsSchema }),
  time: z.number().default(0),
  timeNano: z.number().default(0),
});

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** Where to connect, from DOCKER_HOST as the Docker CLI reads it. */
export type EngineAddress =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | { readonly kind: 'tcp'; readonly hostname: string; readonly port: number };

/** Parses DOCKER_HOST (`unix:///path`, `tcp://host:port`); throws a one-line Error otherwise. */
export function parseDockerHost(host: string | undefined): EngineAddress {
  const h = host?.trim() || DEFAULT_DOCKER_HOST;
  if (h.startsWith('unix://')) {
    const socketPath = h.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new Error(`DOCKER_HOST ${h}: expected unix:///absolute/path`);
    return { kind: 'unix', socketPath };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(h);
  if (m) {
    const port = m[2] === undefined ? 2375 : Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`DOCKER_HOST ${h}: port out of range`);
    return { kind: 'tcp', hostname: m[1]!.replace(/^\[|\]$/g, ''), port };
  }
  throw new Error(`DOCKER_HOST ${h}: expected unix:///path/to/docker.sock or tcp://host:port`);
}

export interface DockerPortOptions {
  /** DOCKER_HOST semantics; default the local socket. */
  readonly host?: string;
  /** Per Engine call (and per stall while streaming); default 10 s. */
  readonly timeoutMs?: number;
}

const shortId = (id: string): string => id.slice(0, 12);
const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)}s`;

/** One line, never a stack: what the operator reads when the Engine fails. */
function engineError(e: unknown, ctx: { host: string; what: string; timedOut: boolean; timeoutMs: number }): Error {
  if (e instanceof ActionError) return e;
  const err = e as { name?: string; code?: string; syscall?: string; statusCode?: number; json?: unknown; message?: string };
  if (ctx.timedOut) return new ActionError(`Docker did not answer within ${seconds(ctx.timeoutMs)} (${ctx.what})`);
  if (err?.name === 'AbortError' || err?.code === 'ABORT_ERR') return new ActionError(`cancelled (${ctx.what})`);
  if (typeof err?.statusCode === 'number') {
    const j = err.json as { message?: unknown } | undefined;
    const msg = typeof j?.message === 'string' ? j.message : '';
    const oneLine = msg.replace(/\s+/g, ' ').trim().slice(0, 200);
    if (err.statusCode === 404) return new ActionError(oneLine.toLowerCase().startsWith('no such container') ? 'no such container' : `not found: ${oneLine}`);
    if (err.statusCode === 409) return new ActionError(`Docker refused: ${oneLine}`);
    return new ActionError(`Docker error ${err.statusCode} (${ctx.what})${oneLine ? `: ${oneLine}` : ''}`);
  }
  if (typeof err?.code === 'string') {
    const connect = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'];
    if (connect.includes(err.code)) return new ActionError(`Docker is not reachable at ${ctx.host}: ${err.syscall ?? 'connect'} ${err.code}`);
    return new ActionError(`Docker connection failed at ${ctx.host}: ${err.code}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Validates an Engine answer; a malformed one is an operator-facing error, not a crash. */
function parse<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ActionError(`Docker sent an unexpected answer (${what})`);
  return r.data;
}

export function createDockerPort(opts: DockerPortOptions = {}): DockerPort {
  const host = opts.host?.trim() || DEFAULT_DOCKER_HOST;
  const addr = parseDockerHost(host);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // Every field given explicitly so that DOCKER_* variables in the environment cannot
  // override the configured address (docker-modem reads them as defaults).
  const docker = new Docker(
    addr.kind === 'unix'
      ? { socketPath: addr.socketPath, host: undefined, port: undefined, protocol: 'http', timeout: undefined, version: undefined }
      : { host: addr.hostname, port: addr.port, protocol: 'http', socketPath: undefined, timeout: undefined, version: undefined },
  );

  async function call<T>(what: string, signal: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<T>, ms = timeoutMs): Promise<T> {
    const timeout = AbortSignal.timeout(ms);
    const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      return await fn(s);
    } catch (e) {
      throw engineError(e, { host, what, timedOut: timeout.aborted, timeoutMs: ms });
    }
  }

  /**
   * A streaming GET: the timeout covers connecting and the response head; after that only
   * a stall longer than `idleMs` (if given) ends the stream. Aborting `signal` always does.
   */
  function openStream(what: string, path: string, query: Record<string, unknown>, signal: AbortSignal | undefined, idleMs: number | undefined): Promise<IncomingMessage> {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    if (signal?.aborted) ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    return new Promise<IncomingMessage>((resolve, reject) => {
      docker.modem.dial(
        {
          path: `${path}?`,
          method: 'GET',
          isStream: true,
          abortSignal: ac.signal,
          statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          options: query,
        },
        (err: unknown, res: unknown) => {
          clearTimeout(timer);
          if (err) {
            signal?.removeEventListener('abort', onAbort);
            reject(engineError(err, { host, what, timedOut, timeoutMs }));
            return;
          }
          const msg = res as IncomingMessage;
          msg.once('close', () => signal?.removeEventListener('abort', onAbort));
          if (idleMs !== undefined) {
            msg.setTimeout(idleMs, () => msg.destroy(new ActionError(`Docker stopped sending for ${seconds(idleMs)} (${what})`)));
          }
          resolve(msg);
        },
      );
    });
  }

  const container = (id: string): Docker.Container => docker.getContainer(id);

  /** A plain GET for the endpoints whose dockerode typings take no options. */
  const get = (path: string, query: Record<string, unknown>, signal: AbortSignal): Promise<unknown> =>
    new Promise((resolve, reject) => {
      docker.modem.dial(
        { path: `${path}?`, method: 'GET', abortSignal: signal, statusCodes: { 200: true, 404: 'no such container', 500: 'server error' }, options: query },
        (err: unknown, data: unknown) => (err ? reject(err) : resolve(data)),
      );
    });

  const port: DockerPort = {
    host,

    async ping(signal) {
      await call('ping', signal, (s) => get('/_ping', {}, s));
    },

    async version(signal) {
      const v = parse(versionSchema, await call('version', signal, (s) => get('/version', {}, s)), 'version');
      return { version: v.Version, apiVersion: v.ApiVersion };
    },

    async list({ all }, signal) {
      const raw = await call('list containers', signal, (s) => docker.listContainers({ all, abortSignal: s }));
      return parse(z.array(summarySchema), raw, 'list containers').map((c) => {
        const project = c.Labels[COMPOSE_PROJECT];
        const service = c.Labels[COMPOSE_SERVICE];
        return {
          id: c.Id,
          name: (c.Names?.[0] ?? shortId(c.Id)).replace(/^\//, ''),
          image: c.Image,
          state: c.State,
          status: c.Status,
          labels: c.Labels,
          ...(project ? { project } : {}),
          ...(service ? { service } : {}),
        };
      });
    },

    async inspect(id, signal) {
      const d = parse(inspectSchema, await call('inspect', signal, (s) => container(id).inspect({ abortSignal: s })), 'inspect');
      const h = d.State.Health;
      return {
        id: d.Id,
        name: d.Name.replace(/^\//, ''),
        image: d.Config.Image,
        command: [d.Path, ...(d.Args ?? [])].filter((x) => x !== ''),
        createdAt: d.Created,
        state: {
          status: d.State.Status,
          running: d.State.Running,
          paused: d.State.Paused,
          restarting: d.State.Restarting,
          oomKilled: d.State.OOMKilled,
          exitCode: d.State.ExitCode,
          error: d.State.Error,
          startedAt: d.State.StartedAt,
          finishedAt: d.State.FinishedAt,
        },
        ...(h
          ? { health: { status: h.Status, failingStreak: h.FailingStreak, log: (h.Log ?? []).map((r) => ({ start: r.Start, exitCode: r.ExitCode, output: r.Output })) } }
          : {}),
        restartCount: d.RestartCount,
        restartPolicy: { name: d.HostConfig.RestartPolicy?.Name || 'no', maximumRetryCount: d.HostConfig.RestartPolicy?.MaximumRetryCount ?? 0 },
        ports: Object.entries(d.NetworkSettings?.Ports ?? {}).flatMap(([containerPort, bindings]) =>
          bindings && bindings.length > 0
            ? bindings.map((b) => ({ container: containerPort, host: `${b.HostIp || '0.0.0.0'}:${b.HostPort}` }))
            : [{ container: containerPort }],
        ),
        mounts: (d.Mounts ?? []).map((m) => ({ type: m.Type, source: m.Source, destination: m.Destination, rw: m.RW })),
        envNames: (d.Config.Env ?? []).map((e) => e.split('=', 1)[0] ?? '').filter((n) => n !== ''),
        labels: d.Config.Labels,
        tty: d.Config.Tty,
        memoryLimit: d.HostConfig.Memory,
      };
    },

    async logs(ref, { tail, since }, signal) {
      const query: Record<string, unknown> = { stdout: true, stderr: true, follow: false, tail: String(tail) };
      if (since !== undefined) query.since = Math.floor(since);
      const res = await openStream('logs', `/containers/${encodeURIComponent(ref)}/logs`, query, signal, timeoutMs);
      return oneLineErrors(demux(res), (e) => engineError(e, { host, what: 'logs', timedOut: false, timeoutMs }));
    },

    async stats(id, signal) {
      // stream=false waits for a second sample so that CPU % has a delta, like `docker stats --no-stream`.
      const path = `/containers/${encodeURIComponent(id)}/stats`;
      const raw = await call('stats', signal, (s) => get(path, { stream: false }, s), timeoutMs + 5_000);
      return parse(statsSchema, raw, 'stats');
    },

    async top(id, signal) {
      const t = parse(topSchema, await call('top', signal, (s) => container(id).top({ abortSignal: s })), 'top');
      return { titles: t.Titles ?? [], processes: t.Processes ?? [] };
    },

    async start(id, signal) {
      return call('start', signal, async (s) => {
        try {
          await container(id).start({ abortSignal: s });
          return 'done' as const;
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode === 304) return 'noop' as const;
          throw e;
        }
      });
    },

    async stop(id, o = {}, signal) {
      const t = o.graceSeconds ?? 10;
      return call(
        'stop',
        signal,
        async (s) => {
          try {
            await container(id).stop({ t, abortSignal: s });
            return 'done' as const;
          } catch (e) {
            if ((e as { statusCode?: number }).statusCode === 304) return 'noop' as const;
            throw e;
          }
        },
        timeoutMs + t * 1000,
      );
    },

    async restart(id, o = {}, signal) {
      const t = o.graceSeconds ?? 10;
      await call('restart', signal, (s) => container(id).restart({ t, abortSignal: s }), timeoutMs + t * 1000);
    },

    async events({ since, actions }, signal) {
      const query: Record<string, unknown> = { filters: { type: ['container'], event: [...actions] } };
      if (since !== undefined) query.since = String(since);
      const res = await openStream('events', '/events', query, signal, undefined);
      return parseEvents(res);
    },
  };
  return port;
}

/** A connection that breaks mid-stream is reported like any other Engine failure. */
async function* oneLineErrors<T>(source: AsyncIterable<T>, wrap: (e: unknown) => Error): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (e) {
    throw wrap(e);
  }
}

/** The events endpoint sends one JSON object per line. */
async function* parseEvents(source: AsyncIterable<Buffer>): AsyncGenerator<DockerEvent> {
  let rest = '';
  for await (const chunk of source) {
    rest += chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const lineText = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (lineText === '') continue;
      const ev = toEvent(lineText);
      if (ev) yield ev;
    }
    // One event is a few hundred bytes; anything longer without a newline is not one.
    if (rest.length > 1 << 20) rest = '';
  }
}

function toEvent(json: string): DockerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const p = eventSchema.safeParse(raw);
  if (!p.success || p.data.Type !== 'container') return undefined;
  const a = p.data.Actor.Attributes;
  const code = a.exitCode === undefined ? undefined : Number(a.exitCode);
  return {
    action: p.data.Action,
    id: p.data.Actor.ID,
    name: a.name ?? shortId(p.data.Actor.ID),
    image: a.image ?? '',
    ...(code !== undefined && Number.isInteger(code) ? { exitCode: code } : {}),
    ...(a.signal !== undefined ? { signal: a.signal } : {}),
    time: p.data.time,
    timeNano: p.data.timeNano,
  };
}
