import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Policy, type Principal } from '../../src/core/policy.js';

const policy = new Policy({ operators: [10, 11], admins: [20], viewers: [30], chats: [-100] });
const tg = (userId: number, chatId: number, chatType: 'private' | 'group' | 'supergroup' | 'channel'): Principal => ({ kind: 'telegram', userId, chatId, chatType });

describe('Policy.identify', () => {
  it('accepts an authorized user in their private chat or an authorized group', () => {
    expect(policy.identify(tg(10, 10, 'private'))?.role).toBe('operator');
    expect(policy.identify(tg(20, -100, 'supergroup'))?.role).toBe('admin');
    expect(policy.identify(tg(30, -100, 'group'))?.role).toBe('viewer');
  });

  it('refuses strangers anywhere, and authorized users in other chats', () => {
    expect(policy.identify(tg(99, 99, 'private'))).toBeNull();
    expect(policy.identify(tg(99, -100, 'supergroup'))).toBeNull();
    expect(policy.identify(tg(10, -200, 'supergroup'))).toBeNull();
    expect(policy.identify(tg(10, 11, 'private'))).toBeNull();
    expect(policy.identify(tg(10, -100, 'channel'))).toBeNull();
  });

  it('a leaked token alone gives nothing: any unknown user id in any chat is refused', () => {
    fc.assert(
      fc.property(
        fc.integer().filter((u) => ![10, 11, 20, 30].includes(u)),
        fc.integer(),
        fc.constantFrom('private', 'group', 'supergroup', 'channel' as const),
        (u, c, t) => {
          expect(policy.identify(tg(u, c, t))).toBeNull();
        },
      ),
    );
  });

  it('the local console user is an operator', () => {
    expect(policy.identify({ kind: 'console', name: 'alice' })).toMatchObject({ role: 'operator', display: 'console:alice' });
  });
});
