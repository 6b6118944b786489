import { describe, expect, it } from 'vitest';
import { Policy } from '../../../src/core/policy.js';
import { chatKindOf, TELEGRAM, telegramPrincipal } from '../../../src/transports/telegram/principal.js';

const policy = new Policy({ transport: TELEGRAM, operators: [10], admins: [], viewers: [], chats: [-100] });

describe('Telegram principals', () => {
  it("speak the policy's terms: a supergroup is a group, the username is shown with its @", () => {
    const inGroup = telegramPrincipal(10, { id: -100, type: 'supergroup' }, 'ops');
    expect(inGroup).toEqual({ transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' });
    const own = policy.identify(telegramPrincipal(10, { id: 10, type: 'private' }, 'ops'));
    expect(own).toEqual({ userId: 10, chatId: 10, role: 'operator', display: '@ops' });
    expect(policy.identify(telegramPrincipal(10, { id: -100, type: 'group' }))?.display).toBe('10');
  });

  it('never become the local console user, whatever chat type an update claims', () => {
    for (const type of ['local', 'console', 'sender', '']) {
      expect(chatKindOf(type)).toBe('channel');
      expect(policy.identify(telegramPrincipal(10, { id: 0, type: type as 'private' }))).toBeNull();
      expect(policy.identify(telegramPrincipal(0, { id: 0, type: type as 'private' }))).toBeNull();
    }
  });
});
