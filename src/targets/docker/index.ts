import type { AnyAction } from '../../core/action.js';
import type { AlertSink } from '../../core/alerts.js';
import type { Health, Integration } from '../../core/health.js';
import type { Logger } from '../../core/log.js';
import { Follows } from '../../core/follow.js';
import type { Redactor } from '../../core/redact.js';
import type { Result } from '../../core/result.js';
import { dockerActions } from './actions.js';
import { logsFollowAction } from './follow.js';
import { eventsAction } from './recent.js';
import type { EventCursor } from './cursor.js';
import { startDockerEvents, type DockerEvents } from './events.js';
import { createDockerPort } from './client.js';
import type { EngineTransport } from './engine.js';
import { Fleet, fleetActions, type DockerHost } from './fleet.js';
import { DEFAULT_HOST_NAME } from './hosts.js';
import type { DockerPort } from './port.js';
import { createExpectedStops, type ExpectedStops } from './stops.js';

/** One Engine to operate: its name in commands (`@edge`), its address, and how to reach it. */
export interface DockerHostSettings {
  readonly name: string;
  /** DOCKER_HOST semantics. */
  readonly url: string;
  readonly transport?: EngineTransport;
}

export interface DockerTargetSettings {
  /** DOCKER_HOST; default the local socket. Used when `hosts` is not given, as one host named `local`. */
  readonly host?: string;
  /** DOCKER_HOSTS, each with its transport; the first is the default host. */
  readonly hosts?: readonly DockerHostSettings[];
  /** Per Engine call; default 10 s. */
  readonly timeoutMs?: number;
}

export interface DockerTarget {
  /** The first host's. */
  readonly port: DockerPort;
  readonly stops: ExpectedStops;
  readonly fleet: Fleet;
  readonly actions: readonly AnyAction[];
  /** For /health, /status and doctor: one Engine round trip plus the event watcher's state. */
  readonly integration: Integration;
  health(signal?: AbortSignal): Promise<Health>;
  /** Live follows' cards (`/docker logs -f`) as they change. */
  onCard(listener: (card: Result) => void): () => void;
  endLive(): void;
  /** Starts watching container events for alerts (reconnecting by itself); idempotent. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DockerTargetOptions {
  /** The app's redactor: log lines and inspect fields are redacted before they are cut or searched. */
  readonly redactor: Redactor;
  readonly clock?: () => number;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Where each host's event watcher keeps its place (see cursor.ts). */
  readonly cursors?: (host: string) => EventCursor;
}

/** Everything the app needs from the Docker target, built from settings. */
export function createDockerTarget(
  settings: DockerTargetSettings,
  sink: AlertSink,
  log: Logger,
  opts: DockerTargetOptions,
): DockerTarget {
  const follows = new Follows({ target: 'docker', redact: opts.redactor.redact });
  const configured = settings.hosts ?? [{ name: DEFAULT_HOST_NAME, url: settings.host ?? '' }];
  const hosts = configured.map((h) => {
    const port = createDockerPort({
      ...(h.url ? { host: h.url } : {}),
      timeoutMs: settings.timeoutMs ?? 10_000,
      ...(h.transport ? { transport: h.transport } : {}),
    });
    const stops = createExpectedStops(opts.clock ? { clock: opts.clock } : {});
    const own = [
      ...dockerActions({ port, stops, redactor: opts.redactor, ...(opts.clock ? { clock: opts.clock } : {}) }),
      logsFollowAction({ port, redactor: opts.redactor, follows, ...(configured.length > 1 ? { host: h.name } : {}) }),
      eventsAction({ port, redactor: opts.redactor, clock: opts.clock ?? Date.now }),
    ];
    const host: DockerHost = { name: h.name, url: port.host, port, actions: new Map(own.map((a) => [a.name, a])) };
    return { host, stops };
  });
  const fleet = new Fleet(hosts.map((h) => h.host));
  const actions = [...fleetActions(fleet), follows.stopAction];
  const first = hosts[0]!;
  let events: DockerEvents[] | undefined;
  /** One host's line: its Engine, or why it cannot be reached; with several hosts, prefixed by its name. */
  async function hostHealth(i: number, signal?: AbortSignal): Promise<Health> {
    const h = hosts[i]!.host;
    const named = fleet.many ? `${h.name}: ` : '';
    try {
      const v = await h.port.version(signal);
      const w = events?.[i];
      const watching = w === undefined || w.state() === 'up' ? '' : '; event stream reconnecting';
      return { state: 'up', detail: `${named}Engine ${v.version} (API ${v.apiVersion}) at ${h.port.host}${watching}` };
    } catch (e) {
      return { state: 'down', detail: `${named}${(e as Error).message}` };
    }
  }
  async function health(signal?: AbortSignal): Promise<Health> {
    const each = await Promise.all(hosts.map((_, i) => hostHealth(i, signal)));
    if (each.length === 1) return each[0]!;
    // One host down is marked, not fatal: the others still work.
    const down = each.filter((h) => h.state !== 'up').length;
    const detail = `${down > 0 ? `${down} of ${each.length} hosts down; ` : ''}${each.map((h) => h.detail).join('; ')}`;
    return { state: down === each.length ? 'down' : 'up', detail };
  }
  return {
    port: first.host.port,
    stops: first.stops,
    fleet,
    actions,
    health,
    integration: { name: 'docker', check: (signal) => health(signal) },
    onCard: (listener) => follows.onCard(listener),
    endLive: () => follows.stopAll('teleops stopped'),
    async start() {
      // One watcher per host, each reconnecting on its own.
      events ??= hosts.map(({ host, stops }) =>
        startDockerEvents({
          port: host.port,
          sink: fleet.sink(sink, host.name),
          stops,
          log,
          ...opts,
          ...(opts.cursors ? { cursor: opts.cursors(host.name) } : {}),
        }),
      );
    },
    async stop() {
      follows.stopAll('teleops stopped');
      const e = events;
      events = undefined;
      await Promise.all((e ?? []).map((w) => w.stop()));
    },
  };
}
