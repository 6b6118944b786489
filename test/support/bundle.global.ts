/**
 * vitest globalSetup: builds the bundle of teleops that the tests start (bundle.ts) before any
 * file runs, so that the first file needing it does not pay the build while another worker waits
 * on its lock. Costs a check of the sources' times when the bundle is fresh.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { teleopsBundle } from './bundle.js';

export default function setup(): void {
  teleopsBundle(join(fileURLToPath(new URL('.', import.meta.url)), '..', '..'));
}
