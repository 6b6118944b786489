/**
 * Per-chat scopes over tmux sessions, through the real app and a real tmux server: the group
 * -100 may use sessions matching `^ci-`. A session is judged by its name after aliases and ids
 * are resolved, so neither can reach a session outside the scope; `/tmux ls` lists only what
 * the scope holds.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../../src/core/policy.js';
import { tmux as tmuxModule } from '../../../src/targets/tmux/module.js';
import { testApp, type TestApp } from '../../support/app.js';
import { describeTmux, testServer, type TestServer } from './helpers.js';
import { outcomeText } from '../../support/outcome.js';

const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };
const unscoped: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };

const text = outcomeText;

describeTmux('per-chat scopes over tmux sessions', () => {
  let server: TestServer;
  let t: TestApp;
  let webId: string;
  const say = async (line: string, who: Principal = group): Promise<string> =>
    text(await t.app.dispatcher.command(who, 'command', line));

  beforeAll(async () => {
    server = testServer();
    for (const name of ['ci-build', 'web', 'xci-1']) await server.tmux('new-session', '-d', '-s', name, 'sleep 300');
    await server.tmux('set-option', '-t', 'web', '@teleops_alias', 'ci-web');
    webId = (await server.tmux('display-message', '-p', '-t', 'web:', '#{session_id}')).trim();
    const uid = process.getuid?.() ?? 0;
    const socket = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, server.socketName);
    t = await testApp(
      { TMUX_ENABLED: 'true', TMUX_SOCKET: socket, TMUX_DEFAULT_CWD: server.dir, SCOPES: '-100=tmux:^ci-' },
      [tmuxModule],
    );
  });
  afterAll(async () => {
    await t?.close();
    await server?.cleanup();
  });

  it('lists only the sessions the scope holds', async () => {
    const mine = await say('/tmux ls');
    expect(mine).toMatch(/^1 tmux session\n/);
    expect(mine).toContain('ci-build');
    expect(mine).not.toMatch(/\bweb\b|xci-1/);
    expect(await say('/tmux ls', unscoped)).toMatch(/^3 tmux sessions\n/);
  });

  it('refuses a session outside it by name, by an alias that looks in scope, and by id', async () => {
    expect(await say('/tmux tail ci-build')).not.toContain('scope');
    expect(await say('/tmux tail web')).toBe("tmux.tail: tmux web is not in this chat's scope.");
    expect(await say('/tmux tail ci-web')).toBe("tmux.tail: tmux web is not in this chat's scope.");
    expect(await say(`/tmux tail ${webId}`)).toBe("tmux.tail: tmux web is not in this chat's scope.");
    expect(await say('/tmux send web:0 rm -rf /')).toBe("tmux.send: tmux web is not in this chat's scope.");
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'tmux.send', outcome: 'forbidden', chat: -100 });
    expect(await say('/tmux kill xci-1')).toBe("tmux.kill: tmux xci-1 is not in this chat's scope.");
    expect(await server.tmux('has-session', '-t', 'xci-1')).toBe('');
  });

  it('starts a session only under a name the scope holds', async () => {
    expect(await say('/tmux new other sleep 5')).toBe("tmux.new: tmux other is not in this chat's scope.");
    await expect(server.tmux('has-session', '-t', 'other')).rejects.toThrow();
    expect(await say('/tmux new ci-2 sleep 5')).toContain('ci-2');
    expect(await server.tmux('has-session', '-t', 'ci-2')).toBe('');
  });
});
