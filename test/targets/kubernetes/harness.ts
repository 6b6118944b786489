/**
 * Test harness for the Kubernetes target: the fake API server, a kubeconfig pointing at it,
 * the target built the way app.ts builds it, and the registry's own command parsing, so a
 * test reads like an operator typing `/k8s scale deploy/web 5`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import type { ActionContext, AnyAction, ChatState, Origin } from '../../../src/core/action.js';
import type { Alert, AlertSink } from '../../../src/core/alerts.js';
import { parseCommandLine } from '../../../src/core/commands.js';
import { silentLogger } from '../../../src/core/log.js';
import { Registry } from '../../../src/core/registry.js';
import { plainText, type Block, type Result } from '../../../src/core/result.js';
import {
  createKubeTarget,
  type KubeSettings,
  type KubeTarget,
  type KubeTargetOptions,
} from '../../../src/targets/kubernetes/index.js';
import { startFakeKube, writeKubeconfig, type ContextSpec, type FakeKubeApi } from '../../fakes/kubeapi.js';

export class MemoryChatState implements ChatState {
  readonly values = new Map<string, string>();
  get(key: string): string | undefined {
    return this.values.get(key);
  }
  set(key: string, value: string | undefined): void {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
  }
}

export class Alerts implements AlertSink {
  readonly raised: Alert[] = [];
  raise(alert: Alert): void {
    this.raised.push(alert);
  }
  keys(): string[] {
    return this.raised.map((a) => a.key);
  }
}

export function context(chat: ChatState = new MemoryChatState(), origin: Origin = 'command'): ActionContext {
  return {
    operator: { userId: 1, chatId: 1, role: 'operator', display: '@op' },
    origin,
    signal: AbortSignal.timeout(20_000),
    chat,
  };
}

export interface Env {
  readonly api: FakeKubeApi;
  readonly dir: string;
  readonly kubeconfig: string;
  close(): Promise<void>;
}

/** Contexts besides prod and staging: a viewer on prod, and one whose server is not there. */
export const EXTRA_CONTEXTS: readonly ContextSpec[] = [
  { name: 'prod-viewer', cluster: 'prod', token: 'prod-viewer-token', namespace: 'shop' },
  { name: 'prod-stranger', cluster: 'prod', token: 'not-a-token', namespace: 'shop' },
  { name: 'offline', cluster: 'http://127.0.0.1:9', token: 'x', namespace: 'default' },
];

export async function startEnv(extra: readonly ContextSpec[] = EXTRA_CONTEXTS): Promise<Env> {
  const api = await startFakeKube({ rolloutDelayMs: 10 });
  const dir = await mkdtemp(path.join(tmpdir(), 'teleops-k8s-'));
  const kubeconfig = await writeKubeconfig(dir, api, extra);
  return {
    api,
    dir,
    kubeconfig,
    close: async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const FAST: KubeTargetOptions = {
  timeoutMs: 2000,
  rolloutTimeoutMs: 3000,
  rolloutPollMs: 25,
  watch: { timeoutSeconds: 30, backoffMs: { initial: 50, max: 200 } },
};

export function target(
  env: Env,
  settings: Partial<KubeSettings> = {},
  sink: AlertSink = new Alerts(),
  o: KubeTargetOptions = FAST,
): KubeTarget {
  const t = createKubeTarget(
    { kubeconfig: env.kubeconfig, readOnly: false, maxReplicas: 50, ...settings },
    sink,
    silentLogger(),
    o,
  );
  if (!t) throw new Error('no kubernetes target');
  return t;
}

export interface Invocation {
  readonly action: AnyAction;
  readonly params: Record<string, unknown>;
}

/** What the dispatcher does before running: command lookup, then the schema. */
export function parse(t: KubeTarget, line: string): Invocation {
  const cmd = parseCommandLine(line);
  if (!cmd) throw new Error(`not a command: ${line}`);
  const found = new Registry(t.actions).lookup(cmd);
  if (found.kind !== 'match') throw new Error(found.message);
  return validate(found.match.action, found.match.params);
}

export function validate(action: AnyAction, raw: unknown): Invocation {
  const r = (action.params as z.ZodType).safeParse(raw);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return { action, params: r.data as Record<string, unknown> };
}

export function action(t: KubeTarget, name: string): AnyAction {
  const a = t.actions.find((x) => x.name === name);
  if (!a) throw new Error(`no action ${name}`);
  return a;
}

/** Runs a command line as an operator would (approval is the dispatcher's job, not tested here). */
export async function run(t: KubeTarget, line: string, ctx: ActionContext = context()): Promise<Result> {
  const inv = parse(t, line);
  return toEnd(t, () => inv.action.run(ctx, inv.params));
}

/** What `start` answers; a live card that the target goes on editing (a rollout followed), at its end. */
export async function toEnd(t: KubeTarget, start: () => Promise<Result>): Promise<Result> {
  const cards: Result[] = [];
  const off = t.onCard((c) => cards.push(c));
  try {
    const r = await start();
    const key = r.card?.key;
    if (key === undefined || r.card?.final) return r;
    await until(() => cards.some((c) => c.card?.key === key && c.card.final), 10_000, `the final card of ${key}`);
    return cards.find((c) => c.card?.key === key && c.card.final)!;
  } finally {
    off();
  }
}

export async function preview(t: KubeTarget, line: string, ctx: ActionContext = context()): Promise<string> {
  const inv = parse(t, line);
  if (!inv.action.preview) throw new Error(`${inv.action.name} has no preview`);
  return plainText({ blocks: (await inv.action.preview(ctx, inv.params)) as Block[] });
}

/** The error message a command line ends with (parse, schema or run). */
export async function failure(t: KubeTarget, line: string, ctx: ActionContext = context()): Promise<string> {
  try {
    await run(t, line, ctx);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error(`expected ${line} to fail`);
}

export const text = (r: Pick<Result, 'blocks'>): string => plainText(r);
export const firstLine = (r: Pick<Result, 'blocks'>): string => plainText(r).split('\n')[0] ?? '';

export async function until(
  cond: () => boolean,
  ms = 5000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
