/**
 * Passwords typed into terminals (issue 12, item 9): text sent while the pane is at a
 * password prompt, or with `/tmux send --secret`, reaches the program but is recorded as
 * `[secret, N chars]` in the audit; the LLM may not type it at all. Real tmux, the real
 * composition root, the real dispatcher and audit table.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Outcome } from '../../../src/core/dispatcher.js';
import type { Principal } from '../../../src/core/policy.js';
import { plainText } from '../../../src/core/result.js';
import { tmux as tmuxModule } from '../../../src/targets/tmux/module.js';
import { testApp, tempDir, type TestApp } from '../../support/app.js';
import { describeTmux, eventually } from './helpers.js';

const PASSWORD = 'hunter2-Tr0ub4dor&3';
const MARK = `[secret, ${PASSWORD.length} chars]`;
const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@alice' };
const viewer: Principal = { transport: 'tg', userId: 30, chatId: 30, chatKind: 'private', name: '@vera' };
/** What the program got, without printing it: its length and a digest. */
const GOT = `echo "got \${#pw} chars $(printf %s "$pw" | sha256sum | cut -c1-12)"`;
const digest = (s: string) =>
  execFileSync('sh', ['-c', 'printf %s "$1" | sha256sum | cut -c1-12', 'sh', s]).toString().trim();

