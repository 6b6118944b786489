import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import {
  checkName,
  displayTarget,
  isName,
  parseTarget,
  resolveSession,
  tmuxTargetArg,
} from '../../../src/targets/tmux/target.js';

const nameChar = fc.constantFrom(...'abcxyzABZ019_-'.split(''));
const validName = fc
  .tuple(fc.constantFrom(...'abzAZ09_'.split('')), fc.array(nameChar, { maxLength: 20, size: 'max' }))
  .map(([h, t]) => h + t.join(''));
const windowRef = fc.oneof(fc.integer({ min: 0, max: 9999 }).map(String), validName);
const targetRef = fc.oneof(
  validName,
  fc.tuple(validName, windowRef).map(([s, w]) => `${s}:${w}`),
  fc.tuple(validName, windowRef, fc.integer({ min: 0, max: 9999 })).map(([s, w, p]) => `${s}:${w}.${p}`),
);

describe('parseTarget', () => {
  it('reads session, session:window and session:window.pane', () => {
    expect(parseTarget('build')).toEqual({ session: 'build' });
    expect(parseTarget('build:2')).toEqual({ session: 'build', window: '2' });
    expect(parseTarget('build:editor.1')).toEqual({ session: 'build', window: 'editor', pane: 1 });
  });

  it('round-trips every valid reference through displayTarget', () => {
    fc.assert(
      fc.property(targetRef, (ref) => {
        expect(displayTarget(parseTarget(ref))).toBe(ref);
      }),
    );
  });

  it('refuses hostile and malformed references with an ActionError that does not echo them', () => {
    const hostile = [
      '',
      '-t',
      '-la',
      'a b',
      'a;b',
      'a.b',
      'x:',
      'x:.1',
      'x:1.',
      'x:1.y',
      'x:1.2.3',
      '$(id)',
      '`id`',
      '=x',
      '%1',
      '@1',
      'a\nb',
      'a'.repeat(65),
      '#{session_name}',
      'x:-1',
      'x:1.-1',
      ':1',
      'ö',
      '~x',
      '!x',
      '{last}',
    ];
    for (const h of hostile) {
      expect(() => parseTarget(h), h).toThrow(ActionError);
      try {
        parseTarget(h);
      } catch (e) {
        if (h.length > 0) expect((e as Error).message.includes(h)).toBe(false);
      }
    }
  });

  it('accepts only references whose parts are safe for tmux', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, size: 'max' }), (s) => {
        let t;
        try {
          t = parseTarget(s);
        } catch (e) {
          expect(e).toBeInstanceOf(ActionError);
          return;
        }
        expect(isName(t.session) || /^\$\d+$/.test(t.session)).toBe(true);
        expect(t.session.startsWith('-')).toBe(false);
        expect(/[:.\s;]/.test(t.session)).toBe(false);
        const arg = tmuxTargetArg(t);
        // An exact name (=name) or a session id ($3), never something tmux reads as an option.
        expect(/^[=$]/.test(arg)).toBe(true);
        expect(/[\s;#{}`]/.test(arg)).toBe(false);
        expect(arg.slice(1).includes('$')).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('always asks tmux for an exact session match and exact window names', () => {
    expect(tmuxTargetArg({ session: 'ab' })).toBe('=ab:');
    expect(tmuxTargetArg({ session: 'ab', window: '3', pane: 1 })).toBe('=ab:3.1');
    expect(tmuxTargetArg({ session: 'ab', window: 'vim' })).toBe('=ab:=vim');
  });
});

describe('checkName', () => {
  it('caps length and refuses a leading dash', () => {
    expect(checkName('a'.repeat(64))).toBe('a'.repeat(64));
    expect(() => checkName('a'.repeat(65))).toThrow(ActionError);
    expect(() => checkName('-x')).toThrow(/not starting with -/);
    expect(() => checkName('x', 'alias')).not.toThrow();
  });
});

describe('session ids', () => {
  it('parses $3 as a session and gives it to tmux as the id, never as an exact name', () => {
    expect(parseTarget('$3')).toEqual({ session: '$3' });
    expect(parseTarget('$3:1.0')).toEqual({ session: '$3', window: '1', pane: 0 });
    expect(tmuxTargetArg({ session: '$3' })).toBe('$3:');
    expect(tmuxTargetArg({ session: '$3', window: '1', pane: 0 })).toBe('$3:1.0');
    for (const bad of ['$', '$x', '$-1', '$1$', '$1234567890'])
      expect(() => parseTarget(bad), bad).toThrow(ActionError);
  });
});

describe('resolveSession', () => {
  const sessions = [
    { name: 'build', id: '$1' },
    { name: 'api', id: '$2', alias: 'web' },
    { name: 'ci-1', id: '$3', alias: 'ci' },
    { name: 'ci-2', id: '$4', alias: 'ci' },
    { name: '-dash', id: '$5', alias: 'dash' },
    { name: 'my session', id: '$6' },
  ];

  it('prefers an exact name, then a unique alias', () => {
    expect(resolveSession(sessions, 'build')).toBe('build');
    expect(resolveSession(sessions, 'web')).toBe('api');
    expect(() => resolveSession(sessions, 'ci')).toThrow(/several sessions/);
    expect(() => resolveSession(sessions, 'bui')).toThrow('no session named bui');
  });

  it('finds a session by its id, and answers with the id for a name that is not safe here', () => {
    expect(resolveSession(sessions, '$1')).toBe('build');
    expect(resolveSession(sessions, '$5')).toBe('$5');
    expect(resolveSession(sessions, '$6')).toBe('$6');
    expect(resolveSession(sessions, 'dash')).toBe('$5');
    expect(() => resolveSession(sessions, '$9')).toThrow('no session with id $9');
    expect(() => resolveSession(sessions, '$1', /^ci-/)).toThrow('no session with id $1');
  });

  it('hides sessions outside the filter, by name and by alias', () => {
    expect(() => resolveSession(sessions, 'build', /^ci-/)).toThrow('no session named build');
    expect(() => resolveSession(sessions, 'web', /^ci-/)).toThrow('no session named web');
    expect(resolveSession(sessions, 'ci-1', /^ci-/)).toBe('ci-1');
  });
});
