import { describe, expect, it } from 'vitest';
import { AGENT_SETTINGS, readAgentSettings } from '../../../src/targets/agents/settings.js';

describe('agent settings', () => {
  it('has the names the issue lists, agents off by default, read-only Claude tools auto-allowed', () => {
    expect(Object.keys(AGENT_SETTINGS).sort()).toEqual(
      [
        'AGENT_ENABLED',
        'AGENT_ROOTS',
        'AGENT_DEFAULT_DIR',
        'AGENT_CLAUDE_PATH',
        'AGENT_CODEX_PATH',
        'AGENT_MODEL_CLAUDE',
        'AGENT_MODEL_CODEX',
        'AGENT_MAX_TURNS',
        'AGENT_TURN_TIMEOUT_MINUTES',
        'AGENT_DAILY_BUDGET_USD',
        'AGENT_AUTO_ALLOW_TOOLS',
        'AGENT_MAX_SESSIONS',
      ].sort(),
    );
    const r = readAgentSettings({});
    expect(r.ok && r.settings.enabled).toBe(false);
    expect(r.ok && r.settings.autoAllowTools).toEqual(['Read', 'Glob', 'Grep', 'LS']);
  });

  it('lists every problem at once, and needs roots when enabled', () => {
    const r = readAgentSettings({
      AGENT_ENABLED: 'yes',
      AGENT_MAX_SESSIONS: '0',
      AGENT_ROOTS: 'relative,/abs',
      AGENT_DAILY_BUDGET_USD: 'lots',
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      expect.stringMatching(/^AGENT_ROOTS: not absolute: "relative"/),
      expect.stringMatching(/^AGENT_DAILY_BUDGET_USD: "lots" must be a number/),
      expect.stringMatching(/^AGENT_MAX_SESSIONS: "0" must be a whole number from 1/),
    ]);
    const noRoots = readAgentSettings({ AGENT_ENABLED: 'true' });
    expect(!noRoots.ok && noRoots.problems).toEqual([expect.stringMatching(/^AGENT_ROOTS: set the directories/)]);
  });

  it('defaults the directory to the first root and keeps only the provider keys', () => {
    const r = readAgentSettings({
      AGENT_ENABLED: 'true',
      AGENT_ROOTS: '/srv/a, /srv/b',
      ANTHROPIC_API_KEY: ' k ',
      TELEGRAM_BOT_TOKEN: 't',
    });
    expect(r.ok && r.settings.defaultDir).toBe('/srv/a');
    expect(r.ok && r.settings.keys).toEqual({ anthropic: 'k' });
  });
});
