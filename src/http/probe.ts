import { request } from 'node:http';
import { readBody } from '../core/body.js';

export interface Probe {
  readonly ok: boolean;
  /** One line for the operator (or the container runtime's health log). */
  readonly line: string;
}

/** Where a client reaches a server that listens on `host`: a wildcard address means this machine. */
export function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/**
 * `teleops health`: GET /health on the bot's own HTTP server, for healthchecks in images
 * that have neither a shell nor curl. Healthy only when the server answers status "ok".
 */
export function probeHealth(host: string, port: number, timeoutMs = 5000): Promise<Probe> {
  const target = probeHost(host);
  const where = `http://${target.includes(':') ? `[${target}]` : target}:${port}/health`;
  return new Promise((resolve) => {
    const req = request({ host: target, port, path: '/health', method: 'GET', timeout: timeoutMs }, (res) => {
      // Anything longer is not teleops' /health: cut short, it fails to parse and is reported so.
      void readBody(res, 65_536).then(
        ({ bytes }) => {
          const body = bytes.toString('utf8');
          let parsed: { status?: unknown; checks?: Record<string, unknown> } = {};
          try {
            parsed = JSON.parse(body) as typeof parsed;
          } catch {
            resolve({ ok: false, line: `${where} answered ${res.statusCode} with a body that is not JSON` });
            return;
          }
          const down = Object.entries(parsed.checks ?? {})
            .filter(([, s]) => s === 'down')
            .map(([k]) => k);
          const status = typeof parsed.status === 'string' ? parsed.status : 'unknown';
          const ok = res.statusCode === 200 && status === 'ok';
          resolve({
            ok,
            line: `${status}${down.length > 0 ? ` (down: ${down.join(', ')})` : ''} — ${where} answered ${res.statusCode}`,
          });
        },
        (e: Error) => resolve({ ok: false, line: `${where}: ${e.message}` }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) =>
      resolve({
        ok: false,
        line: `cannot reach ${where}: ${e.message} — is teleops running with this HTTP_HOST/HTTP_PORT?`,
      }),
    );
    req.end();
  });
}
