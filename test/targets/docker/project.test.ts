import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/core/commands.js';
import { createRedactor } from '../../../src/core/redact.js';
import { Registry } from '../../../src/core/registry.js';
import { plainText } from '../../../src/core/result.js';
import { dockerActions } from '../../../src/targets/docker/actions.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import type { ContainerSummary } from '../../../src/targets/docker/port.js';
import { COMPOSE_DEPENDS_ON, dependsOn, restartOrder } from '../../../src/targets/docker/project.js';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';
import { COMPOSE_PROJECT, COMPOSE_SERVICE } from '../../../src/targets/docker/summary.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer } from '../../support/dockerd.js';
import { actionContext, byName, runAction } from './helpers.js';

const row = (service: string, deps = '', name = `p-${service}-1`): ContainerSummary => ({
  id: `${name}-id`,
  name,
  image: 'x',
  state: 'running',
  status: 'Up 1 hour',
  labels: deps ? { [COMPOSE_DEPENDS_ON]: deps } : {},
  project: 'p',
  service,
});
const services = (cs: readonly ContainerSummary[]): string[] => cs.map((c) => c.service!);

describe('restart order of a compose project', () => {
  it('reads the depends_on label: service names, conditions and flags dropped', () => {
    expect(dependsOn({ [COMPOSE_DEPENDS_ON]: 'db:service_started:false,cache:service_healthy:true' })).toEqual([
      'db',
      'cache',
    ]);
    expect(dependsOn({})).toEqual([]);
  });

  it('puts dependencies first, ties by service name; without labels, by service name', () => {
    const project = [
      row('worker', 'web:service_started:false'),
      row('web', 'db:service_started:false,cache:service_healthy:true'),
      row('db'),
      row('cache'),
      row('web', 'db:service_started:false,cache:service_healthy:true', 'p-web-2'),
    ];
    const { order, cycle } = restartOrder(project);
    expect(order.map((c) => c.name)).toEqual(['p-cache-1', 'p-db-1', 'p-web-1', 'p-web-2', 'p-worker-1']);
    expect(cycle).toEqual([]);
    expect(services(restartOrder([row('b'), row('c'), row('a')]).order)).toEqual(['a', 'b', 'c']);
    // A dependency outside the project is not waited for.
    expect(services(restartOrder([row('web', 'elsewhere:service_started:false'), row('api')]).order)).toEqual([
      'api',
      'web',
    ]);
  });

  it('still lists every container when services depend on each other', () => {
    const { order, cycle } = restartOrder([row('a', 'b:x:false'), row('b', 'a:x:false'), row('c')]);
    expect(services(order)).toEqual(['c', 'a', 'b']);
    expect(cycle).toEqual(['a', 'b']);
  });

  it('never puts a service before one it depends on (random dependency graphs)', () => {
    const names = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];
    let withDeps = 0;
    fc.assert(
      fc.property(fc.array(fc.subarray(names), { minLength: names.length, maxLength: names.length }), (deps) => {
        // Only edges to earlier names: a DAG.
        const project = names.map((n, i) =>
          row(
            n,
            deps[i]!.filter((d) => d < n)
              .map((d) => `${d}:x:false`)
              .join(','),
          ),
        );
        if (project.some((c) => Object.keys(c.labels).length > 0)) withDeps++;
        const order = services(restartOrder(project).order);
        expect([...order].sort()).toEqual(names);
        for (const c of project)
          for (const d of dependsOn(c.labels)) expect(order.indexOf(d)).toBeLessThan(order.indexOf(c.service!));
      }),
    );
    expect(withDeps).toBeGreaterThan(0);
  });
});

const env = await useDockerd('project');
const P = 'tpr';

