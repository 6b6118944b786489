import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseKeys } from '../../../src/targets/tmux/keys.js';
import {
  ALIAS_OPTION,
  createTmuxPort,
  escapeTrailingSemicolon,
  TmuxError,
  unquoteCommand,
} from '../../../src/targets/tmux/port.js';
import { describeTmux, eventually, testServer, type TestServer } from './helpers.js';

describeTmux('TmuxPort on a real tmux server', () => {
  let s: TestServer;
  beforeAll(() => {
    s = testServer();
  });
  afterAll(async () => {
    await s.cleanup();
  });

  it('says clearly when no server runs, and lists nothing', async () => {
    const nowhere = createTmuxPort({ socketPath: join(s.dir, 'none.sock') });
    expect(await nowhere.listSessions()).toEqual([]);
    expect(await nowhere.listPanes()).toEqual([]);
    await expect(nowhere.capture({ session: 'x' }, 5)).rejects.toThrow(
      `no tmux server is running on ${join(s.dir, 'none.sock')}`,
    );
    await expect(nowhere.killSession('x')).rejects.toMatchObject({ code: 'no-server' });
  });

  it('says when tmux itself is missing', async () => {
    const missing = createTmuxPort({ socketName: s.socketName, bin: 'no-such-tmux-binary' });
    await expect(missing.listSessions()).rejects.toThrow('tmux is not installed');
  });

  it('starts a detached session that keeps its exit status, and lists it', async () => {
    // tmux can drop output written in the instant before a pane dies; real programs rarely exit
    // within microseconds of their last line, and this test is not about that race.
    await s.port.newSession({ name: 'quick', cwd: s.dir, command: 'echo "in $(pwd)"; sleep 0.2; exit 7' });
    const pane = await eventually(
      async () => {
        const dead = (await s.port.listPanes()).find((p) => p.session === 'quick' && p.dead);
        if (dead?.deadStatus !== undefined) return dead;
        if (dead) await s.port.collectExitStatuses();
        return undefined;
      },
      5000,
      'dead pane',
    );
    expect(pane.deadStatus).toBe(7);
    expect(pane.startCommand).toBe('echo "in $(pwd)"; sleep 0.2; exit 7');
    expect((await s.port.capture({ session: 'quick' }, 10)).join('\n')).toContain(`in ${s.dir}`);
    const sessions = await s.port.listSessions();
    expect(sessions.find((x) => x.name === 'quick')).toMatchObject({ windows: 1, attached: 0 });
    expect(sessions[0]!.createdAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('addresses windows by index or exact name, and panes by index', async () => {
    await s.port.newSession({ name: 'multi', cwd: s.dir, command: 'echo first-window; sleep 30' });
    await s.tmux('new-window', '-d', '-t', '=multi:', '-n', 'editor', 'echo second-window; sleep 30');
    await s.tmux('split-window', '-d', '-t', '=multi:=editor', 'echo split-pane; sleep 30');
    const text = async (t: Parameters<typeof s.port.capture>[0]) =>
      eventually(async () => (await s.port.capture(t, 5)).find((l) => l.length > 0));
    expect(await text({ session: 'multi' })).toBe('first-window');
    expect(await text({ session: 'multi', window: 'editor' })).toBe('second-window');
    expect(await text({ session: 'multi', window: '1', pane: 1 })).toBe('split-pane');
    await expect(s.port.capture({ session: 'multi', window: 'edit' }, 5)).rejects.toThrow('no pane multi:edit');
    await expect(s.port.capture({ session: 'multi', window: '1', pane: 7 }, 5)).rejects.toThrow('no pane multi:1.7');
    const panes = await s.port.listPanes('multi');
    // Window 0 is named after whatever runs in it at the moment; window 1 was named.
    const describePane = (p: (typeof panes)[number]) =>
      `${p.windowIndex}.${p.paneIndex}:${p.windowIndex === 1 ? p.windowName : '-'}:${p.windowActive}:${p.paneActive}`;
    expect(panes.map(describePane).sort()).toEqual([
      '0.0:-:true:true',
      '1.0:editor:false:true',
      '1.1:editor:false:false',
    ]);
  });

  it('refuses a duplicate session name', async () => {
    await s.port.newSession({ name: 'dup', cwd: s.dir, command: 'sleep 30' });
    await expect(s.port.newSession({ name: 'dup', cwd: s.dir, command: 'sleep 30' })).rejects.toThrow(
      'a session named dup already exists',
    );
  });

  it('never matches a session by prefix', async () => {
    await s.port.newSession({ name: 'prefixlong', cwd: s.dir, command: 'sleep 30' });
    await expect(s.port.killSession('prefix')).rejects.toThrow('no session named prefix');
    await expect(s.port.capture({ session: 'prefix' }, 5)).rejects.toMatchObject({ code: 'not-found' });
    expect((await s.port.listSessions()).some((x) => x.name === 'prefixlong')).toBe(true);
  });

  it('types hostile text literally, a semicolon at the end included', async () => {
    await s.port.newSession({ name: 'echo', cwd: s.dir, command: 'cat' });
    const marker = join(s.dir, 'pwned');
    const texts = [
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      'a;',
      'b\\;',
      ';',
      'x ; kill-server',
      '#{session_name} %1 -t',
      '-n',
      '\'"',
      'SELECT 1;',
    ];
    for (const t of texts) await s.port.sendText({ session: 'echo' }, t);
    const screen = await eventually(
      async () => {
        const lines = await s.port.capture({ session: 'echo' }, 100);
        return lines.filter((l) => l === 'SELECT 1;').length === 2 ? lines : undefined;
      },
      5000,
      'echoed text',
    );
    // cat echoes each line back: the terminal shows what was typed, then cat's copy.
    for (const t of texts) expect(screen.filter((l) => l === t).length, t).toBe(2);
    expect(existsSync(marker)).toBe(false);
    expect((await s.port.listSessions()).length).toBeGreaterThan(0);
  });

  it('sends multi-line text one line at a time', async () => {
    await s.port.newSession({ name: 'lines', cwd: s.dir, command: 'cat' });
    await s.port.sendText({ session: 'lines' }, 'one\ntwo');
    const lines = await eventually(async () => {
      const l = await s.port.capture({ session: 'lines' }, 10);
      return l.filter((x) => x === 'two').length === 2 ? l : undefined;
    });
    // The terminal echoes what is typed and cat prints its copy, in either order.
    expect(lines.filter((x) => x === 'one')).toHaveLength(2);
    expect(lines.indexOf('one')).toBeLessThan(lines.indexOf('two'));
    expect(lines).toHaveLength(4);
  });

  it('sends keys: literal characters and named keys, in order', async () => {
    await s.port.newSession({ name: 'keys', cwd: s.dir, command: 'cat' });
    await s.port.sendKeys({ session: 'keys' }, parseKeys([';', '-', 'y', 'Space', 'x', 'Enter']));
    await eventually(async () => ((await s.port.capture({ session: 'keys' }, 5)).includes(';-y x') ? true : undefined));
    await s.port.sendKeys({ session: 'keys' }, parseKeys(['C-c']));
    const pane = await eventually(async () => {
      const dead = (await s.port.listPanes('keys')).find((p) => p.dead);
      if (dead && (dead.deadSignal ?? dead.deadStatus) !== undefined) return dead;
      // tmux 3.3 may not have reaped it yet; this is what the watcher does in that case.
      if (dead) await s.port.collectExitStatuses();
      return undefined;
    });
    expect(pane.deadSignal === 2 || pane.deadStatus === 130).toBe(true);
  });

  it('captures many panes in one client and skips vanished ones', async () => {
    await s.port.newSession({ name: 'm1', cwd: s.dir, command: 'echo first-pane; sleep 30' });
    await s.port.newSession({ name: 'm2', cwd: s.dir, command: 'echo second-pane; sleep 30' });
    const panes = await eventually(async () => {
      const p = (await s.port.listPanes()).filter((x) => x.session === 'm1' || x.session === 'm2');
      return p.length === 2 ? p : undefined;
    });
    await eventually(async () =>
      (await s.port.capture({ session: 'm2' }, 5)).includes('second-pane') ? true : undefined,
    );
    const ids = panes.map((p) => p.id);
    const got = await s.port.captureMany([...ids, '%99999'], 5);
    expect(got.get(panes.find((p) => p.session === 'm1')!.id)).toEqual(['first-pane']);
    expect(got.get(panes.find((p) => p.session === 'm2')!.id)).toEqual(['second-pane']);
    // The vanished pane ends the chain: what came before it is kept, nothing is misattributed.
    const partial = await s.port.captureMany([ids[0]!, '%99999', ids[1]!], 5);
    expect([...partial.keys()]).toEqual([ids[0]]);
    expect((await s.port.captureMany(['%99999', ids[0]!], 5)).size).toBe(0);
    await expect(s.port.captureMany(['-t'], 5)).rejects.toBeInstanceOf(TmuxError);
  });

  it('sets, reads and clears a user option, visible in listings', async () => {
    await s.port.newSession({ name: 'opt', cwd: s.dir, command: 'sleep 30' });
    await s.port.setSessionOption('opt', ALIAS_OPTION, 'web;');
    expect(await s.port.getSessionOption('opt', ALIAS_OPTION)).toBe('web;');
    expect((await s.port.listSessions()).find((x) => x.name === 'opt')?.alias).toBe('web;');
    expect((await s.port.listPanes('opt'))[0]?.alias).toBe('web;');
    await s.port.setSessionOption('opt', ALIAS_OPTION, undefined);
    expect(await s.port.getSessionOption('opt', ALIAS_OPTION)).toBeUndefined();
  });

  it('runs the job that makes the server collect missed exit statuses', async () => {
    await expect(s.port.collectExitStatuses()).resolves.toBeUndefined();
  });

  it('kills a session', async () => {
    await s.port.newSession({ name: 'victim', cwd: s.dir, command: 'sleep 30' });
    await s.port.killSession('victim');
    expect((await s.port.listSessions()).some((x) => x.name === 'victim')).toBe(false);
  });

  it('times out instead of hanging', async () => {
    const slow = createTmuxPort({ socketName: s.socketName, timeoutMs: 200, bin: s.script('slow-tmux', 'sleep 5') });
    await expect(slow.listSessions()).rejects.toMatchObject({ code: 'timeout' });
  });

  it('reads "no current target" (tmux, a session torn down under the lookup) as a session that is gone', async () => {
    const ending = createTmuxPort({
      socketName: s.socketName,
      bin: s.script('ending-tmux', 'echo "no current target" >&2; exit 1'),
    });
    await expect(ending.capture({ session: 'fo' }, 5)).rejects.toMatchObject({ code: 'not-found' });
  });
});

it('reads back the start commands tmux shows quoted', () => {
  expect(unquoteCommand('"sleep 300"')).toBe('sleep 300');
  expect(unquoteCommand('"echo \\"a\\" \\$HOME\\\\x"')).toBe('echo "a" $HOME\\x');
  expect(unquoteCommand('\'say "hi"\'')).toBe('say "hi"');
  expect(unquoteCommand('"tab\\there\\012"')).toBe('tab\there\n');
  expect(unquoteCommand('top')).toBe('top');
});

it('escapes only a trailing semicolon', () => {
  expect(escapeTrailingSemicolon('a;b')).toBe('a;b');
  expect(escapeTrailingSemicolon('a;')).toBe('a\\;');
  expect(escapeTrailingSemicolon('a\\;')).toBe('a\\\\;');
  expect(escapeTrailingSemicolon(';')).toBe('\\;');
});
