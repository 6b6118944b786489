/** A private tmux server per test file, and the scripted programs the tests run in it. */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';
import { createTmuxPort, type TmuxPort } from '../../../src/targets/tmux/port.js';

function tmuxMissing(): string | undefined {
  try {
    execFileSync('tmux', ['-V'], { timeout: 5000, stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `tmux cannot run here (${(e as Error).message.split('\n')[0]})`;
  }
}

/** Runs the suite with real tmux; skips with a printed reason, except under CI=true. */
export function describeTmux(name: string, fn: () => void): void {
  const missing = tmuxMissing();
  if (!missing) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs tmux', () => {
        throw new Error(`${missing}; CI=true requires the real-tmux suites to run`);
      });
    });
    return;
  }
  console.log(`skipping ${name}: ${missing}`);
  describe.skip(name, fn);
}

export interface TestServer {
  readonly port: TmuxPort;
  readonly socketName: string;
  /** Runs tmux on this server directly, as a person at the desk would. */
  tmux(...args: string[]): Promise<string>;
  /** A script file in the test's temp dir; returns its path. */
  script(name: string, body: string): string;
  readonly dir: string;
  cleanup(): Promise<void>;
}

export function testServer(): TestServer {
  const socketName = `teleops-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'teleops-tmux-'));
  const tmux = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile('tmux', ['-L', socketName, '-f', '/dev/null', ...args], { timeout: 5000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(stdout),
      );
    });
  return {
    port: createTmuxPort({ socketName, configFile: '/dev/null', timeoutMs: 5000 }),
    socketName,
    dir,
    tmux,
    script(name, body) {
      const path = join(dir, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
      return path;
    },
    async cleanup() {
      await tmux('kill-server').catch(() => undefined);
      const uid = process.getuid?.() ?? 0;
      rmSync(join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, socketName), { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value, or fails after `ms`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The scripted programs of the issue; each pauses first so the watcher's first look sees it running. */
export const SCRIPTS = {
  ask: `echo starting; sleep 0.5; printf 'Continue? [y/N] '; read a; if [ "$a" = y ]; then echo proceeding; sleep 0.3; echo finished-ok; sleep 0.2; exit 0; fi; echo aborted; sleep 0.2; exit 1`,
  fail: `echo working; sleep 0.5; echo 'something broke'; sleep 0.2; exit 1`,
  finish: `echo working; sleep 0.5; echo 'all good'; sleep 0.2; exit 0`,
  busy: `i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done`,
  interruptible: `trap 'echo interrupted; exit 3' INT; echo ready; while :; do sleep 0.1; done`,
} as const;
