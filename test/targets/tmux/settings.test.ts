import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { settingPattern } from '../../../src/targets/tmux/settings.js';

describe('TMUX_ settings', () => {
  it('have the documented defaults', () => {
    const r = loadConfig({}, 'console');
    if (!r.ok) throw new Error(r.problems.join());
    expect(r.config).toMatchObject({
      TMUX_LOG_LINES: 5000,
      TMUX_POLL_SECONDS: 2,
      TMUX_STUCK_MINUTES: 15,
      TMUX_ALERT_COOLDOWN_SECONDS: 300,
      TMUX_CARD_LINES: 15,
      TMUX_DEFAULT_CWD: '',
    });
    expect(r.config.TMUX_SESSION_FILTER).toBeUndefined();
    expect(r.config.TMUX_WAIT_PATTERNS).toBeUndefined();
  });

  it('are all read', () => {
    const r = loadConfig(
      {
        TMUX_SOCKET: '/run/tmux.sock',
        TMUX_SESSION_FILTER: '^ci-',
        TMUX_DEFAULT_CWD: '/srv',
        TMUX_LOG_LINES: '2000',
        TMUX_POLL_SECONDS: '0.5',
        TMUX_STUCK_MINUTES: '30',
        TMUX_ALERT_COOLDOWN_SECONDS: '60',
        TMUX_CARD_LINES: '10',
        TMUX_WAIT_PATTERNS: 'approve\\?|waiting for you',
        TMUX_ERROR_PATTERNS: '/BUILD FAILED/',
      },
      'console',
    );
    if (!r.ok) throw new Error(r.problems.join());
    expect(r.config).toMatchObject({
      TMUX_SOCKET: '/run/tmux.sock',
      TMUX_DEFAULT_CWD: '/srv',
      TMUX_LOG_LINES: 2000,
      TMUX_POLL_SECONDS: 0.5,
      TMUX_STUCK_MINUTES: 30,
      TMUX_ALERT_COOLDOWN_SECONDS: 60,
      TMUX_CARD_LINES: 10,
    });
    expect(r.config.TMUX_SESSION_FILTER?.test('ci-1')).toBe(true);
    expect(r.config.TMUX_SESSION_FILTER?.test('CI-1')).toBe(false);
    expect(r.config.TMUX_WAIT_PATTERNS?.test('Approve? ')).toBe(true);
    expect(r.config.TMUX_ERROR_PATTERNS?.test('build failed')).toBe(false);
  });

  it('list every problem at once', () => {
    const r = loadConfig(
      {
        TMUX_POLL_SECONDS: 'fast',
        TMUX_LOG_LINES: '10',
        TMUX_DEFAULT_CWD: 'relative',
        TMUX_WAIT_PATTERNS: '(a+)+$',
        TMUX_SESSION_FILTER: '(',
      },
      'console',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      'TMUX_SESSION_FILTER: not a valid regular expression',
      'TMUX_DEFAULT_CWD: "relative" must be an absolute path',
      'TMUX_LOG_LINES: "10" must be a whole number from 100 to 100000',
      'TMUX_POLL_SECONDS: "fast" must be a number from 0.1 to 60',
      expect.stringMatching(/^TMUX_WAIT_PATTERNS: a repeated group/),
    ]);
  });

  it('take /regex/flags for flags of their own', () => {
    expect(settingPattern('/abc/').flags).toBe('');
    expect(settingPattern('abc').flags).toBe('i');
    expect(() => settingPattern('(?=a)')).toThrow('lookahead and lookbehind are not allowed');
  });
});
