import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AuditLog } from '../src/core/audit.js';
import { runDoctor } from '../src/doctor.js';
import { openDb } from '../src/store/db.js';
import { FakeBotApi } from './fakes/botapi.js';
import { tempDir } from './support/app.js';
import { freePort } from './support/process.js';

let dir: ReturnType<typeof tempDir> | undefined;
let fake: FakeBotApi | undefined;
afterEach(async () => {
  dir?.remove();
  await fake?.stop();
});

async function doctor(env: Record<string, string>): Promise<{ code: number; out: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  const code = await runDoctor(env, out);
  return { code, out: text };
}

describe('teleops doctor', () => {
  it('names every setting problem and every unreachable integration, with a fix', async () => {
    dir = tempDir();
    const { code, out } = await doctor({
      STATE_DIR: dir.path,
      DOCKER_HOST: `unix://${dir.path}/nope.sock`,
      TMUX_ENABLED: 'false',
    });
    expect(code).toBe(1);
    expect(out).toMatch(/^✗ settings: TELEGRAM_BOT_TOKEN: missing — create a bot with @BotFather/m);
    expect(out).toMatch(/^✗ docker: Docker is not reachable at unix:\/\/.*nope.sock: connect ENOENT — start dockerd/m);
    expect(out).toMatch(/^! audit key: AUDIT_HMAC_KEY unset/m);
    expect(out).not.toMatch(/^\s+at /m);
  });

  it('checks DATABASE_URL: an unreachable server fails in one line, without the password', async () => {
    dir = tempDir();
    const { code, out } = await doctor({
      STATE_DIR: dir.path,
      DATABASE_URL: 'postgres://teleops:hunter2-pw@127.0.0.1:1/teleops',
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
    });
    expect(code).toBe(1);
    expect(out).toMatch(
      /^✗ database: cannot connect to postgres:\/\/teleops:\*\*\*@127\.0\.0\.1:1\/teleops: .+ — check DATABASE_URL$/m,
    );
    expect(out).not.toContain('hunter2-pw');
  });

  it('passes when everything configured answers', async () => {
    dir = tempDir();
    fake = new FakeBotApi({ username: 'doctor_bot' });
    await fake.start();
    const { code, out } = await doctor({
      STATE_DIR: dir.path,
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      AUTHORIZED_USER_IDS: '1',
      AUDIT_HMAC_KEY: 'doctor-key-123456',
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      KUBECONFIG: '',
    });
    expect(out).toMatch(/^✓ telegram: bot @doctor_bot at http:\/\/127\.0\.0\.1:\d+$/m);
    expect(out).toMatch(/^· docker: DOCKER_ENABLED=false$/m);
    expect(code).toBe(0);
  });

  it('says why Telegram cannot be reached, or that it refused the token', async () => {
    dir = tempDir();
    const base = {
      STATE_DIR: dir.path,
      AUTHORIZED_USER_IDS: '1',
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      KUBECONFIG: '',
    };
    const port = await freePort();
    const down = await doctor({
      ...base,
      TELEGRAM_BOT_TOKEN: '123:AAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      TELEGRAM_API_ROOT: `http://127.0.0.1:${port}`,
    });
    expect(down.code).toBe(1);
    expect(down.out).toContain(
      `✗ telegram: cannot reach http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} — check the network or TELEGRAM_API_ROOT\n`,
    );
    fake = new FakeBotApi();
    await fake.start();
    fake.failNext('getMe', { code: 401, description: 'Unauthorized' });
    const refused = await doctor({ ...base, TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot });
    expect(refused.out).toContain(
      `✗ telegram: ${fake.apiRoot} rejected the bot token (Unauthorized) — check TELEGRAM_BOT_TOKEN\n`,
    );
  });

  it('following its advice to set AUDIT_HMAC_KEY does not break the log: the key is adopted at the next start', async () => {
    dir = tempDir();
    const db = openDb(dir.path);
    const anchorPath = join(dir.path, 'audit.anchor');
    const unkeyed = new AuditLog(db, { anchorPath });
    unkeyed.append({
      operator: 'tg:1',
      chat: 1,
      origin: 'command',
      action: 'docker.stop',
      target: 'x',
      params: {},
      outcome: 'ok',
    });
    unkeyed.close();
    const env = {
      STATE_DIR: dir.path,
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      AUDIT_HMAC_KEY: 'newly-set-audit-key-0123',
    };
    const before = await doctor(env);
    expect(before.out).toMatch(
      /^! audit: intact, 1 entry, not yet under AUDIT_HMAC_KEY — teleops adopts the key at its next start/m,
    );
    new AuditLog(db, { anchorPath, hmacKey: env.AUDIT_HMAC_KEY }).close();
    db.close();
    expect((await doctor(env)).out).toMatch(/^✓ audit: intact, 2 entries$/m);
  });

  it('checks a configured LLM without spending tokens: reachable, refused key, or unreachable', async () => {
    dir = tempDir();
    const asked: string[] = [];
    let status = 200;
    const server = createServer((req, res) => {
      asked.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"data":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = {
      STATE_DIR: dir.path,
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      KUBECONFIG: '',
      AI_PROVIDER: 'openai-compatible',
      AI_MODEL: 'm1',
      AI_API_KEY: 'sk-doctor-key-123456',
    };
    try {
      expect((await doctor({ ...env, AI_BASE_URL: `${base}/v1` })).out).toContain(
        `✓ llm: openai-compatible m1, ${base} reachable\n`,
      );
      expect(asked).toEqual(['GET /v1/models Bearer sk-doctor-key-123456']);
      status = 401;
      const refused = await doctor({ ...env, AI_BASE_URL: `${base}/v1` });
      expect(refused.out).toContain(
        `✗ llm: openai-compatible m1: ${base} refused the API key (HTTP 401) — check AI_BASE_URL`,
      );
      expect(refused.code).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const port = await freePort();
    const down = await doctor({ ...env, AI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    expect(down.out).toMatch(
      new RegExp(
        `^✗ llm: openai-compatible m1: cannot reach http://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`,
        'm',
      ),
    );
    expect(down.out).not.toContain('sk-doctor-key');
    expect((await doctor({ ...env, AI_PROVIDER: 'none' })).out).toMatch(/^· llm: AI_PROVIDER=none$/m);
  });
});
