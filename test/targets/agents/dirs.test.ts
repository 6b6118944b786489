import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { inside, staysInside } from '../../../src/targets/agents/dirs.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'teleops-agent-dirs-')));
const dir = join(base, 'proj');
mkdirSync(join(dir, 'src', 'deep'), { recursive: true });
writeFileSync(join(dir, 'src', 'a.ts'), '');
writeFileSync(join(base, 'secret.env'), 'TOKEN=x');
symlinkSync(base, join(dir, 'up'));
symlinkSync(join(dir, 'src'), join(dir, 'src-link'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Where a path really leads: the file, or (not there yet) its real directory. */
function realTarget(p: string): string | undefined {
  const abs = resolve(dir, p);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), abs.slice(dirname(abs).length + 1));
    } catch {
      return undefined;
    }
  }
}

describe('staysInside', () => {
  it('never lets a path that leads out of the session directory skip the gate, however it is spelled', async () => {
    const seen = { inside: 0, outside: 0 };
    const segment = fc.constantFrom('src', 'deep', 'a.ts', '..', '.', 'up', 'src-link', 'secret.env', 'new.txt', '');
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 6, size: 'max' }),
        fc.boolean(),
        fc.constantFrom('file_path', 'path'),
        async (segs, absolute, key) => {
          const p = absolute ? `${dir}/${segs.join('/')}` : segs.join('/');
          const ok = await staysInside({ [key]: p }, dir);
          const target = realTarget(p);
          if (ok) {
            seen.inside++;
            // Without `..`, path.resolve and the kernel agree on where the path leads.
            expect(p.split('/').includes('..'), p).toBe(false);
            expect(target !== undefined && inside(target, dir), p).toBe(true);
          } else seen.outside++;
        },
      ),
      { numRuns: 300 },
    );
    expect(seen.inside).toBeGreaterThan(0);
    expect(seen.outside).toBeGreaterThan(0);
  });

  it('asks for absolute or climbing Glob patterns and for paths that are not strings', async () => {
    expect(await staysInside({ pattern: '**/*.ts' }, dir)).toBe(true);
    expect(await staysInside({ pattern: '/etc/*' }, dir)).toBe(false);
    expect(await staysInside({ pattern: 'src/../../*' }, dir)).toBe(false);
    expect(await staysInside({ path: ['x'] }, dir)).toBe(false);
    expect(await staysInside({ file_path: 'up/secret.env' }, dir)).toBe(false);
    expect(await staysInside({ file_path: 'src-link/a.ts' }, dir)).toBe(true);
    // The kernel reads up/../secret.env as base/../secret.env; path.resolve says proj/secret.env.
    expect(await staysInside({ file_path: 'up/../secret.env' }, dir)).toBe(false);
    expect(await staysInside({ file_path: 'src/../src/a.ts' }, dir)).toBe(false);
  });
});
