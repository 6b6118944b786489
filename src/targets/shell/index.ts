/**
 * `/shell <command>`: off unless SHELL_ENABLED=true; admins only; an approval card every time
 * (destructive risk); never offered to the LLM. The admin's command line is run by /bin/sh as
 * typed — that is the point of it — with a timeout, an output cap and no teleops secrets in
 * its environment.
 */
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { z } from 'zod';
import { defineAction, type AnyAction } from '../../core/action.js';
import { clip } from '../../core/redact.js';
import { scrubbedEnv } from '../../core/env.js';
import { line, pre, value } from '../../core/result.js';
import { stripAnsi } from '../../core/text.js';

export const SHELL_OUTPUT_MAX = 64 * 1024;

export interface ShellSettings {
  readonly timeoutMs: number;
  readonly cwd?: string;
}

interface Ran {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly truncated: boolean;
  readonly timedOut: boolean;
}

/** Runs `command` with /bin/sh; stdout and stderr interleaved, capped, killed after the timeout. */
export function runShell(command: string, s: ShellSettings, signal: AbortSignal): Promise<Ran> {
  return new Promise((resolve) => {
    // "--": a command starting with "-" is the command, not an option of sh.
    const child = spawn('/bin/sh', ['-c', '--', command], {
      cwd: s.cwd ?? homedir(),
      env: scrubbedEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    const take = (b: Buffer) => {
      if (size >= SHELL_OUTPUT_MAX) return void (truncated = true);
      const part = b.subarray(0, SHELL_OUTPUT_MAX - size);
      chunks.push(part);
      size += part.length;
      if (part.length < b.length) truncated = true;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // The whole process group, so a command's children do not outlive it.
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, s.timeoutMs);
    signal.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => chunks.push(Buffer.from(`teleops: ${e.message}\n`)));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      resolve({ code, signal: sig, output: Buffer.concat(chunks).toString('utf8'), truncated, timedOut });
    });
  });
}

export function shellActions(s: ShellSettings): AnyAction[] {
  return [
    defineAction({
      name: 'shell.run',
      summary: 'Run a shell command on the teleops host (admins; always asks for approval)',
      target: 'shell',
      risk: 'destructive',
      minRole: 'admin',
      llm: false,
      timeoutMs: s.timeoutMs + 5000,
      params: z.object({ command: z.string().trim().min(1).max(2000) }),
      command: { path: ['shell'], usage: '<command...>' },
      subject: (p) => `shell: ${clip(p.command, 200)}`,
      run: async (ctx, p) => {
        const r = await runShell(p.command, s, ctx.signal);
        const status = r.timedOut
          ? `killed after ${Math.round(s.timeoutMs / 1000)}s (SHELL_TIMEOUT_SECONDS)`
          : r.code !== null
            ? `exit code ${r.code}`
            : `killed by ${r.signal}`;
        const output = stripAnsi(r.output).trimEnd();
        return {
          blocks: [
            line(
              r.code === 0 ? '✅ ' : '⚠️ ',
              value(status),
              r.truncated ? ` · output cut at ${SHELL_OUTPUT_MAX / 1024} KiB` : '',
            ),
            pre(output === '' ? '(no output)' : output),
          ],
        };
      },
    }),
  ];
}
