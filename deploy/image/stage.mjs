// Turns a checkout into the production app tree of the image: dist/ compiled, production
// dependencies only, nothing an image does not run (sources, type declarations, source maps,
// the native module's build leftovers). Runs in the Dockerfile's build stage; `npm run image`
// runs it on the host instead (same Node ABI) and the build stage then only copies and checks.
// The checkout is the one this file lives in.
// Plain JavaScript: it must run before anything is installed.
//   node deploy/image/stage.mjs OUT_DIR [STATE_DIR]
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [out, stateDir] = process.argv.slice(2).map((p) => resolve(p));
if (!out) {
  process.stderr.write('usage: node deploy/image/stage.mjs OUT_DIR [STATE_DIR]\n');
  process.exit(2);
}
const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: 'inherit' });

/** Files in node_modules that nothing loads at run time. */
const DROP = /\.(map|d\.ts|d\.mts|d\.cts|md|markdown|tsbuildinfo)$/i;

function trim(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) trim(p);
    else if (e.isFile() && DROP.test(e.name)) rmSync(p);
  }
}

function stage() {
  if (!existsSync(join(src, 'node_modules'))) run('npm', ['ci', '--no-audit', '--no-fund'], src);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  run(process.execPath, [join(src, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(out, 'dist'), '--sourceMap', 'false'], src);
  for (const f of ['package.json', 'package-lock.json', 'LICENSE', 'bin']) cpSync(join(src, f), join(out, f), { recursive: true });
  cpSync(join(src, 'node_modules'), join(out, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  run('npm', ['prune', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], out);
  trim(join(out, 'node_modules'));
  // tsx (and its esbuild) only runs the TypeScript sources, which an image does not have:
  // bin/teleops.js runs dist/ when src/ is absent.
  for (const d of ['tsx', 'esbuild', '@esbuild']) rmSync(join(out, 'node_modules', d), { recursive: true, force: true });
  // better-sqlite3 keeps its C sources and object files next to the one .node it loads.
  const sqlite = join(out, 'node_modules/better-sqlite3');
  for (const d of ['deps', 'src']) rmSync(join(sqlite, d), { recursive: true, force: true });
  for (const e of readdirSync(join(sqlite, 'build'))) if (e !== 'Release') rmSync(join(sqlite, 'build', e), { recursive: true });
  for (const e of readdirSync(join(sqlite, 'build/Release'))) if (e !== 'better_sqlite3.node') rmSync(join(sqlite, 'build/Release', e), { recursive: true });
}

const prebuilt = join(src, 'staged');
if (existsSync(prebuilt) && statSync(prebuilt).isDirectory()) {
  rmSync(out, { recursive: true, force: true });
  cpSync(prebuilt, out, { recursive: true, verbatimSymlinks: true });
} else stage();
if (stateDir) mkdirSync(stateDir, { recursive: true });

// The native module must load under the Node that runs this script (the image's, in the build stage).
const Database = createRequire(join(out, 'package.json'))('better-sqlite3');
const db = new Database(':memory:');
db.prepare('select 1').get();
db.close();
process.stdout.write(`staged ${out}: node ${process.version} (ABI ${process.versions.modules}), better-sqlite3 loads\n`);
