import { describe, expect, it } from 'vitest';
import { TurnQueue } from '../../../src/transports/telegram/turns.js';

/** A job that records when it starts and finishes only when the test says so. */
function gate(log: string[], name: string) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const held = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return {
    job: async () => {
      log.push(`start ${name}`);
      await held;
      log.push(`end ${name}`);
    },
    open,
    fail,
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('TurnQueue', () => {
  it("runs each person's jobs one at a time in order, others' beside them, at most perChat at once", async () => {
    const q = new TurnQueue({ perChat: 2, perPerson: 5 });
    const log: string[] = [];
    const a1 = gate(log, 'a1');
    const a2 = gate(log, 'a2');
    const b1 = gate(log, 'b1');
    const c1 = gate(log, 'c1');
    const done = [q.submit(1, 10, a1.job), q.submit(1, 10, a2.job), q.submit(1, 20, b1.job), q.submit(1, 30, c1.job)];
    await settle();
    // a2 waits for a1 (same person); b1 runs beside a1; c1 waits for a free slot.
    expect(log).toEqual(['start a1', 'start b1']);
    // Another chat is not held up by this one.
    const other = gate(log, 'x1');
    const x = q.submit(2, 10, other.job);
    await settle();
    expect(log.at(-1)).toBe('start x1');
    a1.open();
    await settle();
    // The slot goes to the oldest job of someone not busy: a2 (a1 is done), before c1.
    expect(log.slice(3)).toEqual(['end a1', 'start a2']);
    b1.open();
    await settle();
    expect(log.slice(5)).toEqual(['end b1', 'start c1']);
    a2.open();
    c1.open();
    other.open();
    await Promise.all([...done, x]);
  });

  it('refuses a person with perPerson jobs waiting or running, and carries on after a job fails', async () => {
    const q = new TurnQueue({ perChat: 1, perPerson: 2 });
    const log: string[] = [];
    const a1 = gate(log, 'a1');
    const a2 = gate(log, 'a2');
    const first = q.submit(1, 10, a1.job);
    const second = q.submit(1, 10, a2.job);
    expect(q.submit(1, 10, async () => undefined)).toBeUndefined();
    // Someone else may still queue.
    const b = q.submit(1, 20, async () => void log.push('b'));
    expect(b).toBeDefined();
    a1.fail(new Error('model down'));
    await expect(first).rejects.toThrow('model down');
    await settle();
    expect(log).toEqual(['start a1', 'start a2']);
    a2.open();
    await second;
    await b;
    expect(log).toEqual(['start a1', 'start a2', 'end a2', 'b']);
    // Room again for the person whose jobs are done.
    await q.submit(1, 10, async () => void log.push('a3'));
    expect(log.at(-1)).toBe('a3');
  });
});
