import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import type { TargetModule } from '../../src/core/target.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/log.js';
import { testTarget } from './test-target.js';

export function tempDir(prefix = 'teleops-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestApp {
  readonly app: App;
  readonly dir: string;
  /** File the test target appends to. */
  readonly runsFile: string;
  close(): Promise<void>;
}

/** The real composition root over a temporary state dir, plus the test-only target. */
export async function testApp(
  env: Record<string, string> = {},
  extra: readonly TargetModule[] = [],
  dir?: string,
): Promise<TestApp> {
  const owned = dir === undefined ? tempDir() : undefined;
  const stateDir = dir ?? owned!.path;
  const r = loadConfig(
    {
      AUTHORIZED_USER_IDS: '10,11',
      ADMIN_USER_IDS: '20',
      VIEWER_USER_IDS: '30',
      AUTHORIZED_CHAT_IDS: '-100',
      HTTP_PORT: '0',
      DOCKER_ENABLED: 'false',
      STATE_DIR: stateDir,
      ...env,
    },
    'console',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const runsFile = join(stateDir, 'runs.txt');
  const app = await createApp(r.config, [testTarget(runsFile), ...extra], { log: silentLogger() });
  return {
    app,
    dir: stateDir,
    runsFile,
    close: async () => {
      await app.close(1000);
      owned?.remove();
    },
  };
}
