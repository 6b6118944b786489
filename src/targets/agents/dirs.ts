/**
 * Where an agent may work: a directory that, with every symlink resolved, lies inside one
 * of AGENT_ROOTS (also resolved). Checked on the real path, so a link inside a root that
 * points outside it is refused.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve, sep } from 'node:path';
import { ActionError } from '../../core/action.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const inside = (path: string, root: string): boolean =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The real path of `dir` when it is a directory inside a root; an ActionError otherwise. */
export async function checkAgentDir(dir: string, roots: readonly string[]): Promise<string> {
  if (!dir.startsWith('/') || CONTROL.test(dir))
    throw new ActionError('the directory must be an absolute path without control characters');
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined || !(await stat(real)).isDirectory()) throw new ActionError('no such directory');
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)));
  if (!realRoots.some((r) => r !== undefined && inside(real, r))) {
    throw new ActionError(`the directory is outside AGENT_ROOTS (${roots.join(', ')})`);
  }
  return real;
}

const climbs = (p: string): boolean => p.split(/[\\/]/).includes('..');

/** Input keys that name a file or directory in Claude Code's read-only tools. */
const PATH_KEYS = ['file_path', 'path', 'notebook_path'] as const;

/**
 * Whether a read-only tool call stays inside the session's directory (`dir`, a real path):
 * every path it names resolves, links followed, inside it, and a Glob pattern neither is
 * absolute nor climbs out. Only such calls may skip the gate; a Read of /etc or of teleops'
 * own settings file is asked like any other tool.
 */
export async function staysInside(input: Readonly<Record<string, unknown>>, dir: string): Promise<boolean> {
  const pattern = input.pattern;
  if (typeof pattern === 'string' && (isAbsolute(pattern) || climbs(pattern))) return false;
  for (const key of PATH_KEYS) {
    const p = input[key];
    if (p === undefined) continue;
    // After a link, `..` climbs from the link's target, not as path.resolve reads it: always ask.
    if (typeof p !== 'string' || climbs(p)) return false;
    const abs = resolve(dir, p);
    const real = await realpath(abs).catch(async () => {
      // A file not there yet: its directory decides.
      const parent = await realpath(dirname(abs)).catch(() => undefined);
      return parent === undefined ? undefined : resolve(parent, basename(abs));
    });
    if (real === undefined || !inside(real, dir)) return false;
  }
  return true;
}
