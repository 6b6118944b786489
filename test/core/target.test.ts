import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAll } from '../../src/core/health.js';
import { silentLogger } from '../../src/core/log.js';
import { createRedactor } from '../../src/core/redact.js';
import { buildTarget, disabled, SetupError, type Target, type TargetEnv } from '../../src/core/target.js';
import { openDb } from '../../src/store/db.js';

const dir = mkdtempSync(join(tmpdir(), 'teleops-target-'));
const db = openDb(join(dir, 'state'));
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = {
  config: { WIDGET_HOST: 'widget.example', RATE_LIMIT_PER_MINUTE: 20 },
  alerts: { raise: () => {} },
  log: silentLogger(),
  db,
  redactor: createRedactor([]),
};

/** A module whose create answers `made`, remembering the environment it was given. */
function widgets(made: () => ReturnType<Parameters<typeof buildTarget>[0]['create']>) {
  const seen: TargetEnv[] = [];
  const m = {
    name: 'widgets',
    settings: {},
    create: (e: TargetEnv) => {
      seen.push(e);
      return made();
    },
  };
  return { m, seen };
}

describe('buildTarget', () => {
  it('gives the target create built, unchanged, and create the settings and parts it was given', async () => {
    const target: Target = { actions: [] };
    const { m, seen } = widgets(() => target);
    expect(await buildTarget(m, env)).toBe(target);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.config).toEqual({ WIDGET_HOST: 'widget.example', RATE_LIMIT_PER_MINUTE: 20 });
    expect(seen[0]!.db).toBe(db);
    expect(seen[0]!.log).toBe(env.log);
    expect(seen[0]!.redactor).toBe(env.redactor);
    expect(seen[0]!.alerts).toBe(env.alerts);
  });

  it('gives null for a module that should not appear at all', async () => {
    expect(await buildTarget(widgets(() => null).m, env)).toBeNull();
    expect(await buildTarget(widgets(async () => null).m, env)).toBeNull();
  });

  it('turns a target the settings switch off into its "disabled" health line and no actions', async () => {
    for (const made of [() => disabled('WIDGET_HOST is not set'), async () => disabled('WIDGET_HOST is not set')]) {
      const t = await buildTarget(widgets(made).m, env);
      expect(t?.actions).toEqual([]);
      expect(t?.integration?.name).toBe('widgets');
      expect(await checkAll([t!.integration!])).toEqual({
        widgets: { state: 'disabled', detail: 'WIDGET_HOST is not set' },
      });
    }
  });
});

describe('SetupError', () => {
  it('is an Error that names itself in its one line', () => {
    const e = new SetupError('K8S_CONTEXTS: no context "prod" in the kubeconfig');
    expect(e).toBeInstanceOf(Error);
    expect(String(e)).toBe('SetupError: K8S_CONTEXTS: no context "prod" in the kubeconfig');
  });
});
