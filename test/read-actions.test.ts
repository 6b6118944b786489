/**
 * Every `read` action of the real registry, built as `teleops start` builds it with every
 * target enabled, with what makes it free of side effects. Read actions run for viewers and
 * for the LLM without a card, so a new one fails this test until a reviewer has looked at it
 * and added it here with its reason.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { silentLogger } from '../src/core/log.js';
import { MODULES } from '../src/targets/modules.js';
import { scriptedModel } from './fakes/scripted-model.js';
import { tempDir } from './support/app.js';

const READ_ACTIONS: Record<string, string> = {
  'core.start': "a greeting and the caller's role; reads nothing outside the process",
  'core.help': 'renders the registry',
  'core.status': "runs each integration's health check (list calls only)",
  'core.whoami': "echoes the caller's identity and role",
  'audit.recent': 'selects from the audit table',
  'audit.verify': 'recomputes the chain from the table and the anchor file, writing neither',
  'ai.tmux-summary': 'tmux.tail through the dispatcher, then one LLM call (tokens are budgeted; no tool is offered)',
  'ai.docker-summary':
    'docker.logs through the dispatcher, then one LLM call (tokens are budgeted; no tool is offered)',
  'docker.ps': 'GET /containers/json',
  'docker.inspect': 'GET /containers/{id}/json',
  'docker.logs': 'GET /containers/{id}/logs',
  'docker.stats': 'GET /containers/{id}/stats?stream=false',
  'docker.top': 'GET /containers/{id}/top',
  'docker.df': 'GET /system/df (sizes only; prunes nothing)',
  'docker.events': 'GET /events with since and until (a look back that ends by itself)',
  'docker.logs-follow': 'GET /containers/{id}/logs?follow=1 into a card, for a bounded time',
  'docker.hosts': 'GET /version and /containers/json of each host',
  'docker.follow-stop': 'ends a follow started here: closes its log stream or stops its capture polls',
  'tmux.tail-follow': 'capture-pane every poll interval into a card, for a bounded time',
  'tmux.follow-stop': 'ends a follow started here: closes its log stream or stops its capture polls',
  'tmux.ls': 'list-sessions, list-panes, capture-pane',
  'tmux.tail': 'capture-pane',
  'tmux.log': 'capture-pane',
  'tmux.find': 'capture-pane, then a checked and step- and time-bounded regex over the text',
  'tmux.refresh':
    'looks at an already watched pane now, as the next poll would; never watches, unwatches or moves its card',
  'k8s.contexts': "reads the kubeconfig and the chat's scope",
  'k8s.ns': 'GET namespaces',
  'k8s.pods': 'GET pods',
  'k8s.deploy': 'GET deployments',
  'k8s.nodes': 'GET nodes',
  'k8s.events': 'GET events',
  'k8s.logs': 'GET pods/{name}/log',
  'k8s.describe': 'GET of the object and its events',
};

let app: App;
const dir = tempDir('teleops-reads-');

beforeAll(async () => {
  const kubeconfig = join(dir.path, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'prod',
      clusters: [{ name: 'prod', cluster: { server: 'http://127.0.0.1:9' } }],
      users: [{ name: 'prod', user: { token: 'unused' } }],
      contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod' } }],
    }),
  );
  const r = loadConfig(
    {
      AUTHORIZED_USER_IDS: '10',
      HTTP_PORT: '0',
      STATE_DIR: dir.path,
      DOCKER_ENABLED: 'true',
      DOCKER_HOST: `unix://${join(dir.path, 'docker.sock')}`,
      TMUX_ENABLED: 'true',
      TMUX_SOCKET: join(dir.path, 'tmux.sock'),
      KUBECONFIG: kubeconfig,
      SHELL_ENABLED: 'true',
    },
    'console',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  app = await createApp(r.config, MODULES, { log: silentLogger(), model: scriptedModel([]) });
});
afterAll(async () => {
  await app?.close(0);
  dir.remove();
});

it('names every read action of the registry, with what makes it side-effect free', () => {
  const all = app.registry.list();
  for (const target of ['core', 'docker', 'kubernetes', 'tmux', 'shell', 'ai']) {
    expect(
      all.some((a) => a.target === target),
      `the ${target} actions are in the registry`,
    ).toBe(true);
  }
  const reads = all
    .filter((a) => a.risk === 'read')
    .map((a) => a.name)
    .sort();
  expect(reads, 'a new read action: check it changes nothing, then add it here with why').toEqual(
    Object.keys(READ_ACTIONS).sort(),
  );
});

it("keeps what changes alerts or a chat's scope out of the reads (issue 12, item 8)", () => {
  for (const name of ['tmux.watch', 'tmux.unwatch', 'k8s.use'])
    expect(app.registry.get(name)?.risk, name).toBe('write');
});
