import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, SETTINGS } from '../../src/config.js';
import { silentLogger } from '../../src/core/log.js';
import { createRedactor } from '../../src/core/redact.js';
import { buildTarget, defineTarget } from '../../src/core/target.js';
import { openMemoryDb } from '../../src/store/db.js';
import { MODULES } from '../../src/targets/modules.js';
import { defineAction } from '../../src/core/action.js';
import { plainText, say } from '../../src/core/result.js';
import { operator } from '../ai/support.js';
import { testApp } from '../support/app.js';

describe('the module list', () => {
  it('names each target once, and every setting row belongs to one place', () => {
    const names = MODULES.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    const rows = MODULES.flatMap((m) => Object.keys(m.settings));
    expect(new Set(rows).size).toBe(rows.length);
    for (const row of rows) expect(SETTINGS).toHaveProperty(row);
  });

  it("each module's AI summaries read one of its own actions, spelled under its own command word", async () => {
    const r = loadConfig({ TMUX_ENABLED: 'true', DOCKER_ENABLED: 'true' }, 'offline');
    if (!r.ok) throw new Error(r.problems.join('; '));
    const db = openMemoryDb(MODULES);
    try {
      for (const m of MODULES) {
        const t = await buildTarget(m, {
          config: r.config,
          alerts: { raise: () => {} },
          log: silentLogger(),
          db,
          redactor: createRedactor([]),
        });
        for (const s of m.summaries ?? []) {
          expect(t?.actions.map((a) => a.name)).toContain(s.read.action);
          expect(s.command.path[0]).toBe(t?.actions.find((a) => a.name === s.read.action)?.command?.path[0]);
        }
      }
    } finally {
      db.close();
    }
  });
});

describe('a target module plugged into the app', () => {
  const ping = defineAction({
    name: 'widget.ping',
    summary: 'Ping',
    target: 'widget',
    risk: 'read',
    params: z.object({}),
    command: { path: ['widget', 'ping'] },
    run: async () => say('pong'),
  });
  const widget = defineTarget({
    name: 'widget',
    settings: {},
    migrations: ['CREATE TABLE widget_parts (id INTEGER PRIMARY KEY)'],
    topics: { summary: 'Widget cards in topics' },
    create: ({ db }) => ({
      actions: [ping],
      integration: {
        name: 'widget',
        check: async () => ({
          state: 'up',
          detail: `${(db.prepare('SELECT count(*) AS n FROM widget_parts').get() as { n: number }).n} parts`,
        }),
      },
    }),
  });
  const off = defineTarget({
    name: 'gadget',
    settings: {},
    topics: { summary: 'Gadget cards in topics' },
    create: () => ({ disabled: 'GADGET_ENABLED=false' }),
  });

  it('gets its tables, its health line, and one disabled line when its settings switch it off', async () => {
    const t = await testApp({}, [widget, off]);
    try {
      const health = Object.fromEntries(
        await Promise.all(
          t.app.integrations
            .filter((i) => i.name !== 'llm')
            .map(async (i) => [i.name, await i.check(new AbortController().signal)]),
        ),
      );
      expect(health.widget).toEqual({ state: 'up', detail: '0 parts' });
      expect(health.gadget).toEqual({ state: 'disabled', detail: 'GADGET_ENABLED=false' });
    } finally {
      await t.close();
    }
  });

  it('gets `/<name> topics on|off` when its cards may have places, answered by whichever transport offers them', async () => {
    const t = await testApp({}, [widget, off]);
    try {
      expect(t.app.registry.get('gadget.topics')).toBeUndefined();
      const without = await t.app.dispatcher.command(operator, 'command', '/widget topics on');
      expect(without.kind === 'failed' && without.message).toBe(
        'topics exist only in a chat app with forum groups, not here',
      );
      t.app.places.service = {
        on: async (chatId) => say(`on in ${chatId}`),
        off: async (chatId) => say(`off in ${chatId}`),
      };
      const on = await t.app.dispatcher.command(operator, 'command', '/widget topics on');
      expect(on.kind === 'done' && plainText(on.result)).toBe('on in 10');
      expect(t.app.audit.recent(1)[0]).toMatchObject({
        action: 'widget.topics',
        target: 'forum topics on',
        outcome: 'ok',
      });
    } finally {
      await t.close();
    }
  });
});
