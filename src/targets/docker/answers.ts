import { z } from 'zod';
import { ActionError } from '../../core/action.js';
import type { ContainerDetails, DiskUsage, HealthRun } from './port.js';

/**
 * The Engine's answers: their schemas, and their reduction to what the port hands on.
 * Environment variable values stop here; only their names go further.
 */

const cpuSchema = z.object({
  cpu_usage: z
    .object({ total_usage: z.number().default(0), percpu_usage: z.array(z.number()).nullish() })
    .default({ total_usage: 0 }),
  system_cpu_usage: z.number().nullish(),
  online_cpus: z.number().nullish(),
});

export const statsSchema = z.object({
  cpu_stats: cpuSchema.default({ cpu_usage: { total_usage: 0 } }),
  precpu_stats: cpuSchema.default({ cpu_usage: { total_usage: 0 } }),
  memory_stats: z
    .object({
      usage: z.number().nullish(),
      limit: z.number().nullish(),
      stats: z.record(z.string(), z.number()).nullish(),
    })
    .default({}),
  networks: z
    .record(z.string(), z.object({ rx_bytes: z.number().default(0), tx_bytes: z.number().default(0) }))
    .nullish(),
  blkio_stats: z
    .object({ io_service_bytes_recursive: z.array(z.object({ op: z.string(), value: z.number() })).nullish() })
    .nullish(),
  pids_stats: z.object({ current: z.number().nullish() }).nullish(),
});

const labelsSchema = z
  .record(z.string(), z.string())
  .nullish()
  .transform((l) => l ?? {});

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
          .array(
            z.object({
              Start: z.string().default(''),
              ExitCode: z.number().default(0),
              Output: z.string().default(''),
            }),
          )
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
    .array(
      z.object({
        Type: z.string().default(''),
        Source: z.string().default(''),
        Destination: z.string().default(''),
        RW: z.boolean().default(true),
      }),
    )
    .nullish(),
  NetworkSettings: z
    .object({
      Ports: z
        .record(
          z.string(),
          z.array(z.object({ HostIp: z.string().default(''), HostPort: z.string().default('') })).nullish(),
        )
        .nullish(),
    })
    .nullish(),
});

const healthRun = (r: { Start: string; ExitCode: number; Output: string }): HealthRun => ({
  start: r.Start,
  exitCode: r.ExitCode,
  output: r.Output,
});

/** `GET /containers/{id}/json`, reduced to what /docker inspect shows. */
export function containerDetails(raw: unknown): ContainerDetails {
  const d = parse(inspectSchema, raw, 'inspect');
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
    ...(h ? { health: { status: h.Status, failingStreak: h.FailingStreak, log: (h.Log ?? []).map(healthRun) } } : {}),
    restartCount: d.RestartCount,
    restartPolicy: {
      name: d.HostConfig.RestartPolicy?.Name || 'no',
      maximumRetryCount: d.HostConfig.RestartPolicy?.MaximumRetryCount ?? 0,
    },
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
}

export const versionSchema = z.object({ Version: z.string().default('?'), ApiVersion: z.string().default('?') });

export const topSchema = z.object({
  Titles: z.array(z.string()).nullish(),
  Processes: z.array(z.array(z.string())).nullish(),
});

/** Sizes the Engine has not computed are -1 (or absent): counted as 0. */
const bytes = z
  .number()
  .nullish()
  .transform((n) => (n !== null && n !== undefined && n > 0 ? n : 0));

export const dfSchema = z.object({
  LayersSize: bytes,
  Images: z.array(z.object({ Size: bytes, SharedSize: bytes, Containers: z.number().nullish() })).nullish(),
  Containers: z.array(z.object({ SizeRw: bytes, State: z.string().nullish() })).nullish(),
  Volumes: z
    .array(z.object({ UsageData: z.object({ Size: bytes, RefCount: z.number().nullish() }).nullish() }))
    .nullish(),
  BuildCache: z.array(z.object({ Size: bytes, InUse: z.boolean().nullish(), Shared: z.boolean().nullish() })).nullish(),
});

/** The four rows of `docker system df`, computed as the Docker CLI does. */
export function diskUsageOf(d: z.output<typeof dfSchema>): DiskUsage {
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
        reclaimable: sum(
          containers.filter((c) => c.State !== 'running'),
          (c) => c.SizeRw,
        ),
      },
      {
        kind: 'Local volumes',
        total: volumes.length,
        active: volumes.filter(usedVolume).length,
        size: sum(volumes, (v) => v.UsageData?.Size ?? 0),
        reclaimable: sum(
          volumes.filter((v) => !usedVolume(v)),
          (v) => v.UsageData?.Size ?? 0,
        ),
      },
      {
        kind: 'Build cache',
        total: cache.length,
        active: cache.filter((c) => c.InUse).length,
        size: sum(cache, (c) => c.Size),
        reclaimable: sum(
          cache.filter((c) => !c.InUse),
          (c) => c.Size,
        ),
      },
    ],
  };
}

export const eventSchema = z.object({
  Type: z.string().default(''),
  Action: z.string().default(''),
  Actor: z.object({ ID: z.string(), Attributes: labelsSchema }),
  time: z.number().default(0),
  timeNano: z.number().default(0),
});

/** Validates an Engine answer; a malformed one is an operator-facing error, not a crash. */
export function parse<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new ActionError(`Docker sent an unexpected answer (${what})`);
  return r.data;
}
