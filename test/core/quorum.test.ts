import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { matches, namesParams, quorumOf, quorumRules, unknownActions, type QuorumRule } from '../../src/core/quorum.js';

const TOKEN = '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

const format = (r: QuorumRule): string =>
  `${r.action}${r.param ? `:${r.param.name}=${r.param.value}` : ''}${r.place !== undefined ? `@${r.place}` : ''}`;

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,11}$/);
const rule: fc.Arbitrary<QuorumRule> = fc.record(
  {
    action: fc.oneof(
      fc.constant('*'),
      fc.array(name, { minLength: 1, maxLength: 3 }).map((p) => p.join('.')),
    ),
    param: fc.record({
      name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,11}$/),
      value: fc.stringMatching(/^[^\s,:=@]{1,12}$/),
    }),
    place: fc.stringMatching(/^[^\s,/]{1,20}$/),
  },
  { requiredKeys: ['action'] },
);

describe('APPROVAL_QUORUM rules', () => {
  it('parses the example of the issue', () => {
    expect(quorumRules.parse('k8s.delete, k8s.scale:replicas=0,*@prod,docker.stop@edge')).toEqual([
      { action: 'k8s.delete' },
      { action: 'k8s.scale', param: { name: 'replicas', value: '0' } },
      { action: '*', place: 'prod' },
      { action: 'docker.stop', place: 'edge' },
    ]);
    expect(quorumRules.parse('')).toEqual([]);
  });

  it('reads back every list of rules it is given, written out', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 30, size: 'max' }), (rules) => {
        expect(quorumRules.parse(rules.map(format).join(','))).toEqual(rules);
      }),
    );
  });

  it('takes any text either as rules that write back to it, or refuses it naming the first bad rule', () => {
    const reached = { ok: 0, bad: 0 };
    const piece = fc.oneof(rule.map(format), fc.string({ maxLength: 20 }), fc.constantFrom(':', '=', '@', ' ', '*'));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8, size: 'max' }), fc.constantFrom(',', ''), (pieces, sep) => {
        const text = pieces.join(sep);
        const items = text
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        const r = quorumRules.safeParse(text);
        if (r.success) {
          reached.ok++;
          expect(r.data.map(format)).toEqual(items);
        } else {
          reached.bad++;
          expect(r.error.issues).toHaveLength(1);
          const message = r.error.issues[0]!.message;
          expect(message).not.toContain('\n');
          expect(items.some((i) => message.startsWith(`"${i}" is not <action or *>`))).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
    expect(reached.ok).toBeGreaterThan(20);
    expect(reached.bad).toBeGreaterThan(20);
  });

  it('is one clear line in the configuration when a rule is bad', () => {
    const r = loadConfig(
      { TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42', APPROVAL_QUORUM: 'k8s.delete,k8s.scale:replicas' },
      'start',
    );
    expect(r.ok || r.problems).toEqual([
      'APPROVAL_QUORUM: "k8s.scale:replicas" is not <action or *>[:<param>=<value>][@<context or host>]',
    ]);
    // A scope's `context/namespace` would never match: a rule's place is a context or a host.
    expect(quorumRules.safeParse('*@prod/payments').error?.issues[0]?.message).toBe(
      '"*@prod/payments" is not <action or *>[:<param>=<value>][@<context or host>]',
    );
  });

  it('matches a parameter by what it stands for on the target too', () => {
    const rules = quorumRules.parse('docker.stop:container=db,k8s.delete');
    expect(quorumOf(rules, 'docker.stop', { container: '3f2a1b' })).toBe(1);
    expect(quorumOf(rules, 'docker.stop', { container: '3f2a1b' }, { container: ['db', 'shop/db'] })).toBe(2);
    expect(quorumOf(rules, 'docker.stop', { container: 'web' }, { container: ['web'] })).toBe(1);
    expect(namesParams(rules, 'docker.stop')).toBe(true);
    expect(namesParams(rules, 'k8s.delete')).toBe(false);
    expect(namesParams(quorumRules.parse('*:force=true'), 'tmux.kill')).toBe(true);
  });

  it('matches the action, the parameter as written, and the bound context or host', () => {
    const rules = quorumRules.parse('k8s.delete,k8s.scale:replicas=0,*@prod,docker.stop@edge');
    const need = (action: string, params: Record<string, unknown>) => quorumOf(rules, action, params);
    expect(need('k8s.delete', { context: 'dev', name: 'web' })).toBe(2);
    expect(need('k8s.scale', { context: 'dev', replicas: 0 })).toBe(2);
    expect(need('k8s.scale', { context: 'dev', replicas: 1 })).toBe(1);
    expect(need('k8s.restart', { context: 'prod' })).toBe(2);
    expect(need('docker.restart', { host: 'prod' })).toBe(2);
    expect(need('docker.stop', { host: 'edge', container: 'web' })).toBe(2);
    expect(need('docker.stop', { host: 'local', container: 'edge' })).toBe(1);
    expect(need('docker.stop', {})).toBe(1);
    expect(quorumOf([], 'k8s.delete', {})).toBe(1);
    // A parameter that is not a scalar never equals a written value.
    expect(matches({ action: '*', param: { name: 'replicas', value: '0' } }, 'x', { replicas: [0] })).toBe(false);
    expect(matches({ action: '*', place: 'prod' }, 'x', { context: { name: 'prod' } })).toBe(false);
  });

  it('names each rule action that is no action, once (a typo would leave it to one operator)', () => {
    const rules = quorumRules.parse('k8s.delet,k8s.delet@prod,*@prod,docker.stop');
    expect(unknownActions(rules, (a) => a === 'docker.stop')).toEqual(['k8s.delet']);
  });
});
