import { beforeAll, describe, expect, it } from 'vitest';
import { ActionError } from '../../../src/core/action.js';
import { createRedactor } from '../../../src/core/redact.js';
import { plainText, type Button } from '../../../src/core/result.js';
import { dockerActions, parsePsArgs, PS_PAGE_SIZE, STATS_MAX_CONTAINERS } from '../../../src/targets/docker/actions.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { COMPOSE_PROJECT, COMPOSE_SERVICE } from '../../../src/targets/docker/summary.js';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { actionContext, byName, runAction } from './helpers.js';

describe('parsePsArgs', () => {
  it('reads "all" anywhere and the rest as the filter', () => {
    expect(parsePsArgs([])).toEqual({});
    expect(parsePsArgs(['all'])).toEqual({ all: true });
    expect(parsePsArgs(['web', '-a'])).toEqual({ all: true, filter: 'web' });
  });
});

const env = await useDockerd('actions');
const P = 'tac'; // every container name in this file starts with it, so lists can be filtered to ours
/** Exits promptly on SIGTERM (sh runs the trap between sleeps), so stop/restart take < 1 s. */
const SERVE = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'];
/** Not named with P: the listing tests count P's containers. */
const KEYED = 'tik-keyed';
const KEY_BODY = Array.from({ length: 8 }, (_, i) => `MIIEowIBAAKCAQEA${String(i).repeat(48)}`).join('\n');
/** A private key on the command line, long enough that a 300-character cut falls between its markers. */
const KEY_CMD = [
  'sh',
  '-c',
  `echo "-----BEGIN RSA PRIVATE KEY-----\n${KEY_BODY}\n-----END RSA PRIVATE KEY-----" >/dev/null; exec sleep 3600`,
];

