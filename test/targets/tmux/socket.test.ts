/** A TMUX_SOCKET tmux cannot use: tmux exits 0 on new-session anyway, so teleops must look. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/log.js';
import { createTmuxTarget } from '../../../src/targets/tmux/index.js';
import { createTmuxPort } from '../../../src/targets/tmux/port.js';
import { tmuxSettings } from '../../../src/targets/tmux/settings.js';
import { MemoryWatchStore } from '../../../src/targets/tmux/watcher.js';
import { describeTmux } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'teleops-sock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const target = (socket: string) =>
  createTmuxTarget(tmuxSettings({ socket, defaultCwd: dir }), {
    store: new MemoryWatchStore(),
    alerts: { raise: () => undefined },
    log: silentLogger(),
    redact: (t) => t,
  });

describeTmux('a TMUX_SOCKET tmux cannot use', () => {
  it('new-session in a missing directory is a failure, not "Started"', async () => {
    const port = createTmuxPort({ socketPath: '/nonexistent/dir/sock', configFile: '/dev/null' });
    await expect(port.newSession({ name: 'foo', cwd: dir, command: 'sleep 100' })).rejects.toThrow(
      'tmux said it started foo but no such session exists on /nonexistent/dir/sock: the TMUX_SOCKET directory /nonexistent/dir does not exist',
    );
    const t = target('/nonexistent/dir/sock');
    const created = t.actions.find((a) => a.name === 'tmux.new')!;
    const ctx = {
      operator: { userId: 1, chatId: 1, role: 'operator' as const, display: '@op' },
      origin: 'console' as const,
      signal: new AbortController().signal,
      chat: { get: () => undefined, set: () => undefined },
    };
    await expect(created.run(ctx, created.params.parse({ name: 'foo', command: 'sleep 100' }))).rejects.toThrow(
      /no such session exists/,
    );
  });

  it('the integration check (doctor, /status) is down for a missing, non-directory or unwritable socket directory', async () => {
    expect(await target('/nonexistent/dir/sock').integration.check(new AbortController().signal)).toEqual({
      state: 'down',
      detail: 'the TMUX_SOCKET directory /nonexistent/dir does not exist',
    });
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(await target(join(file, 'sock')).integration.check(new AbortController().signal)).toEqual({
      state: 'down',
      detail: `the TMUX_SOCKET directory ${file} is not a directory`,
    });
    if (process.getuid?.() !== 0) {
      expect((await target('/proc/sock').integration.check(new AbortController().signal)).detail).toMatch(
        /not writable/,
      );
    }
  });

  it('a usable socket directory works as before: up, and new-session starts a real session', async () => {
    const socket = join(dir, 'sock');
    const t = target(socket);
    expect(await t.integration.check(new AbortController().signal)).toMatchObject({
      state: 'up',
      detail: expect.stringContaining('0 sessions on'),
    });
    const port = createTmuxPort({ socketPath: socket, configFile: '/dev/null' });
    try {
      await port.newSession({ name: 'foo', cwd: dir, command: 'sleep 100' });
      expect((await port.listSessions()).map((s) => s.name)).toEqual(['foo']);
      expect(await t.integration.check(new AbortController().signal)).toMatchObject({
        state: 'up',
        detail: expect.stringContaining('1 session on'),
      });
    } finally {
      await port.killSession('foo').catch(() => undefined);
    }
  });
});
