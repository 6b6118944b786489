// Types of bundle.mjs, for the TypeScript that imports it (test/support/bundle.ts).
import type * as esbuild from 'esbuild';

export const NATIVE: readonly string[];
export const BUILD_OPTIONS: esbuild.BuildOptions;
export function esbuildOf(src: string): typeof esbuild;
export function bundle(src: string, outdir: string): Promise<void>;
