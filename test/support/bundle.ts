/**
 * test/support/teleops.ts bundled by esbuild as deploy/bundle.mjs bundles the app for dist/:
 * the processes the tests start load a few files instead of compiling the sources through tsx
 * each time (about a second and a core each). Built once, when a process is first needed after
 * a source changed; the workers of a run share it. It lives one level under the root, as dist/
 * does, since the app finds package.json next to the folder its code is in (src/app.ts ROOT).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { BUILD_OPTIONS, esbuildOf } from '../../deploy/bundle.mjs';

const BUILT_BY = ['test/support/bundle.ts', 'deploy/bundle.mjs'];

interface Manifest {
  readonly entry: string;
  /** Every file the bundle was built from (relative to the root), with its mtime then. */
  readonly inputs: Record<string, number>;
}

const mtime = (file: string): number | undefined => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
};

function fresh(root: string, manifestFile: string): string | undefined {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
  if (mtime(join(dirname(manifestFile), m.entry)) === undefined) return undefined;
  // A new import shows as a change in the importing file, so the old inputs are enough to check.
  for (const [file, t] of Object.entries(m.inputs)) if (mtime(join(root, file)) !== t) return undefined;
  return m.entry;
}

/** Blocks the worker: a wait of seconds at most, once per file, while another worker builds. */
const sleepSync = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function locked<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A holder killed mid-build leaves its lock behind.
      if (Date.now() - (mtime(lock) ?? Date.now()) > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      sleepSync(100);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function build(root: string, outdir: string, manifestFile: string): string {
  const r = esbuildOf(root).buildSync({
    ...BUILD_OPTIONS,
    absWorkingDir: root,
    entryPoints: ['test/support/teleops.ts'],
    // Content-named, so that a process of an older build still running finds its own chunks.
    entryNames: '[name]-[hash]',
    outdir,
    write: false,
    metafile: true,
  });
  const names = new Set<string>();
  for (const f of r.outputFiles) {
    names.add(basename(f.path));
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  const entry = Object.entries(r.metafile.outputs).find(([, o]) => o.entryPoint !== undefined)![0];
  const inputs: Record<string, number> = {};
  // How it was built counts too.
  for (const file of [...Object.keys(r.metafile.inputs), ...BUILT_BY]) inputs[file] = mtime(join(root, file))!;
  const manifest: Manifest = { entry: relative(outdir, join(root, entry)), inputs };
  writeFileSync(`${manifestFile}.tmp`, JSON.stringify(manifest));
  renameSync(`${manifestFile}.tmp`, manifestFile);
  // Older builds' files (and those of a build killed mid-way), once no run can still be loading them.
  for (const name of readdirSync(outdir)) {
    const file = join(outdir, name);
    if (/\.(js|tmp)$/.test(name) && !names.has(name) && Date.now() - (mtime(file) ?? Date.now()) > 3_600_000)
      rmSync(file);
  }
  return manifest.entry;
}

let entry: string | undefined;

/** The bundled test entry, built first if it is missing or older than any of its sources. */
export function teleopsBundle(root: string): string {
  if (entry !== undefined) return entry;
  const outdir = join(root, '.test-dist');
  const manifestFile = join(outdir, 'manifest.json');
  mkdirSync(outdir, { recursive: true });
  const name =
    fresh(root, manifestFile) ??
    locked(join(outdir, 'lock'), () => fresh(root, manifestFile) ?? build(root, outdir, manifestFile));
  entry = join(outdir, name);
  return entry;
}
