import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALERTABLE_STATES,
  classify,
  cursorAfterText,
  DEFAULT_CLASSIFY,
  PROMPT_QUIET_MS,
  DEFAULT_ERROR_PATTERNS,
  DEFAULT_WAIT_PATTERNS,
  STATE_EMOJI,
  MAX_LINE,
  WINDOW_LINES,
  type Observation,
} from '../../../src/targets/tmux/classify.js';
import { regexProblem } from '../../../src/targets/tmux/regex.js';

const base: Observation = {
  exists: true,
  dead: false,
  lines: ['compiling 1/10', 'compiling 2/10'],
  changed: true,
  msSinceChange: 0,
  command: 'make',
  startedWithCommand: true,
};
const state = (o: Partial<Observation>) => classify({ ...base, ...o }, DEFAULT_CLASSIFY).state;

describe('a question left without a newline', () => {
  const noPatterns = { ...DEFAULT_CLASSIFY, waitPatterns: [] };
  const quiet = { changed: false, msSinceChange: PROMPT_QUIET_MS, command: 'sh' };
  const at = (last: string, o: Partial<Observation> = {}) =>
    classify({ ...base, ...quiet, lines: ['migrating', last], cursorAtLineEnd: true, ...o }, noPatterns).state;

  it('is waiting once output has stopped, when it ends in ?, : or a word and >', () => {
    expect(at('Are you sure?')).toBe('waiting');
    expect(at('Database name:')).toBe('waiting');
    expect(at('choice>')).toBe('waiting');
    expect(at('Are you sure?', { changed: true })).toBe('running');
    expect(at('Are you sure?', { msSinceChange: PROMPT_QUIET_MS - 1 })).toBe('running');
    expect(at('Are you sure?', { cursorAtLineEnd: false })).toBe('running');
    expect(at('copied 3 files')).toBe('running');
  });

  it('leaves REPL and shell prompts idle', () => {
    expect(at('>>>', { command: 'python3' })).toBe('idle');
    expect(at('ops@box ~>', { command: 'fish', startedWithCommand: false })).toBe('idle');
    expect(at('Really delete?', { command: 'bash', startedWithCommand: false })).toBe('waiting');
  });

  it('knows the cursor is after the text only right after it, also on a wrapped line', () => {
    expect(cursorAfterText('Are you sure?', 14, 80)).toBe(true);
    expect(cursorAfterText('Are you sure?', 13, 80)).toBe(true);
    expect(cursorAfterText('Are you sure?', 0, 80)).toBe(false);
    expect(cursorAfterText('Are you sure?', 5, 80)).toBe(false);
    expect(cursorAfterText(`${'x'.repeat(80)}sure?`, 6, 80)).toBe(true);
    expect(cursorAfterText('', 0, 80)).toBe(false);
  });

  it('the default patterns know the prompts of the issue', () => {
    for (const p of ['Proceed with migration? (yes/no):', 'Proceed (y/n)?', 'Are you sure?', 'Overwrite [y/N]?']) {
      expect(classify({ ...base, lines: [p] }, DEFAULT_CLASSIFY).state, p).toBe('waiting');
    }
  });
});

