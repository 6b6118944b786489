/**
 * A photo or document sent to the bot, as an `Upload` (core/uploads.ts): described from the
 * message at once, fetched (getFile, then the file's URL on the Bot API server) only when an
 * action that takes files runs. The URL holds the bot token: it is never logged nor shown.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Api } from 'grammy';
import type { Message } from 'grammy/types';
import { ActionError } from '../../core/action.js';
import { readBody } from '../../core/body.js';
import { anySignal } from '../../core/signals.js';
import type { Upload } from '../../core/uploads.js';

/** How long fetching one file may take. */
const FETCH_MS = 60_000;
/** What Telegram answers to getFile: a path under its file root, nothing else. */
const FILE_PATH = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_.-]+)*$/;

export interface FileSource {
  readonly api: Api;
  readonly token: string;
  readonly apiRoot: string;
}

/** The photo (its largest size) or document of a message; undefined when it has neither. */
export function uploadOf(msg: Message, source: FileSource): Upload | undefined {
  const photo = msg.photo?.at(-1);
  const file = photo
    ? { id: photo.file_id, name: `photo-${photo.file_unique_id}.jpg`, mime: 'image/jpeg', size: photo.file_size }
    : msg.document
      ? {
          id: msg.document.file_id,
          name: msg.document.file_name ?? 'document',
          mime: msg.document.mime_type ?? 'application/octet-stream',
          size: msg.document.file_size,
        }
      : undefined;
  if (!file) return undefined;
  return {
    name: file.name,
    mime: file.mime,
    size: file.size ?? 0,
    photo: photo !== undefined,
    read: (maxBytes, signal) => fetchFile(source, file.id, maxBytes, signal),
  };
}

async function fetchFile(s: FileSource, fileId: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  // grammY types its signal as the abort-controller package's; the standard one works.
  const info = await s.api.getFile(fileId, signal as never).catch(() => {
    throw new ActionError('Telegram did not hand over the file (getFile failed)');
  });
  if (info.file_size !== undefined && info.file_size > maxBytes)
    throw new ActionError(`the file is ${info.file_size} bytes; at most ${maxBytes} are taken`);
  const path = info.file_path;
  if (path === undefined || !FILE_PATH.test(path) || path.split('/').includes('..'))
    throw new ActionError('Telegram gave no usable path for the file');
  const url = new URL(`${s.apiRoot.replace(/\/+$/, '')}/file/bot${s.token}/${path}`);
  const body = await download(url, maxBytes, signal);
  if (body.truncated) throw new ActionError(`the file is larger than ${maxBytes} bytes`);
  return body.bytes;
}

/** GET with a deadline and a bound; errors never carry the URL (it holds the token). */
function download(url: URL, maxBytes: number, signal: AbortSignal): Promise<{ bytes: Buffer; truncated: boolean }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', signal: anySignal([signal, AbortSignal.timeout(FETCH_MS)]) });
    const fail = (why: string) => reject(new ActionError(`could not fetch the file from Telegram: ${why}`));
    req.on('error', (e: NodeJS.ErrnoException) => fail(e.name === 'AbortError' ? 'timed out' : (e.code ?? 'error')));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(`HTTP ${res.statusCode ?? 0}`);
        return;
      }
      readBody(res, maxBytes + 1).then(
        (b) => resolve(b.bytes.length > maxBytes ? { bytes: Buffer.alloc(0), truncated: true } : b),
        () => fail('the download broke off'),
      );
    });
    req.end();
  });
}
