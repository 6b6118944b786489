import { describe, expect, it } from 'vitest';
import { humanLine } from '../../src/core/log.js';

describe('humanLine', () => {
  it('turns a pino JSON line into time, level, message and fields, an error as its message only', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5);
    const json = JSON.stringify({
      level: 40,
      time,
      msg: 'Telegram is not reachable; retrying',
      retryInMs: 2000,
      err: { type: 'Error', message: 'connect ECONNREFUSED', stack: 'Error: x\n    at y' },
    });
    expect(humanLine(`${json}\n`)).toBe(
      '03:04:05 WARN Telegram is not reachable; retrying retryInMs=2000 err="connect ECONNREFUSED"\n',
    );
  });

  it('quotes a field with spaces, shows other values as JSON, and marks a level it does not know', () => {
    expect(humanLine(JSON.stringify({ level: 30, msg: 'm', a: 'x y', b: 'xy', c: { k: 1 }, d: null, e: [1] }))).toBe(
      'INFO m a="x y" b=xy c={"k":1} d=null e=[1]\n',
    );
    expect(humanLine(JSON.stringify({ level: 35, msg: 'odd' }))).toBe('35 odd\n');
    expect(humanLine(JSON.stringify({ msg: 'no level', err: { message: 7 } }))).toBe(
      'INFO no level err={"message":7}\n',
    );
    // pino's time is a number; anything else is not a time to show.
    expect(humanLine(JSON.stringify({ level: 50, time: 'yesterday' }))).toBe('ERROR \n');
  });

  it('passes anything that is not a log object through unchanged', () => {
    expect(humanLine('not json\n')).toBe('not json\n');
    expect(humanLine('42\n')).toBe('42\n');
    expect(humanLine('null\n')).toBe('null\n');
  });
});
