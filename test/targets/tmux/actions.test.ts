import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ActionError, type ActionContext, type AnyAction } from '../../../src/core/action.js';
import { SECRET_ENV } from '../../../src/core/env.js';
import { bindArgs } from '../../../src/core/commands.js';
import { createRedactor, REDACTED } from '../../../src/core/redact.js';
import { plainText, result, type Result } from '../../../src/core/result.js';
import { tmuxActions } from '../../../src/targets/tmux/actions.js';
import type { LiveCard } from '../../../src/targets/tmux/cards.js';
import { createTmuxPort } from '../../../src/targets/tmux/port.js';
import { tmuxSettings } from '../../../src/targets/tmux/settings.js';
import { MemoryWatchStore, TmuxWatcher } from '../../../src/targets/tmux/watcher.js';
import { describeTmux, eventually, SCRIPTS, testServer, type TestServer } from './helpers.js';

const ctx: ActionContext = {
  operator: { userId: 1, chatId: 99, role: 'operator', display: '@op' },
  origin: 'console',
  signal: new AbortController().signal,
  chat: { get: () => undefined, set: () => undefined },
};

/** A configured secret (an API key in the settings); tmux.find must not reveal it piece by piece. */
const SECRET = 'Tmux-Configured-Secret-42';
const { redact } = createRedactor([SECRET]);

const HOSTILE_NAMES = [
  '-t',
  '-x',
  'a;b',
  '$(id)',
  '`id`',
  'a.b',
  'a:b:c',
  'a b',
  'x'.repeat(65),
  '#{pane_id}',
  '=x',
  '%1',
  '',
  '../etc',
];

