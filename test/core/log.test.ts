import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, humanLine, silentLogger } from '../../src/core/log.js';

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

describe('createLogger', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  /**
   * A logger writing to a real file, and what the file holds once a whole line has landed. The
   * writes are asynchronous and pino's flush does not wait for one in flight (minLength 0), so
   * this waits on the file itself; each test writes one line after anything it expects to be left out.
   */
  function toFile(level: string, human?: boolean) {
    const dir = mkdtempSync(join(tmpdir(), 'teleops-log-'));
    const file = join(dir, 'stderr');
    const fd = openSync(file, 'w');
    cleanups.push(() => {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    });
    const log = createLogger(level, (s) => s.replaceAll('hunter2', '[REDACTED]'), human, fd);
    const written = async () => {
      for (let waited = 0; waited < 10_000; waited += 10) {
        const text = readFileSync(file, 'utf8');
        if (text.endsWith('\n')) return text;
        await new Promise((r) => setTimeout(r, 10));
      }
      return readFileSync(file, 'utf8');
    };
    return { log, written };
  }

  it('writes JSON lines, redacted, without pid or hostname, from its level up', async () => {
    const { log, written } = toFile('info', false);
    log.debug('not shown');
    log.info({ password: 'hunter2' }, 'logged in as admin:hunter2');
    const lines = (await written()).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({
      level: 30,
      time: expect.any(Number),
      password: '[REDACTED]',
      msg: 'logged in as admin:[REDACTED]',
    });
  });

  it('writes lines a person reads when asked to, redacted before they are shaped', async () => {
    const { log, written } = toFile('debug', true);
    log.debug({ password: 'hunter2' }, 'trying');
    expect(await written()).toMatch(/^\d\d:\d\d:\d\d DEBUG trying password=\[REDACTED\]\n$/);
  });

  it('writes human lines by default only when stderr is a terminal', async () => {
    const tty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
    cleanups.push(() => {
      if (tty) Object.defineProperty(process.stderr, 'isTTY', tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    });
    for (const [isTTY, shape] of [
      [undefined, /^\{"level":40,/],
      [true, /^\d\d:\d\d:\d\d WARN careful\n$/],
    ] as const) {
      Object.defineProperty(process.stderr, 'isTTY', { value: isTTY, configurable: true, writable: true });
      const { log, written } = toFile('info');
      log.warn('careful');
      expect(await written()).toMatch(shape);
    }
  });
});

describe('silentLogger', () => {
  it('drops everything', () => {
    const log = silentLogger();
    expect(['fatal', 'error', 'warn', 'info', 'debug'].map((l) => log.isLevelEnabled(l))).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
