/**
 * The event watcher keeps its place in the database: when it stops (a restart, a leader that
 * dies) and another starts on the same database (the next leader), an incident in between is
 * reported once, and one already reported is not reported again. Real engine, real SQLite file.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/core/alerts.js';
import { silentLogger } from '../../../src/core/log.js';
import { createRedactor } from '../../../src/core/redact.js';
import { openDb } from '../../../src/store/db.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { eventCursor } from '../../../src/targets/docker/cursor.js';
import { startDockerEvents, type DockerEvents } from '../../../src/targets/docker/events.js';
import { docker } from '../../../src/targets/docker/module.js';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';
import { tempDir } from '../../support/app.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { collectingSink } from './helpers.js';

const env = await useDockerd('resume');
const dir = tempDir();
afterAll(() => dir.remove());

describe.skipIf(!env)('docker events resume where the last watcher left off', () => {
  const e = env!;
  const port = createDockerPort({ host: e.host });

  /** A watcher as one replica runs it: its own connection to the shared database. */
  async function watcher(): Promise<{ events: DockerEvents; alerts: Alert[]; close: () => Promise<void> }> {
    const db = openDb(dir.path, { modules: [docker] });
    const sink = collectingSink();
    const events = startDockerEvents({
      port,
      sink,
      stops: createExpectedStops(),
      redactor: createRedactor([]),
      log: silentLogger(),
      cursor: eventCursor(db, 'local'),
      backoff: { initialMs: 100, maxMs: 400 },
    });
    await waitFor(() => (events.state() === 'up' ? true : undefined), 'event stream');
    return {
      events,
      alerts: sink.alerts,
      close: async () => {
        await events.stop();
        db.close();
      },
    };
  }

  const crash = async (name: string): Promise<string> =>
    (await createTestContainer(e.docker, { name, cmd: ['sh', '-c', 'exit 4'], suite: e.suite })).id;
  const about = (alerts: Alert[], id: string) => alerts.filter((a) => a.key === `docker:${id}:die`);

  it('reports the crash that happened while no watcher ran, once, and not the one reported before', async () => {
    const first = await watcher();
    const before = await crash('resume-before');
    await waitFor(() => (about(first.alerts, before).length > 0 ? true : undefined), 'first alert');
    await first.close();

    // Nobody watches: the leader is gone, the next one has not started yet.
    const between = await crash('resume-between');
    await waitFor(
      async () => ((await e.docker.getContainer(between).inspect()).State.Running ? undefined : true),
      'exit',
    );

    const next = await watcher();
    const sentinel = await crash('resume-sentinel');
    await waitFor(() => (about(next.alerts, sentinel).length > 0 ? true : undefined), 'sentinel alert');
    await next.close();
    expect(about(next.alerts, between)).toHaveLength(1);
    expect(about(next.alerts, before)).toHaveLength(0);
    expect(about(first.alerts, before)).toHaveLength(1);
  }, 60_000);
});
