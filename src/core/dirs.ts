import { accessSync, constants, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's `mkdirSync(p, { recursive: true })` loops forever
 * where mkdir says ENOENT under a parent that exists (any path under /proc), so a bad
 * STATE_DIR would hang the process at 100% CPU instead of naming the problem.
 */
export function makeDirs(path: string, mode = 0o700): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d, { mode });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      throw new DirError(`cannot create the directory ${d} (${code ?? (e as Error).message})`, { cause: e });
    }
  }
}

/**
 * A place teleops needs (STATE_DIR, the database in it, the anchor file or its directory) cannot
 * be made or opened: a settings problem.
 */
export class DirError extends Error {
  override readonly name = 'DirError';
}

/**
 * Why `dir` cannot be written, as the filesystem says it (SQLite only says "disk I/O error" or
 * "unable to open database file"); undefined when it can be, or the reason is not this. A file
 * with a byte in it is made and removed: a filesystem that turned read-only after an error still
 * looks writable to access(2) on some kernels (ext4's emergency read-only).
 */
export function unwritableDir(dir: string): string | undefined {
  const probe = join(dir, '.teleops-write-probe');
  try {
    accessSync(dir, constants.W_OK);
    // A byte, not an empty file: a full filesystem still makes empty files. Created, never
    // opened: a symlink planted under the probe's name is not written through.
    writeFileSync(probe, '.', { flag: 'wx' });
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return `${dir} is on a read-only filesystem`;
    if (code === 'ENOSPC' || code === 'EDQUOT') return `${dir} is full`;
    if (code === 'EACCES' || code === 'EPERM') return `${dir} is not writable (${code})`;
    return undefined;
  } finally {
    try {
      // Left empty when the byte did not fit.
      rmSync(probe);
    } catch {
      // Never made, or in a directory that cannot even be searched: the answer above stands.
    }
  }
}
