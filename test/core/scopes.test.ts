/**
 * Per-chat scopes (core/scopes.ts): the SCOPES syntax and the file form parse to the same
 * grants, bad ones are refused in one line, and a chat's scope answers as the README says,
 * with the real targets' scopings (Docker host names, Kubernetes context/namespace, tmux
 * session patterns).
 */
import fc from 'fast-check';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import type { Risk } from '../../src/core/action.js';
import type { Principal } from '../../src/core/policy.js';
import { checkRules, parseScopes, Scopes, scopesFromFile, showsCard, type Grant } from '../../src/core/scopes.js';
import { docker } from '../../src/targets/docker/module.js';
import { kubernetes } from '../../src/targets/kubernetes/module.js';
import { MODULES } from '../../src/targets/modules.js';
import { tempDir, testApp } from '../support/app.js';
import { outcomeText } from '../support/outcome.js';
import { runs } from '../support/test-target.js';

const action = (target: string, risk: Risk = 'read', name = `${target}.x`) => ({ name, target, risk });
const scopes = (s: string) => new Scopes(parseScopes(s), MODULES);

describe('SCOPES', () => {
  it('parses chats, targets, places and :ro as written', () => {
    const rules = parseScopes('-100123=docker:edge,build;k8s:prod/payments:ro;tmux:^ci-  42=agents:*');
    expect([...rules]).toEqual([
      [
        -100123,
        [
          { word: 'docker', places: ['edge', 'build'], readOnly: false },
          { word: 'k8s', places: ['prod/payments'], readOnly: true },
          { word: 'tmux', places: ['^ci-'], readOnly: false },
        ],
      ],
      [42, [{ word: 'agents', places: ['*'], readOnly: false }]],
    ]);
    expect(parseScopes('').size).toBe(0);
  });

  it('refuses what it cannot read, in one line naming it', () => {
    for (const [bad, says] of [
      ['-100', 'is not <chat id>='],
      ['x=docker:edge', '"x" is not a numeric chat id'],
      ['1=docker', 'is not <target>:<place>'],
      ['1=docker:', 'names no place'],
      ['1=docker:,:ro', 'names no place'],
      ['1=Docker:edge', 'is not a target word'],
      ['1=docker:a 1=tmux:b', 'chat 1 is scoped twice'],
      ['1=;', 'empty scope'],
      // Digits, but past what a number holds exactly.
      ['99999999999999999999=docker:a', 'is not a numeric chat id'],
    ] as const)
      expect(() => parseScopes(bad), bad).toThrow(says);
  });

  it('reads back every scope it is given, for any chats, words, places and :ro', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
    const place = fc.stringMatching(/^[A-Za-z0-9^$.*/_-]{1,12}$/).filter((p) => !p.endsWith(':ro'));
    const grant = fc.record({ word, places: fc.array(place, { minLength: 1, maxLength: 4 }), readOnly: fc.boolean() });
    const chats = fc.uniqueArray(fc.tuple(fc.integer({ min: -1e12, max: 1e12 }), fc.array(grant, { minLength: 1 })), {
      selector: ([c]) => c,
      maxLength: 6,
    });
    let readOnly = 0;
    fc.assert(
      fc.property(chats, (cs) => {
        const text = cs
          .map(
            ([c, gs]) => `${c}=${gs.map((g) => `${g.word}:${g.places.join(',')}${g.readOnly ? ':ro' : ''}`).join(';')}`,
          )
          .join(' \n ');
        readOnly += cs.flatMap(([, gs]) => gs).filter((g) => g.readOnly).length;
        expect([...parseScopes(text)]).toEqual(cs);
      }),
      { numRuns: 300 },
    );
    expect(readOnly).toBeGreaterThan(0);
  });

  it('reads the file form to the same grants, a pattern with commas whole', () => {
    const doc = load(
      [
        '-100123:',
        '  docker: [edge, build]',
        '  k8s: { places: prod/payments, ro: true }',
        "  tmux: '^ci-[a-z]{1,20}$'",
      ].join('\n'),
    );
    expect(scopesFromFile(doc).get(-100123)).toEqual<Grant[]>([
      { word: 'docker', places: ['edge', 'build'], readOnly: false },
      { word: 'k8s', places: ['prod/payments'], readOnly: true },
      { word: 'tmux', places: ['^ci-[a-z]{1,20}$'], readOnly: false },
    ]);
    expect(() => scopesFromFile(load('-1:\n  docker: { places: [a], rw: true }'))).toThrow(/-1\.docker/);
    expect(() => scopesFromFile(load('chat:\n  docker: a'))).toThrow('"chat" is not a numeric chat id');
    expect(() => scopesFromFile(load('[1, 2]'))).toThrow();
    expect(scopesFromFile(undefined).size).toBe(0);
    // Places as written in YAML: trimmed, empty ones dropped.
    expect(scopesFromFile(load("-1:\n  docker: [' edge ', '']")).get(-1)).toEqual([
      { word: 'docker', places: ['edge'], readOnly: false },
    ]);
  });

  it('quotes at most 80 characters of what it refuses', () => {
    const long = 'x'.repeat(200);
    for (const bad of [long, `1=${long}`]) {
      const message = (() => {
        try {
          parseScopes(bad);
          return '';
        } catch (e) {
          return (e as Error).message;
        }
      })();
      expect(message).toContain(`"${'x'.repeat(80)}"`);
      expect(message).not.toContain('x'.repeat(81));
    }
    const bad = checkRules(parseScopes(`1=docker:${'X'.repeat(200)}`), MODULES);
    expect(bad).toContain(`docker "${'X'.repeat(80)}":`);
  });

  it('checks each word against the targets, and each place against its target', () => {
    const check = (s: string) => checkRules(parseScopes(s), MODULES);
    expect(check('1=docker:edge;k8s:prod/payments;tmux:^ci-;agents:*;shell:*')).toBeUndefined();
    expect(check('1=docker:Edge!')).toMatch(/^chat 1: docker "Edge!": is not a host name/);
    expect(check('1=kubernetes:prod')).toMatch(/no target is called kubernetes \(targets: docker, tmux, k8s/);
    expect(check('1=k8s:prod/Pay_ments')).toBe('chat 1: k8s "prod/Pay_ments": is not a namespace name');
    expect(check('1=tmux:(a+)+$')).toMatch(/^chat 1: tmux "\(a\+\)\+\$": /);
    expect(check('1=agents:mine')).toBe('chat 1: agents "mine": agents has no places to choose; give *');
  });
});

