/** Turns an HTTP request of the fake Bot API into parameters: query string + JSON, form or multipart body. */
import type { IncomingMessage } from 'node:http';
import { boundaryOf, MultipartError, parseMultipart } from './multipart.js';
import { ApiError, badRequest, isRecord, UploadedFile } from './params.js';
import type { Params } from './params.js';

export class BodyTooLarge extends Error {}

/** Reads the whole body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`body larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.on('error', reject);
    // After 'end' this is a no-op; before it, the client went away mid-body.
    req.on('close', () => reject(new Error('request closed before its end')));
  });
}

/**
 * Parameters from the query string and the body (the body wins). In a multipart body a
 * field `x=attach://<part>` is replaced by the uploaded file of that part, and a file
 * part not referenced that way becomes the parameter of its own name.
 */
export function parseParams(contentType: string | undefined, query: URLSearchParams, body: Buffer): Params {
  const params: Params = Object.fromEntries(query);
  if (body.length === 0) return params;
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw badRequest("can't parse JSON body");
    }
    if (!isRecord(parsed)) throw badRequest('JSON body must be an object');
    return Object.assign(params, parsed);
  }
  if (type === 'application/x-www-form-urlencoded') {
    return Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  }
  if (type === 'multipart/form-data') return Object.assign(params, multipartParams(contentType ?? '', body));
  throw new ApiError(415, `test fake: unsupported content type ${JSON.stringify(contentType ?? '')}`);
}

function multipartParams(contentType: string, body: Buffer): Params {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw badRequest('multipart body without a boundary');
  let parts;
  try {
    parts = parseMultipart(body, boundary);
  } catch (e) {
    if (e instanceof MultipartError) throw badRequest(`can't parse multipart body: ${e.message}`);
    throw e;
  }
  const params: Params = {};
  const files = new Map<string, UploadedFile>();
  for (const part of parts) {
    if (part.filename === undefined) params[part.name] = part.data.toString('utf8');
    else
      files.set(part.name, new UploadedFile(part.filename, part.contentType ?? 'application/octet-stream', part.data));
  }
  const attached = new Set<string>();
  for (const [key, value] of Object.entries(params)) {
    if (typeof value !== 'string' || !value.startsWith('attach://')) continue;
    const id = value.slice('attach://'.length);
    const file = files.get(id);
    if (file === undefined) throw badRequest(`file attach://${id} not found in the request`);
    params[key] = file;
    attached.add(id);
  }
  for (const [name, file] of files) if (!attached.has(name) && !(name in params)) params[name] = file;
  return params;
}