describe.skipIf(!env)('/docker restart <project>/ against a real engine', () => {
  const e = env!;
  const port = createDockerPort({ host: e.host, timeoutMs: 10_000 });
  const actions = dockerActions({ port, stops: createExpectedStops(), redactor: createRedactor([]) });
  const SERVE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'];
  const compose = (service: string, deps?: string) => ({
    [COMPOSE_PROJECT]: P,
    [COMPOSE_SERVICE]: service,
    ...(deps ? { [COMPOSE_DEPENDS_ON]: deps } : {}),
  });

  it('shows the containers in order on the card, then restarts them dependencies first', async () => {
    await Promise.all([
      createTestContainer(e.docker, {
        name: `${P}-web-1`,
        cmd: SERVE,
        suite: e.suite,
        labels: compose('web', 'db:service_started:false,cache:service_healthy:true'),
      }),
      createTestContainer(e.docker, { name: `${P}-db-1`, cmd: SERVE, suite: e.suite, labels: compose('db') }),
      createTestContainer(e.docker, {
        name: `${P}-cache-1`,
        cmd: SERVE,
        suite: e.suite,
        labels: compose('cache', 'db:service_started:false'),
      }),
      createTestContainer(e.docker, { name: `${P}-other`, cmd: SERVE, suite: e.suite }),
    ]);
    const restart = byName(actions, 'docker.restart');
    const params = restart.params.parse({ container: `${P}/` });
    expect(restart.subject!(params)).toBe(`compose project ${P}`);
    const card = plainText({ blocks: await restart.preview!(actionContext(), params) });
    expect(card).toContain(`Restarts 3 containers of compose project ${P}, one at a time, dependencies first:`);
    const listed = card.split('\n').filter((l) => /^\d\. /.test(l));
    expect(listed.map((l) => l.split(' · ')[1])).toEqual([`${P}-db-1`, `${P}-cache-1`, `${P}-web-1`]);

    const started = async (n: string) => Date.parse((await e.docker.getContainer(n).inspect()).State.StartedAt);
    const before = await Promise.all(['db', 'cache', 'web'].map((s) => started(`${P}-${s}-1`)));
    const other = await started(`${P}-other`);
    const notes: string[] = [];
    const ctx = { ...actionContext(), progress: (t: string) => notes.push(t) };
    const out = plainText(await restart.run(ctx, params));
    expect(out).toContain(`✅ 3. ${P}-web-1 restarted`);
    expect(notes).toEqual([1, 2, 3].map((i) => expect.stringMatching(new RegExp(`^Restarting ${i}/3: `))));
    const after = await Promise.all(['db', 'cache', 'web'].map((s) => started(`${P}-${s}-1`)));
    after.forEach((t, i) => expect(t).toBeGreaterThan(before[i]!));
    expect(after[0]).toBeLessThanOrEqual(after[1]!);
    expect(after[1]).toBeLessThanOrEqual(after[2]!);
    expect(await started(`${P}-other`)).toBe(other);
  }, 60_000);

  it('restarts only the containers its card listed: one added after the card is refused, and nothing restarts', async () => {
    const Q = `${P}late`;
    const labels = (service: string) => ({ [COMPOSE_PROJECT]: Q, [COMPOSE_SERVICE]: service });
    await createTestContainer(e.docker, { name: `${Q}-db-1`, cmd: SERVE, suite: e.suite, labels: labels('db') });
    const restart = byName(actions, 'docker.restart');
    const settled = await restart.settle!(actionContext(), restart.params.parse({ container: `${Q}/` }));
    const db = (await e.docker.getContainer(`${Q}-db-1`).inspect()).Id;
    expect(settled).toEqual({ container: `${Q}/`, ids: [db] });
    // One container's restart stands for no list: ids a requester set are dropped, not shown.
    expect(await restart.settle!(actionContext(), { container: `${Q}-db-1`, ids: [db] })).toEqual({
      container: `${Q}-db-1`,
    });
    // Between the card and the press, a container joins the project.
    await createTestContainer(e.docker, { name: `${Q}-miner-1`, cmd: SERVE, suite: e.suite, labels: labels('miner') });
    const startedAt = async (n: string) => (await e.docker.getContainer(n).inspect()).State.StartedAt;
    const before = await startedAt(`${Q}-db-1`);
    await expect(restart.run(actionContext(), settled)).rejects.toThrow(
      `compose project ${Q} changed since its card (new: ${Q}-miner-1): nothing was restarted`,
    );
    expect(await startedAt(`${Q}-db-1`)).toBe(before);
  }, 60_000);

  it('is typed as /docker restart <project>/', () => {
    const found = new Registry(actions).lookup(parseCommandLine(`/docker restart ${P}/`)!);
    expect(found).toMatchObject({ kind: 'match', match: { params: { container: `${P}/` } } });
  });

  it('refuses an unknown project with a close match, and references that are neither', async () => {
    await expect(runAction(actions, 'docker.restart', { container: `${P}x/` })).rejects.toThrow(
      `no compose project "${P}x"; did you mean ${P}/?`,
    );
    const restart = byName(actions, 'docker.restart');
    for (const bad of ['/x', '-x/', 'a/b/', 'a//'])
      expect(restart.params.safeParse({ container: bad }).success).toBe(false);
  });
});
