import { describe, expect, it } from 'vitest';
import type { Operator } from '../../src/core/action.js';
import { ProgressBus, type ProgressNote } from '../../src/core/progress.js';

const op: Operator = { userId: 1, chatId: 1, role: 'operator', display: '@a' };

describe('ProgressBus', () => {
  it("tells every listener each note of a run, redacted, under the run's own number, and its end", () => {
    const bus = new ProgressBus();
    const a: ProgressNote[] = [];
    const b: ProgressNote[] = [];
    bus.on((n) => a.push(n));
    bus.on((n) => b.push(n));
    const first = bus.reporter(op, 'docker.stop', (s) => s.replace('hunter2', '[REDACTED]'));
    const second = bus.reporter(op, 'docker.start', (s) => s);
    first.say('waiting for web, password hunter2');
    second.say('starting');
    first.end();
    expect(a).toEqual([
      { run: 1, operator: op, action: 'docker.stop', text: 'waiting for web, password [REDACTED]' },
      { run: 2, operator: op, action: 'docker.start', text: 'starting' },
      { run: 1, operator: op, action: 'docker.stop' },
    ]);
    expect(b).toEqual(a);
  });

  it('says nothing at the end of a run that never said anything', () => {
    const bus = new ProgressBus();
    const notes: ProgressNote[] = [];
    bus.on((n) => notes.push(n));
    bus.reporter(op, 'x', (s) => s).end();
    expect(notes).toEqual([]);
  });

  it('stops telling a listener that unsubscribed', () => {
    const bus = new ProgressBus();
    const notes: ProgressNote[] = [];
    const off = bus.on((n) => notes.push(n));
    const r = bus.reporter(op, 'x', (s) => s);
    r.say('one');
    off();
    r.say('two');
    expect(notes.map((n) => n.text)).toEqual(['one']);
  });
});
