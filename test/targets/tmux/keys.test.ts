import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import { MAX_KEYS, parseKey, parseKeys } from '../../../src/targets/tmux/keys.js';

describe('parseKey', () => {
  it('maps the usual spellings to tmux key names', () => {
    const cases: [string, string][] = [
      ['Enter', 'Enter'],
      ['enter', 'Enter'],
      ['Return', 'Enter'],
      ['Esc', 'Escape'],
      ['Escape', 'Escape'],
      ['Tab', 'Tab'],
      ['BSpace', 'BSpace'],
      ['Backspace', 'BSpace'],
      ['Up', 'Up'],
      ['down', 'Down'],
      ['PageUp', 'PPage'],
      ['PPage', 'PPage'],
      ['PageDown', 'NPage'],
      ['NPage', 'NPage'],
      ['Space', 'Space'],
      ['C-c', 'C-c'],
      ['C-C', 'C-c'],
      ['ctrl-d', 'C-d'],
      ['^z', 'C-z'],
      ['M-x', 'M-x'],
      ['alt-b', 'M-b'],
      ['F1', 'F1'],
      ['f12', 'F12'],
      ['Delete', 'DC'],
      ['Home', 'Home'],
      ['End', 'End'],
    ];
    for (const [typed, name] of cases) expect(parseKey(typed), typed).toEqual({ kind: 'named', name });
  });

  it('sends single printable characters literally', () => {
    for (const c of ['y', 'n', 'Y', '1', '0', ';', '-', '/', 'é', '❯']) {
      expect(parseKey(c)).toEqual({ kind: 'literal', text: c });
    }
  });

  it('refuses everything else', () => {
    for (const bad of [
      '',
      ' ',
      '\n',
      '\u001b',
      'C-',
      'C-1',
      'F13',
      'F0',
      'cc',
      'kill-server',
      '-t',
      'Enter;',
      'yes',
      'M-Enter',
      '\u0003',
    ]) {
      expect(() => parseKey(bad), JSON.stringify(bad)).toThrow(ActionError);
    }
  });

  it('yields only allow-listed names or one printable character', () => {
    const named =
      /^(Enter|Escape|Tab|BTab|BSpace|Space|Up|Down|Left|Right|Home|End|PPage|NPage|DC|IC|F([1-9]|1[0-2])|[CM]-[a-z])$/;
    fc.assert(
      fc.property(fc.string({ maxLength: 12, unit: 'grapheme-ascii' }), (s) => {
        try {
          const k = parseKey(s);
          if (k.kind === 'named') expect(k.name).toMatch(named);
          else expect([...k.text]).toHaveLength(1);
        } catch (e) {
          expect(e).toBeInstanceOf(ActionError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseKeys', () => {
  it('needs one to MAX_KEYS keys', () => {
    expect(() => parseKeys([])).toThrow(ActionError);
    expect(parseKeys(['y', 'Enter'])).toHaveLength(2);
    expect(() => parseKeys(Array(MAX_KEYS + 1).fill('y'))).toThrow(ActionError);
  });
});
