/**
 * Request parameters of the fake Bot API. Telegram accepts the same method as JSON,
 * url-encoded form or multipart form, so a value may arrive typed (JSON) or as a string
 * (forms, where objects are JSON-encoded); the readers below accept both, as Telegram does.
 */

export type Params = Record<string, unknown>;

/** An uploaded file from a multipart request. */
export class UploadedFile {
  constructor(
    readonly filename: string,
    readonly contentType: string,
    readonly data: Buffer,
  ) {}
}

/** An error answer of the Bot API: `{ ok: false, error_code, description, parameters? }`. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: { retry_after?: number; migrate_to_chat_id?: number },
  ) {
    super(description);
  }
}

export const badRequest = (what: string): ApiError => new ApiError(400, `Bad Request: ${what}`);

const INT = /^-?\d{1,16}$/;

export function optInt(p: Params, name: string): number | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && INT.test(v)) return Number(v);
  throw badRequest(`field "${name}" must be of type Integer`);
}

export function reqInt(p: Params, name: string, missing: string): number {
  const v = optInt(p, name);
  if (v === undefined) throw badRequest(missing);
  return v;
}

export function optStr(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw badRequest(`field "${name}" must be of type String`);
}

export function optBool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (v === true || v === 'true' || v === '1' || v === 1) return true;
  if (v === false || v === 'false' || v === '0' || v === 0) return false;
  throw badRequest(`field "${name}" must be of type Boolean`);
}

/** An object or array parameter; forms carry it JSON-encoded. */
export function optJson(p: Params, name: string): unknown {
  const v = p[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw badRequest(`can't parse ${name} JSON object`);
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
