import { describe, expect, it } from 'vitest';
import { ActionError, type ActionContext } from '../../src/core/action.js';
import { CardPlacesSlot, placesAction } from '../../src/core/places.js';
import { plainText, say } from '../../src/core/result.js';

const ctx = (chatId: number): ActionContext => ({
  operator: { userId: 1, chatId, role: 'operator', display: '@a' },
  origin: 'command',
  signal: AbortSignal.timeout(1000),
  chat: { get: () => undefined, set: () => undefined },
});

describe('placesAction', () => {
  it('is /<target> topics on|off, a write no LLM may call', () => {
    const a = placesAction(new CardPlacesSlot(), 'tmux', 'Forum topics per session');
    expect(a).toMatchObject({ name: 'tmux.topics', target: 'tmux', risk: 'write', llm: false });
    expect(a.command).toEqual({ path: ['tmux', 'topics'], usage: '<mode>' });
    expect(a.params.safeParse({ mode: 'on' }).success).toBe(true);
    expect(a.params.safeParse({ mode: 'maybe' }).success).toBe(false);
    expect(a.subject?.({ mode: 'off' })).toBe('forum topics off');
  });

  it('says where topics exist when no transport offers them', async () => {
    const a = placesAction(new CardPlacesSlot(), 'agent', 's');
    const run = a.run(ctx(-100), { mode: 'on' });
    await expect(run).rejects.toBeInstanceOf(ActionError);
    await expect(run).rejects.toThrow('topics exist only in a chat app with forum groups, not here');
  });

  it('turns them on or off in the chat that asked, through the transport that fills the slot', async () => {
    const slot = new CardPlacesSlot();
    const calls: string[] = [];
    slot.service = {
      on: (chat) => (calls.push(`on ${chat}`), Promise.resolve(say('on'))),
      off: (chat) => (calls.push(`off ${chat}`), Promise.resolve(say('off'))),
    };
    const a = placesAction(slot, 'tmux', 's');
    expect(plainText(await a.run(ctx(-100), { mode: 'on' }))).toBe('on');
    expect(plainText(await a.run(ctx(-200), { mode: 'off' }))).toBe('off');
    expect(calls).toEqual(['on -100', 'off -200']);
  });
});