describe('a chat’s scope', () => {
  const s = scopes('-1=docker:edge,build:ro;docker:build;k8s:prod/payments:ro;k8s:stage;tmux:^ci-');

  it('leaves a chat without one, and core’s own actions, alone', () => {
    expect(s.of(-2)).toBeUndefined();
    expect(s.of(-1)!.refusal(action('core', 'write'), undefined)).toBeUndefined();
    expect(s.of(-1)!.sees(action('ai'))).toBe(true);
    expect(s.shows(-2, 'docker', 'anywhere')).toBe(true);
  });

  it('refuses a target it does not name, and one it names only read-only for a change', () => {
    const c = s.of(-1)!;
    expect(c.refusal(action('agents'), undefined)).toBe("agents is not in this chat's scope");
    expect(c.sees(action('agents'))).toBe(false);
    expect(c.sees(action('shell', 'destructive'))).toBe(false);
    const ro = scopes('-1=docker:*:ro').of(-1)!;
    expect(ro.sees(action('docker', 'write'))).toBe(false);
    expect(ro.sees(action('docker'))).toBe(true);
    expect(scopes('-1=docker:edge:ro;docker:build').of(-1)!.sees(action('docker', 'write'))).toBe(true);
    expect(ro.refusal(action('docker', 'write'), undefined)).toBe('docker is read-only in this chat');
    expect(ro.refusal(action('docker', 'write'), ['edge'])).toBe('docker edge is read-only in this chat');
    expect(ro.refusal(action('docker'), undefined)).toBeUndefined();
  });

  it('allows a place a grant covers; a change only where a grant is not read-only', () => {
    const c = s.of(-1)!;
    expect(c.refusal(action('docker', 'write'), ['build'])).toBeUndefined();
    expect(c.refusal(action('docker', 'write'), ['edge'])).toBe('docker edge is read-only in this chat');
    expect(c.refusal(action('docker'), ['edge'])).toBeUndefined();
    expect(c.refusal(action('docker'), ['local'])).toBe("docker local is not in this chat's scope");
    expect(c.refusal(action('docker'), ['build', 'local'])).toBe("docker local is not in this chat's scope");
    // An action that cannot say where it acts needs every place granted.
    expect(c.refusal(action('docker', 'read', 'docker.odd'), undefined)).toBe("docker.odd is not in this chat's scope");
    expect(c.refusal(action('docker'), [])).toBeUndefined();
  });

  it('matches Kubernetes places by context and namespace', () => {
    const c = s.of(-1)!;
    const k = (place: string, risk: Risk = 'read') => c.refusal(action('kubernetes', risk), [place]);
    expect(k('prod/payments')).toBeUndefined();
    expect(k('prod/payments', 'write')).toBe('k8s prod/payments is read-only in this chat');
    expect(k('prod/default')).toBe("k8s prod/default is not in this chat's scope");
    // Nodes belong to no namespace: only a grant of the whole context holds them.
    expect(k('prod/')).toBe("k8s prod/ is not in this chat's scope");
    expect(k('stage/')).toBeUndefined();
    expect(k('stage/anything', 'destructive')).toBeUndefined();
    expect(k('prod-2/payments')).toBe("k8s prod-2/payments is not in this chat's scope");
    // Lists of contexts ask whether anything of one is in scope.
    expect(c.within('kubernetes', 'prod/*')).toBe(true);
    expect(c.within('kubernetes', 'dev/*')).toBe(false);
    const any = scopes('-1=k8s:*/payments;k8s:arn:aws:eks:r:1:cluster/x/*').of(-1)!;
    expect(any.within('kubernetes', 'dev/payments')).toBe(true);
    expect(any.within('kubernetes', 'dev/')).toBe(false);
    expect(any.within('kubernetes', 'arn:aws:eks:r:1:cluster/x/kube-system')).toBe(true);
    expect(any.within('kubernetes', 'arn:aws:eks:r:1:cluster/y/kube-system')).toBe(false);
  });

  it('matches tmux sessions by pattern, as written (anchors are the pattern’s own)', () => {
    const c = s.of(-1)!;
    expect(c.within('tmux', 'ci-build')).toBe(true);
    expect(c.within('tmux', 'my-ci-build')).toBe(false);
    expect(c.within('tmux', 'CI-build')).toBe(false);
    const i = scopes('-1=tmux:/^ci-/i').of(-1)!;
    expect(i.within('tmux', 'CI-build')).toBe(true);
  });

  it('sends an alert to a scoped chat only when its scope holds the place', () => {
    expect(s.shows(-1, 'docker', 'edge')).toBe(true);
    expect(s.shows(-1, 'docker', 'local')).toBe(false);
    expect(s.shows(-1, 'kubernetes', 'prod/payments')).toBe(true);
    expect(s.shows(-1, 'kubernetes', 'prod/default')).toBe(false);
    expect(s.shows(-1, 'tmux', 'ci-1')).toBe(true);
    expect(s.shows(-1, 'agents', undefined)).toBe(false);
    expect(s.shows(-1, 'docker', undefined)).toBe(true);
    // Alerts of teleops itself (the audit log) go to every alert chat.
    expect(s.shows(-1, 'audit', undefined)).toBe(true);
  });
});

