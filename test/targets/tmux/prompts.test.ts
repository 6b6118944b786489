/**
 * Prompts a script prints with printf and then reads: waiting, whether a pattern knows the
 * words or only the cursor (left after the text, no newline) and the silence tell.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { DEFAULT_CLASSIFY, type ClassifySettings } from '../../../src/targets/tmux/classify.js';
import { MemoryWatchStore, TmuxWatcher, type TmuxEvent } from '../../../src/targets/tmux/watcher.js';
import { describeTmux, eventually, testServer, type TestServer } from './helpers.js';

const POLL_MS = 100;
const PROMPTS = ['Proceed with migration? (yes/no): ', 'Proceed (y/n)? ', 'Are you sure? '];

describeTmux('prompts printed without a newline, on a real tmux server', () => {
  let s: TestServer;
  const watchers: TmuxWatcher[] = [];
  let n = 0;
  beforeAll(() => {
    s = testServer();
  });
  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await s.cleanup();
  });

  const watch = async (body: string, classify: ClassifySettings) => {
    const name = `p${++n}`;
    await s.port.newSession({ name, cwd: s.dir, command: s.script(`${name}.sh`, body) });
    const events: TmuxEvent[] = [];
    const watcher = new TmuxWatcher({
      port: s.port,
      store: new MemoryWatchStore(),
      pollMs: POLL_MS,
      cardLines: 15,
      alertCooldownMs: 60_000,
      classify,
    });
    watchers.push(watcher);
    watcher.on((e) => events.push(e));
    await watcher.watch({ session: name });
    watcher.start();
    const states = () => events.flatMap((e) => (e.kind === 'state_changed' ? [e] : []));
    return { name, events, states };
  };
  const ask = (prompt: string) =>
    `echo starting; sleep 0.3; printf '%s' '${prompt}'; read answer; echo "got $answer"; sleep 30`;

  for (const prompt of PROMPTS) {
    for (const [how, settings] of [
      ['with the default patterns', DEFAULT_CLASSIFY],
      ['with no pattern at all, by cursor and silence', { ...DEFAULT_CLASSIFY, waitPatterns: [] }],
    ] as const) {
      it(`"${prompt}" is waiting ${how}, with an alert`, async () => {
        const { states } = await watch(ask(prompt), settings);
        const waiting = await eventually(() => states().find((e) => e.to === 'waiting'), 10_000, 'waiting');
        expect(waiting.alertable).toBe(true);
        expect(waiting.entry.line).toBe(prompt.trimEnd());
      });
    }
  }

  it('a progress line without a newline that keeps changing is not waiting', async () => {
    const { events, states } = await watch(
      `i=0; while :; do i=$((i+1)); printf '\\rcopying block %d of 100000, continue?:' $i; sleep 0.05; done`,
      { ...DEFAULT_CLASSIFY, waitPatterns: [] },
    );
    // Bounded by work: many polls that each saw the line change.
    await eventually(
      () => (events.filter((e) => e.kind === 'output_changed').length >= 30 ? true : undefined),
      20_000,
      '30 changes',
    );
    expect(states().map((e) => e.to)).not.toContain('waiting');
  });
});
