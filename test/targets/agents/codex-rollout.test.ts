/**
 * Reading the model's wish for a sandbox out of a Codex rollout file (untrusted lines written
 * by codex, holding what the model sent): only the call's own function_call line counts, and
 * anything unclear is `unknown`, shown on the card as possibly outside the sandbox.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { sandboxAsked } from '../../../src/targets/agents/codex.js';

const dir = mkdtempSync(join(tmpdir(), 'codex-rollout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CALL = 'call_7';
const line = (payload: Record<string, unknown>) => JSON.stringify({ type: 'response_item', payload });
const call = (callId: string, args: Record<string, unknown>) =>
  line({ type: 'function_call', name: 'exec_command', call_id: callId, arguments: JSON.stringify(args) });

const permission = fc.oneof(
  fc.constantFrom('use_default', 'require_escalated', 'with_additional_permissions'),
  fc.string({ maxLength: 6 }),
  fc.integer(),
);
const args = fc.record(
  { cmd: fc.string({ maxLength: 10 }), sandbox_permissions: permission, additional_permissions: fc.constant({}) },
  { requiredKeys: ['cmd'] },
);
/** Lines that are not the call: other calls (escalated too), its output, broken JSON naming it. */
const noise = fc.oneof(
  args.map((a) => call('call_70', a)),
  fc.constant(line({ type: 'function_call_output', call_id: CALL, output: 'require_escalated' })),
  fc.constant(`{"payload": {"type": "function_call", "call_id": "${CALL}", "arguments": `),
  fc.constant(line({ type: 'function_call', call_id: CALL, arguments: '{not json' }).replace(CALL, 'call_8')),
  fc.constant(''),
);

describe('sandboxAsked', () => {
  it("reads the call's own arguments; everything else, or nothing found, is unknown", async () => {
    const seen = new Set<string>();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(noise, { size: 'max', maxLength: 20 }),
        fc.option(args, { nil: undefined }),
        fc.nat(),
        async (lines, target, at) => {
          const all = [...lines];
          if (target !== undefined) all.splice(at % (all.length + 1), 0, call(CALL, target));
          const file = join(dir, `r${n++}.jsonl`);
          writeFileSync(file, all.join('\n') + '\n');
          const got = await sandboxAsked(file, CALL);
          const sp = target?.sandbox_permissions;
          const expected =
            target === undefined
              ? 'unknown'
              : (sp === undefined || sp === 'use_default') && target.additional_permissions === undefined
                ? undefined
                : typeof sp === 'string'
                  ? sp
                  : 'unknown';
          expect(got).toBe(expected);
          seen.add(String(got));
        },
      ),
      { numRuns: 300 },
    );
    // The interesting branches were all reached.
    expect([...seen]).toEqual(expect.arrayContaining(['undefined', 'unknown', 'require_escalated']));
  });

  it('reads the newest call of that id (an id used again in a later turn)', async () => {
    const file = join(dir, 'again.jsonl');
    const calls = [call(CALL, { cmd: 'ls' }), call(CALL, { cmd: 'rm', sandbox_permissions: 'require_escalated' })];
    writeFileSync(file, calls.join('\n') + '\n');
    expect(await sandboxAsked(file, CALL)).toBe('require_escalated');
  });

  it('is unknown without a rollout file, or when the arguments are not JSON', async () => {
    expect(await sandboxAsked(undefined, CALL)).toBe('unknown');
    expect(await sandboxAsked(join(dir, 'missing.jsonl'), CALL)).toBe('unknown');
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, line({ type: 'function_call', call_id: CALL, arguments: '{"cmd": ' }) + '\n');
    expect(await sandboxAsked(file, CALL)).toBe('unknown');
  });
});
