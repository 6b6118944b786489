import type { z } from 'zod';
import type { LogFrame } from './logstream.js';
import type { statsSchema } from './answers.js';

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
  readonly mounts: readonly {
    readonly type: string;
    readonly source: string;
    readonly destination: string;
    readonly rw: boolean;
  }[];
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
  /** Keep streaming new lines until the container stops or `signal` aborts (no stall timeout). */
  readonly follow?: boolean;
}

export interface EventsOptions {
  /** Unix seconds; events at or after it are replayed from the Engine's buffer. */
  readonly since?: number;
  /** Engine event names, e.g. die, oom, kill, "health_status"; empty: every container event. */
  readonly actions: readonly string[];
  /** Unix seconds (fractional allowed): the Engine sends what happened until then and ends the stream. */
  readonly until?: number;
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

/** The part of `GET /containers/{id}/stats?stream=false` that `stats.ts` computes with. */
export type RawStats = z.output<typeof statsSchema>;
