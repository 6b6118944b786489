#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (built by `npm ci`) when it is at least as new as
// every source file; otherwise the TypeScript sources directly, so an edit never runs stale
// code and there is no build step for anyone to remember. An image ships dist/ without src/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function builtIsFresh() {
  try {
    const src = join(root, 'src');
    return statSync(join(root, 'dist', 'cli.js')).mtimeMs >= (existsSync(src) ? newest(src) : 0);
  } catch {
    return false;
  }
}

let cli;
if (builtIsFresh()) {
  cli = await import('../dist/cli.js');
} else {
  // Compiling the sources on the fly takes a while the first time: say so, on stderr (stdout
  // stays the command's own, e.g. `doctor --json`), and only to a person at a terminal.
  if (process.stderr.isTTY)
    process.stderr.write(
      'teleops: compiling the TypeScript sources (dist/ is missing or older than src/; `npm run build` makes starts fast)…\n',
    );
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli.ts');
}
await cli.main(process.argv.slice(2));
