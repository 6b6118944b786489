/**
 * vitest globalSetup: gives the run a short shared directory for the test dockerd (which the
 * first test file that needs it starts, see docker-env.ts) and stops that daemon at the end.
 * Costs nothing when no Docker test runs.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { alive, OWNER_FILE, STATE_FILE, stopDockerd, type SharedState } from './dockerd.js';

const PREFIX = 'tod-';

/**
 * Directories of earlier runs that were killed before their daemon started (a started
 * daemon has a reaper that removes its own directory).
 */
async function removeAbandoned(): Promise<void> {
  for (const name of await readdir('/tmp').catch(() => [])) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join('/tmp', name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => 'NaN'));
    if (!Number.isInteger(owner) || alive(owner) || existsSync(join(dir, STATE_FILE))) continue;
    await rm(dir, { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await removeAbandoned();
  // Short on purpose: the daemon's socket lives here (sockaddr_un holds 108 bytes).
  const dir = await mkdtemp(`/tmp/${PREFIX}`);
  // If this process dies without its teardown, the daemon's reaper notices and stops it.
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  project.provide('teleopsDockerdDir', dir);
  return async () => {
    let state: SharedState | undefined;
    try {
      state = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as SharedState;
    } catch {
      state = undefined;
    }
    if (state?.ok) await stopDockerd(state.info);
    await rm(dir, { recursive: true, force: true });
  };
}
