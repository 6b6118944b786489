import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../src/core/commands.js';
import { Registry } from '../../../src/core/registry.js';
import { parseNew } from '../../../src/targets/agents/actions.js';
import { harness } from './helpers.js';

describe('/agent new arguments', () => {
  it('takes a directory only when the third word is a path, and the prompt as typed', () => {
    expect(parseNew('claude build /srv/app fix "the"  tests')).toEqual({
      kind: 'claude',
      name: 'build',
      dir: '/srv/app',
      prompt: 'fix "the"  tests',
    });
    expect(parseNew('Codex build fix it')).toEqual({ kind: 'codex', name: 'build', prompt: 'fix it' });
    expect(parseNew('claude build')).toEqual({ kind: 'claude', name: 'build' });
    expect(parseNew('')).toEqual({});
  });
});

describe('/agent commands through the registry', () => {
  it('spells every verb, the alias and the prompt form without clashing', () => {
    const h = harness();
    try {
      const registry = new Registry(h.target.actions);
      const look = (line: string) => {
        const r = registry.lookup(parseCommandLine(line)!);
        return r.kind === 'match' ? [r.match.action.name, r.match.params] : [r.kind, r.message];
      };
      expect(look('/agent ls')).toEqual(['agent.ls', {}]);
      expect(look('/agents')).toEqual(['agent.ls', {}]);
      expect(look('/agent log build')).toEqual(['agent.log', { name: 'build' }]);
      expect(look('/agent build fix the "flaky" test')).toEqual([
        'agent.prompt',
        { name: 'build', prompt: 'fix the "flaky" test' },
      ]);
      expect(look('/agent new claude build /srv/app fix it')).toEqual([
        'agent.new',
        { kind: 'claude', name: 'build', dir: '/srv/app', prompt: 'fix it' },
      ]);
      expect(look('/agent stop build')).toEqual(['agent.stop', { name: 'build' }]);
      expect(look('/agent end build')).toEqual(['agent.end', { name: 'build' }]);
      expect(look('/agent')).toEqual([
        'usage',
        '/agent needs a session name, or one of: new, ls, log, stop, end. Usage: /agent <name> <prompt...>',
      ]);
    } finally {
      h.close();
    }
  });
});
