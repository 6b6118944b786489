// Stops a test dockerd once the process that owns it is gone, however it ended (a killed
// test run never reaches its teardown). Started detached by dockerd.ts, with arguments:
//   <owner pid> <dockerd pid> <dir>...
// Plain JavaScript so that it needs nothing but node.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const [owner, dockerd, ...dirs] = process.argv.slice(2);
const alive = (pid) => {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
};

while (alive(owner) && alive(dockerd)) await sleep(1000);

if (alive(dockerd)) {
  process.kill(Number(dockerd), 'SIGTERM');
  for (let i = 0; i < 150 && alive(dockerd); i++) await sleep(100);
  if (alive(dockerd)) process.kill(Number(dockerd), 'SIGKILL');
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (dirs.some((d) => cmd.includes(d))) process.kill(Number(e), 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && dirs.some((d) => m === d || m.startsWith(`${d}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { timeout: 10_000, stdio: 'ignore' });
    } catch {
      // not mounted any more
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
}
