import { describe, expect, it } from 'vitest';
import type { AuditEntryInput } from '../../src/core/audit.js';
import { createMetrics } from '../../src/core/metrics.js';
import type { Principal } from '../../src/core/policy.js';
import { StrangerLog } from '../../src/core/strangers.js';

const WINDOW = 10 * 60_000;
const stranger = (userId: number, chatId = userId): Principal => ({
  transport: 'tg',
  userId,
  chatId,
  chatKind: chatId === userId ? 'private' : 'group',
});

function log() {
  const entries: AuditEntryInput[] = [];
  const clock = { now: 1_000_000_000 };
  const metrics = createMetrics();
  const s = new StrangerLog({ record: (e) => entries.push(e), metrics, now: () => clock.now });
  const counted = async (): Promise<number> => (await metrics.unauthorized.get()).values[0]?.value ?? 0;
  return { s, entries, clock, counted };
}

describe('StrangerLog', () => {
  it('audits the first update of each sender in each chat, with what they tried, and counts every one', async () => {
    const { s, entries, counted } = log();
    s.record(stranger(7), '/docker stop web');
    s.record(stranger(7), '/docker stop db');
    s.record(stranger(7, -100), '/ps');
    expect(entries).toEqual([
      {
        operator: 'tg:7',
        chat: 7,
        origin: 'command',
        action: '/docker stop web',
        target: '',
        params: {},
        outcome: 'unauthorized',
      },
      {
        operator: 'tg:7',
        chat: -100,
        origin: 'command',
        action: '/ps',
        target: '',
        params: {},
        outcome: 'unauthorized',
      },
    ]);
    expect(await counted()).toBe(3);
  });

  it('names the terminal by no chat, and cuts what was tried to 64 characters', () => {
    const { s, entries } = log();
    s.record({ transport: 'console', userId: 0, chatId: 0, chatKind: 'local', name: 'root' }, 'x'.repeat(100));
    expect(entries[0]!.chat).toBeNull();
    expect(entries[0]!.action).toHaveLength(64);
  });

  it('audits at most 20 senders a window, then one line with the number left out', () => {
    const { s, entries, clock } = log();
    for (let u = 1; u <= 25; u++) s.record(stranger(u), '/start');
    s.record(stranger(1), '/start');
    expect(entries).toHaveLength(20);
    s.flush();
    expect(entries.at(-1)).toEqual({
      operator: 'unknown',
      chat: null,
      origin: 'command',
      action: 'unauthorized',
      target: '',
      params: {},
      outcome: 'unauthorized',
      detail: '6 more unauthorized updates in this window',
    });
    s.flush();
    expect(entries).toHaveLength(21);
    // The window goes on after a flush: still capped.
    s.record(stranger(30), '/start');
    expect(entries).toHaveLength(21);
    clock.now += WINDOW + 1;
    s.record(stranger(30), '/start');
    expect(entries.slice(-2).map((e) => [e.operator, e.detail])).toEqual([
      ['unknown', '1 more unauthorized updates in this window'],
      ['tg:30', undefined],
    ]);
  });

  it('starts a new window only once ten minutes have passed', () => {
    const { s, entries, clock } = log();
    s.record(stranger(1), '/a');
    clock.now += WINDOW;
    s.record(stranger(1), '/b');
    expect(entries).toHaveLength(1);
    clock.now += 1;
    s.record(stranger(1), '/c');
    expect(entries.map((e) => e.action)).toEqual(['/a', 'unauthorized', '/c']);
  });
});
