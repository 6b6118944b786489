/**
 * Files sent to an agent session land in `.teleops-inbox/` under its directory: each under a
 * plain name of its own (no path, no leading dot), created anew with mode 0600 and never
 * through a symlink, so a name like `../../etc/x` or a link planted in the directory cannot
 * make teleops write anywhere else.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { ActionError } from '../../core/action.js';

export const INBOX = '.teleops-inbox';
/** The most taken per file: Telegram lets a bot fetch files up to 20 MB. */
export const INBOX_FILE_MAX = 20 * 1024 * 1024;
/** The largest picture sent to Claude as an image block. */
export const IMAGE_MAX = 5 * 1024 * 1024;
const NAME_MAX = 100;
/** Names tried with a counter before giving up (a directory full of one name). */
const TRIES = 100;

/** A name safe to create in one directory: the last path part, plain characters, no leading dot. */
export function inboxName(raw: string): string {
  const last = raw.split(/[\\/]/).pop() ?? '';
  const plain = last
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[.-]+/, '')
    .slice(0, NAME_MAX);
  return plain === '' ? 'file' : plain;
}

/** `name`, then `name-1.ext`, `name-2.ext`, … */
const numbered = (name: string, n: number): string => {
  if (n === 0) return name;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-${n}${name.slice(dot)}` : `${name}-${n}`;
};

/** The inbox of a session's directory (a real path), made if needed; refused when it is not a plain directory. */
async function inboxOf(dir: string): Promise<string> {
  const inbox = join(dir, INBOX);
  await mkdir(inbox, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const st = await lstat(inbox);
  if (st.isSymbolicLink() || !st.isDirectory() || (await realpath(inbox)) !== inbox)
    throw new ActionError(`${INBOX} in the session's directory is not a plain directory; files are not saved`);
  return inbox;
}

/** Saves the bytes under a fresh name in the session's inbox; returns the name it got. */
export async function saveToInbox(dir: string, name: string, bytes: Buffer): Promise<string> {
  const inbox = await inboxOf(dir);
  const base = inboxName(name);
  // O_EXCL: never an existing file, nor a symlink someone left under that name.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let n = 0; n < TRIES; n++) {
    const file = numbered(base, n);
    const handle = await open(join(inbox, file), flags, 0o600).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return undefined;
      throw e;
    });
    if (!handle) continue;
    try {
      await handle.writeFile(bytes);
    } finally {
      await handle.close();
    }
    return file;
  }
  throw new ActionError(`${INBOX} already holds ${TRIES} files named like ${base}`);
}

/**
 * The type of a picture Claude takes as an image block (JPEG, PNG, GIF, WebP), read from its
 * first bytes: the sender's declared type is not trusted.
 */
export function imageType(b: Buffer): string | undefined {
  if (b.length > IMAGE_MAX) return undefined;
  const at = (i: number, ...bytes: number[]) => bytes.every((x, k) => b[i + k] === x);
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (at(0, 0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'image/webp';
  return undefined;
}