describe('classify', () => {
  it('has an emoji per state and alerts on waiting, error, done and stuck only', () => {
    expect(STATE_EMOJI).toEqual({
      running: '🟢',
      waiting: '🟡',
      error: '🔴',
      done: '✅',
      idle: '⚪',
      stuck: '⏱',
      gone: '⚫',
    });
    expect([...ALERTABLE_STATES].sort()).toEqual(['done', 'error', 'stuck', 'waiting']);
  });

  it('reads gone, done and error from the pane itself before any text', () => {
    expect(state({ exists: false })).toBe('gone');
    expect(state({ dead: true, exitStatus: 0, lines: ['error: x'] })).toBe('done');
    expect(state({ dead: true, exitStatus: 1, lines: ['all good'] })).toBe('error');
    expect(classify({ ...base, dead: true, exitSignal: 2 }, DEFAULT_CLASSIFY).reason).toBe('ended by signal 2');
  });

  it('waits for the exit status of a pane tmux already calls dead', () => {
    expect(classify({ ...base, dead: true }, DEFAULT_CLASSIFY)).toEqual({ state: 'running', reason: 'exiting' });
  });

  it('sees prompts that wait for a person', () => {
    const prompts = [
      'Continue? [y/N]',
      'Overwrite file? [Y/n] ',
      'Proceed (y/n)',
      'Are you sure you want to continue connecting (yes/no/[fingerprint])?',
      'Password:',
      '[sudo] password for ops:',
      "Enter passphrase for key '/home/ops/.ssh/id_ed25519':",
      'Press Enter to continue',
      'press any key',
      'Continue?',
      '? Select a template',
      '❯ 1. Yes',
      '  › Allow once',
      'Do you want to make this edit to app.ts?',
    ];
    for (const p of prompts) expect(state({ lines: ['some output', p] }), p).toBe('waiting');
  });

  it('sees a menu higher up once the output stops, not while it is moving', () => {
    const menu = ['Do you want to proceed?', '❯ 1. Yes', '  2. No', '', 'Esc to cancel'];
    expect(state({ lines: menu, changed: false })).toBe('waiting');
    expect(state({ lines: [...menu.slice(1), 'more output'], changed: true })).toBe('running');
  });

  it('does not take an answered prompt for a waiting one', () => {
    expect(state({ lines: ['Continue? [y/N] y', 'proceeding'], changed: false, msSinceChange: 1000 })).toBe('running');
  });

  it('sees errors once the output stops', () => {
    for (const e of [
      'error: linker failed',
      'Error: ENOENT',
      'fatal: not a git repository',
      'TypeError: x is undefined',
      'error[E0308]: mismatched types',
      'bash: foo: command not found',
      'make: *** [Makefile:3: all] Error 1',
      'npm ERR! code 1',
      'Traceback (most recent call last):',
    ]) {
      expect(state({ lines: [e, '$'], changed: false, command: 'bash', startedWithCommand: false }), e).toBe('error');
      expect(state({ lines: [e, 'still going'], changed: true }), e).toBe('running');
    }
  });

  it("hides a secret's shape before cutting a long line that an alert will quote (a bot token across the cut)", () => {
    const token = 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_';
    const long = `Error: POST ${'x'.repeat(MAX_LINE - 70)} https://api.telegram.org/bot123456789:${token}/getMe failed`;
    const r = classify(
      { ...base, lines: [long, '$'], changed: false, command: 'bash', startedWithCommand: false },
      DEFAULT_CLASSIFY,
    );
    expect(r.state).toBe('error');
    expect(r.line).not.toContain(token.slice(0, 8));
  });

  it('calls a quiet shell prompt idle, a quiet job running, then stuck', () => {
    expect(state({ lines: ['ops@box:~/src$'], changed: false, command: 'bash', startedWithCommand: false })).toBe(
      'idle',
    );
    expect(state({ lines: ['>>>'], changed: false, command: 'python3' })).toBe('idle');
    expect(state({ lines: ['last log line'], changed: false, command: 'bash', startedWithCommand: false })).toBe(
      'idle',
    );
    expect(state({ lines: ['downloading'], changed: false, msSinceChange: 60_000 })).toBe('running');
    expect(state({ lines: ['downloading'], changed: false, msSinceChange: 15 * 60_000 })).toBe('stuck');
  });

  it('always gives one of the seven states, with a prompt winning over output motion', () => {
    const anyLine = fc.oneof(fc.string({ maxLength: 400 }), fc.constantFrom('Continue? [y/N]', 'error: x', '$', ''));
    fc.assert(
      fc.property(
        fc.record({
          exists: fc.boolean(),
          dead: fc.boolean(),
          exitStatus: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
          lines: fc.array(anyLine, { maxLength: 30 }),
          changed: fc.boolean(),
          msSinceChange: fc.nat(),
          command: fc.constantFrom('bash', 'make', 'node', ''),
          startedWithCommand: fc.boolean(),
        }),
        (o) => {
          const r = classify(o, DEFAULT_CLASSIFY);
          expect(Object.keys(STATE_EMOJI)).toContain(r.state);
          if (!o.exists) expect(r.state).toBe('gone');
          else if (o.dead && o.exitStatus !== undefined) expect(r.state).toBe(o.exitStatus === 0 ? 'done' : 'error');
          else if (o.dead) expect(r).toEqual({ state: 'running', reason: 'exiting' });
          const last = o.lines
            .filter((l) => l.trim() !== '')
            .at(-1)
            ?.slice(0, 300)
            .trimEnd();
          if (o.exists && !o.dead && last === 'Continue? [y/N]') expect(r.state).toBe('waiting');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('ships default patterns that pass the backtracking check', () => {
    for (const p of [...DEFAULT_WAIT_PATTERNS, ...DEFAULT_ERROR_PATTERNS, DEFAULT_CLASSIFY.promptPattern]) {
      expect(regexProblem(p.source, p.flags), p.source).toBeUndefined();
    }
  });

  it('bounds its work on long hostile lines: few lines, each cut to MAX_LINE, per pattern', () => {
    const tested: number[] = [];
    /** The same patterns, recording the length of every string they are run on. */
    class Counted extends RegExp {
      override test(s: string): boolean {
        tested.push(s.length);
        return super.test(s);
      }
    }
    const counted = (ps: readonly RegExp[]) => ps.map((p) => new Counted(p.source, p.flags));
    const settings = {
      ...DEFAULT_CLASSIFY,
      waitPatterns: counted(DEFAULT_WAIT_PATTERNS),
      errorPatterns: counted(DEFAULT_ERROR_PATTERNS),
      promptPattern: new Counted(DEFAULT_CLASSIFY.promptPattern.source, DEFAULT_CLASSIFY.promptPattern.flags),
    };
    const long = Array.from(
      { length: 1000 },
      (_, i) => ['a'.repeat(100_000) + ':', 'password '.repeat(5000), ' '.repeat(50_000) + 'x'][i % 3]!,
    );
    classify({ ...base, lines: long, changed: false, command: 'sleep' }, settings);
    const patterns = DEFAULT_WAIT_PATTERNS.length + DEFAULT_ERROR_PATTERNS.length + 1;
    expect(tested.length).toBeGreaterThan(WINDOW_LINES);
    expect(tested.length).toBeLessThanOrEqual((WINDOW_LINES + 1) * patterns);
    expect(Math.max(...tested)).toBeLessThanOrEqual(MAX_LINE);
  });
});
