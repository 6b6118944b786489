/**
 * Per-chat scopes over Docker hosts, through the real app (dispatcher, SQLite, audit, alert
 * router, the LLM agent with a scripted model at the provider boundary) and a real dockerd. Scopes
 * match host names, so one Engine serves as two hosts, `one` and `two` (each with its own
 * events watcher): the group -100 may use `one`; user 11's private chat may read `two`; user
 * 10's private chat has no scope. Every origin is refused outside the scope: a command, a
 * button (one pressed in another chat), an LLM tool call, an alert's button.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { llmActions } from '../../../src/ai/tools.js';
import type { Principal } from '../../../src/core/policy.js';
import { plainText, type Result } from '../../../src/core/result.js';
import { docker as dockerModule } from '../../../src/targets/docker/module.js';
import { aiTestApp, type AiTestApp } from '../../ai/support.js';
import {
  offeredTools,
  scriptedModel,
  toolOutputs,
  type CallOptions,
  type ScriptedModel,
  type ScriptedStep,
} from '../../fakes/scripted-model.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, removeSuiteContainers, waitFor } from '../../support/dockerd.js';
import { outcomeText } from '../../support/outcome.js';

const SUITE = 'scopes';
const env = await useDockerd(SUITE);

const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };
const unscoped: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private', name: '@ops' };
const readOnly: Principal = { transport: 'tg', userId: 11, chatId: 11, chatKind: 'private', name: '@bob' };

const text = outcomeText;

describe.skipIf(env === undefined)('per-chat scopes over Docker hosts', { timeout: 180_000 }, () => {
  let t: AiTestApp;
  let model: ScriptedModel;
  const script: ((call: CallOptions, i: number) => ScriptedStep)[] = [];
  const alerts: { result: Result; to: (chat: number) => boolean }[] = [];
  const say = async (line: string, who: Principal): Promise<string> =>
    text(await t.app.dispatcher.command(who, 'command', line));
  const startedAt = async () => (await env!.docker.getContainer('scopes-web').inspect()).State.StartedAt;
  const lastAudit = () => t.app.audit.recent(1)[0]!;

  beforeAll(async () => {
    await createTestContainer(env!.docker, { name: 'scopes-web', cmd: ['sleep', '600'], suite: SUITE });
    model = scriptedModel((call, i) => (script.shift() ?? (() => ({ text: 'done' })))(call, i));
    t = await aiTestApp(
      model,
      {
        DOCKER_ENABLED: 'true',
        DOCKER_HOSTS: `one=${env!.host},two=${env!.host}`,
        SCOPES: '-100=docker:one 11=docker:two:ro',
        RATE_LIMIT_PER_MINUTE: '1000',
        AI_DESTRUCTIVE_ALLOWED: 'false',
      },
      [dockerModule],
    );
    t.app.setAlertDelivery(async (result, to) => void alerts.push({ result, to }));
    await t.app.startBackground();
  });
  afterAll(async () => {
    await t?.close();
    await removeSuiteContainers(env!.docker, SUITE).catch(() => undefined);
  });

  it('lists only the hosts in the chat’s scope; a chat without one sees both', async () => {
    const mine = await say('/docker ps all', group);
    expect(mine).toContain('host one');
    expect(mine).not.toContain('two');
    expect(await say('/hosts', group)).toMatch(/Docker hosts: 1\n.*one/);
    expect(await say('/hosts', group)).not.toContain('two');
    const theirs = await say('/docker ps all', readOnly);
    expect(theirs).toContain('host two');
    expect(theirs).not.toContain('host one');
    // The bare alias takes a host too.
    const two = await say('/docker @two', unscoped);
    expect(two).toContain('scopes-web');
    expect(two).not.toContain('host one');
    expect(await say('/docker @one', readOnly)).toBe("docker.ps: docker one is not in this chat's scope.");
    const all = await say('/docker ps all', unscoped);
    expect(all).toContain('host one');
    expect(all).toContain('host two');
  });

  it('binds a command without @host to the first host in scope, and refuses another host in one line', async () => {
    // Neither chat chose a host: each gets the first one its scope holds.
    expect(await say('/docker inspect scopes-web', readOnly)).toContain('two');
    expect(await say('/docker inspect scopes-web', group)).not.toContain('two');
    expect(await say('/docker inspect scopes-web@two', group)).toBe(
      "docker.inspect: docker two is not in this chat's scope.",
    );
    expect(lastAudit()).toMatchObject({ action: 'docker.inspect', outcome: 'forbidden', chat: -100 });
    expect(await say('/docker use two', group)).toBe("docker.use: docker two is not in this chat's scope.");
  });

  it('refuses a change where the scope is read-only, before any card, and changes nothing', async () => {
    const before = await startedAt();
    expect(await say('/docker restart scopes-web', readOnly)).toBe(
      'docker.restart: docker two is read-only in this chat.',
    );
    expect(lastAudit()).toMatchObject({
      action: 'docker.restart',
      outcome: 'forbidden',
      detail: 'docker two is read-only in this chat',
    });
    expect(await startedAt()).toBe(before);
  });

  it('refuses a button bound to another host, pressed in a chat whose scope does not hold it', async () => {
    // The button of /docker ps in the unscoped chat, bound to host two, pressed in the group.
    const list = await t.app.dispatcher.command(unscoped, 'command', '/docker ps all');
    const button = list.kind === 'done' ? list.result.buttons?.flat().find((b) => b.params.host === 'two') : undefined;
    expect(button).toBeDefined();
    const o = await t.app.dispatcher.dispatch(group, 'button', button!.action, button!.params);
    expect(text(o)).toBe(`${button!.action}: docker two is not in this chat's scope.`);
    const alertButton = await t.app.dispatcher.dispatch(group, 'alert', 'docker.logs', {
      container: 'scopes-web',
      host: 'two',
    });
    expect(text(alertButton)).toBe("docker.logs: docker two is not in this chat's scope.");
    expect(lastAudit()).toMatchObject({ origin: 'alert', outcome: 'forbidden' });
  });

  it('offers the LLM only tools in scope, and refuses its tool call naming a host outside it', async () => {
    const tools = (p: Principal) => llmActions(t.app.registry, 'operator', t.app.dispatcher.scopeOf(p.chatId));
    expect(tools(readOnly).map((a) => a.name)).toContain('docker.logs');
    expect(tools(readOnly).map((a) => a.name)).not.toContain('docker.restart');
    expect(tools(group).map((a) => a.name)).toContain('docker.restart');
    // The test target is named by no scope: hidden from scoped chats, there for the unscoped one.
    expect(tools(group).some((a) => a.target === 'test')).toBe(false);
    expect(tools(unscoped).some((a) => a.target === 'test')).toBe(true);

    script.push(
      () => ({ calls: [{ tool: 'docker_logs', args: { container: 'scopes-web', host: 'two' } }] }),
      (call) => ({ text: `seen: ${toolOutputs(call).at(-1)?.text ?? ''}` }),
    );
    const from = model.calls.length;
    await t.agent.ask(group, 'show me the web log on two', {
      progress: () => undefined,
      approval: async () => undefined,
    });
    const offered = offeredTools(model.calls[from]!);
    expect(offered).toContain('docker_logs');
    expect(offered).not.toContain('test_destroy');
    expect(toolOutputs(model.calls[from + 1]!).at(-1)?.text).toContain("docker two is not in this chat's scope");
    expect(t.app.audit.recent(5).find((e) => e.origin === 'ai')).toMatchObject({
      action: 'docker.logs',
      outcome: 'forbidden',
      chat: -100,
    });
  });

  it('shows /help only what the chat may use', async () => {
    const help = await say('/help', readOnly);
    expect(help).toContain('/docker ps');
    expect(help).not.toContain('/docker restart');
    expect(help).not.toMatch(/^test$/m);
    expect(await say('/help', unscoped)).toContain('/docker restart');
  });

  it('shows /status of the targets in scope only, without details naming places outside it', async () => {
    const mine = await say('/status', group);
    expect(mine).toMatch(/^\S+ docker: up \(its details name places outside this chat's scope\)$/m);
    expect(mine).not.toContain('two');
    expect(mine).not.toContain(env!.host);
    // Core's own integrations are for every chat.
    expect(mine).toMatch(/^\S+ audit: up — /m);
    const all = await say('/status', unscoped);
    expect(all).toMatch(/^\S+ docker: up — .*one.*two/m);
  });

  it('shows a scoped chat the audit entries of its own requests only', async () => {
    const mine = await say('/audit 50', group);
    expect(mine).toMatch(/^Last \d+ audit entries of this chat \(newest first\)/);
    expect(mine).not.toContain('tg:11');
    expect(mine).toContain('docker.inspect');
    expect(await say('/audit 50', unscoped)).toContain('tg:11');
  });

  it('sends an alert about a host only to the chats whose scope holds it', async () => {
    alerts.length = 0;
    await createTestContainer(env!.docker, {
      name: 'scopes-crash',
      cmd: ['sh', '-c', 'sleep 1; exit 3'],
      suite: SUITE,
    });
    const about = (host: string) =>
      alerts.find((a) => plainText(a.result).includes(`host ${host}`) && plainText(a.result).includes('scopes-crash'));
    await waitFor(() => (about('one') && about('two') ? true : undefined), 'alerts from both hosts', 30_000);
    expect([about('one')!.to(-100), about('one')!.to(11), about('one')!.to(10)]).toEqual([true, false, true]);
    expect([about('two')!.to(-100), about('two')!.to(11), about('two')!.to(10)]).toEqual([false, true, true]);
  });
});
