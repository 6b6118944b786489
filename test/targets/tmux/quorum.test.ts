/**
 * Two-person approval over tmux sessions, through the real app and a real tmux server: a rule
 * naming a session (`tmux.kill:target=prod`) holds however a request spells it, by its alias,
 * its id or a window of it, so an operator cannot dodge the second person by a spelling.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../../src/core/policy.js';
import { plainText } from '../../../src/core/result.js';
import { tmux as tmuxModule } from '../../../src/targets/tmux/module.js';
import { testApp, type TestApp } from '../../support/app.js';
import { outcomeText } from '../../support/outcome.js';
import { describeTmux, testServer, type TestServer } from './helpers.js';

const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };

describeTmux('APPROVAL_QUORUM over tmux sessions', () => {
  let server: TestServer;
  let t: TestApp;
  let prodId: string;

  beforeAll(async () => {
    server = testServer();
    for (const name of ['prod', 'scratch']) await server.tmux('new-session', '-d', '-s', name, 'sleep 300');
    prodId = (await server.tmux('display-message', '-p', '-t', 'prod:', '#{session_id}')).trim();
    const uid = process.getuid?.() ?? 0;
    const socket = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${uid}`, server.socketName);
    t = await testApp(
      {
        TMUX_ENABLED: 'true',
        TMUX_SOCKET: socket,
        TMUX_DEFAULT_CWD: server.dir,
        APPROVAL_QUORUM: 'tmux.kill:target=prod,tmux.send:target=prod',
      },
      [tmuxModule],
    );
  });
  afterAll(async () => {
    await t?.close();
    await server?.cleanup();
  });

  it('holds a rule naming a session for its alias, its id and its windows alike', async () => {
    // An alias is a write a person makes alone.
    expect(outcomeText(await t.app.dispatcher.command(group, 'command', '/tmux alias prod p'))).toBe(
      'Session prod is now also p.',
    );
    for (const line of [
      '/tmux kill prod',
      '/tmux kill p',
      `/tmux kill ${prodId}`,
      '/tmux send p:0 ls',
      '/tmux send prod ls',
    ]) {
      const o = await t.app.dispatcher.command(group, 'command', line);
      if (o.kind !== 'approval') throw new Error(`${line}: expected approval, got ${o.kind}: ${outcomeText(o)}`);
      expect(plainText(o.approval.card), line).toContain('by two operators (0 of 2)');
    }
    // Another session: one operator, as before (a kill is destructive: a card for one).
    const other = await t.app.dispatcher.command(group, 'command', '/tmux kill scratch');
    if (other.kind !== 'approval') throw new Error(`expected approval, got ${other.kind}`);
    expect(plainText(other.approval.card)).not.toContain('two operators');
    expect(outcomeText(await t.app.dispatcher.command(group, 'command', '/tmux send scratch ls'))).toMatch(/Sent/);
    expect(await server.tmux('list-sessions', '-F', '#{session_name}')).toMatch(/prod/);
  });
  it('refuses an approved request whose name has come to stand for what a rule keeps for two', async () => {
    const say = async (line: string) => outcomeText(await t.app.dispatcher.command(group, 'command', line));
    expect(await say('/tmux alias scratch t1')).toBe('Session scratch is now also t1.');
    const o = await t.app.dispatcher.command(group, 'command', '/tmux kill t1');
    if (o.kind !== 'approval') throw new Error(`expected approval, got ${o.kind}`);
    expect(plainText(o.approval.card)).not.toContain('two operators');
    // The alias moves to prod between the card and the press.
    expect(await say('/tmux alias scratch')).toMatch(/^Cleared the alias of/);
    expect(await say('/tmux alias prod t1')).toBe('Session prod is now also t1.');
    const done = await t.app.dispatcher.decide(group, o.approval.id, o.approval.token, 'approve');
    expect(outcomeText(done)).toBe(
      'tmux.kill: what it names has changed since the card, and now needs two operators; ask again.',
    );
    expect(await server.tmux('list-sessions', '-F', '#{session_name}')).toMatch(/^prod$/m);
  });
});
