/**
 * docker-compose.yml as Debian's docker-compose reads it: valid, and with the hardening the
 * README promises. test/deploy/image.test.ts starts it with `docker-compose up` on the image
 * it builds (with host networking: the test engine has no bridge).
 */
import { loadYaml } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const COMPOSE = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));
if (!COMPOSE) {
  if (process.env.CI === 'true')
    throw new Error('docker-compose is required under CI=true (Debian package docker-compose)');
  console.warn('[compose test skipped] docker-compose not installed (Debian package docker-compose)');
}

interface Service {
  image: string;
  read_only: boolean;
  user: string;
  group_add: string[];
  cap_drop: string[];
  security_opt: string[];
  tmpfs: string[];
  volumes: string[];
  environment: Record<string, string>;
  healthcheck: { test: string[] };
}

describe.skipIf(!COMPOSE)('docker-compose.yml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'teleops-compose-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is valid for docker-compose, read-only, nonroot, without capabilities, with secrets from .env', async () => {
    copyFileSync(join(ROOT, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    writeFileSync(
      join(dir, '.env'),
      'TELEGRAM_BOT_TOKEN=123:compose-test-token\nAUTHORIZED_USER_IDS=1\nDOCKER_GID=998\n',
    );
    const { stdout } = await run(COMPOSE!, ['config'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const cfg = loadYaml<{ services: { teleops: Service }; volumes: Record<string, unknown> }>(stdout);
    const s = cfg.services.teleops;
    expect(s).toMatchObject({
      read_only: true,
      user: '65532',
      group_add: ['998'],
      cap_drop: ['ALL'],
      security_opt: ['no-new-privileges:true'],
      tmpfs: ['/tmp'],
    });
    expect(s.healthcheck.test).toEqual(['CMD', '/nodejs/bin/node', '/app/bin/teleops.js', 'health']);
    expect(s.environment).toMatchObject({
      TELEGRAM_BOT_TOKEN: '123:compose-test-token',
      STATE_DIR: '/state',
      DOCKER_HOST: 'unix:///var/run/docker.sock',
    });
    expect(s.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^state:\/state(:rw)?$/),
        expect.stringMatching(/^\/var\/run\/docker\.sock:\/var\/run\/docker\.sock/),
      ]),
    );
    expect(Object.keys(cfg.volumes)).toEqual(['state']);
  });
});
