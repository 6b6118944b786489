import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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

/** A directory teleops needs (STATE_DIR, the anchor's) cannot be made: a settings problem. */
export class DirError extends Error {
  override readonly name = 'DirError';
}
