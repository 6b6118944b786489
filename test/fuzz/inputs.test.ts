/**
 * The input fuzz, short (a few thousand cases; `npm run soak` runs 100,000): commands against
 * the real registry, callback payloads, every setting parser and the entity renderer.
 */
import { expect, it } from 'vitest';
import { fuzzInputs } from '../../bench/soak-fuzz.js';

it('no crash, no stray entity, no "-" option reaching a process, every answer one line or a valid message', async () => {
  const hit = await fuzzInputs(4000, 16);
  // Each branch of each parser was reached, so the properties said something about it.
  for (const branch of [
    'command.not_for_us',
    'command.unknown',
    'command.usage',
    'command.invalid',
    'command.valid',
    'command.dash_safe',
    'callback.rejected',
    'callback.approval',
    'callback.button',
    'setting.ok',
    'setting.rejected',
    'render.one',
    'render.split',
    'render.document',
  ]) {
    expect(hit[branch] ?? 0, branch).toBeGreaterThan(0);
  }
  const actions = Object.keys(hit).filter((k) => k.startsWith('action.'));
  expect(actions.length, 'actions validated from a generated command line').toBeGreaterThan(20);
}, 120_000);
