/**
 * A small multipart/form-data parser (RFC 7578) for the fake Bot API. The body is read
 * whole (uploads here are at most tens of MB) and split with Buffer.indexOf, which keeps
 * it linear and fast. It accepts both the usual quoted `filename="x"` and grammY's
 * unquoted `filename=x` (grammY writes the raw file name to the end of the header line).
 */

export interface FormPart {
  readonly name: string;
  /** Present for file parts (possibly empty, as browsers send for "no file"). */
  readonly filename?: string;
  readonly contentType?: string;
  readonly data: Buffer;
}

export class MultipartError extends Error {}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const DASH = 0x2d;

/** The boundary of a `multipart/form-data` content type, or undefined. */
export function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary=(?:"([^"]{1,200})"|([^;\s]{1,200}))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  if (boundary === '') throw new MultipartError('empty boundary');
  const first = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(first);
  if (pos < 0) throw new MultipartError('boundary not found');
  pos += first.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body[pos] === DASH && body[pos + 1] === DASH) return parts;
    // RFC 2046 allows transport padding (spaces, tabs) after a delimiter.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!startsWith(body, pos, CRLF)) throw new MultipartError('malformed delimiter line');
    pos += CRLF.length;
    // An empty section right before the next delimiter (grammY's shape for a payload without fields).
    if (startsWith(body, pos, next)) {
      pos += next.length;
      continue;
    }
    let headerText = '';
    let contentStart: number;
    if (startsWith(body, pos, CRLF)) {
      contentStart = pos + CRLF.length;
    } else {
      const headerEnd = body.indexOf(HEADER_END, pos);
      if (headerEnd < 0) throw new MultipartError('unterminated part headers');
      headerText = body.toString('utf8', pos, headerEnd);
      contentStart = headerEnd + HEADER_END.length;
    }
    const end = body.indexOf(next, contentStart);
    if (end < 0) throw new MultipartError('missing closing boundary');
    parts.push(makePart(headerText, body.subarray(contentStart, end)));
    pos = end + next.length;
  }
}

function startsWith(body: Buffer, pos: number, what: Buffer): boolean {
  return body.length >= pos + what.length && body.compare(what, 0, what.length, pos, pos + what.length) === 0;
}

function makePart(headerText: string, data: Buffer): FormPart {
  let disposition: string | undefined;
  let contentType: string | undefined;
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError(`malformed part header: ${line.slice(0, 80)}`);
    const key = line.slice(0, colon).trim().toLowerCase();
    const val = line.slice(colon + 1).replace(/^[ \t]+/, '');
    if (key === 'content-disposition') disposition = val;
    else if (key === 'content-type') contentType = val.trim();
  }
  if (disposition === undefined || !/^form-data\s*(;|$)/i.test(disposition)) {
    throw new MultipartError('part without content-disposition: form-data');
  }
  const params = dispositionParams(disposition);
  const name = params.get('name');
  if (name === undefined || name === '') throw new MultipartError('part without a name');
  const filename = params.get('filename');
  return {
    name,
    ...(filename !== undefined ? { filename } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
    data,
  };
}

/**
 * The parameters of a Content-Disposition value, read left to right. A quoted value ends
 * at its closing quote (backslash escapes allowed); an unquoted one runs to the next `;`,
 * except `filename`, which runs to the end of the line because grammY writes it last and
 * unquoted, and a file name may contain `;`.
 */
function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  let rest = value.replace(/^form-data\s*/i, '');
  for (;;) {
    rest = rest.replace(/^[;\s]+/, '');
    const eq = rest.indexOf('=');
    if (rest === '' || eq <= 0) return params;
    const key = rest.slice(0, eq).trim().toLowerCase();
    rest = rest.slice(eq + 1);
    const quoted = /^"((?:[^"\\]|\\.)*)"\s*(?:;|$)/.exec(rest);
    if (quoted?.[1] !== undefined) {
      params.set(key, quoted[1].replace(/\\(.)/g, '$1'));
      rest = rest.slice(quoted[0].length);
    } else if (key === 'filename') {
      params.set(key, rest);
      return params;
    } else {
      const semi = rest.indexOf(';');
      params.set(key, (semi < 0 ? rest : rest.slice(0, semi)).trim());
      rest = semi < 0 ? '' : rest.slice(semi);
    }
  }
}
