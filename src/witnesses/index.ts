import type { Witness } from '../core/audit-witness.js';
import { httpWitness } from './http.js';
import type { WitnessSpec } from './spec.js';
import { syslogWitness } from './syslog.js';

/** The witnesses that need no transport: syslog and HTTP (a transport adds telegram:<chat id>). */
export function serverWitnesses(specs: readonly WitnessSpec[]): Witness[] {
  return specs.flatMap((s) =>
    s.kind === 'syslog' ? [syslogWitness(s.host, s.port)] : s.kind === 'http' ? [httpWitness(s.url)] : [],
  );
}
