import { open, readdir, stat, unlink } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** The downloads folder keeps at most this many bytes and files; the oldest are removed first. */
export const DOWNLOADS_MAX_BYTES = 256 * 1024 * 1024;
export const DOWNLOADS_MAX_FILES = 100;
/** "api-20250101-120000.log", then "api-20250101-120000-2.log", … up to this many. */
const MAX_SUFFIX = 10_000;

export interface DownloadBounds {
  readonly maxBytes: number;
  readonly maxFiles: number;
}

/** A name that stays inside the folder: no path separators, no leading dots (".." or a hidden file). */
export function safeFilename(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '') || 'download';
}

/**
 * Writes `source` through `filter` to a new file in `dir` and returns its path. The file is
 * created exclusively, so two downloads of the same name (two `/docker logs api 500` in one
 * second) get two files, never one overwritten. Afterwards the folder is brought back under
 * `bounds`, oldest first; the file just written is always kept.
 */
export async function saveDownload(
  dir: string,
  filename: string,
  source: Readable,
  filter: Transform,
  bounds: DownloadBounds = { maxBytes: DOWNLOADS_MAX_BYTES, maxFiles: DOWNLOADS_MAX_FILES },
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const safe = safeFilename(filename);
  const ext = extname(safe);
  const stem = safe.slice(0, safe.length - ext.length);
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const path = join(dir, n === 1 ? safe : `${stem}-${n}${ext}`);
    let handle;
    try {
      handle = await open(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      await pipeline(source, filter, handle.createWriteStream());
    } catch (e) {
      await unlink(path).catch(() => undefined);
      throw e;
    }
    await prune(dir, path, bounds);
    return path;
  }
  throw new Error(`${MAX_SUFFIX} files named like ${safe} in ${dir} already`);
}

/** Removes the oldest files until the folder is within bounds, keeping `keep`. */
async function prune(dir: string, keep: string, bounds: DownloadBounds): Promise<void> {
  const files: { path: string; size: number; mtime: number }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(dir, entry.name);
    // A file removed meanwhile (another download pruning) is simply not counted.
    const s = await stat(path).catch(() => undefined);
    if (s) files.push({ path, size: s.size, mtime: s.mtimeMs });
  }
  files.sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path));
  let bytes = files.reduce((sum, f) => sum + f.size, 0);
  let count = files.length;
  for (const f of files) {
    if (bytes <= bounds.maxBytes && count <= bounds.maxFiles) break;
    if (f.path === keep) continue;
    await unlink(f.path).catch(() => undefined);
    bytes -= f.size;
    count--;
  }
}
