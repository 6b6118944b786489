/**
 * Worker side of the test dockerd: one daemon per test run, started by the first test file
 * that needs it (under a lock, so that files running in parallel share it) and stopped by
 * the global teardown in `dockerd.global.ts`. Without that global setup (a file run on its
 * own with another config), the file starts a private daemon and stops it afterwards.
 */
import Docker from 'dockerode';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import {
  DockerdUnavailable,
  OWNER_FILE,
  STATE_FILE,
  removeSuiteContainers,
  startDockerd,
  stopDockerd,
  type DockerdInfo,
  type SharedState,
} from './dockerd.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Directory shared by the workers of one run; see dockerd.global.ts. */
    teleopsDockerdDir: string;
  }
}

export interface DockerEnv {
  /** DOCKER_HOST of the test daemon. */
  readonly host: string;
  readonly socketPath: string;
  /** A plain client, for setting up containers (the code under test uses its own port). */
  readonly docker: Docker;
  readonly image: string;
  /** Label value that `removeSuiteContainers` uses; pass it to createTestContainer. */
  readonly suite: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function attempt(start: () => Promise<DockerdInfo>): Promise<SharedState> {
  try {
    return { ok: true, info: await start() };
  } catch (e) {
    if (e instanceof DockerdUnavailable) return { ok: false, reason: e.message };
    return { ok: false, reason: `dockerd failed to start: ${(e as Error).message}` };
  }
}

async function sharedDaemon(dir: string): Promise<SharedState> {
  return withLock(dir, async () => {
    const file = join(dir, STATE_FILE);
    try {
      return JSON.parse(await readFile(file, 'utf8')) as SharedState;
    } catch {
      const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => String(process.pid)));
      const state = await attempt(() => startDockerd({ baseDir: dir, ownerPid: owner }));
      await writeFile(file, JSON.stringify(state));
      return state;
    }
  });
}

/**
 * The test daemon, or undefined (with the reason printed) when it cannot run here.
 * Under CI=true it throws instead, so that a real-engine suite cannot silently skip.
 * Call at the top level of a test file: `const env = await useDockerd('actions');`
 */
export async function useDockerd(suite: string): Promise<DockerEnv | undefined> {
  const dir = inject('teleopsDockerdDir') as string | undefined;
  let state: SharedState;
  if (dir) {
    state = await sharedDaemon(dir);
  } else {
    state = await attempt(() => startDockerd());
    if (state.ok) {
      const info = state.info;
      afterAll(() => stopDockerd(info), 60_000);
    }
  }
  if (!state.ok) {
    if (process.env.CI === 'true') throw new Error(`dockerd is required under CI=true: ${state.reason}`);
    console.warn(`[docker tests skipped] ${state.reason}`);
    return undefined;
  }
  const docker = new Docker({ socketPath: state.info.socketPath });
  await removeSuiteContainers(docker, suite);
  afterAll(() => removeSuiteContainers(docker, suite), 60_000);
  return { host: state.info.host, socketPath: state.info.socketPath, docker, image: state.info.image, suite };
}