describeTmux('tmux actions on a real tmux server', () => {
  let s: TestServer;
  let watcher: TmuxWatcher;
  let actions: Map<string, AnyAction>;

  beforeAll(() => {
    s = testServer();
    const settings = tmuxSettings({ defaultCwd: s.dir, pollMs: 100, logLines: 1000 });
    watcher = new TmuxWatcher({
      port: s.port,
      store: new MemoryWatchStore(),
      pollMs: 100,
      cardLines: settings.cardLines,
      alertCooldownMs: settings.alertCooldownMs,
      classify: settings,
    });
    actions = new Map(tmuxActions({ port: s.port, settings, watcher, redact }).map((a) => [a.name, a]));
    watcher.start();
  });
  afterAll(async () => {
    await watcher.stop();
    await s.cleanup();
  });

  const act = (name: string) => {
    const a = actions.get(name);
    if (!a) throw new Error(`no action ${name}`);
    return a;
  };
  /** Parses raw params with the action's schema, then runs it, as the dispatcher does. */
  const run = async (name: string, raw: Record<string, unknown>): Promise<Result> => {
    const a = act(name);
    return a.run(ctx, a.params.parse(raw));
  };
  /** Maps a command line's arguments the way the registry does. */
  const command = (name: string, argText: string): Record<string, unknown> => {
    const spec = act(name).command!;
    return spec.parse ? spec.parse(argText.split(/\s+/).filter(Boolean), argText) : bindArgs(spec.usage ?? '', argText);
  };
  const screen = async (session: string) => (await s.port.capture({ session }, 50)).join('\n');

  it('spells the commands and risks of the design', () => {
    const spelled = [...actions.values()].map((a) => [a.name, a.command?.path.join(' '), a.risk]);
    expect(spelled).toEqual([
      ['tmux.ls', 'tmux ls', 'read'],
      ['tmux.new', 'tmux new', 'write'],
      ['tmux.send', 'tmux send', 'write'],
      ['tmux.keys', 'tmux keys', 'write'],
      ['tmux.tail', 'tmux tail', 'read'],
      ['tmux.log', 'tmux log', 'read'],
      ['tmux.find', 'tmux find', 'read'],
      ['tmux.kill', 'tmux kill', 'destructive'],
      ['tmux.alias', 'tmux alias', 'write'],
      ['tmux.watch', 'tmux watch', 'write'],
      ['tmux.refresh', 'tmux refresh', 'read'],
      ['tmux.unwatch', 'tmux unwatch', 'write'],
    ]);
    expect(act('tmux.ls').command?.aliases).toEqual([['sessions'], ['tmux']]);
    expect(act('tmux.send').command?.aliases).toEqual([['send']]);
    expect(command('tmux.new', '-d /srv/app build npm run build -- --watch')).toEqual({
      dir: '/srv/app',
      name: 'build',
      command: 'npm run build -- --watch',
    });
    expect(command('tmux.send', 'build   echo "a  b"; ls')).toEqual({ target: 'build', text: 'echo "a  b"; ls' });
    expect(command('tmux.keys', 'build C-c Up Enter')).toEqual({ target: 'build', keys: ['C-c', 'Up', 'Enter'] });
    expect(command('tmux.tail', 'build 100')).toEqual({ target: 'build', lines: '100' });
    expect(command('tmux.find', 'build /err(or)?/i')).toEqual({ target: 'build', pattern: '/err(or)?/i' });
  });

  it('starts a session, watches it, and shows its card', async () => {
    const card = (await run('tmux.new', { name: 'job', command: s.script('job.sh', SCRIPTS.ask) })) as LiveCard;
    expect(card.card).toMatchObject({ key: 'tmux:job', kind: 'item' });
    expect(plainText(card)).toContain('job');
    expect(card.buttons?.flat().map((b) => b.label)).toEqual([
      '🔄 Refresh',
      '📜 Tail',
      '⏎ Enter',
      '✋ Ctrl-C',
      '📄 Log',
      '✖ Kill',
    ]);
    expect(card.buttons?.flat().find((b) => b.label === '✋ Ctrl-C')).toMatchObject({
      action: 'tmux.keys',
      params: { target: 'job', keys: ['C-c'] },
    });
    expect(watcher.isWatched({ session: 'job' })).toBe(true);
    const pane = (await s.port.listPanes('job'))[0]!;
    expect(pane.startCommand).toContain('job.sh');
    await eventually(async () => ((await screen('job')).includes('Continue? [y/N]') ? true : undefined));
  });

  it('starts in the default directory, or the one given, and refuses bad ones', async () => {
    await run('tmux.new', { name: 'here', command: 'pwd; sleep 30' });
    await eventually(async () => ((await screen('here')).includes(s.dir) ? true : undefined));
    const sub = join(s.dir, 'sub dir');
    mkdirSync(sub);
    await run('tmux.new', { name: 'there', command: 'pwd; sleep 30', dir: sub });
    await eventually(async () => ((await screen('there')).includes(sub) ? true : undefined));
    await expect(run('tmux.new', { name: 'rel', command: 'true', dir: 'relative/path' })).rejects.toThrow(
      /absolute path/,
    );
    await expect(run('tmux.new', { name: 'fmt', command: 'true', dir: '/tmp/#{pane_id}' })).rejects.toThrow(
      /without #/,
    );
    await expect(run('tmux.new', { name: 'none', command: 'true', dir: join(s.dir, 'missing') })).rejects.toThrow(
      'no such directory',
    );
    await expect(run('tmux.new', { name: 'here', command: 'true' })).rejects.toThrow(
      'a session named here already exists',
    );
    await expect(run('tmux.new', { name: 'dash', command: '-c evil' })).rejects.toThrow(/must not start with -/);
    await expect(run('tmux.new', { name: 'nl', command: 'echo a\nrm -rf /' })).rejects.toThrow(/one line/);
  });

  it('refuses hostile session names everywhere, before tmux hears of them', async () => {
    for (const name of HOSTILE_NAMES) {
      await expect(run('tmux.new', { name, command: 'true' }), name).rejects.toThrow();
      for (const a of ['tmux.send', 'tmux.tail', 'tmux.log', 'tmux.find', 'tmux.watch']) {
        const raw = { target: name, text: 'x', pattern: 'x' };
        await expect(run(a, raw), `${a} ${name}`).rejects.toThrow();
      }
      await expect(run('tmux.kill', { target: name }), name).rejects.toThrow();
    }
    expect((await s.port.listSessions()).map((x) => x.name)).not.toContain('-t');
  });

  it('lists every session, including ones started at the desk, with state and buttons', async () => {
    await s.tmux('new-session', '-d', '-s', 'desk', 'sleep 300');
    await s.tmux('new-session', '-d', '-s', 'odd name', 'sleep 300');
    const r = await eventually(async () => {
      const res = await run('tmux.ls', {});
      return plainText(res).includes('🟡 job') ? res : undefined;
    });
    const text = plainText(r);
    expect(text).toMatch(/^🟡 job · 1 window · detached · waiting · active \d+s ago · watched$/m);
    expect(text).toMatch(/^🟢 desk · 1 window · detached · running · active/m);
    expect(text).toContain('odd name');
    const rows = r.buttons!.map((row) => row.map((b) => `${b.label}|${b.action}|${String(b.params.target)}`));
    expect(rows).toContainEqual(['📜 desk|tmux.tail|desk', '👁 Watch|tmux.watch|desk', '✖ Kill|tmux.kill|desk']);
    // A name not safe to type is addressed by its id; a watched session is not offered Watch.
    const oddId = (await s.port.listSessions()).find((x) => x.name === 'odd name')!.id;
    expect(text).toContain(`odd name ${oddId} ·`);
    expect(rows).toContainEqual([
      `📜 odd name|tmux.tail|${oddId}`,
      `👁 Watch|tmux.watch|${oddId}`,
      `✖ Kill|tmux.kill|${oddId}`,
    ]);
    expect(rows).toContainEqual(['📜 job|tmux.tail|job', '✖ Kill|tmux.kill|job']);
    // The spans keep terminal-side names out of formatting.
    const odd = r.blocks.find((b) => b.kind === 'line' && b.spans.some((sp) => sp.text === 'odd name'));
    expect(odd?.kind === 'line' && odd.spans.find((sp) => sp.text === 'odd name')?.kind).toBe('value');
  });

  it('operates sessions whose names are not safe to type, by the id tmux gives them', async () => {
    const names = ['my session', '名前', '-dash', '$(id)'];
    for (const name of names) await s.tmux('new-session', '-d', '-s', name, 'cat');
    const listed = await s.port.listSessions();
    const ids = new Map(names.map((n) => [n, listed.find((x) => x.name === n)!.id]));
    const ls = await run('tmux.ls', {});
    for (const [name, id] of ids) {
      expect(id).toMatch(/^\$\d+$/);
      const row = ls.buttons!.find((r) => r[0]!.label === `📜 ${name}`)!;
      expect(row.map((b) => b.params.target)).toEqual([id, id, id]);
      // What a button carries goes through the action's schema and back to the same session.
      await run('tmux.send', { target: row[0]!.params.target, text: `hello ${name}` });
      const tail = plainText(await run('tmux.tail', { target: id }));
      expect(tail).toContain(`hello ${name}`);
      expect(plainText(await run('tmux.find', command('tmux.find', `${id} hello`)))).toContain(`hello ${name}`);
      // tmux itself cannot find `=$(id):` by name; the id reaches every one of them.
      expect(await s.tmux('capture-pane', '-p', '-t', id)).toContain(`hello ${name}`);
    }
    // Watching by id, then the index no longer offers Watch for it.
    const dashId = ids.get('-dash')!;
    await run('tmux.watch', { target: dashId });
    expect(watcher.isWatched({ session: dashId })).toBe(true);
    const again = (await run('tmux.ls', {})).buttons!.find((r) => r[0]!.label === '📜 -dash')!;
    expect(again.map((b) => b.action)).toEqual(['tmux.tail', 'tmux.kill']);
    await run('tmux.unwatch', { target: dashId });
    // Kill: the preview names the session's panes, the run kills that session and no other.
    const kill = act('tmux.kill');
    for (const [name, id] of ids) {
      const preview = await kill.preview!(ctx, kill.params.parse({ target: id }));
      expect(plainText(result([...preview]))).toContain(`Session ${name} (${id}) has 1 pane`);
      expect(plainText(await run('tmux.kill', { target: id }))).toBe(`Killed session ${name} (${id}).`);
      const left = (await s.port.listSessions()).map((x) => x.name);
      expect(left).not.toContain(name);
      expect(left).toContain('desk');
    }
    await expect(run('tmux.tail', { target: ids.get('-dash')! })).rejects.toThrow(/no session with id/);
  });

  it('types text into a session: the program gets the answer and proceeds', async () => {
    const r = await run('tmux.send', command('tmux.send', 'job y'));
    expect(plainText(r)).toBe('Sent 1 line to job.');
    await eventually(async () => ((await screen('job')).includes('finished-ok') ? true : undefined));
    const pane = await eventually(async () => (await s.port.listPanes('job')).find((p) => p.deadStatus !== undefined));
    expect(pane.deadStatus).toBe(0);
    await expect(run('tmux.send', { target: 'job', text: 'a\u001b[2Jb' })).rejects.toThrow(/control characters/);
  });

  it('sends keys: Ctrl-C interrupts the program', async () => {
    await run('tmux.new', { name: 'intr', command: s.script('intr.sh', SCRIPTS.interruptible) });
    await eventually(async () => ((await screen('intr')).includes('ready') ? true : undefined));
    const r = await run('tmux.keys', command('tmux.keys', 'intr C-c'));
    expect(plainText(r)).toBe('Sent C-c to intr.');
    await eventually(async () => ((await screen('intr')).includes('interrupted') ? true : undefined));
    await expect(run('tmux.keys', { target: 'intr', keys: ['kill-server'] })).rejects.toThrow(/unknown key/);
  });

  it('tails the last lines, folded and without escape codes', async () => {
    await run('tmux.new', {
      name: 'colors',
      command: `printf '\\033[31mred\\033[0m\\n\\n\\n\\nafter blanks\\n'; seq 1 100; sleep 300`,
    });
    await eventually(async () => ((await screen('colors')).includes('100') ? true : undefined));
    const short = await run('tmux.tail', { target: 'colors', lines: '3' });
    expect(short.blocks.at(-1)).toEqual({ kind: 'pre', text: '98\n99\n100' });
    const all = plainText(await run('tmux.tail', { target: 'colors', lines: 500 }));
    expect(all).toContain('red\n\nafter blanks');
    expect(all).not.toContain('\u001b');
    const dflt = (await run('tmux.tail', { target: 'colors' })).blocks.at(-1);
    expect(dflt?.kind === 'pre' && dflt.text.split('\n')).toHaveLength(40);
    expect(() => act('tmux.tail').params.parse({ target: 'colors', lines: 501 })).toThrow();
  });

  it('sends the scrollback as a .log document', async () => {
    await run('tmux.new', { name: 'long', command: 'seq 1 600; sleep 300' });
    await eventually(async () => ((await screen('long')).includes('600') ? true : undefined));
    const r = await run('tmux.log', { target: 'long' });
    expect(r.attachment?.filename).toMatch(/^long-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.log$/);
    // Two logs of one session, however close together, never share a file name.
    const names = new Set<string>();
    for (let i = 0; i < 5; i++) names.add((await run('tmux.log', { target: 'long:0.0' })).attachment!.filename);
    expect(names.size).toBe(5);
    expect([...names][0]).toMatch(/^long_0_0-/);
    const content = String(r.attachment?.content);
    expect(content.split('\n').slice(0, 3)).toEqual(['1', '2', '3']);
    expect(content.trimEnd().split('\n').at(-1)).toBe('600');
    expect(plainText(r)).toMatch(/^600 lines of long/);
  });

  it('finds lines by substring and by regex, and bounds a hostile regex', async () => {
    const sub = plainText(await run('tmux.find', { target: 'long', pattern: '59' }));
    const numbers = Array.from({ length: 600 }, (_, i) => String(i + 1));
    expect(sub.split('\n').slice(1)).toEqual(numbers.filter((n) => n.includes('59')));
    const re = (await run('tmux.find', command('tmux.find', 'long /^5\\d0$/'))).blocks.at(-1);
    expect(re).toEqual({
      kind: 'pre',
      text: ['500', '510', '520', '530', '540', '550', '560', '570', '580', '590'].join('\n'),
    });
    const many = (await run('tmux.find', { target: 'long', pattern: '/^\\d+$/' })).blocks.at(-1);
    expect(many?.kind === 'pre' && many.text.split('\n')).toEqual(
      Array.from({ length: 20 }, (_, i) => String(581 + i)),
    );
    expect(plainText(await run('tmux.find', { target: 'long', pattern: 'nothing-like-this' }))).toContain(
      'No line of long matches',
    );
    // Refused before matching anything (its speed is in npm run bench).
    await expect(run('tmux.find', { target: 'long', pattern: '/(a+)+$/' })).rejects.toThrow(/exponential/);
  });

  it('searches the redacted scrollback only: a prefix of a hidden secret matches nothing', async () => {
    const script = s.script(
      'keys.sh',
      `echo "aws AKIAIOSFODNN7EXAMPLE"; echo "api ${SECRET}"; printf -- '-----BEGIN RSA PRIVATE KEY-----\\nMIIEsecretkeybody\\n-----END RSA PRIVATE KEY-----\\n'; echo ready; sleep 300`,
    );
    await run('tmux.new', { name: 'keys', command: script });
    await eventually(async () => ((await screen('keys')).includes('ready') ? true : undefined));
    for (const probe of [
      'AKIAIOSFODNN7EX',
      'AKIAIOSFODNN7XX',
      SECRET.slice(0, 10),
      '/Tmux-Conf/',
      'MIIEsecret',
      '/^MIIE/',
    ]) {
      expect(plainText(await run('tmux.find', { target: 'keys', pattern: probe })), probe).toContain(
        'No line of keys matches',
      );
    }
    const shown = (await run('tmux.find', { target: 'keys', pattern: '/^(aws|api) /' })).blocks.at(-1);
    expect(shown).toEqual({ kind: 'pre', text: `aws ${REDACTED}\napi ${REDACTED}` });
  });

  it('gives and resolves aliases, and refuses clashes', async () => {
    await run('tmux.alias', { target: 'long', alias: 'numbers' });
    expect((await s.port.listSessions()).find((x) => x.name === 'long')?.alias).toBe('numbers');
    const r = await run('tmux.tail', { target: 'numbers', lines: 1 });
    expect(r.blocks.at(-1)).toEqual({ kind: 'pre', text: '600' });
    await expect(run('tmux.alias', { target: 'colors', alias: 'numbers' })).rejects.toThrow(/alias of another session/);
    await expect(run('tmux.alias', { target: 'colors', alias: 'long' })).rejects.toThrow(/already a session name/);
    await expect(run('tmux.alias', { target: 'colors', alias: '-x' })).rejects.toThrow(/invalid alias/);
    expect(plainText(await run('tmux.ls', {}))).toMatch(/^🟢 long \(numbers\) ·/m);
    await run('tmux.alias', { target: 'numbers' });
    await expect(run('tmux.tail', { target: 'numbers' })).rejects.toThrow('no session named numbers');
  });

  it('previews a kill with what runs there, then kills', async () => {
    const kill = act('tmux.kill');
    const params = kill.params.parse({ target: 'desk' });
    expect(kill.subject?.(params)).toBe('tmux session desk');
    const preview = await kill.preview!(ctx, params);
    expect(plainText({ blocks: preview })).toMatch(/^Session desk has 1 pane:\n0\.0 sleep 300 \(pid \d+\)$/);
    await run('tmux.kill', { target: 'desk' });
    expect((await s.port.listSessions()).some((x) => x.name === 'desk')).toBe(false);
    await expect(run('tmux.kill', { target: 'desk' })).rejects.toThrow('no session named desk');
    await expect(run('tmux.kill', { target: 'long:0' })).rejects.toThrow(/session name/);
  });

  it('watches and unwatches by alias or name, returning the live card', async () => {
    await run('tmux.alias', { target: 'colors', alias: 'rainbow' });
    const card = (await run('tmux.watch', { target: 'rainbow' })) as LiveCard;
    expect(card.card.key).toBe('tmux:colors');
    expect(plainText(card).split('\n')[0]).toBe('🟢 colors (rainbow) · running');
    expect(card.blocks.some((b) => b.kind === 'pre' && b.text.includes('100'))).toBe(true);
    expect(plainText(await run('tmux.unwatch', { target: 'colors' }))).toBe('Stopped watching colors.');
    expect(plainText(await run('tmux.unwatch', { target: 'colors' }))).toBe('colors was not watched.');
  });

  it('refreshes the card of a watched session, and never starts watching one', async () => {
    expect(plainText(await run('tmux.refresh', { target: 'rainbow' }))).toBe(
      'colors is not watched; an operator can start with /tmux watch.',
    );
    expect(watcher.isWatched({ session: 'colors' })).toBe(false);
    await watcher.watch({ session: 'colors' }, { chatId: 99 });
    const card = (await act('tmux.refresh').run(
      { ...ctx, operator: { ...ctx.operator, chatId: 5, role: 'viewer' } },
      { target: 'colors' },
    )) as LiveCard;
    expect(card.card.key).toBe('tmux:colors');
    expect(plainText(card).split('\n')[0]).toBe('🟢 colors (rainbow) · running');
    // The card stays where it was: a refresh from another chat does not move the alerts there.
    expect(watcher.snapshot().find((e) => e.target === 'colors')?.chatId).toBe(99);
    watcher.unwatch({ session: 'colors' });
  });

  it('hides and protects sessions outside TMUX_SESSION_FILTER', async () => {
    const limited = tmuxActions({
      port: s.port,
      settings: tmuxSettings({ defaultCwd: s.dir, sessionFilter: /^ci-/ }),
      redact,
    });
    const get = (n: string) => limited.find((a) => a.name === n)!;
    await get('tmux.new').run(ctx, { name: 'ci-1', command: 'sleep 300' });
    await expect(get('tmux.new').run(ctx, { name: 'other', command: 'true' })).rejects.toThrow(
      /outside TMUX_SESSION_FILTER/,
    );
    const text = plainText(await get('tmux.ls').run(ctx, {}));
    expect(text).toContain('ci-1');
    expect(text).not.toContain('colors');
    await expect(get('tmux.tail').run(ctx, { target: 'colors' })).rejects.toThrow('no session named colors');
    await expect(get('tmux.kill').run(ctx, { target: 'long' })).rejects.toThrow('no session named long');
    expect(limited.some((a) => a.name === 'tmux.watch')).toBe(false);
  });
});

