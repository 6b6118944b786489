import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { dropEmptyOptionals } from '../../src/ai/tools.js';
import { plainText } from '../../src/core/result.js';
import { tmux as tmuxModule } from '../../src/targets/tmux/module.js';
import { describeTmux, eventually, testServer, type TestServer } from '../targets/tmux/helpers.js';
import { lastToolOutput, scriptedModel, type ScriptedStep } from '../fakes/scripted-model.js';
import { aiTestApp, recordingUi, viewer, type AiTestApp } from './support.js';

describeTmux('an LLM tool call with "" in a parameter', () => {
  let server: TestServer;
  let t: AiTestApp;
  let next: ScriptedStep[] = [];
  const model = scriptedModel((call) => next.shift() ?? { text: `tool said: ${lastToolOutput(call)}` });

  beforeAll(async () => {
    server = testServer();
    await server.tmux(
      'new-session',
      '-d',
      '-s',
      'build',
      '-x',
      '80',
      '-y',
      '20',
      server.script('build.sh', "echo 'compiled ok'; sleep 30"),
    );
    await eventually(
      async () => (await server.tmux('capture-pane', '-p', '-t', 'build')).includes('compiled ok') || undefined,
      5000,
      'the build output',
    );
    const socket = join(process.env.TMUX_TMPDIR || '/tmp', `tmux-${process.getuid?.() ?? 0}`, server.socketName);
    t = await aiTestApp(model, { TMUX_ENABLED: 'true', TMUX_SOCKET: socket }, [tmuxModule]);
  });
  afterAll(async () => {
    await t?.close();
    await server?.cleanup();
  });

  it('takes "" in an optional field as absent: tmux.tail with lines "" reads the default', async () => {
    next = [{ calls: [{ tool: 'tmux_tail', args: { target: 'build', lines: '' } }] }];
    const r = await t.agent.ask(viewer, 'what does build say?', recordingUi());
    expect(plainText(r)).toContain('tool said: <tool_output action="tmux.tail" untrusted="true">');
    expect(plainText(r)).toContain('compiled ok');
    expect(plainText(r)).toContain('• tmux.tail build — ok');
    expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'tmux.tail', origin: 'ai', outcome: 'ok' });
  });

  it('still refuses "" in a required field', async () => {
    next = [{ calls: [{ tool: 'tmux_tail', args: { target: '', lines: '' } }] }];
    const r = await t.agent.ask(viewer, 'tail something', recordingUi());
    expect(plainText(r)).toContain('tool said: REFUSED:');
    expect(plainText(r)).toMatch(/• tmux\.tail — refused: /);
  });
});

it('dropEmptyOptionals: only optional or defaulted fields, only "", only object schemas', () => {
  const schema = z.object({
    name: z.string(),
    filter: z.string().regex(/^\w+$/).optional(),
    page: z.coerce.number().default(1),
    flag: z.boolean().optional(),
  });
  expect(dropEmptyOptionals(schema, { name: '', filter: '', page: '', flag: false })).toEqual({
    name: '',
    flag: false,
  });
  expect(dropEmptyOptionals(schema, { name: 'a', filter: 'x' })).toEqual({ name: 'a', filter: 'x' });
  // Unknown keys are left for validation to judge.
  expect(dropEmptyOptionals(schema, { name: 'a', extra: '' })).toEqual({ name: 'a', extra: '' });
  expect(dropEmptyOptionals(z.string().optional(), '')).toBe('');
  expect(dropEmptyOptionals(schema, null)).toBeNull();
});
