import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bindArgs, parseCommandLine, parseUsage, tokenize, UsageError } from '../../src/core/commands.js';

const word = fc.stringMatching(/^[^\s"']{1,12}$/);

describe('tokenize', () => {
  it('splits on whitespace and groups quotes', () => {
    expect(tokenize(`a  b\t"c d" 'e "f"' g"h`)).toEqual(['a', 'b', 'c d', 'e "f"', 'g"h']);
    expect(tokenize('""')).toEqual(['']);
    expect(tokenize('   ')).toEqual([]);
  });

  it('round-trips plain words joined by any whitespace', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), fc.constantFrom(' ', '  ', '\t', '\n'), (ws, sep) => {
        expect(tokenize(ws.join(sep))).toEqual(ws);
      }),
    );
  });

  it('keeps a quoted value with spaces as one token', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[^"]{0,20}$/), (v) => {
        expect(tokenize(`x "${v}" y`)).toEqual(['x', v, 'y']);
      }),
    );
  });

  it('never throws and never yields more tokens than non-space runs', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const t = tokenize(s);
        expect(t.length).toBeLessThanOrEqual(s.split(/\s+/).length + 1);
      }),
    );
  });
});

describe('parseCommandLine', () => {
  it('reads the command, a bot suffix and the rest', () => {
    expect(parseCommandLine('/Docker@TeleBot ps all', 'telebot')).toEqual({
      words: ['docker', 'ps', 'all'],
      raw: 'ps all',
    });
    expect(parseCommandLine('/ps@OtherBot', 'telebot')).toBeNull();
    expect(parseCommandLine('hello')).toBeNull();
    expect(parseCommandLine('/bad-name')).toBeNull();
  });

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseCommandLine(`/${s}`)));
  });
});

describe('bindArgs', () => {
  it('maps positionals, flags and a rest argument', () => {
    const usage = '[-c context] [-n namespace] <pod> [container] [lines]';
    expect(parseUsage(usage).map((a) => a.name)).toEqual(['context', 'namespace', 'pod', 'container', 'lines']);
    expect(bindArgs(usage, 'web -n shop 100')).toEqual({ pod: 'web', namespace: 'shop', container: '100' });
    expect(bindArgs('<session> <text...>', 's1   echo "a  b"  ')).toEqual({ session: 's1', text: 'echo "a  b"' });
    expect(bindArgs('<c> [--previous]', 'x --previous')).toEqual({ c: 'x', previous: true });
  });

  it('refuses extra arguments and flags without values', () => {
    expect(() => bindArgs('<c>', 'a b')).toThrow(UsageError);
    expect(() => bindArgs('[-n namespace]', '-n')).toThrow(/needs a value/);
  });

  it('keeps the rest of the line exactly as typed', () => {
    fc.assert(
      fc.property(
        word,
        fc.string({ minLength: 1, maxLength: 80 }).filter((s) => s.trim() !== ''),
        (first, rest) => {
          const raw = `${first} ${rest}`;
          const out = bindArgs('<a> <text...>', raw);
          expect(out.a).toBe(first);
          expect(out.text).toBe(raw.slice(raw.indexOf(rest.trimStart()[0]!, first.length)).trimEnd());
        },
      ),
    );
  });
});
