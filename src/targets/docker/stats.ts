import type { RawStats } from './port.js';

export interface StatsSnapshot {
  readonly cpuPercent: number;
  readonly memUsed: number;
  /** 0 when the Engine reports none. */
  readonly memLimit: number;
  readonly memPercent: number;
  readonly netRx: number;
  readonly netTx: number;
  readonly blockRead: number;
  readonly blockWrite: number;
  readonly pids: number;
}

/** The same arithmetic as `docker stats` (cli/command/container/stats_helpers.go). */
export function computeStats(s: RawStats): StatsSnapshot {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const systemDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const online = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpuPercent = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;

  const usage = s.memory_stats.usage ?? 0;
  const st = s.memory_stats.stats ?? {};
  // Page cache that can be dropped is not "used": cgroup v1 names it total_inactive_file, v2 inactive_file.
  const v1 = st.total_inactive_file;
  const v2 = st.inactive_file;
  const memUsed = v1 !== undefined && v1 < usage ? usage - v1 : v2 !== undefined && v2 < usage ? usage - v2 : usage;
  const memLimit = s.memory_stats.limit ?? 0;

  let netRx = 0;
  let netTx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    netRx += n.rx_bytes;
    netTx += n.tx_bytes;
  }
  let blockRead = 0;
  let blockWrite = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') blockRead += e.value;
    else if (op === 'write') blockWrite += e.value;
  }
  return {
    cpuPercent,
    memUsed,
    memLimit,
    memPercent: memLimit > 0 ? (memUsed / memLimit) * 100 : 0,
    netRx,
    netTx,
    blockRead,
    blockWrite,
    pids: s.pids_stats?.current ?? 0,
  };
}

/** 1.5MiB, like the Docker CLI shows memory. */
export function binaryBytes(n: number): string {
  return scaled(n, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']);
}

/** 1.5MB, like the Docker CLI shows network and block I/O. */
export function decimalBytes(n: number): string {
  return scaled(n, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB']);
}

function scaled(n: number, base: number, units: readonly string[]): string {
  let v = Math.max(0, n);
  let i = 0;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  const digits = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  const fixed = v.toFixed(digits);
  return `${fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed}${units[i]}`;
}
