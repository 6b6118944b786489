import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import { DEFAULT_CLASSIFY, type TmuxState } from '../../../src/targets/tmux/classify.js';
import { parseKeys } from '../../../src/targets/tmux/keys.js';
import type { TmuxPort } from '../../../src/targets/tmux/port.js';
import { MemoryWatchStore, TmuxWatcher, type TmuxEvent, type WatchStore } from '../../../src/targets/tmux/watcher.js';
import { describeTmux, eventually, SCRIPTS, testServer, type TestServer } from './helpers.js';

const POLL_MS = 100;

describeTmux('TmuxWatcher on a real tmux server', () => {
  let s: TestServer;
  const watchers: TmuxWatcher[] = [];

  beforeAll(() => {
    s = testServer();
  });
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await s.cleanup();
  });

  function setup(opts: { store?: WatchStore; stuckMs?: number; cooldownMs?: number; port?: TmuxPort } = {}) {
    const events: TmuxEvent[] = [];
    const watcher = new TmuxWatcher({
      port: opts.port ?? s.port,
      store: opts.store ?? new MemoryWatchStore(),
      pollMs: POLL_MS,
      cardLines: 15,
      alertCooldownMs: opts.cooldownMs ?? 60_000,
      classify: { ...DEFAULT_CLASSIFY, stuckMs: opts.stuckMs ?? 60_000 },
    });
    watcher.on((e) => events.push(e));
    watchers.push(watcher);
    const changes = (target: string) =>
      events.filter(
        (e): e is Extract<TmuxEvent, { kind: 'state_changed' }> =>
          e.kind === 'state_changed' && e.entry.target === target,
      );
    const alerts = (target: string, to?: TmuxState) =>
      changes(target).filter((e) => e.alertable && (to === undefined || e.to === to));
    const reached = (target: string, to: TmuxState, ms = 5000) =>
      eventually(() => changes(target).find((e) => e.to === to), ms, `${target} to become ${to}`).catch(
        (err: Error) => {
          const seen = events.map((e) =>
            e.kind === 'unwatched' ? e.kind : `${e.kind}:${e.entry.target}:${e.entry.state}`,
          );
          throw new Error(`${err.message}; events: ${seen.join(', ')}`);
        },
      );
    return { watcher, events, changes, alerts, reached };
  }

  const start = async (name: string, body: string) => {
    await s.port.newSession({ name, cwd: s.dir, command: s.script(`${name}.sh`, body) });
  };

  it('sees a prompt, alerts once, and sees the answer carry the program to done', async () => {
    const { watcher, alerts, reached, changes } = setup();
    await start('ask', SCRIPTS.ask);
    const first = await watcher.watch({ session: 'ask' });
    expect(first.target).toBe('ask');
    watcher.start();
    const waiting = await reached('ask', 'waiting');
    expect(waiting.alertable).toBe(true);
    expect(waiting.entry.line).toBe('Continue? [y/N]');
    expect(waiting.entry.lines).toContain('starting');
    // Several more polls of an unchanged prompt raise nothing more.
    await new Promise((r) => setTimeout(r, 5 * POLL_MS));
    expect(alerts('ask', 'waiting')).toHaveLength(1);

    await s.port.sendText({ session: 'ask' }, 'y');
    const done = await reached('ask', 'done');
    expect(done.alertable).toBe(true);
    expect(done.entry.exitStatus).toBe(0);
    expect(done.entry.lines).toContain('finished-ok');
    expect(done.entry.lines.some((l) => /Pane is dead/.test(l))).toBe(false);
    await new Promise((r) => setTimeout(r, 3 * POLL_MS));
    expect(alerts('ask')).toHaveLength(2);
    expect(
      changes('ask')
        .map((e) => e.to)
        .filter((t) => t !== 'running'),
    ).toEqual(['waiting', 'done']);
  });

  it('reports a failing program as an error with its exit status', async () => {
    const { watcher, reached } = setup();
    await start('fail', SCRIPTS.fail);
    await watcher.watch({ session: 'fail' });
    watcher.start();
    const e = await reached('fail', 'error');
    expect(e.alertable).toBe(true);
    expect(e.entry.exitStatus).toBe(1);
    expect(e.entry.reason).toBe('exit status 1');
    expect(e.entry.lines).toContain('something broke');
  });

  it('reports a program that finishes as done', async () => {
    const { watcher, reached, alerts } = setup();
    await start('finish', SCRIPTS.finish);
    await watcher.watch({ session: 'finish' });
    watcher.start();
    const e = await reached('finish', 'done');
    expect(e.entry.lines).toEqual(['working', 'all good']);
    expect(alerts('finish')).toHaveLength(1);
  });

  it('keeps a busy program running, reporting its output without alerts', async () => {
    const { watcher, events, alerts } = setup();
    await start('busy', SCRIPTS.busy);
    const entry = await watcher.watch({ session: 'busy' });
    expect(entry.state).toBe('running');
    watcher.start();
    const outputs = () => events.filter((e) => e.kind === 'output_changed' && e.entry.target === 'busy');
    await eventually(() => (outputs().length >= 3 ? true : undefined));
    expect(watcher.snapshot().find((e) => e.target === 'busy')?.state).toBe('running');
    expect(alerts('busy')).toHaveLength(0);
    const last = outputs().at(-1)!;
    expect(last.kind === 'output_changed' && last.entry.lines.at(-1)).toMatch(/^tick \d+$/);
  });

  it('sees a killed session as gone, stops watching it and forgets it', async () => {
    const store = new MemoryWatchStore();
    const { watcher, reached, events } = setup({ store });
    await start('doomed', SCRIPTS.busy);
    await watcher.watch({ session: 'doomed' }, { chatId: 42 });
    expect(store.load()).toEqual([expect.objectContaining({ target: 'doomed', chatId: 42 })]);
    watcher.start();
    await s.port.killSession('doomed');
    const gone = await reached('doomed', 'gone');
    expect(gone.alertable).toBe(false);
    expect(events.at(-1)).toEqual({ kind: 'unwatched', target: 'doomed', reason: 'gone' });
    expect(store.load()).toEqual([]);
    expect(watcher.snapshot().some((e) => e.target === 'doomed')).toBe(false);
  });

  it('sees Ctrl-C interrupt a program', async () => {
    const { watcher, reached } = setup();
    await start('intr', SCRIPTS.interruptible);
    await eventually(async () => ((await s.port.capture({ session: 'intr' }, 5)).includes('ready') ? true : undefined));
    await watcher.watch({ session: 'intr' });
    watcher.start();
    await s.port.sendKeys({ session: 'intr' }, parseKeys(['C-c']));
    const e = await reached('intr', 'error');
    expect(e.entry.exitStatus).toBe(3);
    expect(e.entry.lines.some((l) => l.endsWith('interrupted'))).toBe(true);
  });

  it('calls a quiet program stuck after the stuck time, once', async () => {
    const { watcher, reached, alerts } = setup({ stuckMs: 1500 });
    await start('quiet', 'echo working; sleep 30');
    await watcher.watch({ session: 'quiet' });
    watcher.start();
    const e = await reached('quiet', 'stuck', 5000);
    expect(e.alertable).toBe(true);
    await new Promise((r) => setTimeout(r, 4 * POLL_MS));
    expect(alerts('quiet')).toHaveLength(1);
  });

  it('does not alert twice for the same state within the cooldown', async () => {
    const { watcher, changes, reached } = setup();
    await start('loop', `sleep 0.5; while :; do printf 'Continue? [y/N] '; read a; echo "got $a"; sleep 0.3; done`);
    await watcher.watch({ session: 'loop' });
    watcher.start();
    await reached('loop', 'waiting');
    await s.port.sendText({ session: 'loop' }, 'y');
    await reached('loop', 'running');
    await eventually(
      () => (changes('loop').filter((e) => e.to === 'waiting').length === 2 ? true : undefined),
      5000,
      'second prompt',
    );
    expect(
      changes('loop')
        .filter((e) => e.to === 'waiting')
        .map((e) => e.alertable),
    ).toEqual([true, false]);
  });

  it('alerts after a restart for what changed while it was down', async () => {
    const store = new MemoryWatchStore();
    await start('offline', SCRIPTS.finish);
    store.save({ target: 'offline', since: Date.now() - 60_000, state: 'running', chatId: 7 });
    await eventually(async () => (await s.port.listPanes('offline')).find((p) => p.dead));
    const { watcher, reached } = setup({ store });
    expect(watcher.isWatched({ session: 'offline' })).toBe(true);
    watcher.start();
    const e = await reached('offline', 'done');
    expect(e.from).toBe('running');
    expect(e.alertable).toBe(true);
    expect(e.entry.chatId).toBe(7);
  });

  it('refreshes on a second watch, unwatches, and refuses unknown sessions', async () => {
    const store = new MemoryWatchStore();
    const { watcher, events } = setup({ store });
    await start('twice', 'echo hello; sleep 30');
    await watcher.watch({ session: 'twice' });
    await watcher.watch({ session: 'twice' });
    const watched = events.filter((e) => e.kind === 'watched');
    expect(watched.map((e) => e.kind === 'watched' && e.renewed)).toEqual([false, true]);
    expect(watcher.unwatch({ session: 'twice' })).toBe(true);
    expect(watcher.unwatch({ session: 'twice' })).toBe(false);
    expect(events.at(-1)).toEqual({ kind: 'unwatched', target: 'twice', reason: 'asked' });
    expect(store.load()).toEqual([]);
    await expect(watcher.watch({ session: 'nosuch' })).rejects.toBeInstanceOf(ActionError);
  });

  it('lists panes once per tick and captures only panes that changed', async () => {
    const calls = { list: 0, captured: new Map<string, number>() };
    const counting: TmuxPort = {
      ...s.port,
      listPanes: (session) => {
        calls.list++;
        return s.port.listPanes(session);
      },
      captureMany: (ids, lines) => {
        for (const id of ids) calls.captured.set(id, (calls.captured.get(id) ?? 0) + 1);
        return s.port.captureMany(ids, lines);
      },
    };
    const { watcher } = setup({ port: counting });
    await start('still', 'echo resting; sleep 30');
    await start('moving', SCRIPTS.busy);
    await eventually(async () =>
      (await s.port.capture({ session: 'still' }, 5)).includes('resting') ? true : undefined,
    );
    // Let tmux's one-second activity clock move past the start-up output.
    await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
    await watcher.watch({ session: 'still' });
    await watcher.watch({ session: 'moving' });
    const panes = await s.port.listPanes();
    const id = (name: string) => panes.find((p) => p.session === name)!.id;
    calls.list = 0;
    calls.captured.clear();
    for (let i = 0; i < 10; i++) await watcher.tick();
    expect(calls.list).toBe(10);
    expect(calls.captured.get(id('still')) ?? 0).toBe(0);
    expect(calls.captured.get(id('moving'))).toBeGreaterThanOrEqual(5);
  });
});

describe('MemoryWatchStore', () => {
  it('keeps one record per target', () => {
    const store = new MemoryWatchStore();
    store.save({ target: 'a', since: 1 });
    store.save({ target: 'a', since: 2, state: 'idle' });
    store.save({ target: 'b', since: 3 });
    expect(store.load()).toEqual([
      { target: 'a', since: 2, state: 'idle' },
      { target: 'b', since: 3 },
    ]);
    store.remove('a');
    expect(store.load().map((r) => r.target)).toEqual(['b']);
  });
});
