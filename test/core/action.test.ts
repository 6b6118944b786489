import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  ActionError,
  defineAction,
  maskParams,
  maskSecret,
  mutates,
  requiredRole,
  type Risk,
  type Role,
} from '../../src/core/action.js';
import { say } from '../../src/core/result.js';

describe('maskSecret', () => {
  it('shows the length in characters as a person counts them, never the text', () => {
    expect(maskSecret('hunter2')).toBe('[secret, 7 chars]');
    // Nine characters, ten UTF-16 units: the key is one character.
    expect(maskSecret('pässwörd🔑')).toBe('[secret, 9 chars]');
    expect(maskSecret('')).toBe('[secret, 0 chars]');
    expect(maskSecret(12345)).toBe('[secret, 5 chars]');
  });
});

describe('maskParams', () => {
  it('masks the named params that are there, keeps the others, adds none, and leaves its input alone', () => {
    const params = { session: 'db', text: 's3cr3t-pw', enter: true };
    expect(maskParams(params, ['text', 'password'])).toEqual({
      session: 'db',
      text: '[secret, 9 chars]',
      enter: true,
    });
    expect(params).toEqual({ session: 'db', text: 's3cr3t-pw', enter: true });
    expect(maskParams(params, [])).toEqual(params);
  });
});

describe('ActionError', () => {
  it('is an Error that names itself', () => {
    const e = new ActionError('no container named apx; did you mean api?');
    expect(e).toBeInstanceOf(Error);
    expect(String(e)).toBe('ActionError: no container named apx; did you mean api?');
  });
});

describe('requiredRole and mutates', () => {
  const action = (risk: Risk, minRole?: Role) =>
    defineAction({
      name: `test.${risk}`,
      summary: 'x',
      target: 'test',
      risk,
      ...(minRole ? { minRole } : {}),
      params: z.object({}),
      run: async () => say('x'),
    });

  it('viewers read, operators change things, unless the action asks for more', () => {
    expect(['read', 'write', 'destructive'].map((r) => requiredRole(action(r as Risk)))).toEqual([
      'viewer',
      'operator',
      'operator',
    ]);
    expect(requiredRole(action('write', 'admin'))).toBe('admin');
    expect(requiredRole(action('read', 'operator'))).toBe('operator');
    expect(['read', 'write', 'destructive'].map((r) => mutates(action(r as Risk)))).toEqual([false, true, true]);
  });
});
