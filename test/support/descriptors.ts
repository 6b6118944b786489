import { readdirSync, readlinkSync, realpathSync } from 'node:fs';

/** The descriptors this process holds open on `path` (Linux: read from /proc/self/fd). */
export function descriptorsOn(path: string): number {
  const real = realpathSync(path);
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === real;
    } catch {
      return false;
    }
  }).length;
}
