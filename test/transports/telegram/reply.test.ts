import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from 'grammy';
import { createRedactor } from '../../../src/core/redact.js';
import { line, result, text } from '../../../src/core/result.js';
import { ButtonRepo } from '../../../src/store/buttons.js';
import { openMemoryDb } from '../../../src/store/db.js';
import { BUTTON_PREFIX, Replier } from '../../../src/transports/telegram/reply.js';
import { FakeBotApi } from '../../fakes/botapi.js';

const CHAT = 42;
const SECRET = 'hunter2-very-secret-value';

describe('Replier keyboards (through the real grammY Api, to the fake Bot API)', () => {
  const fake = new FakeBotApi();
  beforeAll(async () => {
    await fake.start();
    fake.createUser({ id: CHAT });
  });
  afterAll(() => fake.stop());

  it('redacts every label, and buttons that share a label still do each their own thing', async () => {
    const buttons = new ButtonRepo(openMemoryDb());
    const replier = new Replier(new Api(fake.token, { apiRoot: fake.apiRoot }), buttons, createRedactor([SECRET]));
    const rows = ['api', 'web', `leak-${SECRET}`].map((name) => [
      { label: `📄 ${name}`, action: 'docker.logs', params: { container: name } },
      { label: '🔄 Restart', action: 'docker.restart', params: { container: name } },
    ]);
    const [sent] = await replier.send({ chatId: CHAT }, result([line(text('Containers'))], { buttons: rows }));
    const keyboard = fake.messages(CHAT).find((m) => m.message_id === sent!.message_id)!.reply_markup!.inline_keyboard;
    expect(keyboard.map((row) => row.map((b) => b.text))).toEqual([
      ['📄 api', '🔄 Restart'],
      ['📄 web', '🔄 Restart'],
      ['📄 leak-[REDACTED]', '🔄 Restart'],
    ]);
    expect(JSON.stringify(keyboard)).not.toContain(SECRET);
    const pressed = keyboard.flat().map((b) => buttons.get(('callback_data' in b ? b.callback_data : '').slice(BUTTON_PREFIX.length + 1), CHAT));
    expect(pressed).toEqual(rows.flat().map((b) => ({ action: b.action, params: b.params })));
  });
});
