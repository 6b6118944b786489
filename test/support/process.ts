import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { teleopsBundle } from './bundle.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'teleops.js');

/**
 * A port that was free a moment ago, on 127.0.0.1. Drawn below the kernel's ephemeral range
 * (32768–60999 here): a port the kernel hands out is also what any outgoing connection may be
 * given between this check and the child's bind, and teleops then exits at start.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = createServer();
    const free = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (free) await new Promise((r) => s.close(r));
    if (free) return port;
  }
}

export interface Proc {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Runs the real CLI (`teleops <args>`) in a clean environment: by default with the test-only
 * target added (test/support/teleops.ts, bundled as dist/ is: see bundle.ts); with `bin: true`
 * exactly as installed (bin/teleops.js, compiled when built).
 */
export function runTeleops(
  args: string[],
  env: Record<string, string>,
  opts: { input?: string; bin?: boolean } = {},
): Proc {
  const argv = [opts.bin ? BIN : teleopsBundle(ROOT), ...args];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async waitForOutput(re, timeoutMs = 15_000) {
      const start = Date.now();
      while (!re.test(out)) {
        if (child.exitCode !== null)
          throw new Error(`teleops exited (${child.exitCode}) before printing ${re}:\n${out}`);
        if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${re} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}
