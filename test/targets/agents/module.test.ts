import { describe, expect, it } from 'vitest';
import { SetupError } from '../../../src/core/target.js';
import { agents } from '../../../src/targets/agents/module.js';
import { tempDir, testApp } from '../../support/app.js';

describe('the agents module', () => {
  it('is one disabled line while AGENT_ENABLED=false, with no /agent actions', async () => {
    const t = await testApp({}, [agents]);
    try {
      const line = t.app.integrations.find((i) => i.name === 'agents');
      const health = await line?.check(new AbortController().signal);
      expect(health).toEqual({ state: 'disabled', detail: 'AGENT_ENABLED=false' });
      expect(t.app.registry.get('agent.new')).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('refuses to start when enabled without AGENT_ROOTS, saying what to set', async () => {
    const dir = tempDir();
    try {
      const started = testApp({ AGENT_ENABLED: 'true' }, [agents], dir.path);
      await expect(started).rejects.toThrow(SetupError);
      await expect(started).rejects.toThrow(/^AGENT_ROOTS: set the directories agents may work in/);
    } finally {
      dir.remove();
    }
  });
});
