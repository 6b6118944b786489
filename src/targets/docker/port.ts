import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ActionError } from '../../core/action.js';
import { DEFAULT_DOCKER_HOST, EngineHttpError, engineHttp, parseDockerHost, type Query } from './engine.js';
import { demux, type LogFrame } from './logstream.js';
import { parseSummaries, shortId } from './summary.js';

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
  /** Disk used by images, containers, volumes and build cache, like `docker system df`. */
  diskUsage(signal?: AbortSignal): Promise<DiskUsage>;
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

export interface DiskUsageRow {
  readonly kind: 'Images' | 'Containers' | 'Local volumes' | 'Build cache';
  readonly total: number;
  /** In use: by a container (images, volumes), running (containers), or by a build. */
  readonly active: number;
  /** Bytes. */
  readonly size: number;
  /** Bytes freed by removing what is not active (a lower bound for images: shared layers stay). */
  readonly reclaimable: number;
}

export interface DiskUsage {
  readonly rows: readonly DiskUsageRow[];
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

/** Sizes the Engine has not computed are -1 (or absent): counted as 0. */
const bytes = z.number().nullish().transform((n) => (n !== null && n !== undefined && n > 0 ? n : 0));

const dfSchema = z.object({
  LayersSize: bytes,
  Images: z.array(z.object({ Size: bytes, SharedSize: bytes, Containers: z.number().nullish() })).nullish(),
  Containers: z.array(z.object({ SizeRw: bytes, State: z.string().nullish() })).nullish(),
  Volumes: z.array(z.object({ UsageData: z.object({ Size: bytes, RefCount: z.number().nullish() }).nullish() })).nullish(),
  BuildCache: z.array(z.object({ Size: bytes, InUse: z.boolean().nullish(), Shared: z.boolean().nullish() })).nullish(),
});

/** The four rows of `docker system df`, computed as the Docker CLI does. */
function diskUsageOf(d: z.output<typeof dfSchema>): DiskUsage {
  const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((n, x) => n + f(x), 0);
  const images = d.Images ?? [];
  const containers = d.Containers ?? [];
  const volumes = d.Volumes ?? [];
  const cache = (d.BuildCache ?? []).filter((c) => !c.Shared);
  const usedImage = (i: (typeof images)[number]): boolean => (i.Containers ?? 0) > 0;
  const usedVolume = (v: (typeof volumes)[number]): boolean => (v.UsageData?.RefCount ?? 0) > 0;
  const imageSize = d.LayersSize || sum(images, (i) => i.Size);
  return {
    rows: [
      {
        kind: 'Images',
        total: images.length,
        active: images.filter(usedImage).length,
        size: imageSize,
        reclaimable: Math.max(0, imageSize - sum(images.filter(usedImage), (i) => i.Size - i.SharedSize)),
      },
      {
        kind: 'Containers',
        total: containers.length,
        active: containers.filter((c) => c.State === 'running').length,
        size: sum(containers, (c) => c.SizeRw),
        reclaimable: sum(containers.filter((c) => c.State !== 'running'), (c) => c.SizeRw),
      },
      {
        kind: 'Local volumes',
        total: volumes.length,
        active: volumes.filter(usedVolume).length,
        size: sum(volumes, (v) => v.UsageData?.Size ?? 0),
        reclaimable: sum(volumes.filter((v) => !usedVolume(v)), (v) => v.UsageData?.Size ?? 0),
      },
      {
        kind: 'Build cache',
        total: cache.length,
        active: cache.filter((c) => c.InUse).length,
        size: sum(cache, (c) => c.Size),
        reclaimable: sum(cache.filter((c) => !c.InUse), (c) => c.Size),
      },
    ],
  };
}

const eventSchema = z.object({
  Type: z.string().default(''),
  Action: z.string().default(''),
  Actor: z.object({ ID: z.string(), Attributes: labelsSchema }),
  time: z.number().default(0),
  timeNano: z.number().default(0),
});

export interface DockerPortOptions {
  /** DOCKER_HOST semantics; default the local socket. */
  readonly host?: string;
  /** Per Engine call (and per stall while streaming); default 10 s. */
  readonly timeoutMs?: number;
}

const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)}s`;

/** One line, never a stack: what the operator reads when the Engine fails. */
function engineError(e: unknown, ctx: { host: string; what: string; timedOut: boolean; timeoutMs: number }): Error {
  if (e instanceof ActionError) return e;
  const err = e as { name?: string; code?: string; syscall?: string };
  if (ctx.timedOut) return new ActionError(`Docker did not answer within ${seconds(ctx.timeoutMs)} (${ctx.what})`);
  if (err?.name === 'AbortError' || err?.code === 'ABORT_ERR') return new ActionError(`cancelled (${ctx.what})`);
  if (e instanceof EngineHttpError) {
    const oneLine = e.detail.slice(0, 200);
    if (e.statusCode === 404) return new ActionError(oneLine.toLowerCase().startsWith('no such container') ? 'no such container' : `not found: ${oneLine}`);
    if (e.statusCode === 409) return new ActionError(`Docker refused: ${oneLine}`);
    return new ActionError(`Docker error ${e.statusCode} (${ctx.what})${oneLine ? `: ${oneLine}` : ''}`);
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
  const http = engineHttp(parseDockerHost(host));
  const timeoutMs = opts.timeoutMs ?? 10_000;

  /** One request under the timeout (and `signal`); its answer's status and body. */
  async function call(what: string, method: 'GET' | 'POST', path: string, query: Query, signal: AbortSignal | undefined, ms = timeoutMs) {
    const timeout = AbortSignal.timeout(ms);
    try {
      return await http.call(method, path, query, signal ? AbortSignal.any([signal, timeout]) : timeout);
    } catch (e) {
      throw engineError(e, { host, what, timedOut: timeout.aborted, timeoutMs: ms });
    }
  }

  const get = async (what: string, path: string, signal: AbortSignal | undefined, query: Query = {}, ms = timeoutMs): Promise<unknown> =>
    (await call(what, 'GET', path, query, signal, ms)).body;

  /** start and stop answer 304 when the container already was in that state. */
  const change = async (what: string, path: string, query: Query, signal: AbortSignal | undefined, ms: number): Promise<'done' | 'noop'> =>
    (await call(what, 'POST', path, query, signal, ms)).status === 304 ? 'noop' : 'done';

  /**
   * A streaming GET: the timeout covers connecting and the response head; after that only
   * a stall longer than `idleMs` (if given) ends the stream. Aborting `signal` always does.
   */
  async function openStream(what: string, path: string, query: Query, signal: AbortSignal | undefined, idleMs: number | undefined): Promise<IncomingMessage> {
    const head = new AbortController();
    const timer = setTimeout(() => head.abort(new Error('timeout')), timeoutMs);
    let res: IncomingMessage;
    try {
      res = await http.stream(path, query, signal ? AbortSignal.any([signal, head.signal]) : head.signal);
    } catch (e) {
      throw engineError(e, { host, what, timedOut: head.signal.aborted, timeoutMs });
    } finally {
      clearTimeout(timer);
    }
    if (idleMs !== undefined) res.setTimeout(idleMs, () => res.destroy(new ActionError(`Docker stopped sending for ${seconds(idleMs)} (${what})`)));
    return res;
  }

  const containerPath = (id: string, rest: string): string => `/containers/${encodeURIComponent(id)}/${rest}`;

  const port: DockerPort = {
    host,

    async ping(signal) {
      await get('ping', '/_ping', signal);
    },

    async version(signal) {
      const v = parse(versionSchema, await get('version', '/version', signal), 'version');
      return { version: v.Version, apiVersion: v.ApiVersion };
    },

    async list({ all }, signal) {
      const raw = await get('list containers', '/containers/json', signal, all ? { all: 1 } : {});
      const rows = parseSummaries(raw);
      if (rows === undefined) throw new ActionError('Docker sent an unexpected answer (list containers)');
      return rows;
    },

    async inspect(id, signal) {
      const d = parse(inspectSchema, await get('inspect', containerPath(id, 'json'), signal), 'inspect');
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
      const query: Record<string, string | number> = { stdout: 1, stderr: 1, tail: String(tail) };
      if (since !== undefined) query.since = Math.floor(since);
      const res = await openStream('logs', containerPath(ref, 'logs'), query, signal, timeoutMs);
      return oneLineErrors(demux(res), (e) => engineError(e, { host, what: 'logs', timedOut: false, timeoutMs }));
    },

    async stats(id, signal) {
      // stream=false waits for a second sample so that CPU % has a delta, like `docker stats --no-stream`.
      return parse(statsSchema, await get('stats', containerPath(id, 'stats'), signal, { stream: false }, timeoutMs + 5_000), 'stats');
    },

    async top(id, signal) {
      const t = parse(topSchema, await get('top', containerPath(id, 'top'), signal), 'top');
      return { titles: t.Titles ?? [], processes: t.Processes ?? [] };
    },

    async diskUsage(signal) {
      // The Engine walks every layer and volume to size them: slower than other calls.
      return diskUsageOf(parse(dfSchema, await get('disk usage', '/system/df', signal, {}, timeoutMs * 3), 'disk usage'));
    },

    start(id, signal) {
      return change('start', containerPath(id, 'start'), {}, signal, timeoutMs);
    },

    stop(id, o = {}, signal) {
      const t = o.graceSeconds ?? 10;
      return change('stop', containerPath(id, 'stop'), { t }, signal, timeoutMs + t * 1000);
    },

    async restart(id, o = {}, signal) {
      const t = o.graceSeconds ?? 10;
      await call('restart', 'POST', containerPath(id, 'restart'), { t }, signal, timeoutMs + t * 1000);
    },

    async events({ since, actions }, signal) {
      const query: Record<string, string | object> = { filters: { type: ['container'], event: [...actions] } };
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
