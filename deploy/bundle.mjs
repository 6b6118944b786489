// The app and its pure-JavaScript dependencies bundled by esbuild (which tsx already brings)
// into one directory of ES modules: what `npm ci` / `npm run build` put in dist/ and what the
// image ships. A few files load far faster than the thousand loose files of node_modules
// (cold start). Plain JavaScript: it runs before anything is compiled.
//   node deploy/bundle.mjs [OUT_DIR]   (default dist/)
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Native: loaded from node_modules with its own binding, never bundled. */
export const NATIVE = ['better-sqlite3'];
/**
 * Native and optional: ssh2 (Docker over ssh) tries it and works without it, so it is neither
 * bundled nor shipped in the image.
 */
const OPTIONAL_NATIVE = ['cpu-features'];

/**
 * What every bundle of the app is built with: the tests bundle their entry (test/support/bundle.ts)
 * the same way, without minifying.
 */
export const BUILD_OPTIONS = {
  bundle: true,
  // Chunks, so that what loads lazily (the Kubernetes client, the AI SDK) still loads only when used.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [...NATIVE, ...OPTIONAL_NATIVE],
  // Bundled CommonJS packages call require() and read __dirname (ssh2); ESM output has neither.
  banner: {
    js:
      "import { createRequire as __teleopsRequire } from 'node:module'; const require = __teleopsRequire(import.meta.url);" +
      " import { fileURLToPath as __teleopsPath } from 'node:url'; const __filename = __teleopsPath(import.meta.url);" +
      " const __dirname = __teleopsPath(new URL('.', import.meta.url));",
  },
  logLevel: 'warning',
};

/** esbuild, as tsx (a dependency of the checkout at `src`) brings it. */
export function esbuildOf(src) {
  return createRequire(createRequire(join(src, 'package.json')).resolve('tsx/package.json'))('esbuild');
}

/** Bundles src/cli.ts of the checkout at `src` into `outdir` (emptied first). */
export async function bundle(src, outdir) {
  rmSync(outdir, { recursive: true, force: true });
  await esbuildOf(src).build({
    ...BUILD_OPTIONS,
    absWorkingDir: src,
    entryPoints: ['src/cli.ts'],
    outdir,
    // Smaller and faster to parse; names are kept, so stack traces still read.
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'eof',
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await bundle(root, resolve(process.argv[2] ?? join(root, 'dist')));
}
