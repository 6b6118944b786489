import { createServer, type Server } from 'node:http';
import { checkAll, type Integration } from '../core/health.js';
import type { Logger } from '../core/log.js';
import type { Metrics } from '../core/metrics.js';

export interface HttpDeps {
  readonly host: string;
  readonly port: number;
  readonly version: string;
  readonly startedAt: number;
  readonly integrations: () => readonly Integration[];
  /** Integrations without which the bot cannot work at all: any of them down → 503. */
  readonly essential: readonly string[];
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Integration details quote error messages and addresses: they leave through the redactor. */
  readonly redact: (text: string) => string;
}

/** GET /health and GET /metrics (DESIGN.md §3); nothing else, read-only. */
export async function startHttp(d: HttpDeps): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const reply = async () => {
      if (path === '/health') {
        const checks = await checkAll(d.integrations());
        const states = Object.fromEntries(Object.entries(checks).map(([k, h]) => [k, h.state]));
        const broken = d.essential.some((k) => checks[k]?.state === 'down' && !checks[k]?.stillWorks);
        const degraded = Object.values(checks).some((h) => h.state === 'down');
        const body = {
          status: broken ? 'down' : degraded ? 'degraded' : 'ok',
          version: d.version,
          uptime_s: Math.round((Date.now() - d.startedAt) / 1000),
          checks: states,
          details: Object.fromEntries(Object.entries(checks).map(([k, h]) => [k, d.redact(h.detail)])),
        };
        res.writeHead(broken ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      } else if (path === '/metrics') {
        const text = await d.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': d.metrics.registry.contentType }).end(text);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    };
    reply().catch((err: unknown) => {
      d.log.error({ err }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new ListenError(listenProblem(e, d.host, d.port))));
    server.listen(d.port, d.host, () => resolve());
  });
  return server;
}

/** The HTTP server could not listen: a settings problem, said in one line that names the setting. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

function listenProblem(e: NodeJS.ErrnoException, host: string, port: number): string {
  const fix = 'set HTTP_PORT to a free port, or 0 to disable /health and /metrics';
  switch (e.code) {
    case 'EADDRINUSE':
      return `HTTP_PORT ${port} is in use on ${host} (${fix})`;
    case 'EACCES':
      return `HTTP_PORT ${port} needs privileges this process does not have (${fix}; ports below 1024 need root)`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return `HTTP_HOST ${host} is not an address of this host (set HTTP_HOST, e.g. 127.0.0.1)`;
    default:
      return `cannot listen on ${host}:${port} (HTTP_HOST, HTTP_PORT): ${e.message}`;
  }
}
