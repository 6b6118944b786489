import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import type { TargetModule } from '../../src/core/target.js';
import type { Agent, AgentUi } from '../../src/ai/agent.js';
import type { AiModel } from '../../src/ai/providers.js';
import { loadConfig } from '../../src/config.js';
import type { PendingApproval } from '../../src/core/dispatcher.js';
import { silentLogger } from '../../src/core/log.js';
import type { Principal } from '../../src/core/policy.js';
import { tempDir } from '../support/app.js';
import { testTarget } from '../support/test-target.js';

export interface AiTestApp {
  readonly app: App;
  readonly agent: Agent;
  readonly dir: string;
  readonly runsFile: string;
  close(): Promise<void>;
}

/**
 * The real composition root with the test target, as testApp, plus a model: injected, or
 * (undefined) built from the AI settings in `env`.
 */
export async function aiTestApp(
  model: AiModel | undefined,
  env: Record<string, string> = {},
  extra: readonly TargetModule[] = [],
  dir?: string,
): Promise<AiTestApp> {
  const owned = dir === undefined ? tempDir('teleops-ai-') : undefined;
  const stateDir = dir ?? owned!.path;
  const r = loadConfig(
    {
      AUTHORIZED_USER_IDS: '10,11',
      ADMIN_USER_IDS: '20',
      VIEWER_USER_IDS: '30',
      AUTHORIZED_CHAT_IDS: '-100',
      HTTP_PORT: '0',
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      STATE_DIR: stateDir,
      ...env,
    },
    'console',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const runsFile = join(stateDir, 'runs.txt');
  const app = await createApp(r.config, [testTarget(runsFile), ...extra], {
    log: silentLogger(),
    ...(model ? { model } : {}),
  });
  if (!app.agent) {
    await app.close(0);
    owned?.remove();
    throw new Error('no agent: no model given and none configured');
  }
  return {
    app,
    agent: app.agent,
    dir: stateDir,
    runsFile,
    close: async () => {
      await app.close(1000);
      owned?.remove();
    },
  };
}

export const operator: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@alice' };
export const otherOperator: Principal = { transport: 'tg', userId: 11, chatId: 11, chatKind: 'private', name: '@bob' };
/** Two operators in the authorized group -100, where either may decide the other's cards. */
export const groupAlice: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@alice' };
export const groupBob: Principal = { transport: 'tg', userId: 11, chatId: -100, chatKind: 'group', name: '@bob' };
export const viewer: Principal = { transport: 'tg', userId: 30, chatId: 30, chatKind: 'private', name: '@vera' };

/** A UI that records what the agent showed, and answers approval cards with `decide`. */
export function recordingUi(
  decide?: (p: PendingApproval) => Promise<void> | void,
): AgentUi & { progress: AgentUi['progress']; lines: string[]; cards: PendingApproval[] } {
  const lines: string[] = [];
  const cards: PendingApproval[] = [];
  return {
    lines,
    cards,
    progress: (l) => lines.push(l),
    approval: async (p) => {
      cards.push(p);
      // The decision comes later, as a person's tap would, not from inside the call that shows the card.
      if (decide) setTimeout(() => void decide(p), 10);
    },
  };
}
