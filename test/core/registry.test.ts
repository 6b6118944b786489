import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/core/action.js';
import { parseCommandLine } from '../../src/core/commands.js';
import { Registry } from '../../src/core/registry.js';
import { result } from '../../src/core/result.js';

const act = (name: string, path: string[], usage = '', extra: object = {}) =>
  defineAction({
    name,
    summary: `${name} summary`,
    target: path[0]!,
    risk: 'read',
    params: z.object({}).passthrough(),
    command: { path, usage, ...extra },
    run: async () => result([]),
  });

const registry = new Registry([
  act('docker.ps', ['docker', 'ps'], '[all] [filter]', { aliases: [['ps'], ['docker']] }),
  act('docker.logs', ['docker', 'logs'], '<c> [lines]'),
  act('core.help', ['help']),
  act('ai.docker-summary', ['docker', 'summary'], '<c> [lines]', {
    suffix: { path: ['docker', 'logs'], word: 'summarize' },
  }),
]);
const look = (text: string) => registry.lookup(parseCommandLine(text)!);

describe('Registry', () => {
  it('matches the longest command path and binds arguments', () => {
    expect(look('/docker logs api 20')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'docker.logs' }, params: { c: 'api', lines: '20' } },
    });
    expect(look('/DOCKER PS all')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'docker.ps' }, params: { all: 'all' } },
    });
    expect(look('/ps')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
    expect(look('/docker')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
  });

  it('reads a closing word as another action: /docker logs api 50 summarize', () => {
    expect(look('/docker logs api 50 summarize')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'ai.docker-summary' }, params: { c: 'api', lines: '50' } },
    });
    expect(look('/docker logs api SUMMARIZE')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'ai.docker-summary' }, params: { c: 'api' } },
    });
    expect(look('/docker logs api 50')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.logs' } } });
  });

  it('reads a mistyped verb as a mistake, not as an argument of the bare group', () => {
    expect(look('/docker restrat api')).toEqual({
      kind: 'unknown',
      message: '/docker restrat is not a command. Try one of: ps, logs, summary.',
    });
    expect(look('/nothing')).toEqual({
      kind: 'unknown',
      message: '/nothing is not a command. /help lists them; /status shows which integrations are off.',
    });
    // A place or a flag after the bare group is its argument: never a verb.
    expect(look('/docker @edge')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
    expect(look('/docker -x')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
    // The bare group answers only bare: a word after it is a verb, never a ps filter.
    expect(look('/docker foo')).toEqual({
      kind: 'unknown',
      message: '/docker foo is not a command. Try one of: ps, logs, summary.',
    });
    expect(look('/docker lgos web')).toEqual({
      kind: 'unknown',
      message: '/docker lgos is not a command. Did you mean /docker logs? Try one of: ps, logs, summary.',
    });
    expect(look('/docker Sumary web')).toMatchObject({
      kind: 'unknown',
      message: expect.stringContaining('Did you mean /docker summary?'),
    });
    // The aliases and the full spelling still take a filter.
    expect(look('/ps web')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'docker.ps' }, params: { all: 'web' } },
    });
    expect(look('/docker ps all web')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'docker.ps' }, params: { all: 'all', filter: 'web' } },
    });
  });

  it('suggests the command a mistyped or shortened word meant', () => {
    expect(look('/dock')).toEqual({
      kind: 'unknown',
      message:
        '/dock is not a command. Did you mean /docker? /help lists them; /status shows which integrations are off.',
    });
    expect(look('/hlep')).toMatchObject({ message: expect.stringContaining('Did you mean /help?') });
    expect(look('/xyzzy').kind === 'unknown' && look('/xyzzy')).toMatchObject({
      message: expect.not.stringContaining('Did you mean'),
    });
  });

  it('knows the spellings of actions this deployment lacks, and says what they need', () => {
    const summary = act('ai.docker-summary', ['docker', 'summary'], '<c> [lines]', {
      suffix: { path: ['docker', 'logs'], word: 'summarize' },
    });
    const tmuxSummary = act('ai.tmux-summary', ['tmux', 'summary'], '<session> [lines]');
    const r = new Registry(
      [
        act('docker.ps', ['docker', 'ps'], '[filter]', { aliases: [['docker']] }),
        act('docker.logs', ['docker', 'logs'], '<c> [lines] [grep...]'),
        act('tmux.ls', ['tmux', 'ls']),
      ],
      {
        unavailable: {
          actions: [summary, tmuxSummary],
          reason: 'needs an LLM, and none is configured (AI_PROVIDER=none)',
        },
      },
    );
    const l = (text: string) => r.lookup(parseCommandLine(text)!);
    expect(l('/docker summary web')).toEqual({
      kind: 'unknown',
      message: '/docker summary needs an LLM, and none is configured (AI_PROVIDER=none).',
    });
    expect(l('/tmux summary')).toEqual({
      kind: 'unknown',
      message: '/tmux summary needs an LLM, and none is configured (AI_PROVIDER=none).',
    });
    // Not a grep for the word "summarize".
    expect(l('/docker logs web 50 summarize')).toEqual({
      kind: 'unknown',
      message: '/docker logs … summarize needs an LLM, and none is configured (AI_PROVIDER=none).',
    });
    expect(l('/docker logs web 50 error')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.logs' } } });
    // Not offered where it cannot run, but still a suggestion for a typo.
    expect(l('/docker x')).toMatchObject({ message: expect.stringContaining('Try one of: ps, logs.') });
    expect(l('/docker summry web')).toMatchObject({
      message: expect.stringContaining('Did you mean /docker summary?'),
    });
    expect(r.get('ai.docker-summary')).toBeUndefined();
  });

  it('gives per-group help: by target or by command word', () => {
    expect(registry.groups('viewer')).toEqual(['docker', 'help']);
    expect(registry.help('viewer', 'docker').map((g) => [g.target, g.lines.map((x) => x.usage)])).toEqual([
      ['docker', ['/docker ps [all] [filter]', '/docker logs <c> [lines]', '/docker summary <c> [lines]']],
    ]);
    expect(registry.help('viewer', 'nothing')).toEqual([]);
    expect(look('/docker logs a b c')).toMatchObject({
      kind: 'usage',
      message: 'unexpected argument "c". Usage: /docker logs <c> [lines]',
    });
  });

  it('refuses two actions claiming one spelling', () => {
    expect(() => new Registry([act('a.x', ['x']), act('b.x', ['x'])])).toThrow('/x is claimed by both a.x and b.x');
  });

  it('reads a bare spelling only when nothing follows it: /agent is the list, /agent <name> <prompt> prompts', () => {
    const agents = new Registry([
      act('agent.prompt', ['agent'], '<name> <prompt...>'),
      act('agent.ls', ['agent', 'ls'], '', { bare: ['agent'] }),
    ]);
    const at = (text: string) => agents.lookup(parseCommandLine(text)!);
    expect(at('/agent')).toMatchObject({ kind: 'match', match: { action: { name: 'agent.ls' }, params: {} } });
    expect(at('/AGENT  ')).toMatchObject({ kind: 'match', match: { action: { name: 'agent.ls' } } });
    expect(at('/agent build go on')).toMatchObject({
      kind: 'match',
      match: { action: { name: 'agent.prompt' }, params: { name: 'build', prompt: 'go on' } },
    });
    expect(at('/agent ls')).toMatchObject({ kind: 'match', match: { action: { name: 'agent.ls' } } });
    expect(
      () => new Registry([act('a.x', ['a', 'x'], '', { bare: ['a'] }), act('a.y', ['a', 'y'], '', { bare: ['a'] })]),
    ).toThrow(/bare \/a is claimed by both a.x and a.y/);
  });

  it('derives the command menu: one entry per group, aliases, built-ins', () => {
    expect(registry.menu()).toEqual([
      { command: 'docker', description: 'docker: ps, logs, summary' },
      { command: 'ps', description: 'docker.ps summary' },
      { command: 'help', description: 'core.help summary' },
    ]);
  });
});
