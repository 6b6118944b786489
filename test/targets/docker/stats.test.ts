import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RawStats } from '../../../src/targets/docker/port.js';
import { binaryBytes, computeStats, decimalBytes } from '../../../src/targets/docker/stats.js';

/** Recorded from dockerd 20.10 (cgroup v1) for a busy-looping container with a 64 MiB limit. */
const recorded: RawStats = {
  cpu_stats: {
    cpu_usage: { total_usage: 2479910336, percpu_usage: [323514978, 2156395358] },
    system_cpu_usage: 2785500000000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 1503812464, percpu_usage: [323514978, 1180297486] },
    system_cpu_usage: 2783500000000,
    online_cpus: 2,
  },
  memory_stats: {
    usage: 5984256,
    limit: 67108864,
    stats: { cache: 5242880, inactive_file: 5242880, total_inactive_file: 5242880, rss: 57344 },
  },
  blkio_stats: { io_service_bytes_recursive: [] },
  pids_stats: { current: 1 },
};

describe('computeStats', () => {
  it('computes CPU % and memory as the docker CLI does', () => {
    const s = computeStats(recorded);
    // (2479910336 - 1503812464) / (2785500000000 - 2783500000000) * 2 CPUs * 100
    expect(s.cpuPercent).toBeCloseTo(97.6097872, 6);
    // usage minus total_inactive_file (cgroup v1)
    expect(s.memUsed).toBe(5984256 - 5242880);
    expect(s.memLimit).toBe(67108864);
    expect(s.memPercent).toBeCloseTo((741376 / 67108864) * 100, 9);
    expect(s.pids).toBe(1);
    expect([s.netRx, s.netTx, s.blockRead, s.blockWrite]).toEqual([0, 0, 0, 0]);
  });

  it('uses inactive_file on cgroup v2, counts CPUs from percpu_usage when online_cpus is missing, sums I/O', () => {
    const s = computeStats({
      cpu_stats: { cpu_usage: { total_usage: 300, percpu_usage: [1, 1, 1, 1] }, system_cpu_usage: 2000 },
      precpu_stats: { cpu_usage: { total_usage: 100 }, system_cpu_usage: 1000 },
      memory_stats: { usage: 1000, limit: 4000, stats: { inactive_file: 200 } },
      networks: { eth0: { rx_bytes: 10, tx_bytes: 20 }, eth1: { rx_bytes: 1, tx_bytes: 2 } },
      blkio_stats: {
        io_service_bytes_recursive: [
          { op: 'Read', value: 5 },
          { op: 'write', value: 7 },
          { op: 'Total', value: 12 },
          { op: 'read', value: 1 },
        ],
      },
      pids_stats: { current: 3 },
    });
    expect(s.cpuPercent).toBeCloseTo(80, 9);
    expect(s.memUsed).toBe(800);
    expect(s.memPercent).toBe(20);
    expect([s.netRx, s.netTx, s.blockRead, s.blockWrite, s.pids]).toEqual([11, 22, 6, 7, 3]);
  });

  it('never divides by zero, whatever the Engine sends', () => {
    const cpu = fc.record({
      cpu_usage: fc.record({ total_usage: fc.nat() }),
      system_cpu_usage: fc.option(fc.nat()),
      online_cpus: fc.option(fc.nat({ max: 256 })),
    });
    fc.assert(
      fc.property(cpu, cpu, fc.record({ usage: fc.option(fc.nat()), limit: fc.option(fc.nat()) }), (a, b, m) => {
        const s = computeStats({ cpu_stats: a, precpu_stats: b, memory_stats: m });
        for (const v of Object.values(s)) expect(Number.isFinite(v)).toBe(true);
        expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe('byte formatting', () => {
  it('matches the Docker CLI units', () => {
    expect(binaryBytes(0)).toBe('0B');
    expect(binaryBytes(741376)).toBe('724KiB');
    expect(binaryBytes(67108864)).toBe('64MiB');
    expect(binaryBytes(1536)).toBe('1.5KiB');
    expect(binaryBytes(100 * 1024)).toBe('100KiB');
    expect(decimalBytes(1500)).toBe('1.5kB');
    expect(decimalBytes(2_000_000)).toBe('2MB');
    expect(decimalBytes(999)).toBe('999B');
  });

  it('always prints a number and a unit', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(binaryBytes(n)).toMatch(/^\d+(\.\d+)?(B|KiB|MiB|GiB|TiB|PiB)$/);
        expect(decimalBytes(n)).toMatch(/^\d+(\.\d+)?(B|kB|MB|GB|TB|PB)$/);
      }),
    );
  });
});
