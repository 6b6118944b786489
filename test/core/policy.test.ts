import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { actorId, Policy, principalId, type ChatKind, type Principal } from '../../src/core/policy.js';

const policy = new Policy({ transport: 'tg', operators: [10, 11], admins: [20], viewers: [30], chats: [-100] });
const tg = (userId: number, chatId: number, chatKind: ChatKind): Principal => ({
  transport: 'tg',
  userId,
  chatId,
  chatKind,
});

describe('Policy.identify', () => {
  it('accepts an authorized user in their private chat or an authorized group', () => {
    expect(policy.identify(tg(10, 10, 'private'))?.role).toBe('operator');
    expect(policy.identify(tg(20, -100, 'group'))?.role).toBe('admin');
    expect(policy.identify(tg(30, -100, 'group'))?.role).toBe('viewer');
  });

  it('the local user has the console role (operator unless CONSOLE_ROLE says otherwise), also when approving', () => {
    const local: Principal = { transport: 'console', userId: 0, chatId: 0, chatKind: 'local', name: 'root' };
    expect(policy.identify(local)?.role).toBe('operator');
    expect(policy.roleOf(0)).toBe('operator');
    const admin = new Policy({
      transport: 'tg',
      operators: [],
      admins: [],
      viewers: [],
      chats: [],
      consoleRole: 'admin',
    });
    expect(admin.identify(local)?.role).toBe('admin');
    expect(admin.roleOf(0)).toBe('admin');
    // Id 0 from Telegram is never the local user.
    expect(admin.identify(tg(0, 0, 'private'))).toBeNull();
  });

  it('refuses strangers anywhere, and authorized users in other chats', () => {
    expect(policy.identify(tg(99, 99, 'private'))).toBeNull();
    expect(policy.identify(tg(99, -100, 'group'))).toBeNull();
    expect(policy.identify(tg(10, -200, 'group'))).toBeNull();
    expect(policy.identify(tg(10, 11, 'private'))).toBeNull();
    expect(policy.identify(tg(10, -100, 'channel'))).toBeNull();
  });

  it("the lists hold one transport's ids: the same number from another transport is nobody", () => {
    expect(policy.identify({ transport: 'slack', userId: 10, chatId: 10, chatKind: 'private' })).toBeNull();
    expect(policy.identify({ transport: 'slack', userId: 20, chatId: -100, chatKind: 'group' })).toBeNull();
  });

  it('a leaked token alone gives nothing: any unknown user id in any chat is refused', () => {
    fc.assert(
      fc.property(
        fc.integer().filter((u) => ![10, 11, 20, 30].includes(u)),
        fc.integer(),
        fc.constantFrom<ChatKind>('private', 'group', 'channel'),
        (u, c, k) => {
          expect(policy.identify(tg(u, c, k))).toBeNull();
        },
      ),
    );
  });

  it("only the user's own private chat counts as theirs: not a group or channel that has their id", () => {
    expect(policy.identify(tg(10, 10, 'group'))).toBeNull();
    expect(policy.identify(tg(10, 10, 'channel'))).toBeNull();
  });

  it('id 0 from a transport is nobody, even where a list names it', () => {
    const zero = new Policy({ transport: 'tg', operators: [0], admins: [], viewers: [], chats: [0] });
    expect(zero.identify(tg(0, 0, 'private'))).toBeNull();
    expect(zero.identify(tg(0, 0, 'group'))).toBeNull();
  });

  it('the local console user is an operator where no console role is set', () => {
    // Built here, not at load: what a test builds is what the mutation run sees.
    const unset = new Policy({ transport: 'tg', operators: [], admins: [20], viewers: [], chats: [] });
    expect(
      unset.identify({ transport: 'console', userId: 0, chatId: 0, chatKind: 'local', name: 'alice' }),
    ).toMatchObject({ role: 'operator', display: 'console:alice' });
    expect(unset.roleOf(0)).toBe('operator');
  });
});

describe('Policy roles and chats', () => {
  it("roleOf tells each listed person's role, and nothing for anyone else", () => {
    expect([10, 11, 20, 30, 99].map((id) => policy.roleOf(id))).toEqual([
      'operator',
      'operator',
      'admin',
      'viewer',
      undefined,
    ]);
  });

  it('operatorChats are the private chats of everyone allowed to act: operators and admins, no viewer', () => {
    expect(policy.operatorChats().sort((a, b) => a - b)).toEqual([10, 11, 20]);
    expect(
      new Policy({ transport: 'tg', operators: [], admins: [], viewers: [30], chats: [] }).operatorChats(),
    ).toEqual([]);
  });
});

describe('audit names', () => {
  it('are the strings earlier versions wrote, so old logs read the same', () => {
    expect(principalId(tg(10, 10, 'private'))).toBe('tg:10');
    expect(principalId({ transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' })).toBe('tg:10');
    expect(principalId({ transport: 'console', userId: 0, chatId: 0, chatKind: 'local', name: 'alice' })).toBe(
      'console:alice',
    );
    expect(policy.actorOf({ userId: 10, display: '@ops' })).toBe('tg:10');
    expect(policy.actorOf({ userId: 0, display: 'console:alice' })).toBe('console:alice');
    expect(actorId('tg', 123456789)).toBe('tg:123456789');
    // A local user whose login is unknown is still the local user, not a number.
    expect(actorId('console', 0)).toBe('console:');
    expect(principalId({ transport: 'console', userId: 0, chatId: 0, chatKind: 'local' })).toBe('console:');
  });
});
