import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';

/**
 * Why this machine cannot mount a tmpfs for a test (root in a privileged container can);
 * undefined when it can. Under CI=true it must: the caller throws instead of skipping.
 */
export function tmpfsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const probe = mkdtempSync('/tmp/tdf-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'mount -t tmpfs is not allowed here';
  } finally {
    rmdirSync(probe);
  }
}
