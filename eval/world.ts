/**
 * One task's world: the real app (registry, dispatcher, audit, agent) over a temporary state
 * dir, with the real Docker actions on a simulated engine and the real Kubernetes actions on
 * the fake Kubernetes API server (two clusters, prod and staging). Built fresh for each task.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../src/ai/agent.js';
import type { AiModel } from '../src/ai/providers.js';
import { createApp, type App } from '../src/app.js';
import type { TargetModule } from '../src/core/target.js';
import { loadConfig } from '../src/config.js';
import type { PendingApproval } from '../src/core/dispatcher.js';
import { silentLogger } from '../src/core/log.js';
import type { Principal } from '../src/core/policy.js';
import { plainText } from '../src/core/result.js';
import { dockerActions } from '../src/targets/docker/actions.js';
import { createExpectedStops } from '../src/targets/docker/stops.js';
import { kubernetes as kubernetesModule } from '../src/targets/kubernetes/module.js';
import { startFakeKube, writeKubeconfig, type ClusterState, type FakeKubeApi } from '../test/fakes/kubeapi.js';
import { seedFleet, SimDocker } from './docker-sim.js';

export const OPERATOR: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };
export const VIEWER: Principal = { transport: 'tg', userId: 30, chatId: 30, chatKind: 'private', name: '@viewer' };

export interface World {
  readonly app: App;
  readonly agent: Agent;
  readonly docker: SimDocker;
  readonly kube: FakeKubeApi;
  readonly prod: ClusterState;
  close(): Promise<void>;
}

/** What one run of the agent did, for the checker. */
export interface RunRecord {
  readonly answer: string;
  /** Plain text of every approval card shown. */
  readonly cards: string[];
  /** Actions the agent dispatched (audit entries with origin ai), in order, with their outcome. */
  readonly calls: { action: string; target: string; outcome: string }[];
  readonly progress: string[];
}

export async function createWorld(model: AiModel): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'teleops-eval-'));
  const kube = await startFakeKube();
  const kubeconfig = await writeKubeconfig(dir, kube);
  const docker = new SimDocker();
  seedFleet(docker, Date.now());
  const r = loadConfig(
    {
      AUTHORIZED_USER_IDS: '10',
      VIEWER_USER_IDS: '30',
      HTTP_PORT: '0',
      DOCKER_ENABLED: 'false',
      TMUX_ENABLED: 'false',
      STATE_DIR: dir,
      KUBECONFIG: kubeconfig,
      AI_PROVIDER: 'none',
    },
    'console',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const simDocker: TargetModule = {
    name: 'docker',
    settings: {},
    create: ({ redactor }) => ({ actions: dockerActions({ port: docker, stops: createExpectedStops(), redactor }) }),
  };
  const app = await createApp(r.config, [simDocker, kubernetesModule], { log: silentLogger(), model });
  if (!app.agent) throw new Error('no agent');
  return {
    app,
    agent: app.agent,
    docker,
    kube,
    prod: kube.cluster('prod'),
    async close() {
      await app.close(1000);
      await kube.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Asks the agent as `who`; a person answers every approval card with `decision`. */
export async function runTask(
  w: World,
  who: Principal,
  prompt: string,
  decision: 'approve' | 'deny',
): Promise<RunRecord> {
  const cards: string[] = [];
  const progress: string[] = [];
  const since = w.app.audit.head()?.seq ?? 0;
  const result = await w.agent.ask(who, prompt, {
    progress: (l) => progress.push(l),
    approval: async (p: PendingApproval) => {
      cards.push(plainText(p.card));
      setTimeout(() => void w.app.dispatcher.decide(who, p.id, p.token, decision), 20);
    },
  });
  const calls = w.app.audit
    .recent(1000)
    .filter(
      (e) =>
        e.seq > since &&
        e.origin === 'ai' &&
        ['ok', 'failed', 'approval_requested', 'forbidden', 'invalid', 'rejected', 'expired'].includes(e.outcome),
    )
    .reverse()
    .map((e) => ({ action: e.action, target: e.target, outcome: e.outcome }));
  return { answer: plainText(result), cards, calls, progress };
}
