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
import { startDockerEvents, type DockerEvents } from './events.js';
import { createDockerPort } from './client.js';
import type { DockerPort } from './port.js';
import { createExpectedStops, type ExpectedStops } from './stops.js';

export interface DockerTargetSettings {
  /** DOCKER_HOST; default the local socket. */
  readonly host?: string;
  /** Per Engine call; default 10 s. */
  readonly timeoutMs?: number;
}

export interface DockerTarget {
  readonly port: DockerPort;
  readonly stops: ExpectedStops;
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
}

/** Everything the app needs from the Docker target, built from settings. */
export function createDockerTarget(
  settings: DockerTargetSettings,
  sink: AlertSink,
  log: Logger,
  opts: DockerTargetOptions,
): DockerTarget {
  const port = createDockerPort({
    ...(settings.host ? { host: settings.host } : {}),
    timeoutMs: settings.timeoutMs ?? 10_000,
  });
  const stops = createExpectedStops(opts.clock ? { clock: opts.clock } : {});
  const follows = new Follows({ target: 'docker', redact: opts.redactor.redact });
  const actions = [
    ...dockerActions({ port, stops, redactor: opts.redactor, ...(opts.clock ? { clock: opts.clock } : {}) }),
    logsFollowAction({ port, redactor: opts.redactor, follows }),
    eventsAction({ port, redactor: opts.redactor, clock: opts.clock ?? Date.now }),
    follows.stopAction,
  ];
  let events: DockerEvents | undefined;
  async function health(signal?: AbortSignal): Promise<Health> {
    try {
      const v = await port.version(signal);
      const watching = events === undefined || events.state() === 'up' ? '' : '; event stream reconnecting';
      return { state: 'up', detail: `Engine ${v.version} (API ${v.apiVersion}) at ${port.host}${watching}` };
    } catch (e) {
      return { state: 'down', detail: (e as Error).message };
    }
  }
  return {
    port,
    stops,
    actions,
    health,
    integration: { name: 'docker', check: (signal) => health(signal) },
    onCard: (listener) => follows.onCard(listener),
    endLive: () => follows.stopAll('teleops stopped'),
    async start() {
      events ??= startDockerEvents({ port, sink, stops, log, ...opts });
    },
    async stop() {
      follows.stopAll('teleops stopped');
      const e = events;
      events = undefined;
      await e?.stop();
    },
  };
}
