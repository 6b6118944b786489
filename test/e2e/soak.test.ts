/**
 * The crash soak, short: a few audited actions through the real `teleops start`, each kind of
 * kill -9 once (mid-action, during /audit verify, between an audit commit and its anchor line),
 * a restart after each; `npm run soak` is the long run (bench/soak.ts).
 */
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { expect, it } from 'vitest';
import { runSoak, SOAK_CMD } from '../../bench/soak.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer } from '../support/dockerd.js';

const env = await useDockerd('e2e-soak');

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

it.skipIf(!hasTmux() && process.env.CI !== 'true')(
  'kill -9 mid-action, mid-verify and between commit and anchor: verify exits 0, nothing lost or run twice',
  async () => {
    let docker: Parameters<typeof runSoak>[0]['docker'];
    if (env) {
      const client = new Docker({ socketPath: env.socketPath });
      const c = await createTestContainer(client, { name: 'e2e-soak-c', cmd: SOAK_CMD, suite: env.suite });
      docker = { host: env.host, client, container: c.name };
    }
    const lines: string[] = [];
    const counts = await runSoak({
      actions: 12,
      timeCapMs: 240_000,
      killChance: 0,
      // Each kind of kill once; the Docker rounds come before and after the mid-action kill,
      // so that a decided approval's buttons are pressed again after a restart.
      faults: [undefined, 'anchor', 'verify', undefined, undefined, 'random'],
      dockerEvery: 3,
      // Long enough that the probe all but surely finds the window (a long run finds it in most 10 s rounds).
      probeMs: 60_000,
      seed: 16,
      log: (l) => lines.push(l),
      ...(docker ? { docker } : {}),
    });
    const why = `${lines.join('\n')}\n${JSON.stringify(counts)}`;
    expect(counts.kills, why).toBe(3);
    expect(counts.restarts).toBe(3);
    expect(counts.killsDuringVerify).toBe(1);
    // The probe caught the process between an audit commit and its anchor line.
    expect(counts.anchorsLagging, why).toBe(1);
    expect(counts.verifyFailures, why).toBe(0);
    expect(counts.verified).toBe(4);
    expect(counts.duplicates, why).toBe(0);
    expect(counts.lost, why).toBe(0);
    expect(counts.replied).toBeGreaterThan(0);
    expect(counts.redelivered).toBe(3);
    if (docker) expect(counts.repressed).toBeGreaterThan(0);
  },
  600_000,
);