describeTmux('secrets typed into terminals', () => {
  const dir = tempDir('teleops-secret-');
  const sock = join(dir.path, 'tmux.sock');
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-S', sock, '-f', '/dev/null', ...args], { timeout: 5000 }).toString();
  const screen = (s: string) => tmux('capture-pane', '-p', '-J', '-t', `=${s}:`);
  const script = (name: string, body: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, `#!/bin/bash\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  let t: TestApp;
  let seq = 0;
  const since = () => {
    const from = seq;
    seq = t.app.audit.head()?.seq ?? 0;
    return () =>
      t.app.audit
        .recent(1000)
        .filter((e) => e.seq > from)
        .reverse();
  };
  const rows = (f: () => ReturnType<TestApp['app']['audit']['recent']>) => JSON.stringify(f());
  const sudo = (name: string) => {
    tmux(
      'new-session',
      '-d',
      '-s',
      name,
      script(`${name}.sh`, `read -r -s -p "[sudo] password for ops: " pw; echo; ${GOT}; sleep 300`),
    );
    return eventually(() => (screen(name).includes('[sudo] password for ops:') ? true : undefined));
  };

  beforeAll(async () => {
    t = await testApp({ TMUX_ENABLED: 'true', TMUX_SOCKET: sock, TMUX_DEFAULT_CWD: dir.path }, [tmuxModule]);
  });
  beforeEach(() => void since());
  afterAll(async () => {
    await t?.close();
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    dir.remove();
  });

  it('a reply at a [sudo] password prompt reaches the program and is audited as its length only', async () => {
    await sudo('sudo1');
    const audit = since();
    const o: Outcome = await t.app.dispatcher.dispatch(op, 'command', 'tmux.send', { target: 'sudo1', text: PASSWORD });
    expect(o).toMatchObject({ kind: 'done', secret: true });
    expect(JSON.stringify(o)).not.toContain(PASSWORD);
    await eventually(() =>
      screen('sudo1').includes(`got ${PASSWORD.length} chars ${digest(PASSWORD)}`) ? true : undefined,
    );
    expect(audit().map((e) => [e.action, e.outcome, e.params])).toEqual([
      ['tmux.send', 'started', { target: 'sudo1', text: MARK }],
      ['tmux.send', 'ok', { target: 'sudo1', text: MARK }],
    ]);
    expect(rows(audit)).not.toContain(PASSWORD);
    const shown = await t.app.dispatcher.command(op, 'command', '/audit 5');
    expect(shown.kind === 'done' && plainText(shown.result)).toContain('tmux.send tmux sudo1 → ok');
    expect(JSON.stringify(shown)).not.toContain(PASSWORD);
  });

  it('/tmux send --secret masks text sent anywhere, and types it as given', async () => {
    tmux('new-session', '-d', '-s', 'plain', script('plain.sh', `read -r pw; ${GOT}; sleep 300`));
    const audit = since();
    const o = await t.app.dispatcher.command(op, 'command', `/tmux send --secret plain ${PASSWORD}`);
    expect(o).toMatchObject({ kind: 'done', secret: true });
    await eventually(() =>
      screen('plain').includes(`got ${PASSWORD.length} chars ${digest(PASSWORD)}`) ? true : undefined,
    );
    expect(audit().map((e) => e.params)).toEqual([
      { target: 'plain', text: MARK, secret: true },
      { target: 'plain', text: MARK, secret: true },
    ]);
  });

  it('text sent when no password is asked for is recorded as it is', async () => {
    tmux('new-session', '-d', '-s', 'shell', 'cat');
    const audit = since();
    const o = await t.app.dispatcher.dispatch(op, 'command', 'tmux.send', { target: 'shell', text: 'make test' });
    expect(o.kind === 'done' && 'secret' in o).toBe(false);
    expect(audit().map((e) => e.params)).toEqual([
      { target: 'shell', text: 'make test' },
      { target: 'shell', text: 'make test' },
    ]);
  });

  it('a typed password held by the rate limit is marked secret, so that its message is deleted', async () => {
    const limited = await testApp(
      { TMUX_ENABLED: 'true', TMUX_SOCKET: sock, TMUX_DEFAULT_CWD: dir.path, RATE_LIMIT_PER_MINUTE: '1' },
      [tmuxModule],
    );
    try {
      expect((await limited.app.dispatcher.command(op, 'command', '/tmux ls')).kind).toBe('done');
      const held = await limited.app.dispatcher.command(op, 'command', `/tmux send --secret shell ${PASSWORD}`);
      expect(held).toMatchObject({ kind: 'rate_limited', secret: true });
      expect(await limited.app.dispatcher.command(op, 'command', '/tmux ls')).not.toHaveProperty('secret');
    } finally {
      await limited.close();
    }
  });

  it('the LLM may not type at a password prompt; a viewer’s refused reply is masked too', async () => {
    await sudo('sudo2');
    const audit = since();
    const ai = await t.app.dispatcher.dispatch(op, 'ai', 'tmux.send', { target: 'sudo2', text: PASSWORD });
    expect(ai).toMatchObject({ kind: 'refused', secret: true });
    expect(ai.kind === 'refused' && ai.message).toMatch(/password prompt/);
    const v = await t.app.dispatcher.dispatch(viewer, 'command', 'tmux.send', { target: 'sudo2', text: PASSWORD });
    expect(v.kind).toBe('refused');
    expect(audit().map((e) => [e.origin, e.outcome, e.params])).toEqual([
      ['ai', 'forbidden', { target: 'sudo2', text: MARK }],
      ['command', 'forbidden', { target: 'sudo2', text: MARK }],
    ]);
    expect(t.app.db.prepare('SELECT COUNT(*) AS n FROM approvals').get()).toEqual({ n: 0 });
    expect(screen('sudo2')).not.toMatch(/got \d+ chars/);
  });

  it('an LLM request approved before a password prompt appeared is refused when it would run', async () => {
    tmux(
      'new-session',
      '-d',
      '-s',
      'later',
      script('later.sh', `read -r go; read -r -s -p "[sudo] password for ops: " pw; echo; ${GOT}; sleep 300`),
    );
    const ask = await t.app.dispatcher.dispatch(op, 'ai', 'tmux.send', { target: 'later', text: PASSWORD });
    if (ask.kind !== 'approval') throw new Error(`expected a card, got ${ask.kind}`);
    await t.app.dispatcher.dispatch(op, 'command', 'tmux.send', { target: 'later', text: 'go' });
    await eventually(() => (screen('later').includes('[sudo] password for ops:') ? true : undefined));
    const audit = since();
    const run = await t.app.dispatcher.decide(op, ask.approval.id, ask.approval.token, 'approve');
    expect(run).toMatchObject({ kind: 'refused', secret: true });
    expect(
      audit()
        .map((e) => [e.origin, e.outcome])
        .at(-1),
    ).toEqual(['ai', 'forbidden']);
    expect(audit().at(-1)?.params).toEqual({ target: 'later', text: MARK });
    expect(screen('later')).not.toMatch(/got \d+ chars/);
  });

  it('not even with AI_DESTRUCTIVE_ALLOWED=true, where the LLM’s writes need no card', async () => {
    const dir2 = tempDir('teleops-secret-ai-');
    const t2 = await testApp(
      { TMUX_ENABLED: 'true', TMUX_SOCKET: sock, TMUX_DEFAULT_CWD: dir.path, AI_DESTRUCTIVE_ALLOWED: 'true' },
      [tmuxModule],
      dir2.path,
    );
    try {
      await sudo('sudo3');
      const ai = await t2.app.dispatcher.dispatch(op, 'ai', 'tmux.send', { target: 'sudo3', text: PASSWORD });
      expect(ai).toMatchObject({ kind: 'refused', secret: true });
      const sent = await t2.app.dispatcher.dispatch(op, 'ai', 'tmux.send', { target: 'shell', text: 'ls' });
      expect(sent.kind).toBe('done');
      expect(JSON.stringify(t2.app.audit.recent(100))).not.toContain(PASSWORD);
      expect(screen('sudo3')).not.toMatch(/got \d+ chars/);
    } finally {
      await t2.close();
      dir2.remove();
    }
  });
});
