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
      expect(look('/agent')).toEqual(['agent.ls', {}]);
      expect(look('/agent show build')).toEqual(['agent.show', { name: 'build' }]);
      expect(look('/agent build')).toEqual(['agent.prompt', { name: 'build' }]);
    } finally {
      h.close();
    }
  });
});

describe('the tappable list', () => {
  it('has one button per session opening its card; with none, one line on how to start one', async () => {
    const h = harness();
    try {
      const empty = await h.run('agent.ls', {});
      expect(empty.buttons ?? []).toEqual([]);
      expect(empty.blocks).toHaveLength(1);
      expect(JSON.stringify(empty.blocks)).toContain('/agent new <claude|codex> <name> [dir] [prompt…] starts one');

      await h.run('agent.new', { kind: 'claude', name: 'build', dir: `${h.root}/proj` });
      await h.run('agent.new', { kind: 'codex', name: 'docs', dir: `${h.root}/proj` });
      const list = await h.run('agent.ls', {});
      expect(list.buttons).toEqual([
        [{ label: '⚪ build', action: 'agent.show', params: { name: 'build' } }],
        [{ label: '⚪ docs', action: 'agent.show', params: { name: 'docs' } }],
      ]);
      const shown = await h.run('agent.show', { name: 'docs' });
      expect(shown.card).toMatchObject({ key: 'agent:docs', kind: 'item' });
      expect(shown.reply).toEqual({ action: 'agent.prompt', params: { name: 'docs', since: expect.any(Number) } });
      await expect(h.run('agent.show', { name: 'nope' })).rejects.toThrow(
        'no agent session named nope; there are: build, docs',
      );
    } finally {
      h.close();
    }
  });
});
