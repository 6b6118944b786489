import type { ButtonRef } from '../../store/buttons.js';

/**
 * What a button press asks for, as its callback data says. The one encoder and decoder of the
 * format, which cards already sent rely on: `a:<approval id>:<token>:y|n` for Approve / Deny,
 * `b:<keyboard id>:<index>` for a stored button (`b:<keyboard id>` alone is its first button,
 * as single buttons were stored before keyboards).
 */
export type CallbackData =
  | { readonly kind: 'approval'; readonly id: string; readonly token: string; readonly decision: 'approve' | 'deny' }
  | { readonly kind: 'button'; readonly ref: ButtonRef };

/** Telegram's limit on callback data, in bytes. */
export const CALLBACK_DATA_MAX = 64;

const ID = '[A-Za-z0-9_-]{16}';
const APPROVAL = new RegExp(`^a:(${ID}):([0-9a-f]{16}):([yn])$`);
const BUTTON = new RegExp(`^b:(${ID})(?::(0|[1-9]\\d{0,2}))?$`);

export function encodeCallback(d: CallbackData): string {
  const s =
    d.kind === 'approval'
      ? `a:${d.id}:${d.token}:${d.decision === 'approve' ? 'y' : 'n'}`
      : `b:${d.ref.keyboard}:${d.ref.index}`;
  // Ids and tokens come from this process: a malformed one is a bug, never sent as a button.
  if (decodeCallback(s) === undefined) throw new Error(`not valid callback data: ${s.slice(0, CALLBACK_DATA_MAX)}`);
  return s;
}

/** Undefined for anything not in the format (forged, altered, from another bot). */
export function decodeCallback(s: string): CallbackData | undefined {
  const a = APPROVAL.exec(s);
  if (a) return { kind: 'approval', id: a[1]!, token: a[2]!, decision: a[3] === 'y' ? 'approve' : 'deny' };
  const b = BUTTON.exec(s);
  if (b) return { kind: 'button', ref: { keyboard: b[1]!, index: Number(b[2] ?? 0) } };
  return undefined;
}
