import type { IncomingMessage } from 'node:http';
import { ActionError } from '../../core/action.js';
import { clip } from '../../core/redact.js';
import { DeadlineError, withDeadline } from '../../core/deadline.js';
import { containerDetails, dfSchema, diskUsageOf, parse, statsSchema, topSchema, versionSchema } from './answers.js';
import {
  DEFAULT_DOCKER_HOST,
  EngineHttpError,
  engineHttp,
  parseDockerHost,
  type EngineTransport,
  type Query,
} from './engine.js';
import { demux } from './logstream.js';
import type { DockerPort } from './port.js';
import { oneLineErrors, parseEvents } from './streams.js';
import { parseSummaries } from './summary.js';

export interface DockerPortOptions {
  /** DOCKER_HOST semantics; default the local socket. */
  readonly host?: string;
  /** Per Engine call (and per stall while streaming); default 10 s. */
  readonly timeoutMs?: number;
  /** TLS files or an ssh connection, for a host that needs them. */
  readonly transport?: EngineTransport;
}

type Signal = AbortSignal | undefined;

const seconds = (ms: number): string => `${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(1)}s`;

/** Error codes that mean the Engine cannot be reached at all (rather than failing on the way). */
const CONNECT_ERRORS = [
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'EPERM',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EAI_AGAIN',
];

/** One line, never a stack: what the operator reads when the Engine fails. */
function engineError(e: unknown, ctx: { host: string; what: string }): Error {
  if (e instanceof ActionError) return e;
  const err = e as { name?: string; code?: string; syscall?: string };
  if (e instanceof DeadlineError) return new ActionError(`Docker did not answer within ${seconds(e.ms)} (${ctx.what})`);
  if (err?.name === 'AbortError' || err?.code === 'ABORT_ERR') return new ActionError(`cancelled (${ctx.what})`);
  if (e instanceof EngineHttpError) {
    // Shapes hidden before the cut: a URL cut between its password and host reads as none.
    const oneLine = clip(e.detail, 200);
    if (e.statusCode === 404) {
      const noSuch = oneLine.toLowerCase().startsWith('no such container');
      return new ActionError(noSuch ? 'no such container' : `not found: ${oneLine}`);
    }
    if (e.statusCode === 409) return new ActionError(`Docker refused: ${oneLine}`);
    return new ActionError(`Docker error ${e.statusCode} (${ctx.what})${oneLine ? `: ${oneLine}` : ''}`);
  }
  // ssh2 marks its failures (handshake, host key, authentication) with the stage that failed.
  const ssh = e as { level?: unknown; message?: string };
  if (typeof ssh?.level === 'string')
    return new ActionError(`Docker is not reachable at ${ctx.host}: ssh ${ssh.level}: ${ssh.message ?? ''}`);
  if (typeof err?.code === 'string') {
    if (CONNECT_ERRORS.includes(err.code)) {
      return new ActionError(`Docker is not reachable at ${ctx.host}: ${err.syscall ?? 'connect'} ${err.code}`);
    }
    return new ActionError(`Docker connection failed at ${ctx.host}: ${err.code}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** The DockerPort over the Engine's HTTP API: every call under a deadline, every answer validated. */
export function createDockerPort(opts: DockerPortOptions = {}): DockerPort {
  const host = opts.host?.trim() || DEFAULT_DOCKER_HOST;
  const http = engineHttp(parseDockerHost(host), opts.transport);
  const timeoutMs = opts.timeoutMs ?? 10_000;

  /** One request under the timeout (and `signal`); its answer's status and body. */
  async function call(
    what: string,
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    signal: Signal,
    ms = timeoutMs,
  ) {
    try {
      return await withDeadline(`Docker ${what}`, ms, (s) => http.call(method, path, query, s), signal);
    } catch (e) {
      throw engineError(e, { host, what });
    }
  }

  const get = async (what: string, path: string, signal: Signal, query: Query = {}, ms = timeoutMs): Promise<unknown> =>
    (await call(what, 'GET', path, query, signal, ms)).body;

  /** start and stop answer 304 when the container already was in that state. */
  const change = async (what: string, path: string, query: Query, signal: Signal, ms: number) =>
    (await call(what, 'POST', path, query, signal, ms)).status === 304 ? 'noop' : 'done';

  /**
   * A streaming GET: the timeout covers connecting and the response head; after that only
   * a stall longer than `idleMs` (if given) ends the stream. Aborting `signal` always does.
   */
  async function openStream(what: string, path: string, query: Query, signal: Signal, idleMs: number | undefined) {
    let res: IncomingMessage;
    try {
      res = await withDeadline(`Docker ${what}`, timeoutMs, (s) => http.stream(path, query, s), signal);
    } catch (e) {
      throw engineError(e, { host, what });
    }
    if (idleMs !== undefined) {
      const stalled = `Docker stopped sending for ${seconds(idleMs)} (${what})`;
      res.setTimeout(idleMs, () => res.destroy(new ActionError(stalled)));
    }
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
      return containerDetails(await get('inspect', containerPath(id, 'json'), signal));
    },

    async logs(ref, { tail, since, follow }, signal) {
      const query: Record<string, string | number> = { stdout: 1, stderr: 1, tail: String(tail) };
      if (since !== undefined) query.since = Math.floor(since);
      if (follow) query.follow = 1;
      // A followed log is quiet for as long as the container is: only `signal` ends it.
      const res = await openStream('logs', containerPath(ref, 'logs'), query, signal, follow ? undefined : timeoutMs);
      return oneLineErrors(demux(res), (e) => engineError(e, { host, what: 'logs' }));
    },

    async stats(id, signal) {
      // stream=false waits for a second sample so that CPU % has a delta, like `docker stats --no-stream`.
      const raw = await get('stats', containerPath(id, 'stats'), signal, { stream: false }, timeoutMs + 5_000);
      return parse(statsSchema, raw, 'stats');
    },

    async top(id, signal) {
      const t = parse(topSchema, await get('top', containerPath(id, 'top'), signal), 'top');
      return { titles: t.Titles ?? [], processes: t.Processes ?? [] };
    },

    async diskUsage(signal) {
      // The Engine walks every layer and volume to size them: slower than other calls.
      const raw = await get('disk usage', '/system/df', signal, {}, timeoutMs * 3);
      return diskUsageOf(parse(dfSchema, raw, 'disk usage'));
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

    async events({ since, actions, until }, signal) {
      const filters = { type: ['container'], ...(actions.length > 0 ? { event: [...actions] } : {}) };
      const query: Record<string, string | object> = { filters };
      if (since !== undefined) query.since = String(since);
      if (until !== undefined) query.until = String(until);
      // A live subscription is quiet for as long as nothing happens; a look back is not.
      const res = await openStream('events', '/events', query, signal, until === undefined ? undefined : timeoutMs);
      return parseEvents(res);
    },
  };
  return port;
}
