import { connect } from 'node:net';
import { hostname } from 'node:os';
import { headLine, type AuditHead, type Witness } from '../core/audit-witness.js';

/*
 * Posts the audit head to a syslog server over TCP: one RFC 5424 message per head, framed by
 * octet counting (RFC 6587), on a connection of its own (a post is rare; a kept connection
 * would have to notice a server restart). Facility 13 (log audit), severity 5 (notice).
 */

const PRI = 13 * 8 + 5;
/** SD-ID in the form RFC 5424 leaves to private use: name@<private enterprise number>. */
const SD_ID = 'teleops@32473';

/** RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]`. */
const sdValue = (s: string): string => s.replace(/["\\\]]/g, (c) => `\\${c}`);

/** RFC 5424 header fields are printable US-ASCII without spaces, at most `max` long. */
const field = (s: string, max: number): string => s.replace(/[^\x21-\x7e]/g, '').slice(0, max) || '-';

export function syslogMessage(h: AuditHead, host = hostname()): string {
  const sd = `[${SD_ID} seq="${h.seq}" hash="${h.hash}" keyed="${h.keyed}" key_id="${sdValue(h.keyId ?? '')}"]`;
  return `<${PRI}>1 ${h.at} ${field(host, 255)} teleops ${process.pid} audit-head ${sd} ${headLine(h)}`;
}

export function syslogWitness(host: string, port: number): Witness {
  const name = `syslog://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    name,
    post: (h, signal) =>
      new Promise<void>((resolve, reject) => {
        const msg = Buffer.from(syslogMessage(h), 'utf8');
        const sock = connect({ host, port, signal });
        sock.once('error', reject);
        sock.once('connect', () => {
          sock.end(Buffer.concat([Buffer.from(`${msg.length} `), msg]));
        });
        // The message is the server's once it has closed its side after ours: nothing is lost in our buffers.
        sock.once('close', (hadError) => (hadError ? undefined : resolve()));
        sock.resume();
      }),
  };
}
