import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import type { ContainerSummary } from '../../../src/targets/docker/port.js';
import { isContainerRef, resolveContainer, suggestions } from '../../../src/targets/docker/resolve.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const REST = `${ALNUM}_.-`;

/** The reference grammar written out by hand, independently of the regex. */
function validByHand(s: string): boolean {
  const parts = s.split('/');
  if (parts.length > 2) return false;
  return parts.every(
    (p) => p.length >= 1 && p.length <= 128 && ALNUM.includes(p[0]!) && [...p].every((ch) => REST.includes(ch)),
  );
}

const segment = fc
  .tuple(fc.constantFrom(...ALNUM), fc.string({ unit: fc.constantFrom(...REST), maxLength: 20 }))
  .map(([a, b]) => a + b);

const c = (name: string, id: string, project?: string, service?: string): ContainerSummary => ({
  id,
  name,
  image: 'img',
  state: 'running',
  status: 'Up',
  labels: {},
  ...(project ? { project } : {}),
  ...(service ? { service } : {}),
});

const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 });

describe('container reference validation', () => {
  it('accepts every name and project/service the grammar allows', () => {
    fc.assert(
      fc.property(segment, fc.option(segment), (a, b) => {
        expect(isContainerRef(b === null ? a : `${a}/${b}`)).toBe(true);
      }),
    );
  });

  it('agrees with a hand-written check on arbitrary strings', () => {
    const anyChar = fc.string({
      unit: fc.constantFrom(...REST, '/', ' ', '-', ';', '$', '\n', '`', 'é', '\u0000', '*'),
      maxLength: 40,
    });
    fc.assert(
      fc.property(fc.oneof(anyChar, fc.string({ maxLength: 40 })), (s) => {
        expect(isContainerRef(s)).toBe(validByHand(s));
      }),
    );
  });

  it('never accepts a leading dash, whitespace or shell syntax', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        expect(isContainerRef(`-${s}`)).toBe(false);
        expect(isContainerRef(`${s} x`)).toBe(false);
        expect(isContainerRef(`a$(${s})`)).toBe(false);
      }),
    );
    expect(isContainerRef('a'.repeat(128))).toBe(true);
    expect(isContainerRef('a'.repeat(129))).toBe(false);
    expect(isContainerRef('a/b/c')).toBe(false);
    expect(isContainerRef('')).toBe(false);
  });
});

describe('resolveContainer', () => {
  const world = fc
    .uniqueArray(fc.tuple(segment, hex64), { minLength: 1, maxLength: 12, selector: ([n]) => n })
    .filter((xs) => new Set(xs.map(([, id]) => id)).size === xs.length)
    .map((xs) => xs.map(([n, id]) => c(n, id)));

  it('finds every container by its name and by its full id', () => {
    fc.assert(
      fc.property(world, (cs) => {
        for (const x of cs) {
          expect(resolveContainer(x.name, cs)).toBe(x);
          expect(resolveContainer(x.id, cs)).toBe(x);
        }
      }),
    );
  });

  it("finds a container by an id prefix that is unique and not someone's name", () => {
    fc.assert(
      fc.property(world, fc.integer({ min: 3, max: 64 }), (cs, len) => {
        for (const x of cs) {
          const prefix = x.id.slice(0, len);
          const unique = cs.filter((y) => y.id.startsWith(prefix)).length === 1;
          if (!unique || cs.some((y) => y.name === prefix)) continue;
          expect(resolveContainer(prefix, cs)).toBe(x);
        }
      }),
    );
  });

  it('answers anything else with an ActionError listing at most five existing spellings', () => {
    fc.assert(
      fc.property(world, fc.string({ maxLength: 30 }), (cs, ref) => {
        try {
          const hit = resolveContainer(ref, cs);
          expect(cs).toContain(hit);
        } catch (e) {
          expect(e).toBeInstanceOf(ActionError);
          const msg = (e as Error).message;
          expect(msg).not.toContain('\n');
          const m = /did you mean (.*)\?$/.exec(msg);
          if (m) {
            const named = m[1]!.split(', ');
            expect(named.length).toBeLessThanOrEqual(5);
            for (const n of named) expect(cs.map((x) => x.name)).toContain(n);
          }
        }
      }),
    );
  });

  const ids = {
    a: `3f2a${'0'.repeat(60)}`,
    b: `3f2b${'1'.repeat(60)}`,
    c: `9c8d${'2'.repeat(60)}`,
    d: `abcd${'3'.repeat(60)}`,
  };
  const cs = [
    c('api', ids.a, 'shop', 'api'),
    c('web-1', ids.b, 'shop', 'web'),
    c('web-2', ids.c, 'shop', 'web'),
    c('abc', ids.d),
  ];

  it('prefers an exact name over an id prefix, like the Docker CLI', () => {
    expect(resolveContainer('abc', cs).name).toBe('abc');
    expect(resolveContainer('abcd', cs).name).toBe('abc');
  });

  it('resolves compose project/service from the labels, and refuses a scaled service', () => {
    expect(resolveContainer('shop/api', cs).name).toBe('api');
    expect(() => resolveContainer('shop/web', cs)).toThrow(
      /"shop\/web" matches 2 containers: web-1 \(3f2b1111\w+\), web-2/,
    );
    expect(() => resolveContainer('shop/db', cs)).toThrow(/no container "shop\/db"; did you mean shop\/web\?$/);
  });

  it('refuses an ambiguous id prefix and ignores prefixes shorter than 3', () => {
    expect(() => resolveContainer('3f2', cs)).toThrow(/"3f2" matches 2 containers: api \(3f2a0000\w*\), web-1/);
    expect(resolveContainer('3f2a', cs).name).toBe('api');
    expect(() => resolveContainer('9c', cs)).toThrow(ActionError);
  });

  it('suggests close names for a typo', () => {
    expect(() => resolveContainer('apj', cs)).toThrow('no container "apj"; did you mean api?');
    expect(suggestions('web', cs)).toEqual(['web-1', 'web-2', 'shop/web']);
    expect(() => resolveContainer('zzzzzz', cs)).toThrow(/^no container "zzzzzz"$/);
  });

  it('rejects an invalid reference before looking', () => {
    expect(() => resolveContainer('-rm', cs)).toThrow(/a container is a name/);
  });
});
