import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { DirError, makeDirs, unwritableDir } from '../../src/core/dirs.js';
import { tmpfsUnavailable } from '../support/tmpfs.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'teleops-dirs-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const mode = (p: string): number => statSync(p).mode & 0o777;

describe('makeDirs', () => {
  it('makes every missing level, private by default, and leaves what exists alone', () => {
    const d = temp();
    makeDirs(join(d, 'a', 'b', 'c'));
    expect([mode(join(d, 'a')), mode(join(d, 'a', 'b')), mode(join(d, 'a', 'b', 'c'))]).toEqual([0o700, 0o700, 0o700]);
    makeDirs(join(d, 'a', 'b'), 0o755);
    expect(mode(join(d, 'a', 'b'))).toBe(0o700);
    makeDirs(join(d, 'x', 'y'), 0o750);
    expect([mode(join(d, 'x')), mode(join(d, 'x', 'y'))]).toEqual([0o750, 0o750]);
    makeDirs('/');
  });

  it('names the level it cannot make and why, at once, where mkdir -p would loop (under /proc)', () => {
    expect(() => makeDirs('/proc/teleops-none/state')).toThrow(
      new DirError('cannot create the directory /proc/teleops-none (ENOENT)'),
    );
    const d = temp();
    writeFileSync(join(d, 'file'), '');
    expect(() => makeDirs(join(d, 'file', 'state'))).toThrow(`cannot create the directory ${d}/file/state (ENOTDIR)`);
    expect(() => makeDirs(join(d, 'file', 'state'))).toThrow(DirError);
  });

  it('keeps the error of mkdir as the cause, and names itself', () => {
    const d = temp();
    writeFileSync(join(d, 'file'), '');
    let thrown: unknown;
    try {
      makeDirs(join(d, 'file', 'state'));
    } catch (e) {
      thrown = e;
    }
    expect(String(thrown)).toBe(`DirError: cannot create the directory ${d}/file/state (ENOTDIR)`);
    expect((thrown as Error).cause).toMatchObject({ code: 'ENOTDIR', syscall: 'mkdir' });
  });
});

describe('unwritableDir', () => {
  it('says nothing of a directory that takes a write, and leaves no probe behind', () => {
    const d = temp();
    expect(unwritableDir(d)).toBeUndefined();
    expect(readdirSync(d)).toEqual([]);
  });

  it('writes nothing through a symlink planted under its probe file, and removes only the link', () => {
    const d = temp();
    const victim = join(temp(), 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, join(d, '.teleops-write-probe'));
    unwritableDir(d);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readdirSync(d)).toEqual([]);
  });

  it('says nothing when the reason is not the directory (it does not exist)', () => {
    expect(unwritableDir(join(temp(), 'none'))).toBeUndefined();
  });

  const missing = tmpfsUnavailable();
  if (missing && process.env.CI === 'true') throw new Error(`these tests need a tmpfs under CI=true: ${missing}`);

  it.skipIf(missing !== undefined)('tells a read-only filesystem and a full one apart', () => {
    const d = temp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]);
    cleanups.push(() => execFileSync('umount', ['-l', d]));
    writeFileSync(join(d, 'keep'), '');
    // Filled to the last block: empty files still fit, a byte does not.
    execFileSync('sh', ['-c', `cat /dev/zero > ${d}/filler 2>/dev/null; true`]);
    expect(unwritableDir(d)).toBe(`${d} is full`);
    expect(existsSync(join(d, '.teleops-write-probe'))).toBe(false);
    rmSync(join(d, 'filler'));
    expect(unwritableDir(d)).toBeUndefined();
    execFileSync('mount', ['-o', 'remount,ro', d]);
    expect(unwritableDir(d)).toBe(`${d} is on a read-only filesystem`);
  });

  it.skipIf(missing !== undefined)('names a directory the filesystem refuses a write to (immutable): EPERM', (ctx) => {
    const d = temp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d]);
    cleanups.push(() => execFileSync('umount', ['-l', d]));
    try {
      execFileSync('chattr', ['+i', d], { stdio: 'ignore' });
    } catch {
      ctx.skip('chattr +i is not supported on tmpfs here (Linux < 6.0)');
    }
    cleanups.push(() => execFileSync('chattr', ['-i', d]));
    expect(unwritableDir(d)).toBe(`${d} is not writable (EPERM)`);
  });

  it.skipIf(missing !== undefined)('names a directory that takes no new file (EACCES: a sysfs of its own)', (ctx) => {
    const d = temp();
    try {
      execFileSync('mount', ['-t', 'sysfs', 'sysfs', d], { stdio: 'ignore' });
    } catch {
      ctx.skip('mount -t sysfs is not allowed here');
    }
    cleanups.push(() => execFileSync('umount', ['-l', d]));
    expect(unwritableDir(d)).toBe(`${d} is not writable (EACCES)`);
  });

  // teleops under a user of its own, not root: the directories are root's. The effective user
  // can change only in a process of its own (vitest's forks), not in a worker thread.
  it.skipIf(process.getuid?.() !== 0 || !isMainThread)(
    "names a directory the process's user may not write or even search (EACCES)",
    () => {
      const open = temp();
      chmodSync(open, 0o755);
      // Not even searchable: the probe's removal must not turn the answer into an exception.
      const closed = temp();
      process.seteuid!(65534);
      let said: (string | undefined)[];
      try {
        said = [unwritableDir(open), unwritableDir(closed)];
      } finally {
        process.seteuid!(0);
      }
      expect(said).toEqual([`${open} is not writable (EACCES)`, `${closed} is not writable (EACCES)`]);
      expect([readdirSync(open), readdirSync(closed)]).toEqual([[], []]);
    },
  );
});
