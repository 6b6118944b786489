import { afterEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/core/dispatcher.js';
import type { Principal } from '../../../src/core/policy.js';
import { plainText } from '../../../src/core/result.js';
import { shell as shellModule } from '../../../src/targets/shell/module.js';
import { testApp, type TestApp } from '../../support/app.js';

const admin: Principal = { transport: 'tg', userId: 20, chatId: 20, chatKind: 'private' };
const operator: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private' };

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  delete process.env.TELEGRAM_BOT_TOKEN;
});

const text = (o: Outcome) =>
  o.kind === 'done' ? plainText(o.result) : o.kind === 'refused' || o.kind === 'failed' ? o.message : o.kind;

async function approveRun(command: string): Promise<string> {
  const o = await t!.app.dispatcher.command(admin, 'command', `/shell ${command}`);
  if (o.kind !== 'approval') throw new Error(`expected an approval card, got ${text(o)}`);
  expect(plainText(o.approval.card)).toContain(command.slice(0, 50));
  return text(await t!.app.dispatcher.decide(admin, o.approval.id, o.approval.token, 'approve'));
}

describe('/shell', () => {
  it('does not exist unless SHELL_ENABLED=true', async () => {
    t = await testApp({}, [shellModule]);
    expect(text(await t.app.dispatcher.command(admin, 'command', '/shell echo hi'))).toMatch(
      /\/shell is not a command/,
    );
  });

  it('is for admins only, always asks for approval, and shows the exit code', async () => {
    t = await testApp({ SHELL_ENABLED: 'true' }, [shellModule]);
    expect(text(await t.app.dispatcher.command(operator, 'command', '/shell echo hi'))).toMatch(/needs the admin role/);
    expect(await approveRun('echo "hello  world"; exit 3')).toBe('⚠️ exit code 3\nhello  world');
    expect(await approveRun('printf ""')).toBe('✅ exit code 0\n(no output)');
    expect(t.app.registry.allowedFor('admin').find((a) => a.name === 'shell.run')?.llm).toBe(false);
  });

  it('runs a command starting with "-" as a command, never as an option of sh (found by the input fuzz)', async () => {
    t = await testApp({ SHELL_ENABLED: 'true' }, [shellModule]);
    const out = await approveRun('-i');
    expect(out).toMatch(/-i: not found/);
    expect(out).not.toMatch(/Illegal option|option requires/);
  });

  it('kills a command that runs too long, caps output, and keeps teleops secrets out of its environment', async () => {
    process.env.TELEGRAM_BOT_TOKEN = '123456:shell-test-secret-token-abcdefghij';
    t = await testApp({ SHELL_ENABLED: 'true', SHELL_TIMEOUT_SECONDS: '1' }, [shellModule]);
    expect(await approveRun('sleep 30 & sleep 30')).toMatch(/^⚠️ killed after 1s \(SHELL_TIMEOUT_SECONDS\)/);
    expect(await approveRun('yes teleops | head -c 200000')).toMatch(/output cut at 64 KiB/);
    expect(await approveRun('echo "bot=[${TELEGRAM_BOT_TOKEN}]"')).toContain('bot=[]');
  });
});
