// CPU time of processes, from /proc, for the benches that weigh a process's cost (tmux, agents, fleet).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The kernel's clock ticks a second, the unit of /proc/<pid>/stat's times. */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { timeout: 2000 }).toString().trim()) || 100;
  } catch {
    return 100;
  }
}

/** CPU seconds of a process from /proc: [own user+system, waited-for children's user+system]. */
export function procCpu(pid: number | 'self', hz: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is f[0], so utime (14) is f[11], cutime (16) is f[13].
  const n = (i: number) => Number(f[i]) / hz;
  return [n(11) + n(12), n(13) + n(14)];
}
