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

  it('passes anything that is not a log object through unchanged', () => {
    expect(humanLine('not json\n')).toBe('not json\n');
    expect(humanLine('42\n')).toBe('42\n');
  });
});
