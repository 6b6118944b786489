/**
 * Files a person sends with a request (a photo, a document), in a shape no transport owns. The
 * transport describes each file as the sender declared it; the bytes are fetched only when an
 * action that takes files runs, so nothing is downloaded for a request the pipeline refuses.
 */
import { ActionError } from './action.js';

export interface Upload {
  /** The name the sender gave it (untrusted: may hold `/`, `..`, control characters). */
  readonly name: string;
  readonly mime: string;
  /** The size the transport was told, in bytes (checked again when read). */
  readonly size: number;
  /** A picture the sender sent as one (a Telegram photo), not a file that happens to be one. */
  readonly photo: boolean;
  /** The bytes, at most `maxBytes` of them; throws when the file is larger or cannot be fetched. */
  read(maxBytes: number, signal: AbortSignal): Promise<Buffer>;
}

/** One line naming the files, for the audit entry of the request they came with. */
export const describeUploads = (uploads: readonly Upload[]): string =>
  `with ${uploads.map((u) => `${JSON.stringify(u.name.slice(0, 200))} (${u.size} bytes, ${u.mime})`).join(', ')}`;

/** Reads an upload, refusing one larger than `maxBytes` before and while it is fetched. */
export async function readUpload(u: Upload, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  if (u.size > maxBytes) throw new ActionError(`${u.name} is ${u.size} bytes; at most ${maxBytes} are taken`);
  return u.read(maxBytes, signal);
}
