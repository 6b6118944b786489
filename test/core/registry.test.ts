import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAction } from '../../src/core/action.js';
import { parseCommandLine } from '../../src/core/commands.js';
import { Registry } from '../../src/core/registry.js';
import { result } from '../../src/core/result.js';

const act = (name: string, path: string[], usage = '', extra: object = {}) =>
  defineAction({ name, summary: `${name} summary`, target: path[0]!, risk: 'read', params: z.object({}).passthrough(), command: { path, usage, ...extra }, run: async () => result([]) });

const registry = new Registry([
  act('docker.ps', ['docker', 'ps'], '[all] [filter]', { aliases: [['ps'], ['docker']] }),
  act('docker.logs', ['docker', 'logs'], '<c> [lines]'),
  act('core.help', ['help']),
  act('ai.docker-summary', ['docker', 'summary'], '<c> [lines]', { suffix: { path: ['docker', 'logs'], word: 'summarize' } }),
]);
const look = (text: string) => registry.lookup(parseCommandLine(text)!);

describe('Registry', () => {
  it('matches the longest command path and binds arguments', () => {
    expect(look('/docker logs api 20')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.logs' }, params: { c: 'api', lines: '20' } } });
    expect(look('/DOCKER PS all')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' }, params: { all: 'all' } } });
    expect(look('/ps')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
    expect(look('/docker')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.ps' } } });
  });

  it('reads a closing word as another action: /docker logs api 50 summarize', () => {
    expect(look('/docker logs api 50 summarize')).toMatchObject({ kind: 'match', match: { action: { name: 'ai.docker-summary' }, params: { c: 'api', lines: '50' } } });
    expect(look('/docker logs api SUMMARIZE')).toMatchObject({ kind: 'match', match: { action: { name: 'ai.docker-summary' }, params: { c: 'api' } } });
    expect(look('/docker logs api 50')).toMatchObject({ kind: 'match', match: { action: { name: 'docker.logs' } } });
  });

  it('reads a mistyped verb as a mistake, not as an argument of the bare group', () => {
    expect(look('/docker restrat api')).toEqual({ kind: 'unknown', message: '/docker restrat is not a command. Try one of: ps, logs, summary.' });
    expect(look('/nothing')).toEqual({ kind: 'unknown', message: '/nothing is not a command. /help lists them; /status shows which integrations are off.' });
    expect(look('/docker logs a b c')).toMatchObject({ kind: 'usage', message: 'unexpected argument "c". Usage: /docker logs <c> [lines]' });
  });

  it('refuses two actions claiming one spelling', () => {
    expect(() => new Registry([act('a.x', ['x']), act('b.x', ['x'])])).toThrow('/x is claimed by both a.x and b.x');
  });

  it('derives the command menu: one entry per group, aliases, built-ins', () => {
    expect(registry.menu()).toEqual([
      { command: 'docker', description: 'docker: ps, logs, summary' },
      { command: 'ps', description: 'docker.ps summary' },
      { command: 'help', description: 'core.help summary' },
    ]);
  });
});
