import type { Witness } from '../core/audit-witness.js';

/** Posts the audit head as JSON to an HTTP(S) endpoint; any 2xx answer means it was taken. */
export function httpWitness(url: URL): Witness {
  // The name shows in logs and metrics: scheme, host and port only (a path may carry a token).
  const name = `${url.protocol}//${url.host}`;
  return {
    name,
    async post(h, signal) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          source: 'teleops',
          kind: 'audit_head',
          seq: h.seq,
          hash: h.hash,
          keyed: h.keyed,
          key_id: h.keyId,
          at: h.at,
        }),
        signal,
        redirect: 'error',
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`${name} answered ${res.status}`);
    },
  };
}
