import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../../src/core/redact.js';
import { plainText } from '../../../src/core/result.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import { EVENTS_SHOWN, eventsAction } from '../../../src/targets/docker/recent.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { runAction } from './helpers.js';

const env = await useDockerd('recent-events');
const P = 'trv';
const SECRET = 'rv-secret-value-4c3b2a19';

describe.skipIf(!env)('/docker events against a real engine', () => {
  const e = env!;
  const port = createDockerPort({ host: e.host, timeoutMs: 10_000 });
  const actions = [eventsAction({ port, redactor: createRedactor([SECRET]), clock: Date.now })];

  it('shows what containers went through since a time, in order, redacted, and ends by itself', async () => {
    const c = await createTestContainer(e.docker, {
      name: `${P}-${SECRET}`,
      cmd: ['sh', '-c', 'exit 3'],
      suite: e.suite,
    });
    await waitFor(async () => ((await e.docker.getContainer(c.id).inspect()).State.Running ? undefined : true), 'exit');
    const out = plainText(await runAction(actions, 'docker.events', { since: '10m' }));
    expect(out).toMatch(/^📜 Docker events since 10m: \d+ events/);
    const rows = out.split('\n').filter((l) => l.includes(c.id.slice(0, 12)));
    expect(rows.map((l) => l.split('  ')[1])).toEqual(expect.arrayContaining(['create', 'start', 'die']));
    expect(rows.findIndex((l) => l.includes('  start  '))).toBeLessThan(rows.findIndex((l) => l.includes('  die  ')));
    expect(rows.find((l) => l.includes('  die  '))).toMatch(/exit 3$/);
    expect(out).not.toContain(SECRET);
    expect(out).toContain(`${P}-[REDACTED]`);
  });

  it('defaults to the last hour and shows at most the newest events', async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        createTestContainer(e.docker, { name: `${P}-many-${i}`, cmd: ['true'], suite: e.suite }),
      ),
    );
    const out = plainText(await runAction(actions, 'docker.events', {}));
    expect(out).toMatch(/since 1h: \d+ events · the newest 50 shown/);
    expect(out.split('\n').length).toBe(1 + EVENTS_SHOWN);
  });

  it('refuses a since it cannot read', () => {
    expect(() => actions[0]!.params.parse({ since: 'yesterday' })).toThrow(/a duration like 10m/);
  });
});
