/** One place an audit witness posts to, as `AUDIT_WITNESS` names it. */
export type WitnessSpec =
  | { readonly kind: 'telegram'; readonly chatId: number }
  | { readonly kind: 'syslog'; readonly host: string; readonly port: number }
  | { readonly kind: 'http'; readonly url: URL };

/** `telegram:<chat id>`, `syslog://host:port` or an http(s) URL; a one-line reason otherwise. */
export function parseWitnessSpec(s: string): WitnessSpec | string {
  const tg = /^telegram:(-?\d{1,20})$/.exec(s);
  if (tg) {
    const chatId = Number(tg[1]);
    return Number.isSafeInteger(chatId) ? { kind: 'telegram', chatId } : `"${s}": not a Telegram chat id`;
  }
  if (s.startsWith('telegram:'))
    return `"${s.slice(0, 80)}" is not telegram:<chat id> (a numeric chat id, e.g. telegram:-1001234567890)`;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `"${s.slice(0, 80)}" is not telegram:<chat id>, syslog://host:port or an http(s) URL`;
  }
  if (u.protocol === 'syslog:') {
    const port = Number(u.port);
    if (!u.hostname || !port || u.pathname.replace(/^\/$/, '') !== '' || u.username || u.search)
      return `"${s}": write syslog://host:port (TCP, RFC 5424)`;
    return { kind: 'syslog', host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') return { kind: 'http', url: u };
  return `"${u.protocol}" witnesses are not supported: use telegram:<chat id>, syslog://host:port or an http(s) URL`;
}

export interface WitnessEvery {
  /** Post after this many entries (0: not by count). */
  readonly entries: number;
  /** Post this often when the head moved (0: not by time). */
  readonly everyMs: number;
}
