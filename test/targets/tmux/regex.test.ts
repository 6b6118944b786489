import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import {
  boundedMatch,
  checkBudget,
  checkRegex,
  findLines,
  parseSearchPattern,
  REGEX_MAX,
  regexProblem,
} from '../../../src/targets/tmux/regex.js';

/** Node 23+ compiles modifier groups such as (?i:…); older versions refuse them as invalid. */
const MODIFIERS = (() => {
  try {
    new RegExp('(?i:a)');
    return true;
  } catch {
    return false;
  }
})();

const lines = ['build started', 'warning: unused x', 'ERROR: disk full', 'retrying', 'error: disk full again', 'done'];

describe('parseSearchPattern', () => {
  it('reads /regex/flags, and anything else as a substring', () => {
    expect(parseSearchPattern('/err(or)?/i')).toEqual({ kind: 'regex', source: 'err(or)?', flags: 'i' });
    expect(parseSearchPattern('/a/b/')).toEqual({ kind: 'regex', source: 'a/b', flags: '' });
    expect(parseSearchPattern('disk full')).toEqual({ kind: 'substring', text: 'disk full' });
    expect(parseSearchPattern('/usr/bin')).toEqual({ kind: 'substring', text: '/usr/bin' });
    expect(parseSearchPattern('//')).toEqual({ kind: 'substring', text: '//' });
  });

  it('treats every string not shaped /…/flags as the substring itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const p = parseSearchPattern(s);
        if (p.kind === 'substring') expect(p.text).toBe(s);
        else expect(`/${p.source}/${p.flags}`).toBe(s);
      }),
    );
  });
});

