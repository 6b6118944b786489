import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import type { Outcome } from '../../src/core/dispatcher.js';
import type { Principal } from '../../src/core/policy.js';
import { plainText } from '../../src/core/result.js';
import { shell as shellModule } from '../../src/targets/shell/module.js';
import { tempDir, testApp, type TestApp } from '../support/app.js';

const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private' };
const admin: Principal = { transport: 'tg', userId: 20, chatId: 20, chatKind: 'private' };

let t: TestApp;
afterEach(async () => t?.close());

const text = (o: Outcome): string => (o.kind === 'done' ? plainText(o.result) : o.kind);

describe('/audit and admin-only parameters', () => {
  it('shows a shell command line to admins only; operators and their LLM see [admin only]', async () => {
    t = await testApp({ SHELL_ENABLED: 'true' }, [shellModule]);
    expect((await t.app.dispatcher.dispatch(admin, 'command', 'shell.run', { command: 'echo s3cr3t-plan' })).kind).toBe(
      'approval',
    );
    await t.app.dispatcher.command(op, 'command', '/test touch a');

    const byOperator = text(await t.app.dispatcher.command(op, 'command', '/audit 10'));
    expect(byOperator).toMatch(/shell\.run \[admin only\] → approval_requested/);
    expect(byOperator).not.toContain('s3cr3t-plan');
    expect(byOperator).toContain('test.touch thing a → ok');

    const byLlm = text(await t.app.dispatcher.dispatch(op, 'ai', 'audit.recent', { n: 10 }));
    expect(byLlm).toContain('shell.run [admin only]');
    expect(byLlm).not.toContain('s3cr3t-plan');

    expect(text(await t.app.dispatcher.command(admin, 'command', '/audit 10'))).toContain(
      'shell.run shell: echo s3cr3t-plan → approval_requested',
    );
  });

  it('hides the parameters of an action that is no longer registered (shell switched off since)', async () => {
    const dir = tempDir();
    onTestFinished(() => dir.remove());
    t = await testApp({ SHELL_ENABLED: 'true' }, [shellModule], dir.path);
    await t.app.dispatcher.dispatch(admin, 'command', 'shell.run', { command: 'echo s3cr3t-plan' });
    await t.close();
    t = await testApp({}, [], dir.path);
    const byOperator = text(await t.app.dispatcher.command(op, 'command', '/audit 10'));
    expect(byOperator).toContain('shell.run [admin only]');
    expect(byOperator).not.toContain('s3cr3t-plan');
  });
});
