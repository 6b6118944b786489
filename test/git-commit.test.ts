/**
 * The commit /status shows, read from .git's files (no git process at start): the same as
 * `git rev-parse HEAD` in a checkout, a worktree, with packed refs and on a detached HEAD.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitCommit } from '../src/app.js';
import { tempDir } from './support/app.js';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function git(cwd: string, ...args: string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't' };
  return execFileSync('git', args, { cwd, env: { ...env, GIT_COMMITTER_EMAIL: 't@x' } })
    .toString()
    .trim();
}

function repo(): string {
  const d = tempDir('teleops-git-');
  dirs.push(d);
  git(d.path, 'init', '-q', '-b', 'main');
  for (const n of [1, 2]) {
    writeFileSync(join(d.path, 'f'), String(n));
    git(d.path, 'add', 'f');
    git(d.path, 'commit', '-q', '-m', `c${n}`);
  }
  return d.path;
}

describe('gitCommit', () => {
  it("is git's own HEAD in a checkout, with packed refs, on a detached HEAD and in a worktree", () => {
    const r = repo();
    expect(gitCommit(r)).toBe(git(r, 'rev-parse', 'HEAD'));
    git(r, 'pack-refs', '--all');
    expect(gitCommit(r)).toBe(git(r, 'rev-parse', 'HEAD'));
    const wt = join(r, '..', `${r.split('/').at(-1)}-wt`);
    dirs.push({ remove: () => execFileSync('rm', ['-rf', wt]) });
    git(r, 'worktree', 'add', '-q', '-b', 'side', wt, 'HEAD~1');
    expect(gitCommit(wt)).toBe(git(wt, 'rev-parse', 'HEAD'));
    expect(gitCommit(wt)).not.toBe(gitCommit(r));
    git(r, 'checkout', '-q', '--detach', 'HEAD~1');
    expect(gitCommit(r)).toBe(git(r, 'rev-parse', 'HEAD'));
  });

  it('is nothing outside a checkout, and TELEOPS_COMMIT when set', () => {
    const d = tempDir('teleops-nogit-');
    dirs.push(d);
    expect(gitCommit(d.path)).toBeUndefined();
    process.env.TELEOPS_COMMIT = 'abc123';
    try {
      expect(gitCommit(d.path)).toBe('abc123');
    } finally {
      delete process.env.TELEOPS_COMMIT;
    }
  });
});