describe('regexProblem', () => {
  it('accepts ordinary patterns', () => {
    for (const ok of [
      'error',
      '^\\s*error:',
      'disk (full|empty)',
      '[ab]+c*',
      '\\d{1,3}\\.\\d+',
      '(?:foo)?bar',
      'a+b+',
      '(?<n>x)y',
      '\\u{1F600}',
      '\\p{L}+',
    ]) {
      expect(regexProblem(ok, ok.includes('\\u{') || ok.includes('\\p') ? 'u' : ''), ok).toBeUndefined();
    }
  });

  it('refuses the shapes that backtrack catastrophically', () => {
    for (const evil of [
      '(a+)+$',
      '(a*)*b',
      '(a|a)*$',
      '(a|aa)+$',
      '((ab)*)+',
      '(?:x+y?)+z',
      '(\\w+\\s?)*$',
      '(.*a){12}',
      '(a{1,5}){2,}',
      '((a|b)c)+',
      '(\\x41+)+',
    ]) {
      expect(regexProblem(evil), evil).toMatch(/exponential/);
    }
    expect(regexProblem('(a)\\1')).toMatch(/back-references/);
    expect(regexProblem('(?=a)b')).toMatch(/lookahead/);
    expect(regexProblem('(?<!a)b')).toMatch(/lookahead/);
    expect(regexProblem('a', 'g')).toMatch(/flags/);
    expect(regexProblem('a', 'ii')).toMatch(/flags/);
    expect(regexProblem('(')).toMatch(/not a valid/);
    expect(regexProblem('a'.repeat(301))).toMatch(/longer/);
  });

  it('refuses every generated nested quantifier', () => {
    const atom = fc.constantFrom('a', '\\w', '.', '[ab]', '\\d', '(?:x)');
    const repeat = fc.constantFrom('+', '*', '{2,}', '{1,9}', '+?', '{3}');
    fc.assert(
      fc.property(atom, repeat, repeat, fc.boolean(), (a, q1, q2, capture) => {
        const src = `${capture ? '(' : '(?:'}${a}${q1})${q2}`;
        expect(regexProblem(src), src).toBeDefined();
      }),
    );
  });

  it('never throws, and whatever it accepts compiles', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.constantFrom('', 'i', 'u', 'imsu'), (src, flags) => {
        if (regexProblem(src, flags) === undefined) expect(() => new RegExp(src, flags)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses group syntax it does not know with one line, instead of scanning again (Node 23+ modifier groups)', () => {
    const unknown = MODIFIERS
      ? /^modifier groups like \(\?i:…\) are not supported; use the \/…\/i, m or s flags instead$/
      : /not a valid/;
    expect(regexProblem('(?i:error)')).toMatch(unknown);
    expect(regexProblem('x(?-i:a)+')).toMatch(MODIFIERS ? /^modifier groups like \(\?-i:…\)/ : /not a valid/);
    expect(regexProblem('(?ims-:a)')).toBeDefined();
    expect(regexProblem('(?<name>x)(?:y)')).toBeUndefined();
    for (const src of ['(?i:error)', '(?-i:a)', 'a(?s:.)b']) {
      const r = checkRegex(src);
      expect(r.problem, src).toBeDefined();
      expect(r.steps, src).toBeLessThanOrEqual(checkBudget(src));
    }
  });

  it('terminates on every pattern within its step budget, and either accepts or refuses with one line', () => {
    // Pieces of regex syntax, so long patterns are mostly valid and the scan itself runs.
    const piece = fc.constantFrom(
      '(',
      '(?',
      '(?:',
      '(?i:',
      '(?-m:',
      '(?<n>',
      '(?<=',
      '(?=',
      ')',
      '[',
      ']',
      '\\',
      '\\d',
      '\\u{41}',
      '\\x4',
      'a',
      '.',
      '+',
      '*',
      '?',
      '{2,}',
      '{1,3}',
      '{',
      '}',
      '|',
      '<',
      '>',
      ':',
      '^',
      '$',
    );
    // Valid units, so that long patterns compile and the scan runs to the end or to a refusal.
    const unit = fc
      .tuple(
        fc.constantFrom('a', '.', '\\d', '[a-c\\]]', '(?:ab)', '(x)', '(?:a|b)', '(a+)', '(?=a)', '(?i:a)', '\\x41'),
        fc.constantFrom('', '', '', '+', '*', '?', '{2,}', '{1,3}'),
      )
      .map(([a, q]) => a + q);
    const pattern = fc.oneof(
      fc.array(unit, { size: 'max', maxLength: 80 }).map((us) => us.join('')),
      fc.array(piece, { size: 'max', maxLength: 160 }).map((ps) => ps.join('')),
      fc.string({ size: 'max', maxLength: REGEX_MAX + 20 }),
    );
    const seen = { accepted: 0, scanned: 0, refusedByScan: 0, long: 0 };
    fc.assert(
      fc.property(pattern, fc.constantFrom('', 'i', 'u', 'ims'), (src, flags) => {
        const { problem, steps } = checkRegex(src, flags);
        expect(steps).toBeLessThanOrEqual(checkBudget(src));
        if (problem === undefined) {
          seen.accepted++;
          expect(() => new RegExp(src, flags)).not.toThrow();
        } else {
          expect(problem).toMatch(/^[^\n]+$/);
          if (steps > 0) seen.refusedByScan++;
        }
        if (steps > 0) seen.scanned++;
        if (src.length > 100) seen.long++;
      }),
      { numRuns: 3000 },
    );
    expect(seen.accepted).toBeGreaterThan(50);
    expect(seen.refusedByScan).toBeGreaterThan(50);
    expect(seen.long).toBeGreaterThan(100);
  });
});

describe('findLines', () => {
  const opts = { limit: 20, timeoutMs: 250 };

  it('matches substrings in any case, keeping order and the last N', () => {
    expect(findLines(lines, parseSearchPattern('disk full'), opts)).toEqual([
      'ERROR: disk full',
      'error: disk full again',
    ]);
    expect(findLines(lines, parseSearchPattern('Error'), { ...opts, limit: 1 })).toEqual(['error: disk full again']);
  });

  it('matches regexes with their flags', () => {
    expect(findLines(lines, parseSearchPattern('/^error/'), opts)).toEqual(['error: disk full again']);
    expect(findLines(lines, parseSearchPattern('/^error/i'), opts)).toEqual([
      'ERROR: disk full',
      'error: disk full again',
    ]);
  });

  it('agrees with a plain RegExp on accepted patterns', () => {
    const src = fc.stringMatching(/^[a-c.*+?|()[\]^$]{0,8}$/);
    const text = fc.array(fc.stringMatching(/^[a-d ]{0,12}$/), { maxLength: 10 });
    fc.assert(
      fc.property(src, text, (s, ls) => {
        if (regexProblem(s) !== undefined) return;
        const re = new RegExp(s);
        expect(findLines(ls, { kind: 'regex', source: s, flags: '' }, { limit: 100, timeoutMs: 1000 })).toEqual(
          ls.filter((l) => re.test(l)),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a hostile regex before running it', () => {
    const evil = ['a'.repeat(40) + '!'];
    // The checker's answer, not the matcher's time bound ("took longer than").
    expect(() => findLines(evil, parseSearchPattern('/(a+)+$/'), opts)).toThrow(/exponential/);
    expect(() => findLines(lines, parseSearchPattern('/(?i:error)/'), opts)).toThrow(
      MODIFIERS ? /modifier groups/ : /not a valid/,
    );
  });

  it('bounds the time of a regex that would run for ever, even past the check', () => {
    expect(() => boundedMatch(['a'.repeat(40) + '!'], '(a+)+$', '', { limit: 20, timeoutMs: 100 })).toThrow(
      ActionError,
    );
    expect(() => boundedMatch(['a'.repeat(40) + '!'], '(a+)+$', '', { limit: 20, timeoutMs: 100 })).toThrow(
      /longer than 100 ms/,
    );
    // The context is still usable afterwards.
    expect(boundedMatch(['xa', 'b'], 'a', '', { limit: 20, timeoutMs: 100 })).toEqual(['xa']);
  });
});
