import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHealth } from '../../src/http/probe.js';
import { freePort, runTeleops } from '../support/process.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A stand-in for the bot's HTTP server that answers /health with `status` and `body`. */
async function serveHealth(status: number, body: string): Promise<number> {
  const port = await freePort();
  server = createServer((req, res) =>
    res.writeHead(req.url === '/health' ? status : 404, { 'content-type': 'application/json' }).end(body),
  );
  await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  return port;
}

async function health(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const p = runTeleops(['health'], env);
  const code = await p.exited;
  return { code, out: p.output() };
}

describe('teleops health', () => {
  it('exits 0 when /health says ok, also when the server listens on every address', async () => {
    const port = await serveHealth(200, JSON.stringify({ status: 'ok', checks: { audit: 'up', tmux: 'disabled' } }));
    const r = await health({ HTTP_HOST: '0.0.0.0', HTTP_PORT: String(port) });
    expect(r.out).toBe(`teleops health: ok — http://127.0.0.1:${port}/health answered 200\n`);
    expect(r.code).toBe(0);
  });

  it('exits 1 and names what is down when the bot is degraded or down', async () => {
    const port = await serveHealth(
      200,
      JSON.stringify({ status: 'degraded', checks: { docker: 'down', audit: 'up' } }),
    );
    const r = await health({ HTTP_PORT: String(port) });
    expect(r.out).toBe(`teleops health: degraded (down: docker) — http://127.0.0.1:${port}/health answered 200\n`);
    expect(r.code).toBe(1);
  });

  it('exits 1 with one line, no stack trace, when nothing listens or the answer is not JSON', async () => {
    const free = await freePort();
    const refused = await health({ HTTP_PORT: String(free) });
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      new RegExp(
        `^teleops health: cannot reach http://127\\.0\\.0\\.1:${free}/health: connect ECONNREFUSED .* — is teleops running with this HTTP_HOST/HTTP_PORT\\?\\n$`,
      ),
    );
    const port = await serveHealth(502, '<html>bad gateway</html>');
    const garbage = await health({ HTTP_PORT: String(port) });
    expect(garbage).toEqual({
      code: 1,
      out: `teleops health: http://127.0.0.1:${port}/health answered 502 with a body that is not JSON\n`,
    });
  });

  it('stops reading an endless answer at 64 KiB and says it is not JSON', async () => {
    const port = await freePort();
    let sent = 0;
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = (): void => {
        while (!res.destroyed) {
          sent++;
          if (!res.write(`{"status":"ok","pad":"${'x'.repeat(1000)}",`)) return void res.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    const p = await probeHealth('127.0.0.1', port);
    expect(p).toEqual({ ok: false, line: `http://127.0.0.1:${port}/health answered 200 with a body that is not JSON` });
    // The answer did go past the bound (1014 bytes a write).
    expect(sent).toBeGreaterThan(64);
  });

  it('exits 2 when the settings leave nothing to check', async () => {
    expect(await health({ HTTP_PORT: '0' })).toEqual({
      code: 2,
      out: 'teleops health: HTTP_PORT=0 disables /health; set HTTP_PORT to check it\n',
    });
    const bad = await health({ HTTP_PORT: 'x' });
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/^teleops health: HTTP_PORT: .*\n$/);
  });
});

describe('teleops --version', () => {
  it("prints package.json's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const p = runTeleops(['--version'], {});
    expect(await p.exited).toBe(0);
    expect(p.output()).toBe(`${version}\n`);
  });
});
