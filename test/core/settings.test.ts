import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { absolutePath, bool, every, ids, int, list, num, text, url } from '../../src/core/settings.js';

/** What a setting's text parses to, or the one-line problems shown for it. */
function parse(schema: z.ZodType, s: string): { value: unknown } | { problems: string[] } {
  const r = schema.safeParse(s);
  return r.success ? { value: r.data } : { problems: r.error.issues.map((i) => i.message) };
}

describe('ids', () => {
  const users = ids('Telegram user');

  it('reads a comma-separated list, spaces and empty items ignored, negative chat ids kept', () => {
    expect(parse(users, ' 42 , -1001234567890 ,, 7 ')).toEqual({ value: [42, -1001234567890, 7] });
    expect(parse(users, '')).toEqual({ value: [] });
  });

  it('refuses what is not written as a plain whole number, naming the item and what it should be', () => {
    for (const bad of ['+12', '12.0', '1e3', '0x10', 'abc', '000000000000000000001']) {
      expect(parse(users, `5, ${bad}`)).toEqual({ problems: [`"${bad}" is not a numeric Telegram user id`] });
    }
  });

  it('refuses an id too large to be held exactly (2^53 + 1)', () => {
    expect(parse(users, '9007199254740993')).toEqual({
      problems: ['"9007199254740993" is not a numeric Telegram user id'],
    });
    expect(parse(users, '9007199254740991')).toEqual({ value: [9007199254740991] });
  });
});

describe('bool', () => {
  it('reads the usual words for true and false, in any case, spaces ignored', () => {
    for (const yes of ['1', 'true', 'yes', 'on', ' TRUE ', 'Yes', 'ON'])
      expect(parse(bool, yes)).toEqual({ value: true });
    for (const no of ['0', 'false', 'no', 'off', '', '   ', ' Off ', 'NO'])
      expect(parse(bool, no)).toEqual({ value: false });
  });

  it('refuses anything else, quoting it', () => {
    expect(parse(bool, 'maybe')).toEqual({ problems: ['"maybe" is not true or false'] });
    expect(parse(bool, 'y')).toEqual({ problems: ['"y" is not true or false'] });
  });
});

describe('int', () => {
  const port = int(1, 65535);

  it('reads a whole number within its bounds, both bounds included, spaces ignored', () => {
    expect(parse(port, ' 8080 ')).toEqual({ value: 8080 });
    expect(parse(port, '1')).toEqual({ value: 1 });
    expect(parse(port, '65535')).toEqual({ value: 65535 });
  });

  it('refuses a number out of bounds or not written as plain digits, naming the bounds', () => {
    for (const bad of ['0', '65536', '-1', '80x', 'x80', '8.5', '1e3', '', 'port']) {
      expect(parse(port, bad)).toEqual({ problems: [`"${bad}" must be a whole number from 1 to 65535`] });
    }
  });
});

describe('num', () => {
  const ratio = num(0.5, 2);

  it('reads a number within its bounds, both bounds included, spaces ignored', () => {
    expect(parse(ratio, ' 1.25 ')).toEqual({ value: 1.25 });
    expect(parse(ratio, '0.5')).toEqual({ value: 0.5 });
    expect(parse(ratio, '2')).toEqual({ value: 2 });
  });

  it('refuses a number out of bounds, a word, or nothing at all, naming the bounds', () => {
    for (const bad of ['0.49', '2.01', 'abc', 'Infinity']) {
      expect(parse(ratio, bad)).toEqual({ problems: [`"${bad}" must be a number from 0.5 to 2`] });
    }
    // Number('') and Number('  ') are 0: a range starting at 0 must still refuse a blank.
    const share = num(0, 1);
    for (const blank of ['', '  ']) {
      expect(parse(share, blank)).toEqual({ problems: [`"${blank}" must be a number from 0 to 1`] });
    }
    expect(parse(share, '0')).toEqual({ value: 0 });
  });
});

describe('text and list', () => {
  it('text is trimmed', () => {
    expect(parse(text, '  a b  ')).toEqual({ value: 'a b' });
  });

  it('list splits on commas, items trimmed, empty items dropped', () => {
    expect(parse(list, ' a , b c,, ,d ')).toEqual({ value: ['a', 'b c', 'd'] });
  });
});

describe('absolutePath', () => {
  it('keeps an absolute path, trimmed, and an empty value (unset)', () => {
    expect(parse(absolutePath, ' /var/lib/teleops ')).toEqual({ value: '/var/lib/teleops' });
    expect(parse(absolutePath, '')).toEqual({ value: '' });
  });

  it('refuses a relative path, quoting it', () => {
    for (const bad of ['state/audit', 'state/', './x']) {
      expect(parse(absolutePath, bad)).toEqual({ problems: [`"${bad}" must be an absolute path`] });
    }
  });
});

describe('url', () => {
  it('keeps an http or https URL, trimmed, without its trailing slash', () => {
    expect(parse(url, ' https://llm.example/v1/ ')).toEqual({ value: 'https://llm.example/v1' });
    expect(parse(url, 'http://localhost:11434')).toEqual({ value: 'http://localhost:11434' });
    expect(parse(url, 'HTTP://Host.Example/a/b')).toEqual({ value: 'http://host.example/a/b' });
  });

  it('refuses another scheme or what is not a URL, quoting it', () => {
    for (const bad of ['ftp://files.example/', 'file:///etc/passwd', 'llm.example/v1', '']) {
      expect(parse(url, bad)).toEqual({ problems: [`"${bad}" is not an http(s) URL`] });
    }
  });
});

describe('every', () => {
  it('reads a duration of 1s or more, in any case, spaces ignored', () => {
    expect(parse(every, '1s')).toEqual({ value: 1000 });
    expect(parse(every, '30s')).toEqual({ value: 30_000 });
    expect(parse(every, ' 10M ')).toEqual({ value: 600_000 });
    expect(parse(every, '1h30m')).toEqual({ value: 5_400_000 });
  });

  it('reads 0 and off as never', () => {
    for (const never of ['0', 'off', ' OFF ']) expect(parse(every, never)).toEqual({ value: 0 });
  });

  it('refuses a duration under a second, or what is not a duration, quoting it', () => {
    for (const bad of ['0s', 'soon', '10', 'no', '']) {
      expect(parse(every, bad)).toEqual({
        problems: [`"${bad}" is not a duration of 1s or more (like 30s, 10m, 1h) or 0/off`],
      });
    }
  });
});
