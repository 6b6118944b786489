// Turns a checkout into the production app tree of the image: the app and its pure-JavaScript
// dependencies bundled into dist/ (deploy/bundle.mjs, as `npm ci` builds it), plus the one native
// module and what it loads at run time. Nothing an image does not run: no sources, type
// declarations, tests, other platforms' prebuilds, or loose files of a thousand packages that
// cost start time. Runs in the Dockerfile's build stage; `npm run image` runs it on the host
// instead (same Node ABI) and the build stage then only copies and checks.
// The checkout is the one this file lives in.
// Plain JavaScript: it must run before anything is installed.
//   node deploy/image/stage.mjs OUT_DIR [STATE_DIR]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, NATIVE } from '../bundle.mjs';

const [out, stateDir] = process.argv.slice(2).map((p) => resolve(p));
if (!out) {
  process.stderr.write('usage: node deploy/image/stage.mjs OUT_DIR [STATE_DIR]\n');
  process.exit(2);
}
const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'inherit' });

/** Dependencies of the native module that only its install script runs. */
const INSTALL_ONLY = new Set(['prebuild-install']);

/** The package and everything it requires at run time, by package.json `dependencies`. */
function closure(names, seen = new Set()) {
  for (const name of names) {
    if (seen.has(name) || INSTALL_ONLY.has(name)) continue;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(src, 'node_modules', name, 'package.json'), 'utf8'));
    closure(Object.keys(pkg.dependencies ?? {}), seen);
  }
  return seen;
}

async function stage() {
  if (!existsSync(join(src, 'node_modules'))) run('npm', ['ci', '--no-audit', '--no-fund'], src);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await bundle(src, join(out, 'dist'));
  for (const f of ['package.json', 'package-lock.json', 'LICENSE', 'bin'])
    cpSync(join(src, f), join(out, f), { recursive: true });
  for (const name of closure(NATIVE))
    cpSync(join(src, 'node_modules', name), join(out, 'node_modules', name), {
      recursive: true,
      verbatimSymlinks: true,
    });
  // better-sqlite3 keeps its C sources and object files next to the one .node it loads.
  const sqlite = join(out, 'node_modules/better-sqlite3');
  for (const d of ['deps', 'src']) rmSync(join(sqlite, d), { recursive: true, force: true });
  for (const e of readdirSync(join(sqlite, 'build')))
    if (e !== 'Release') rmSync(join(sqlite, 'build', e), { recursive: true });
  for (const e of readdirSync(join(sqlite, 'build/Release')))
    if (e !== 'better_sqlite3.node') rmSync(join(sqlite, 'build/Release', e), { recursive: true });
}

const prebuilt = join(src, 'staged');
if (existsSync(prebuilt) && statSync(prebuilt).isDirectory()) {
  rmSync(out, { recursive: true, force: true });
  cpSync(prebuilt, out, { recursive: true, verbatimSymlinks: true });
} else await stage();
if (stateDir) mkdirSync(stateDir, { recursive: true });

// The native module must load under the Node that runs this script (the image's, in the build stage).
const Database = createRequire(join(out, 'package.json'))('better-sqlite3');
const db = new Database(':memory:');
db.prepare('select 1').get();
db.close();
process.stdout.write(
  `staged ${out}: node ${process.version} (ABI ${process.versions.modules}), better-sqlite3 loads\n`,
);
