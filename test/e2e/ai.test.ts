import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBotApi } from '../fakes/botapi.js';
import { startFakeLlm, type FakeLlm, type FakeLlmScript } from '../fakes/llm.js';
import { tempDir } from '../support/app.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { runs } from '../support/test-target.js';

const OP = 10;
const VIEWER = 30;

let fake: FakeBotApi;
let llm: FakeLlm;
let script: FakeLlmScript;
let dir: ReturnType<typeof tempDir>;
let proc: Proc | undefined;

beforeEach(async () => {
  fake = new FakeBotApi({ username: 'teleops_ai_bot' });
  await fake.start();
  fake.createUser({ id: OP, username: 'ops' });
  fake.createUser({ id: VIEWER, username: 'viewer' });
  llm = await startFakeLlm((req, i) => script(req, i));
  dir = tempDir();
});

afterEach(async () => {
  await proc?.stop();
  proc = undefined;
  await llm.close();
  await fake.stop();
  dir.remove();
});

async function start(): Promise<void> {
  proc = runTeleops(['start'], {
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    VIEWER_USER_IDS: String(VIEWER),
    STATE_DIR: dir.path,
    HTTP_PORT: String(await freePort()),
    DOCKER_ENABLED: 'false',
    TMUX_ENABLED: 'false',
    TELEGRAM_PRIVATE_PER_SECOND: '0',
    TEST_RUNS_FILE: join(dir.path, 'runs.txt'),
    AI_PROVIDER: 'openai-compatible',
    AI_BASE_URL: `${llm.url}/v1`,
    AI_MODEL: 'scripted',
    AI_API_KEY: 'llm-key-0123456789',
  });
  await fake.waitFor(() => fake.calls.some((c) => c.method === 'getUpdates'), 30_000, 'the bot to poll');
}

const buttons = (chat: number, id: number) =>
  (fake.message(chat, id)?.reply_markup?.inline_keyboard ?? []).flat().map((b) => ('callback_data' in b ? b.callback_data : ''));

describe('plain language through Telegram', () => {
  it('a destructive request: typing, progress, an approval card, the run after Approve, then the answer', async () => {
    // The model asks for test.destroy, then answers with what the tool said.
    script = (req) =>
      req.toolResults.length === 0 ? { calls: [{ tool: 'test_destroy', args: { name: 'cache' } }] } : { text: `Done: ${req.toolResults.at(-1)?.includes('destroyed cache') ? 'cache destroyed' : 'not done'}` };
    await start();
    fake.sendText({ from: OP, text: 'please wipe the cache thing' });
    const card = await fake.waitForMessage({ chat: OP, match: /Approval needed/ });
    expect(card.text).toContain('test.destroy');
    expect(card.text).toContain('(ai)');
    expect(fake.chatActions(OP).some((a) => a.action === 'typing')).toBe(true);
    expect(runs(join(dir.path, 'runs.txt'), 'destroy')).toBe(0);
    fake.pressButton({ from: OP, messageId: card.message_id, data: buttons(OP, card.message_id)[0]! });
    const answer = await fake.waitForMessage({ chat: OP, match: /Done: cache destroyed/, timeoutMs: 15_000 });
    expect(answer.text).toMatch(/test\.destroy/);
    expect(runs(join(dir.path, 'runs.txt'), 'destroy')).toBe(1);
    // The progress message was shown, then replaced by the answer.
    expect(fake.history(OP).some((m) => m.sender === 'bot' && m.deleted && /^(🤔|🔧|⏳)/u.test(m.text ?? ''))).toBe(true);
    expect(fake.messages(OP).some((m) => m.text?.startsWith('🔧'))).toBe(false);
    // The key never reached Telegram, and the redacted prompt never carried it either.
    expect(fake.messages(OP).map((m) => m.text).join('\n')).not.toContain('llm-key-0123456789');
  });

  it('a viewer is offered no mutating tool', async () => {
    script = () => ({ text: 'nothing to do' });
    await start();
    fake.sendText({ from: VIEWER, text: 'what can you do?' });
    await fake.waitForMessage({ chat: VIEWER, match: /nothing to do/ });
    const offered = llm.requests[0]!.tools;
    expect(offered).toContain('test_echo');
    expect(offered).not.toContain('test_destroy');
    expect(offered).not.toContain('test_touch');
  });
});