describe.skipIf(!env)('docker actions against a real engine', () => {
  const e = env!;
  const port = createDockerPort({ host: e.host, timeoutMs: 10_000 });
  const stops = createExpectedStops();
  const actions = dockerActions({ port, stops, redactor: createRedactor([]) });
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const specs = [
      { name: `${P}-shop-web`, labels: { [COMPOSE_PROJECT]: `${P}shop`, [COMPOSE_SERVICE]: 'web' } },
      { name: `${P}-shop-db`, labels: { [COMPOSE_PROJECT]: `${P}shop`, [COMPOSE_SERVICE]: 'db' } },
      { name: `${P}-solo`, env: ['SECRET_TOKEN=supersecretvalue', 'PLAIN=x'], memoryMb: 64 },
      { name: KEYED, cmd: KEY_CMD, env: ['PLAIN=x'] },
      { name: `${P}-scaled-1`, labels: { [COMPOSE_PROJECT]: `${P}shop`, [COMPOSE_SERVICE]: 'worker' } },
      { name: `${P}-scaled-2`, labels: { [COMPOSE_PROJECT]: `${P}shop`, [COMPOSE_SERVICE]: 'worker' } },
    ];
    await Promise.all(
      specs.map(async (s) => {
        const c = await createTestContainer(e.docker, { cmd: SERVE, ...s, suite: e.suite });
        ids[s.name] = c.id;
      }),
    );
    // Created, never started: a second page of stopped containers in another project.
    await Promise.all(
      Array.from({ length: 9 }, async (_, i) => {
        const name = `${P}-bulk-${i}`;
        const c = await createTestContainer(e.docker, {
          name,
          cmd: SERVE,
          suite: e.suite,
          start: false,
          labels: { [COMPOSE_PROJECT]: `${P}bulk`, [COMPOSE_SERVICE]: `s${i}` },
        });
        ids[name] = c.id;
      }),
    );
  });

  it('lists running containers grouped by compose project, one row of buttons each', async () => {
    const r = await runAction(actions, 'docker.ps', { filter: P });
    const t = plainText(r);
    expect(t).toContain('Running containers: 5 matching tac');
    const lines = t.split('\n');
    const shop = lines.indexOf(`📦 compose ${P}shop`);
    const standalone = lines.indexOf('📦 standalone');
    expect(shop).toBeGreaterThan(0);
    expect(standalone).toBeGreaterThan(shop);
    expect(lines.slice(shop + 1, standalone).map((l) => l.split(' · ')[0])).toEqual([
      `🟢 ${P}-scaled-1`,
      `🟢 ${P}-scaled-2`,
      `🟢 ${P}-shop-db`,
      `🟢 ${P}-shop-web`,
    ]);
    expect(lines[standalone + 1]).toMatch(
      new RegExp(`^🟢 ${P}-solo · Up (Less than a second|\\d+ seconds?) · teleops-test/busybox:latest$`),
    );
    expect(t).toContain('9 stopped containers not shown.');
    const rows = r.buttons!;
    expect(rows).toHaveLength(6);
    expect(rows[0]).toEqual<Button[]>([
      { label: `📄 ${P}-scaled-1`, action: 'docker.logs', params: { container: `${P}-scaled-1` } },
      { label: '🔄 Restart', action: 'docker.restart', params: { container: `${P}-scaled-1` } },
      { label: '⏹ Stop', action: 'docker.stop', params: { container: `${P}-scaled-1` } },
    ]);
    expect(rows[5]).toEqual([
      { label: 'Show all (+9 stopped)', action: 'docker.ps', params: { all: true, filter: P } },
    ]);
  });

  it('paginates with ◀/▶ buttons that call docker.ps with a page', async () => {
    const first = await runAction(actions, 'docker.ps', { all: true, filter: P });
    expect(plainText(first)).toContain('Containers: 14 matching tac · page 1/2');
    const rows = first.buttons!;
    expect(rows).toHaveLength(PS_PAGE_SIZE + 1);
    expect(rows.at(-1)).toEqual([{ label: 'Next ▶', action: 'docker.ps', params: { all: true, filter: P, page: 2 } }]);
    // Page 1 holds tacbulk's nine containers (sorted by project), each stopped: Start, not Stop.
    expect(rows[0]![2]).toEqual({ label: '▶️ Start', action: 'docker.start', params: { container: `${P}-bulk-0` } });
    const second = await runAction(actions, 'docker.ps', rows.at(-1)![0]!.params);
    const t2 = plainText(second);
    expect(t2).toContain('page 2/2');
    expect(t2.split('\n').filter((l) => l.startsWith('🟢'))).toHaveLength(4);
    expect(second.buttons!.at(-1)).toEqual([
      { label: '◀ Previous', action: 'docker.ps', params: { all: true, filter: P, page: 1 } },
    ]);
  });

  it('shows the restart count of a container that keeps restarting', async () => {
    await createTestContainer(e.docker, {
      name: `${P}-loop`,
      cmd: ['sh', '-c', 'sleep 0.3; exit 1'],
      suite: e.suite,
      restart: 'always',
    });
    const row = await waitFor(async () => {
      const t = plainText(await runAction(actions, 'docker.ps', { all: true, filter: `${P}-loop` }));
      return /restarts [2-9]/.test(t) ? t.split('\n')[1] : undefined;
    }, 'a few restarts');
    expect(row).toMatch(
      // Caught while restarting, the row also says the last exit code.
      new RegExp(
        `^(🟢|🔁|🔴) ${P}-loop · (Up|Restarting|Exited).* · restarts \\d+( · last exit 1)? · teleops-test/busybox:latest$`,
      ),
    );
    await e.docker.getContainer(`${P}-loop`).remove({ force: true });
  });

  it('shows a crash-looping container in the default view: 🔁, its restart count and last exit code', async () => {
    // Not named with P: the listing tests count P's containers.
    const name = 'tkr-crashloop';
    await createTestContainer(e.docker, { name, cmd: ['sh', '-c', 'exit 3'], suite: e.suite, restart: 'always' });
    try {
      // The Engine's back-off doubles after each exit, so the loop soon spends most of its time restarting.
      const r = await waitFor(
        async () => {
          const out = await runAction(actions, 'docker.ps', { filter: name });
          return /^🔁 .* · last exit 3 · /m.test(plainText(out)) ? out : undefined;
        },
        'the container caught restarting',
        20_000,
      );
      const t = plainText(r);
      expect(t).toContain(`Running containers: 1 (1 restarting) matching ${name}`);
      expect(t.split('\n')[1]).toMatch(
        new RegExp(
          `^🔁 ${name} · Restarting \\(3\\) .* · restarts [1-9]\\d* · last exit 3 · teleops-test/busybox:latest$`,
        ),
      );
      expect(t).not.toContain('not shown');
      expect(r.buttons![0]!.map((b) => b.action)).toEqual(['docker.logs', 'docker.restart', 'docker.start']);
    } finally {
      await e.docker.getContainer(name).remove({ force: true });
    }
  });

  it('says "never started" for a container created and never started, not the Engine\'s zero time', async () => {
    const t = plainText(await runAction(actions, 'docker.inspect', { container: `${P}-bulk-0` }));
    expect(t).toContain('Started: never started');
    expect(t).not.toContain('0001-01-01');
  });

  it('shows an inspect summary with env names but never their values', async () => {
    const r = await runAction(actions, 'docker.inspect', { container: `${P}-solo` });
    const t = plainText(r);
    expect(t).toContain(`Container ${P}-solo (${ids[`${P}-solo`]!.slice(0, 12)})`);
    expect(t).toContain('Image: teleops-test/busybox:latest');
    expect(t).toContain('Command: sh -c trap "exit 0" TERM; while :; do sleep 0.2; done');
    expect(t).toContain('Env (names only): SECRET_TOKEN, PLAIN');
    expect(t).not.toContain('supersecretvalue');
    expect(JSON.stringify(r)).not.toContain('supersecretvalue');
    expect(t).toContain('OOM-killed: no');
    expect(t).toContain('Restart policy: no');
    expect(t).toContain('Memory limit: 64MiB');
    expect(t).toContain('Ports: none');
    expect(t).toContain('teleops-test=1');
  });

  it('redacts each inspect field before cutting it: a private key on the command line hides nothing else', async () => {
    const r = await runAction(actions, 'docker.inspect', { container: KEYED });
    // What the transport sends: the whole message through the redactor again.
    const sent = createRedactor([]).redact(plainText(r));
    expect(sent).toContain('Command: sh -c echo "[REDACTED]" >/dev/null; exec sleep 3600');
    for (const after of ['Exit code: 0', 'Restart policy: no', 'Ports: none', 'Env (names only): PLAIN'])
      expect(sent).toContain(after);
    expect(sent).not.toContain('MIIEowIBAAKCAQEA');
  });

  it('resolves a name, an id prefix, and compose project/service', async () => {
    const id = ids[`${P}-shop-db`]!;
    for (const ref of [`${P}-shop-db`, id.slice(0, 10), id, `${P}shop/db`]) {
      const r = await runAction(actions, 'docker.inspect', { container: ref });
      expect(plainText(r)).toContain(`Container ${P}-shop-db (`);
    }
  });

  it('refuses ambiguous and unknown references with close matches', async () => {
    await expect(runAction(actions, 'docker.inspect', { container: `${P}shop/worker` })).rejects.toThrow(
      new RegExp(
        `^"${P}shop/worker" matches 2 containers: ${P}-scaled-1 \\(\\w{12}\\), ${P}-scaled-2 \\(\\w{12}\\); use the name or a longer id$`,
      ),
    );
    await expect(runAction(actions, 'docker.inspect', { container: `${P}-shop-wbe` })).rejects.toThrow(
      new RegExp(`^no container "${P}-shop-wbe"; did you mean [^;]*\\b${P}-shop-web\\b`),
    );
    await expect(runAction(actions, 'docker.inspect', { container: `${P}-nothing-like-it` })).rejects.toThrow(
      ActionError,
    );
    expect(() => byName(actions, 'docker.inspect').params.parse({ container: '--privileged' })).toThrow(
      /a name, an id prefix/,
    );
  });

  it('takes one stats snapshot, CPU % as docker stats computes it', async () => {
    const r = await runAction(actions, 'docker.stats', { container: `${P}-solo` });
    const t = plainText(r);
    expect(t).toMatch(/NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS/);
    expect(t).toMatch(
      new RegExp(
        `${P}-solo\\s+\\d+\\.\\d\\d%\\s+[\\d.]+(B|KiB|MiB) / 64MiB\\s+\\d+\\.\\d\\d%\\s+0B / 0B\\s+\\S+ / \\S+\\s+[12]$`,
        'm',
      ),
    );
    const everyone = plainText(await runAction(actions, 'docker.stats', {}));
    expect(everyone).toContain(`${P}-shop-web`);
    await expect(runAction(actions, 'docker.stats', { container: `${P}-bulk-0` })).rejects.toThrow(
      `container ${P}-bulk-0 is not running (created)`,
    );
  });

  it('/docker stats of every container samples them together: one wait for the second reading, not one per batch', async () => {
    let inFlight = 0;
    let most = 0;
    const counting = dockerActions({
      port: {
        ...port,
        async stats(id, signal) {
          most = Math.max(most, ++inFlight);
          try {
            return await port.stats(id, signal);
          } finally {
            inFlight--;
          }
        },
      },
      stops,
      redactor: createRedactor([]),
    });
    // This file runs more than five containers (other files may add theirs to the shared daemon).
    const t = plainText(await runAction(counting, 'docker.stats', {}));
    const sampled = t.split('\n').filter((l) => /\d+\.\d\d%/.test(l)).length;
    expect(sampled).toBeGreaterThan(5);
    expect(most).toBeGreaterThan(5);
    expect(most).toBeLessThanOrEqual(STATS_MAX_CONTAINERS);
  });

  it('lists the processes of a container', async () => {
    const t = plainText(await runAction(actions, 'docker.top', { container: `${P}-solo` }));
    expect(t).toMatch(/Processes in tac-solo \(\w{12}\): [12]/);
    expect(t).toMatch(/PID.*CMD/);
    expect(t).toContain('while :; do sleep 0.2; done');
  });

  it('/docker df: disk used by images, containers, volumes and build cache, as the Engine counts them', async () => {
    const vol = `tdf-vol-${process.pid}`;
    await e.docker.createVolume({ Name: vol, Labels: { 'teleops-test': '1' } });
    try {
      type Df = { Images: { Containers: number }[]; Containers: { State: string }[]; Volumes: { Name: string }[] };
      const counts = (d: Df): string =>
        JSON.stringify([d.Images.map((i) => i.Containers), d.Containers.map((c) => c.State), d.Volumes.length]);
      // The Engine's own answer, read with a plain client, for the counts the table must show. Other files
      // share the daemon: the answer counts only when the Engine said the same just before and just after.
      const [r, raw] = await waitFor(async () => {
        const before = (await e.docker.df()) as Df;
        const r = await runAction(actions, 'docker.df', {});
        const after = (await e.docker.df()) as Df;
        return counts(before) === counts(after) ? ([r, after] as const) : undefined;
      }, 'a quiet moment on the shared daemon');
      const t = plainText(r);
      const rows = new Map(
        t
          .split('\n')
          .slice(2)
          .map((l) => [l.split(/ {2,}/)[0], l.split(/ {2,}/)] as const),
      );
      expect(t.split('\n')[0]).toBe('💾 Docker disk usage');
      expect([...rows.keys()]).toEqual(['Images', 'Containers', 'Local volumes', 'Build cache']);
      expect(rows.get('Images')!.slice(1, 3)).toEqual([
        String(raw.Images.length),
        String(raw.Images.filter((i) => i.Containers > 0).length),
      ]);
      expect(Number(rows.get('Containers')![1])).toBe(raw.Containers.length);
      expect(Number(rows.get('Containers')![2])).toBe(raw.Containers.filter((c) => c.State === 'running').length);
      expect(raw.Volumes.some((v) => v.Name === vol)).toBe(true);
      expect(Number(rows.get('Local volumes')![1])).toBe(raw.Volumes.length);
      expect(rows.get('Images')![3]).toMatch(/^\d+(\.\d+)?(B|kB|MB|GB)$/);
      expect(byName(actions, 'docker.df').risk).toBe('read');
    } finally {
      await e.docker.getVolume(vol).remove();
    }
  });

  it('stops, starts and restarts, showing the new state each time', async () => {
    const name = `${P}-shop-web`;
    const id = ids[name]!;
    const stop = byName(actions, 'docker.stop');
    expect(stop.risk).toBe('destructive');
    expect(stop.subject!({ container: name })).toBe(`container ${name}`);
    const preview = await stop.preview!(actionContext(), { container: name });
    expect(plainText({ blocks: preview })).toMatch(
      new RegExp(`🟢 ${name} \\(${id.slice(0, 12)}\\): running · up \\d+s`),
    );
    expect(plainText({ blocks: preview })).toContain(
      `Stopping sends SIGTERM to ${name}, then SIGKILL if it is still running after 10 s: this can take up to 10 s.`,
    );
    const start = byName(actions, 'docker.start');
    await expect(start.preview!(actionContext(), { container: name })).rejects.toThrow(
      new ActionError(`container ${name} is already running; nothing to start`),
    );

    const stopped = await runAction(actions, 'docker.stop', { container: name });
    expect(plainText(stopped)).toMatch(
      new RegExp(`^Stopped ${name} \\(\\w{12}\\)\\n🔴 ${name} \\(\\w{12}\\): exited · exit code 0`),
    );
    expect(stopped.buttons![0]![2]).toEqual({ label: '▶️ Start', action: 'docker.start', params: { container: name } });
    expect((await e.docker.getContainer(id).inspect()).State.Running).toBe(false);
    expect(stops.consume(id)).toBe(true);

    const again = await runAction(actions, 'docker.stop', { container: name });
    expect(plainText(again)).toContain('Not running, nothing to stop:');
    // No approval card for a stop that would do nothing: the preview refuses at once.
    await expect(stop.preview!(actionContext(), { container: name })).rejects.toThrow(
      new ActionError(`container ${name} is already stopped (exited); nothing to stop`),
    );
    expect(plainText({ blocks: await start.preview!(actionContext(), { container: name }) })).toContain(': exited');

    const started = await runAction(actions, 'docker.start', { container: name });
    expect(plainText(started)).toMatch(
      new RegExp(`^Started ${name} \\(\\w{12}\\)\\n🟢 ${name} \\(\\w{12}\\): running · up \\d+s`),
    );
    expect(byName(actions, 'docker.start').risk).toBe('write');

    const before = (await e.docker.getContainer(id).inspect()).State.StartedAt;
    const restarted = await runAction(actions, 'docker.restart', { container: name });
    const after = (await e.docker.getContainer(id).inspect()).State.StartedAt;
    expect(after).not.toBe(before);
    expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
    const t = plainText(restarted);
    expect(t).toContain(`started at ${after}`);
    expect(t).toContain(`previously started at ${before}`);
    expect(stops.consume(id)).toBe(true);
  });

  it('re-checks just before acting: a container removed after approval is an error, not a crash', async () => {
    const c = await createTestContainer(e.docker, { name: `${P}-gone`, cmd: SERVE, suite: e.suite });
    const preview = await byName(actions, 'docker.restart').preview!(actionContext(), { container: `${P}-gone` });
    expect(plainText({ blocks: preview })).toContain('running');
    await e.docker.getContainer(c.id).remove({ force: true });
    await waitFor(
      async () => ((await port.list({ all: true })).some((x) => x.id === c.id) ? undefined : true),
      'removal',
    );
    await expect(runAction(actions, 'docker.restart', { container: `${P}-gone` })).rejects.toThrow(
      `no container "${P}-gone"`,
    );
  });
});