describe('a live card placed in every forum chat', () => {
  const s = scopes('-1=tmux:^ci-;agents:* -2=tmux:*');
  it('goes to a scoped chat only when it says what it is about and the scope holds it', () => {
    expect(showsCard(undefined, undefined)).toBe(true);
    expect(showsCard(s.of(-1), undefined)).toBe(false);
    expect(showsCard(s.of(-1), { target: 'tmux', place: 'ci-1' })).toBe(true);
    expect(showsCard(s.of(-1), { target: 'tmux', place: 'web' })).toBe(false);
    // The index lists every session: only for a scope holding all of them.
    expect(showsCard(s.of(-1), { target: 'tmux' })).toBe(false);
    expect(showsCard(s.of(-2), { target: 'tmux' })).toBe(true);
    expect(showsCard(s.of(-1), { target: 'agents' })).toBe(true);
    expect(showsCard(s.of(-2), { target: 'agents' })).toBe(false);
  });
});

describe('/status in a scoped chat', () => {
  it('leaves out the targets outside the scope, and keeps the details of a target held whole', async () => {
    const t = await testApp({ SCOPES: '-100=docker:*' }, [docker, kubernetes]);
    const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };
    const mine: Principal = { ...group, chatId: 10, chatKind: 'private' };
    const say = async (who: Principal) => outcomeText(await t.app.dispatcher.command(who, 'command', '/status'));
    try {
      const scoped = await say(group);
      expect(scoped).toMatch(/^\S+ docker: disabled — DOCKER_ENABLED=false$/m);
      expect(scoped).not.toContain('kubernetes');
      // Core's own integrations, details and all.
      expect(scoped).toMatch(/^\S+ audit: up — /m);
      expect(await say(mine)).toMatch(/^\S+ kubernetes: /m);
    } finally {
      await t.close();
    }
  });
});

describe('an approval decided after the scopes changed', () => {
  it('is asked again when approved, and refused outside the scope now in force', async () => {
    const dir = tempDir('teleops-scopes-');
    const group: Principal = { transport: 'tg', userId: 10, chatId: -100, chatKind: 'group', name: '@ops' };
    const other: Principal = { ...group, userId: 11, name: '@bob' };
    let t = await testApp({}, [], dir.path);
    const asked = await t.app.dispatcher.command(group, 'command', '/test destroy web');
    expect(asked.kind).toBe('approval');
    await t.close();
    // Restarted with a scope for the group that does not hold the test target.
    t = await testApp({ SCOPES: '-100=docker:*' }, [], dir.path);
    try {
      const p = asked.kind === 'approval' ? asked.approval : undefined;
      const o = await t.app.dispatcher.decide(other, p!.id, p!.token, 'approve');
      expect(o).toEqual({ kind: 'refused', message: "test.destroy: test is not in this chat's scope." });
      expect(runs(t.runsFile, 'destroy')).toBe(0);
      expect(t.app.audit.recent(1)[0]).toMatchObject({ action: 'test.destroy', outcome: 'forbidden' });
    } finally {
      await t.close();
      dir.remove();
    }
  });
});