describeTmux('tmux actions without a server', () => {
  it('say so in one line', async () => {
    const s = testServer();
    try {
      const actions = tmuxActions({ port: s.port, settings: tmuxSettings({ defaultCwd: s.dir }), redact });
      const get = (n: string) => actions.find((a) => a.name === n)!;
      expect(plainText(await get('tmux.ls').run(ctx, {}))).toBe(
        `No tmux server is running on the tmux socket named ${s.socketName}.`,
      );
      await expect(get('tmux.tail').run(ctx, { target: 'x' })).rejects.toThrow(ActionError);
      await expect(get('tmux.tail').run(ctx, { target: 'x' })).rejects.toThrow(/^no tmux server is running on/);
    } finally {
      await s.cleanup();
    }
  });

  it('keep teleops secrets out of the sessions they start', async () => {
    const s = testServer();
    const saved = Object.fromEntries(SECRET_ENV.map((k) => [k, process.env[k]]));
    for (const k of SECRET_ENV) process.env[k] = `secret-${k}`;
    process.env.TELEOPS_TEST_PLAIN = 'kept';
    try {
      const port = createTmuxPort({ socketName: s.socketName, configFile: '/dev/null' });
      // One line: every secret's value (none expected), then a plain variable that must pass.
      const show = [...SECRET_ENV, 'TELEOPS_TEST_PLAIN'].map((k) => `\${${k}:-}`).join('');
      await port.newSession({ name: 'env', cwd: s.dir, command: `echo "env=[${show}]"; sleep 30` });
      const lines = await eventually(async () => {
        const l = await port.capture({ session: 'env' }, 5);
        return l.some((x) => x.startsWith('env=')) ? l : undefined;
      });
      expect(lines).toContain('env=[kept]');
    } finally {
      for (const k of SECRET_ENV) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      delete process.env.TELEOPS_TEST_PLAIN;
      await s.cleanup();
    }
  });
});
