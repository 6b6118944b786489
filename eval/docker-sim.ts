/**
 * A simulated Docker Engine behind the real `DockerPort` interface, so the eval runs the real
 * Docker actions (the tools the model sees) against a fleet whose state a task sets up and a
 * checker reads back: memory use, health, restart loops, exit codes, logs, processes.
 */
import { ActionError } from '../src/core/action.js';
import type { LogFrame } from '../src/targets/docker/logstream.js';
import type {
  ContainerDetails,
  ContainerSummary,
  DiskUsage,
  DockerEvent,
  DockerPort,
  ProcessTable,
  RawStats,
} from '../src/targets/docker/port.js';
import { COMPOSE_PROJECT, COMPOSE_SERVICE } from '../src/targets/docker/summary.js';

export interface SimContainer {
  id: string;
  name: string;
  image: string;
  service: string;
  state: 'running' | 'exited' | 'restarting' | 'created';
  exitCode: number;
  oomKilled: boolean;
  health?: 'healthy' | 'unhealthy' | 'starting';
  failingStreak: number;
  healthOutput: string;
  restartCount: number;
  restartPolicy: string;
  memUsedMiB: number;
  memLimitMiB: number;
  cpuPercent: number;
  logs: string[];
  processes: string[];
  startedAt: number;
  finishedAt: number;
  envNames: string[];
}

export type SimOp = { readonly op: 'start' | 'stop' | 'restart'; readonly name: string };

const MiB = 1024 * 1024;
const HOUR = 3600_000;

const ago = (ms: number): string => {
  const m = Math.round(ms / 60_000);
  return m < 1 ? 'Less than a second' : m < 60 ? `${m} minutes` : `${Math.round(m / 60)} hours`;
};

export class SimDocker implements DockerPort {
  readonly host = 'sim://docker';
  readonly containers = new Map<string, SimContainer>();
  /** Every mutating call, in order: what a checker looks at. */
  readonly ops: SimOp[] = [];
  private ids = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(c: Partial<SimContainer> & { name: string; image: string }): SimContainer {
    const id = (++this.ids).toString(16).padStart(4, '0').repeat(16);
    const full: SimContainer = {
      id,
      service: c.name.replace(/^shop-/, ''),
      state: 'running',
      exitCode: 0,
      oomKilled: false,
      failingStreak: 0,
      healthOutput: '',
      restartCount: 0,
      restartPolicy: 'unless-stopped',
      memUsedMiB: 64,
      memLimitMiB: 1024,
      cpuPercent: 1,
      logs: [],
      processes: ['/entrypoint'],
      startedAt: this.now() - 5 * HOUR,
      finishedAt: 0,
      envNames: ['PATH'],
      ...c,
    };
    this.containers.set(full.name, full);
    return full;
  }

  get(name: string): SimContainer {
    const c = this.containers.get(name);
    if (!c) throw new Error(`sim: no container ${name}`);
    return c;
  }

  private find(ref: string): SimContainer {
    for (const c of this.containers.values())
      if (c.id === ref || c.name === ref || (ref.length >= 3 && c.id.startsWith(ref))) return c;
    throw new ActionError('no such container');
  }

  async ping(): Promise<void> {}

  async version() {
    return { version: '27.0-sim', apiVersion: '1.46' };
  }

