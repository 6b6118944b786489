/**
 * `/tmux find` on a real tmux pane, in the Node 24 run too (test/node24/run.ts): Node 23+
 * compiles modifier groups such as (?i:error), on which the regex checker once rescanned for
 * ever, freezing the bot.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ActionContext, AnyAction } from '../../../src/core/action.js';
import { bindArgs } from '../../../src/core/commands.js';
import { createRedactor } from '../../../src/core/redact.js';
import { plainText } from '../../../src/core/result.js';
import { tmuxActions } from '../../../src/targets/tmux/actions.js';
import { tmuxSettings } from '../../../src/targets/tmux/settings.js';
import { describeTmux, eventually, testServer, type TestServer } from './helpers.js';

const ctx: ActionContext = {
  operator: { userId: 1, chatId: 1, role: 'viewer', display: '@v' },
  origin: 'command',
  signal: new AbortController().signal,
  chat: { get: () => undefined, set: () => undefined },
};

/** Node 23+ compiles (?i:…); older versions refuse it as invalid. */
const MODIFIERS = (() => {
  try {
    return new RegExp('(?i:a)').test('A');
  } catch {
    return false;
  }
})();

describeTmux('/tmux find on a real pane', () => {
  let s: TestServer;
  let find: AnyAction;
  /** As the registry maps "/tmux find <args>", then the schema, then the action. */
  const run = (args: string) => find.run(ctx, find.params.parse(bindArgs(find.command!.usage!, args)));

  beforeAll(async () => {
    s = testServer();
    find = tmuxActions({
      port: s.port,
      settings: tmuxSettings({ defaultCwd: s.dir }),
      redact: createRedactor([]).redact,
    }).find((a) => a.name === 'tmux.find')!;
    await s.tmux(
      'new-session',
      '-d',
      '-s',
      'app',
      s.script('app.sh', 'echo "ERROR: disk full"; echo ok; echo "error: retry"; sleep 300'),
    );
    await eventually(async () =>
      (await s.tmux('capture-pane', '-p', '-t', '=app:')).includes('error: retry') ? true : undefined,
    );
  });
  afterAll(async () => {
    await s.cleanup();
  });

  it('refuses (?i:error) with one line instead of hanging, and finds with the i flag', async () => {
    await expect(run('app /(?i:error)/')).rejects.toThrow(
      MODIFIERS
        ? /^regex refused: modifier groups like \(\?i:…\) are not supported; use the \/…\/i, m or s flags instead$/
        : /^regex refused: not a valid regular expression$/,
    );
    expect(plainText(await run('app /error/i'))).toBe('2 matching lines in app:\nERROR: disk full\nerror: retry');
  });
});
