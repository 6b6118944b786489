import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { localPrincipal, runConsole } from '../../src/transports/console/console.js';
import { runs } from '../support/test-target.js';
import { lastToolOutput, scriptedModel } from '../fakes/scripted-model.js';
import { aiTestApp, type AiTestApp } from './support.js';

let t: AiTestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('plain text in the console goes to the agent', () => {
  it('shows progress, asks y/N for the approval card, and prints the answer', async () => {
    const model = scriptedModel([
      { calls: [{ tool: 'test_destroy', args: { name: 'web' } }] },
      (call) => ({ text: `answer: ${lastToolOutput(call).split('\n')[0]}` }),
    ]);
    t = await aiTestApp(model);
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (c: Buffer) => (printed += c.toString()));
    const done = runConsole({
      dispatcher: t.app.dispatcher,
      redactor: t.app.redactor,
      principal: localPrincipal('me'),
      downloadDir: t.dir,
      input,
      output,
      agent: t.agent,
    });
    input.write('please destroy web\n');
    await waitFor(() => printed.includes('Approve? [y/N]'), 'the approval prompt');
    expect(printed).toContain('🔧 test.destroy web…');
    expect(printed).toContain('Action: test.destroy');
    expect(runs(t.runsFile, 'destroy')).toBe(0);
    input.write('y\n');
    await waitFor(() => printed.includes('Actions taken:'), 'the answer');
    input.write('/quit\n');
    await done;
    expect(runs(t.runsFile, 'destroy')).toBe(1);
    expect(printed).toContain('destroyed web');
    expect(printed).toContain('answer: APPROVED by console:me and run. Result:');
    expect(printed).toContain('• test.destroy web — approved by console:me, done');
  });
});