  async list(opts: { all: boolean }): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => opts.all || c.state === 'running' || c.state === 'restarting')
      .map((c) => this.summary(c));
  }

  private summary(c: SimContainer): ContainerSummary {
    const now = this.now();
    const status =
      c.state === 'running'
        ? `Up ${ago(now - c.startedAt)}${c.health ? ` (${c.health === 'starting' ? 'health: starting' : c.health})` : ''}`
        : c.state === 'restarting'
          ? `Restarting (${c.exitCode}) ${ago(now - c.finishedAt)} ago`
          : c.state === 'created'
            ? 'Created'
            : `Exited (${c.exitCode}) ${ago(now - c.finishedAt)} ago`;
    return {
      id: c.id,
      name: c.name,
      image: c.image,
      state: c.state,
      status,
      labels: { [COMPOSE_PROJECT]: 'shop', [COMPOSE_SERVICE]: c.service },
      project: 'shop',
      service: c.service,
    };
  }

  async inspect(ref: string): Promise<ContainerDetails> {
    const c = this.find(ref);
    const iso = (t: number) => (t > 0 ? new Date(t).toISOString() : '0001-01-01T00:00:00Z');
    return {
      id: c.id,
      name: c.name,
      image: c.image,
      command: c.processes.slice(0, 1),
      createdAt: iso(c.startedAt - HOUR),
      state: {
        status: c.state,
        running: c.state === 'running',
        paused: false,
        restarting: c.state === 'restarting',
        oomKilled: c.oomKilled,
        exitCode: c.exitCode,
        error: '',
        startedAt: iso(c.startedAt),
        finishedAt: iso(c.finishedAt),
      },
      ...(c.health
        ? {
            health: {
              status: c.health,
              failingStreak: c.failingStreak,
              log: c.healthOutput
                ? [
                    {
                      start: iso(this.now() - 30_000),
                      exitCode: c.health === 'healthy' ? 0 : 1,
                      output: c.healthOutput,
                    },
                  ]
                : [],
            },
          }
        : {}),
      restartCount: c.restartCount,
      restartPolicy: { name: c.restartPolicy, maximumRetryCount: 0 },
      ports: [],
      mounts: [],
      envNames: c.envNames,
      labels: { [COMPOSE_PROJECT]: 'shop', [COMPOSE_SERVICE]: c.service },
      tty: false,
      memoryLimit: c.memLimitMiB * MiB,
    };
  }

  async logs(ref: string, opts: { tail: number | 'all' }): Promise<AsyncIterable<LogFrame>> {
    const c = this.find(ref);
    const lines = opts.tail === 'all' ? c.logs : c.logs.slice(-opts.tail);
    return (async function* () {
      for (const l of lines) yield { stream: 'stdout' as const, data: Buffer.from(`${l}\n`) };
    })();
  }

  async stats(id: string): Promise<RawStats> {
    const c = this.find(id);
    if (c.state !== 'running') throw new ActionError(`container ${c.name} is not running`);
    const system = 1e12;
    return {
      cpu_stats: {
        cpu_usage: { total_usage: 2e9 + (c.cpuPercent / 100) * 1e9 },
        system_cpu_usage: system + 1e9,
        online_cpus: 1,
      },
      precpu_stats: { cpu_usage: { total_usage: 2e9 }, system_cpu_usage: system, online_cpus: 1 },
      memory_stats: { usage: c.memUsedMiB * MiB, limit: c.memLimitMiB * MiB, stats: {} },
      networks: { eth0: { rx_bytes: 1_000_000, tx_bytes: 500_000 } },
      blkio_stats: { io_service_bytes_recursive: [] },
      pids_stats: { current: c.processes.length },
    };
  }

  async top(id: string): Promise<ProcessTable> {
    const c = this.find(id);
    return { titles: ['PID', 'USER', 'COMMAND'], processes: c.processes.map((p, i) => [String(100 + i), 'app', p]) };
  }

  async diskUsage(): Promise<DiskUsage> {
    const all = [...this.containers.values()];
    const running = all.filter((c) => c.state === 'running').length;
    const images = new Set(all.map((c) => c.image)).size;
    return {
      rows: [
        { kind: 'Images', total: images, active: images, size: images * 80 * MiB, reclaimable: 0 },
        {
          kind: 'Containers',
          total: all.length,
          active: running,
          size: all.length * MiB,
          reclaimable: (all.length - running) * MiB,
        },
        { kind: 'Local volumes', total: 0, active: 0, size: 0, reclaimable: 0 },
        { kind: 'Build cache', total: 0, active: 0, size: 0, reclaimable: 0 },
      ],
    };
  }

  async start(id: string): Promise<'done' | 'noop'> {
    const c = this.find(id);
    this.ops.push({ op: 'start', name: c.name });
    if (c.state === 'running') return 'noop';
    Object.assign(c, { state: 'running', startedAt: this.now(), exitCode: 0, oomKilled: false });
    return 'done';
  }

  async stop(id: string): Promise<'done' | 'noop'> {
    const c = this.find(id);
    this.ops.push({ op: 'stop', name: c.name });
    if (c.state !== 'running' && c.state !== 'restarting') return 'noop';
    Object.assign(c, { state: 'exited', finishedAt: this.now(), exitCode: 0 });
    return 'done';
  }

  async restart(id: string): Promise<void> {
    const c = this.find(id);
    this.ops.push({ op: 'restart', name: c.name });
    // A restart cures what a restart cures: a stuck health check, not a missing database.
    const cured = c.state !== 'restarting';
    Object.assign(c, {
      state: cured ? 'running' : 'restarting',
      startedAt: this.now(),
      restartCount: c.restartCount + 1,
    });
    if (cured && c.health) Object.assign(c, { health: 'healthy', failingStreak: 0 });
  }

  /** No events happen in the simulation; the stream ends when the watcher lets go. */
  async events(_opts: unknown, signal: AbortSignal): Promise<AsyncIterable<DockerEvent>> {
    const ended = new Promise<IteratorResult<DockerEvent>>((resolve) =>
      signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true }),
    );
    return { [Symbol.asyncIterator]: () => ({ next: () => ended }) };
  }
}

/** The fleet every task starts from: a compose project "shop" on one host. */
export function seedFleet(d: SimDocker, now: number): void {
  d.add({
    name: 'shop-web',
    image: 'nginx:1.25',
    health: 'healthy',
    memUsedMiB: 120,
    memLimitMiB: 512,
    cpuPercent: 2,
    processes: ['nginx: master process', 'nginx: worker process'],
    logs: ['GET / 200', 'GET /health 200'],
  });
  d.add({
    name: 'shop-api',
    image: 'ghcr.io/acme/api:2.3.1',
    memUsedMiB: 310,
    memLimitMiB: 1024,
    cpuPercent: 12,
    processes: ['node server.js'],
    logs: ['listening on :8080', 'GET /orders 200 12ms'],
  });
  d.add({
    name: 'shop-db',
    image: 'postgres:16',
    memUsedMiB: 820,
    memLimitMiB: 2048,
    cpuPercent: 4,
    processes: ['postgres', 'postgres: checkpointer', 'postgres: walwriter'],
    logs: ['database system is ready to accept connections'],
  });
  d.add({
    name: 'shop-worker',
    image: 'ghcr.io/acme/worker:2.3.1',
    memUsedMiB: 95,
    memLimitMiB: 2048,
    cpuPercent: 30,
    processes: ['celery worker -A shop', 'celery: ForkPoolWorker-1'],
    logs: ['task shop.send_mail succeeded'],
  });
  d.add({
    name: 'shop-cron',
    image: 'ghcr.io/acme/cron:1.0',
    state: 'exited',
    exitCode: 0,
    finishedAt: now - 2 * HOUR,
    memUsedMiB: 0,
    logs: ['nightly report done'],
  });
}
