/**
 * End to end: per-chat scopes from a scopes.yaml (SCOPES_FILE), through the real `teleops
 * start` polling the fake Bot API, with a real dockerd. The group may use only tmux sessions
 * named `ci-…`; the operator's private chat has no scope. Both are alert chats: a crashed
 * container alerts the private chat only, the group is refused Docker in one line, and its
 * /help does not offer it. A scopes file it cannot read stops the start with one line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBotApi } from '../fakes/botapi.js';
import { tempDir } from '../support/app.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer } from '../support/dockerd.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';

const env = await useDockerd('e2e-scopes');

const OP = 10;
const GROUP = -1003001;

describe.skipIf(!env)('teleops start with per-chat scopes', { timeout: 120_000 }, () => {
  let fake: FakeBotApi;
  let proc: Proc | undefined;
  const dir = tempDir('teleops-e2e-scopes-');
  const file = join(dir.path, 'scopes.yaml');
  const settings = async () => ({
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    AUTHORIZED_CHAT_IDS: String(GROUP),
    ALERT_CHAT_ID: `${OP},${GROUP}`,
    STATE_DIR: join(dir.path, 'state'),
    HTTP_PORT: String(await freePort()),
    DOCKER_HOST: env!.host,
    TMUX_ENABLED: 'false',
    SCOPES_FILE: file,
    RATE_LIMIT_PER_MINUTE: '1000',
    TELEGRAM_PRIVATE_PER_SECOND: '0',
  });
  const inGroup = (text: string, match: RegExp) =>
    fake.waitForMessage({
      chat: GROUP,
      after: fake.sendText({ from: OP, chat: GROUP, text }).message.message_id,
      match,
      timeoutMs: 15_000,
    });

  beforeAll(async () => {
    fake = new FakeBotApi({ username: 'teleops_test_bot' });
    await fake.start();
    fake.createUser({ id: OP, username: `u${OP}` });
    fake.createChat({ id: GROUP, type: 'supergroup', title: 'ci' });
    writeFileSync(file, `# the CI team's chat\n${GROUP}:\n  tmux: '^ci-[a-z]{1,20}$'\n`);
    proc = runTeleops(['start'], await settings());
    await proc.waitForOutput(/docker events: subscribed/, 30_000);
  });
  afterAll(async () => {
    await proc?.stop();
    await fake?.stop();
    dir.remove();
  });

  it('refuses Docker in the group in one line, and leaves it out of the group’s /help', async () => {
    const refused = await inGroup('/docker ps', /docker/);
    expect(refused.text).toBe("⚠️ docker.ps: docker is not in this chat's scope.");
    const help = await inGroup('/help', /help/);
    expect(help.text).not.toContain('/docker');
    expect(help.text).toContain('/whoami');
  });

  it('alerts about a container only the alert chat whose scope holds Docker', async () => {
    await createTestContainer(env!.docker, {
      name: 'tde-scoped-crash',
      cmd: ['sh', '-c', 'sleep 1; exit 3'],
      suite: env!.suite,
    });
    await fake.waitForMessage({ chat: OP, match: /tde-scoped-crash.*exited with code 3/s, timeoutMs: 30_000 });
    // An alert for the group would have been queued with the private one, ahead of this answer.
    await inGroup('/whoami', /./);
    expect(fake.messages(GROUP).some((m) => (m.text ?? '').includes('tde-scoped-crash'))).toBe(false);
  });

  it('refuses to start on a scopes file it cannot use, in one line', async () => {
    writeFileSync(file, `${GROUP}:\n  kubernetes: prod\n`);
    const bad = runTeleops(['start'], await settings());
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(
      /SCOPES_FILE: chat -1003001: no target is called kubernetes \(targets: docker, tmux, k8s/,
    );
    expect(bad.output()).not.toMatch(/\n\s+at /);
  });
});
