import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { operatorError } from '../../src/core/issues.js';

const messages = (schema: z.ZodType, input: unknown): string[] => {
  const r = schema.safeParse(input, { error: operatorError });
  return r.success ? [] : r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
};

const params = z.strictObject({
  container: z.string().regex(/^[a-z]+$/, { error: 'a name of letters' }),
  lines: z.coerce.number().int().min(1).max(5000).default(50),
  name: z.string().min(1).max(8).optional(),
  kind: z.enum(['pod', 'node']).optional(),
  exact: z.literal('yes').optional(),
  tags: z.array(z.string()).max(2).optional(),
  ratio: z.number().gt(0).lt(1).optional(),
});

describe('operatorError', () => {
  it("says what is allowed, in the operator's words", () => {
    expect(messages(params, { container: 'api', lines: 9_999_999 })).toEqual(['lines: at most 5000']);
    expect(messages(params, { container: 'api', lines: 0 })).toEqual(['lines: at least 1']);
    expect(messages(params, { container: 'api', lines: 2.5 })).toEqual(['lines: a whole number']);
    expect(messages(params, { container: 'api', name: '' })).toEqual(['name: must not be empty']);
    expect(messages(params, { container: 'api', name: 'much-too-long' })).toEqual(['name: at most 8 characters']);
    expect(messages(params, { container: 'api', kind: 'deploy' })).toEqual(['kind: one of "pod", "node"']);
    expect(messages(params, { container: 'api', exact: 'no' })).toEqual(['exact: only "yes"']);
    expect(messages(params, { container: 'api', tags: ['a', 'b', 'c'] })).toEqual(['tags: at most 2 items']);
    expect(messages(params, { container: 'api', ratio: 1 })).toEqual(['ratio: less than 1']);
    expect(messages(params, { container: 'api', ratio: 0 })).toEqual(['ratio: more than 0']);
    expect(messages(params, {})).toEqual(['container: missing']);
    expect(messages(params, { container: 7 })).toEqual(['container: a string']);
    expect(messages(params, { container: 'api', extra: 1 })).toEqual(['unknown parameter "extra"']);
  });

  it('counts in the singular and plural, says "exactly" for a fixed size, and lists at most 5 unknown keys', () => {
    expect(messages(z.string().max(1), 'ab')).toEqual(['at most 1 character']);
    expect(messages(z.string().min(2), 'a')).toEqual(['at least 2 characters']);
    expect(messages(z.string().min(1).max(1), '')).toEqual(['must not be empty']);
    expect(messages(z.array(z.number()).max(1), [1, 2])).toEqual(['at most 1 item']);
    expect(messages(z.array(z.number()).min(3), [1])).toEqual(['at least 3 items']);
    expect(messages(z.set(z.number()).min(2), new Set([1]))).toEqual(['at least 2 items']);
    expect(messages(z.string().length(3), 'ab')).toEqual(['exactly 3 characters']);
    expect(messages(z.string().length(1), 'ab')).toEqual(['exactly 1 character']);
    expect(messages(z.array(z.number()).length(2), [1, 2, 3])).toEqual(['exactly 2 items']);
    expect(messages(z.bigint().max(1n), 5n)).toEqual(['at most 1']);
    expect(messages(z.strictObject({}), { a: 1, b: 2 })).toEqual(['unknown parameters "a", "b"']);
    const many = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => [k, 1]));
    expect(messages(z.strictObject({}), many)).toEqual(['unknown parameters "a", "b", "c", "d", "e", …']);
    const five = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, 1]));
    expect(messages(z.strictObject({}), five)).toEqual(['unknown parameters "a", "b", "c", "d", "e"']);
    // Anything else keeps zod's own message.
    expect(messages(z.email(), 'x')).toEqual(['Invalid email address']);
  });

  it("keeps a schema's own message", () => {
    expect(messages(params, { container: 'API!' })).toEqual(['container: a name of letters']);
  });

  it('answers any input with short single lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.dictionary(
            fc.oneof(
              fc.constantFrom('container', 'lines', 'name', 'kind', 'exact', 'tags', 'ratio'),
              fc.string({ maxLength: 300 }),
            ),
            fc.jsonValue(),
          ),
        ),
        (input) => {
          for (const m of messages(params, input)) {
            expect(m).not.toMatch(/\n/);
            expect(m.length).toBeGreaterThan(0);
            expect(m.length).toBeLessThan(400);
          }
        },
      ),
    );
  });
});
