/**
 * Where an agent may work: a directory that, with every symlink resolved, lies inside one
 * of AGENT_ROOTS (also resolved). Checked on the real path, so a link inside a root that
 * points outside it is refused.
 */
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { ActionError } from '../../core/action.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const inside = (path: string, root: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The real path of `dir` when it is a directory inside a root; an ActionError otherwise. */
export async function checkAgentDir(dir: string, roots: readonly string[]): Promise<string> {
  if (!dir.startsWith('/') || CONTROL.test(dir)) throw new ActionError('the directory must be an absolute path without control characters');
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined || !(await stat(real)).isDirectory()) throw new ActionError('no such directory');
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)));
  if (!realRoots.some((r) => r !== undefined && inside(real, r))) {
    throw new ActionError(`the directory is outside AGENT_ROOTS (${roots.join(', ')})`);
  }
  return real;
}
