/**
 * Turns whatever the client library or the network threw into one line an operator can act
 * on, always naming the context. The message is built from what *we* asked (verb, resource,
 * namespace, name — all validated) and the Status object's machine fields, not from free text.
 */
import { ActionError } from '../../core/action.js';
import { DeadlineError } from '../../core/deadline.js';
import { truncate } from '../../core/text.js';
import { clip } from '../../core/redact.js';

export type KubeFailure =
  | 'unreachable'
  | 'timeout'
  | 'cancelled'
  | 'unauthorized'
  | 'forbidden'
  | 'notFound'
  | 'conflict'
  | 'gone'
  | 'invalid'
  | 'other';

export class KubeApiError extends ActionError {
  constructor(
    readonly failure: KubeFailure,
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** What a call was about, for the error message. */
export interface Op {
  readonly context: string;
  /** Kubernetes verb: get, list, watch, patch, delete. */
  readonly verb: string;
  /** Plural resource, with subresource: "pods", "deployments/scale", "pods/log". */
  readonly resource: string;
  readonly namespace?: string;
  readonly name?: string;
  /** Singular kind for "deployment shop/web not found". */
  readonly kind?: string;
  /** The Kubernetes user the request impersonated (K8S_IMPERSONATE). */
  readonly as?: string;
}

/** The fields of a Kubernetes `Status` object this module reads. */
interface StatusLike {
  readonly kind?: unknown;
  readonly code?: unknown;
  readonly reason?: unknown;
  readonly message?: unknown;
  readonly details?: { readonly kind?: unknown; readonly group?: unknown; readonly name?: unknown };
}

/** A non-2xx answer: HTTP code plus the body (a Status object as text or JSON), when any. */
export interface HttpFailure {
  readonly code: number;
  readonly body?: unknown;
}

function parseStatus(body: unknown): StatusLike | undefined {
  let v = body;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return v && typeof v === 'object' && (v as StatusLike).kind === 'Status' ? (v as StatusLike) : undefined;
}

/** Error messages are one line: whatever the server put in a Status message. */
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

const where = (op: Op) => (op.namespace ? `in namespace ${op.namespace}` : 'at cluster scope');
const objectName = (op: Op) => (op.namespace ? `${op.namespace}/${op.name}` : `${op.name}`);
const suffix = (op: Op) => ` (context ${op.context})`;

/** The one-line message for an HTTP failure of `op`. */
export function failureFromStatus(op: Op, f: HttpFailure): KubeApiError {
  const status = parseStatus(f.body);
  const code = typeof status?.code === 'number' ? status.code : f.code;
  const reason = str(status?.reason);
  switch (code) {
    case 401:
      return new KubeApiError(
        'unauthorized',
        `unauthorized: the API server rejected the credentials${suffix(op)}`,
        code,
      );
    case 403: {
      const kind = str(status?.details?.kind);
      if (op.as !== undefined && (kind === 'users' || kind === 'groups')) {
        // The API server refused the impersonation itself: the bot's account lacks the right.
        const name = truncate(str(status?.details?.name) ?? '?', 80);
        return new KubeApiError(
          'forbidden',
          `forbidden: the bot's account may not impersonate ${kind.slice(0, -1)} ${name}: give it "impersonate" ` +
            `on ${kind}/${name} (K8S_IMPERSONATE)${suffix(op)}`,
          code,
        );
      }
      // details.kind is the plural resource of the object; the subresource is ours to add.
      const sub = op.resource.includes('/') ? op.resource.slice(op.resource.indexOf('/')) : '';
      // Only a plural resource name is taken from the server; anything else falls back to ours.
      const resource = kind && /^[a-z0-9.-]{1,63}$/.test(kind) ? `${kind}${sub}` : op.resource;
      const who = op.as === undefined ? '' : `Kubernetes user ${op.as} `;
      return new KubeApiError(
        'forbidden',
        `forbidden: ${who}cannot ${op.verb} ${resource} ${where(op)}${suffix(op)}`,
        code,
      );
    }
    case 404:
      if (op.name && op.kind) {
        return new KubeApiError('notFound', `${op.kind} ${objectName(op)} not found${suffix(op)}`, code);
      }
      return new KubeApiError('notFound', `not found: ${op.resource} ${where(op)}${suffix(op)}`, code);
    case 409:
      return new KubeApiError(
        'conflict',
        `conflict: ${op.kind ?? op.resource} ${objectName(op)} was changed by someone else meanwhile; look again ` +
          `and retry${suffix(op)}`,
        code,
      );
    case 410:
      return new KubeApiError('gone', `resource version expired (410 Gone)${suffix(op)}`, code);
    case 400:
    case 422: {
      const msg = str(status?.message);
      return new KubeApiError(
        'invalid',
        `the API server refused the request${msg ? `: ${clip(oneLine(msg), 200)}` : ''}${suffix(op)}`,
        code,
      );
    }
    default:
      return new KubeApiError(
        'other',
        `Kubernetes API error ${code}${reason && /^[A-Za-z]{1,64}$/.test(reason) ? ` ${reason}` : ''}` +
          ` on ${op.verb} ${op.resource}${suffix(op)}`,
        code,
      );
  }
}

/** Network error codes that mean "the API server cannot be reached". */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
]);

/** Maps anything thrown by a call to a KubeApiError: our own deadline, the caller's abort, the network. */
export function toKubeError(err: unknown, op: Op): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof DeadlineError) {
    const within = err.ms < 1000 ? `${err.ms} ms` : `${Math.round(err.ms / 1000)}s`;
    return new KubeApiError('timeout', `Kubernetes API did not answer within ${within}${suffix(op)}`);
  }
  const e = err as {
    name?: unknown;
    code?: unknown;
    body?: unknown;
    message?: unknown;
    type?: unknown;
    cause?: unknown;
  } | null;
  if (e && typeof e.code === 'number' && e.code >= 300) return failureFromStatus(op, { code: e.code, body: e.body });
  if (e && (e.name === 'AbortError' || e.type === 'aborted')) {
    return new KubeApiError('cancelled', `request cancelled${suffix(op)}`);
  }
  const netCode = networkCode(err);
  if (netCode) return new KubeApiError('unreachable', `Kubernetes API unreachable (${netCode})${suffix(op)}`);
  const msg = typeof e?.message === 'string' ? e.message.split('\n')[0]! : String(err);
  return new KubeApiError('other', `Kubernetes client error: ${clip(oneLine(msg), 200)}${suffix(op)}`);
}

function networkCode(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 4;
    e = e.cause as typeof e, depth++
  ) {
    if (typeof e.code === 'string' && UNREACHABLE.has(e.code)) return e.code;
  }
  return undefined;
}
