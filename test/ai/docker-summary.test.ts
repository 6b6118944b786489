import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainText } from '../../src/core/result.js';
import { docker as dockerModule } from '../../src/targets/docker/module.js';
import { useDockerd } from '../support/docker-env.js';
import { createTestContainer } from '../support/dockerd.js';
import { promptText, scriptedModel } from '../fakes/scripted-model.js';
import { aiTestApp, viewer, type AiTestApp } from './support.js';

const env = await useDockerd('ai-docker-summary');
const SECRET = 'docker-canary-8e2f4a';

describe.skipIf(!env)('/docker logs <c> [lines] summarize', () => {
  const e = env!;
  let t: AiTestApp;
  const model = scriptedModel((call) => {
    const err = /FATAL[^"\\]*/.exec(promptText(call))?.[0] ?? 'nothing';
    return { text: `The service cannot reach its database.\nLast error: ${err}`, usage: { input: 200, output: 20 } };
  });

  beforeAll(async () => {
    await createTestContainer(e.docker, {
      name: 'ads-api',
      cmd: [
        'sh',
        '-c',
        `echo "starting"; echo "token ${SECRET}"; echo "FATAL db:5432 refused"; trap "exit 0" TERM; while :; do sleep 0.2; done`,
      ],
      suite: e.suite,
    });
    for (let i = 0; i < 50; i++) {
      if ((await e.docker.getContainer('ads-api').logs({ stdout: true, stderr: true })).toString().includes('FATAL'))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t = await aiTestApp(model, { DOCKER_ENABLED: 'true', DOCKER_HOST: e.host, AUDIT_HMAC_KEY: SECRET }, [dockerModule]);
  });
  afterAll(async () => t?.close());

  it('summarizes the log of the host named with @host', async () => {
    const two = await aiTestApp(
      model,
      { DOCKER_ENABLED: 'true', DOCKER_HOSTS: `a=${e.host},b=unix:///nonexistent/docker.sock` },
      [dockerModule],
    );
    try {
      const ask = async (line: string) => {
        const o = await two.app.dispatcher.command(viewer, 'command', line);
        return o.kind === 'done'
          ? plainText(o.result)
          : o.kind === 'failed' || o.kind === 'refused'
            ? o.message
            : o.kind;
      };
      expect(await ask('/docker summary ads-api@a 20')).toMatch(/^🧠 Container ads-api@a\nThe service cannot reach/);
      expect(await ask('/docker logs ads-api@a 20 summarize')).toMatch(/^🧠 Container ads-api@a\n/);
      expect(await ask('/docker summary ads-api@b')).toMatch(/Docker is not reachable at unix:\/\/\/nonexistent/);
      expect(await ask('/docker summary ads-api@-x')).toMatch(/host: a host name/);
    } finally {
      await two.close();
    }
  });

  it('reads the log through the registry and answers in a few lines, with no secret sent to the model', async () => {
    const o = await t.app.dispatcher.command(viewer, 'command', '/docker logs ads-api 20 summarize');
    expect(o.kind === 'done' ? plainText(o.result) : o).toBe(
      '🧠 Container ads-api\nThe service cannot reach its database.\nLast error: FATAL db:5432 refused',
    );
    const call = model.calls.at(-1)!;
    expect(call.tools ?? []).toEqual([]);
    expect(JSON.stringify(call)).not.toContain(SECRET);
    expect(t.app.audit.recent(1)[0]).toMatchObject({
      action: 'ai.docker-summary',
      outcome: 'ok',
      target: 'container ads-api',
    });
  });
});
