import { PassThrough } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../../src/core/action.js';
import type { ProgressNote } from '../../../src/core/progress.js';
import { createRedactor } from '../../../src/core/redact.js';
import { line } from '../../../src/core/result.js';
import type { TargetModule } from '../../../src/core/target.js';
import { createConsole, localPrincipal } from '../../../src/transports/console/console.js';
import { testApp, type TestApp } from '../../support/app.js';

const KEY = 'progress-hmac-key-7d6c5b4a3f';

/** An action that says what it does twice before it answers. */
const slow: TargetModule = {
  name: 'slow',
  settings: {},
  create: () => ({
    actions: [
      defineAction({
        name: 'slow.go',
        summary: 'Takes a while',
        target: 'slow',
        risk: 'read',
        params: z.object({}),
        command: { path: ['slow', 'go'] },
        run: async (ctx) => {
          ctx.progress?.('waiting for the first half');
          ctx.progress?.(`second half, key ${KEY}`);
          return { blocks: [line('done at last')] };
        },
      }),
      defineAction({
        name: 'slow.quick',
        summary: 'Says nothing on the way',
        target: 'slow',
        risk: 'read',
        params: z.object({}),
        command: { path: ['slow', 'quick'] },
        run: async () => ({ blocks: [line('quick')] }),
      }),
    ],
  }),
};

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

it('the console prints what a run is doing as it happens, redacted, before its answer', async () => {
  t = await testApp({ AUDIT_HMAC_KEY: KEY }, [slow]);
  const notes: ProgressNote[] = [];
  t.app.dispatcher.progress.on((n) => notes.push(n));
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const session = createConsole({
    dispatcher: t.app.dispatcher,
    redactor: createRedactor([KEY]),
    principal: localPrincipal('tester'),
    downloadDir: t.dir,
    input,
    output,
  });
  input.end('/slow go\n/slow quick\n');
  await session.run();
  const first = out.indexOf('⏳ waiting for the first half');
  const second = out.indexOf('⏳ second half, key [REDACTED]');
  expect(first).toBeGreaterThan(0);
  expect(second).toBeGreaterThan(first);
  expect(out.indexOf('done at last')).toBeGreaterThan(second);
  expect(out).not.toContain(KEY);
  // Redacted in core already, whatever the transport; one end for the run that said something.
  expect(notes.map((n) => n.text)).toEqual(['waiting for the first half', 'second half, key [REDACTED]', undefined]);
  expect(new Set(notes.map((n) => n.run)).size).toBe(1);
});
