import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageType, INBOX, inboxName, saveToInbox } from '../../../src/targets/agents/inbox.js';

let dir: string;
let proj: string;
let outside: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'teleops-inbox-'));
  proj = join(dir, 'proj');
  outside = join(dir, 'outside');
  mkdirSync(proj);
  mkdirSync(outside);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('inbox names', () => {
  it('are one plain path part, never hidden, never . or ..', () => {
    let climbing = 0;
    const part = fc.constantFrom('..', '.', '/', '\\', 'etc', '-rf', '.ssh', ' ', '\u0000', 'é', 'x.jpg', '');
    fc.assert(
      fc.property(fc.array(part, { size: 'max', maxLength: 30 }), fc.string(), (parts, tail) => {
        const raw = parts.join('') + tail;
        if (raw.includes('../')) climbing++;
        const name = inboxName(raw);
        expect(name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/);
        expect(['.', '..']).not.toContain(name);
      }),
      { numRuns: 2000 },
    );
    expect(climbing).toBeGreaterThan(100);
    expect(inboxName('../../etc/x')).toBe('x');
    expect(inboxName('..')).toBe('file');
    expect(inboxName('.bashrc')).toBe('bashrc');
    expect(inboxName('-rf')).toBe('rf');
    expect(inboxName('C:\\Users\\a\\report (1).pdf')).toBe('report_1_.pdf');
  });
});

describe('saving to the inbox', () => {
  it('creates a fresh 0600 file; the same name again gets a number', async () => {
    expect(await saveToInbox(proj, '../../etc/x', Buffer.from('one'))).toBe('x');
    expect(await saveToInbox(proj, 'x', Buffer.from('two'))).toBe('x-1');
    expect(await saveToInbox(proj, 'a.txt', Buffer.from('3'))).toBe('a.txt');
    expect(await saveToInbox(proj, 'a.txt', Buffer.from('4'))).toBe('a-1.txt');
    expect(readFileSync(join(proj, INBOX, 'x'), 'utf8')).toBe('one');
    expect(lstatSync(join(proj, INBOX, 'x')).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(proj, INBOX)).mode & 0o777).toBe(0o700);
  });

  it('never writes through a link: not an inbox that is a link, nor a link left under a name', async () => {
    symlinkSync(outside, join(proj, INBOX));
    await expect(saveToInbox(proj, 'x', Buffer.from('evil'))).rejects.toThrow(/not a plain directory/);
    expect(existsSync(join(outside, 'x'))).toBe(false);

    rmSync(join(proj, INBOX));
    mkdirSync(join(proj, INBOX));
    writeFileSync(join(outside, 'target'), 'keep');
    symlinkSync(join(outside, 'target'), join(proj, INBOX, 'x'));
    expect(await saveToInbox(proj, 'x', Buffer.from('evil'))).toBe('x-1');
    expect(readFileSync(join(outside, 'target'), 'utf8')).toBe('keep');
  });
});

describe('image types', () => {
  it('are read from the bytes, not the declared type', () => {
    expect(imageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1]))).toBe('image/jpeg');
    expect(imageType(Buffer.from('89504e470d0a1a0a00', 'hex'))).toBe('image/png');
    expect(imageType(Buffer.from('GIF89a'))).toBe('image/gif');
    expect(imageType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(imageType(Buffer.from('<svg onload=alert(1)>'))).toBeUndefined();
    expect(imageType(Buffer.alloc(6 * 1024 * 1024, 0xff))).toBeUndefined();
  });
});
