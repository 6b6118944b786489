import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/core/commands.js';
import { failureFromStatus, toKubeError } from '../../../src/targets/kubernetes/errors.js';
import { parseLogArgs } from '../../../src/targets/kubernetes/logs.js';
import {
  DESCRIBE_KINDS,
  isContextName,
  isDnsLabel,
  isDnsSubdomain,
  normalizeKind,
  parseFlags,
  parseKindName,
  parseLabelSelector,
  SCOPE_FLAGS,
} from '../../../src/targets/kubernetes/names.js';
import { labelMatcher } from '../../fakes/kubeapi/selectors.js';

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const inner = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''));
/** RFC 1123 labels, by construction. */
const dnsLabel = fc
  .tuple(alnum, fc.array(inner, { maxLength: 20 }), alnum)
  .map(([a, mid, z]) => a + mid.join('') + z)
  .chain((s) => fc.constantFrom(s, s[0]!));
const dnsSubdomain = fc.array(dnsLabel, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const labelName = fc
  .tuple(
    fc.constantFrom(...'abcXYZ019'.split('')),
    fc.array(fc.constantFrom(...'abZ09-_.'.split('')), { maxLength: 10 }),
    fc.constantFrom(...'abcXYZ019'.split('')),
  )
  .map(([a, m, z]) => a + m.join('') + z);
const labelKey = fc
  .tuple(fc.option(dnsSubdomain, { nil: undefined }), labelName)
  .map(([p, n]) => (p ? `${p}/${n}` : n));

const requirement = fc.oneof(
  fc
    .tuple(labelKey, fc.constantFrom('=', '==', '!='), fc.option(labelName, { nil: '' }))
    .map(([k, op, v]) => `${k}${op}${v}`),
  fc
    .tuple(labelKey, fc.constantFrom('in', 'notin'), fc.array(labelName, { minLength: 1, maxLength: 3 }))
    .map(([k, op, vs]) => `${k} ${op} (${vs.join(', ')})`),
  fc.tuple(fc.boolean(), labelKey).map(([not, k]) => `${not ? '!' : ''}${k}`),
);
const selector = fc.array(requirement, { minLength: 1, maxLength: 4 }).map((r) => r.join(','));

describe('object names', () => {
  it('accepts every RFC 1123 label and subdomain', () => {
    fc.assert(fc.property(dnsLabel, (s) => isDnsLabel(s) && isDnsSubdomain(s)));
    fc.assert(fc.property(dnsSubdomain, (s) => isDnsSubdomain(s)));
  });

  it('refuses anything with upper case, underscores, spaces, slashes, or a leading/trailing dash or dot', () => {
    const bad = fc
      .tuple(
        fc.string({ maxLength: 10 }),
        fc.constantFrom('A', '_', ' ', '/', '\n', ';', '$'),
        fc.string({ maxLength: 10 }),
      )
      .map(([a, c, z]) => a + c + z);
    fc.assert(fc.property(bad, (s) => !isDnsLabel(s) && !isDnsSubdomain(s)));
    fc.assert(
      fc.property(
        dnsLabel,
        (s) =>
          !isDnsSubdomain(`-${s}`) && !isDnsSubdomain(`${s}-`) && !isDnsSubdomain(`.${s}`) && !isDnsSubdomain(`${s}.`),
      ),
    );
    expect(isDnsLabel('a'.repeat(63))).toBe(true);
    expect(isDnsLabel('a'.repeat(64))).toBe(false);
    expect(isDnsSubdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`)).toBe(true);
    expect(isDnsSubdomain(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`)).toBe(false);
  });

  it('accepts real-world context names and nothing that could be an option or a shell word', () => {
    for (const c of [
      'prod',
      'gke_acme-prod_europe-west1_main',
      'arn:aws:eks:eu-west-1:123456789012:cluster/main',
      'admin@kind-kind',
    ])
      expect(isContextName(c)).toBe(true);
    fc.assert(fc.property(fc.string(), (s) => !isContextName(s) || (!s.startsWith('-') && !/[\s;$`'"\\]/.test(s))));
  });
});

describe('kinds', () => {
  it('maps every alias, plural and .apps spelling to its kind', () => {
    const aliases: Record<string, string> = {
      po: 'pod',
      pods: 'pod',
      deploy: 'deployment',
      'deployments.apps': 'deployment',
      sts: 'statefulset',
      ds: 'daemonset',
      svc: 'service',
      no: 'node',
      STS: 'statefulset',
    };
    for (const [alias, kind] of Object.entries(aliases)) expect(normalizeKind(alias)).toBe(kind);
    for (const bad of [
      'secret',
      'namespace',
      'ns',
      'pods.apps',
      'svc.apps',
      'deploy.apps.v1',
      'constructor',
      '__proto__',
      'toString',
    ])
      expect(normalizeKind(bad)).toBeUndefined();
  });

  it('parses <kind>/<name> strictly or says what is wrong', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DESCRIBE_KINDS), dnsLabel, (kind, name) => {
        expect(parseKindName(`${kind}/${name}`)).toEqual({ kind, name });
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const r = parseKindName(s);
          expect(DESCRIBE_KINDS).toContain(r.kind);
          expect(isDnsSubdomain(r.name)).toBe(true);
          expect(s.endsWith(`/${r.name}`)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
    expect(() => parseKindName('deploy/web', ['pod'])).toThrow('kind must be one of pod');
    expect(() => parseKindName('pod/a/b')).toThrow('expected <kind>/<name>');
    expect(() => parseKindName('svc/a.b')).toThrow('not a valid service name');
  });
});

describe('label selectors', () => {
  it('accepts generated selectors, canonically, and the canonical form is stable', () => {
    fc.assert(
      fc.property(selector, (s) => {
        const c = parseLabelSelector(s);
        expect(c).toBeDefined();
        expect(parseLabelSelector(c!)).toBe(c);
        // The API server's own parsing (as the fake does it) accepts the canonical form.
        expect(() => labelMatcher(c!)).not.toThrow();
      }),
    );
  });

  it('never throws, and whatever it accepts has only selector characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const c = parseLabelSelector(s);
        if (c !== undefined) expect(c).toMatch(/^[A-Za-z0-9._/=!,() -]+$/);
      }),
    );
    for (const bad of [
      '',
      'app=web,',
      ',',
      'app in ()',
      'app in (a',
      'app=(x)',
      'a b',
      'app=we b',
      '-app',
      'app=-x',
      'app===x',
      `k=${'v'.repeat(64)}`,
    ]) {
      expect(parseLabelSelector(bad), bad).toBeUndefined();
    }
    expect(parseLabelSelector('app==web, tier != db,!canary,env in ( a ,b )')).toBe(
      'app=web,tier!=db,!canary,env in (a,b)',
    );
  });
});

describe('flags', () => {
  const tokens = fc.array(
    fc.oneof(
      fc.constantFrom('-c', '-n', '--context', '--namespace=x', '--previous', '-p', '-x', '--', '-1', '-c=prod'),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 8 },
  );

  it('either refuses clearly or returns values that never start with a dash', () => {
    fc.assert(
      fc.property(tokens, (t) => {
        try {
          const a = parseFlags(t, { values: SCOPE_FLAGS, switches: { '--previous': 'previous' } });
          for (const v of Object.values(a.values)) expect(v.startsWith('-') || v === '').toBe(false);
          expect(Object.keys(a.values).every((k) => k === 'context' || k === 'namespace')).toBe(true);
          for (const p of a.positionals) expect(!p.startsWith('-') || /^-\d+$/.test(p)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
  });

  it('keeps positionals in order around flags', () => {
    fc.assert(
      fc.property(fc.array(dnsLabel, { maxLength: 4 }), dnsLabel, dnsLabel, (pos, ctx, ns) => {
        const a = parseFlags(['-c', ctx, ...pos, `--namespace=${ns}`], { values: SCOPE_FLAGS });
        expect(a.positionals).toEqual(pos);
        expect(a.values).toEqual({ context: ctx, namespace: ns });
      }),
    );
    expect(() => parseFlags(['-c', 'a', '-c', 'b'], { values: SCOPE_FLAGS })).toThrow('-c given twice');
  });

  it('reads log arguments: numbers are lines, durations are since, a word is the container', () => {
    expect(parseLogArgs(['web-1', 'nginx', '50', '--previous', '10m', '-n', 'shop'])).toEqual({
      namespace: 'shop',
      pod: 'web-1',
      container: 'nginx',
      lines: 50,
      since: '10m',
      previous: true,
    });
    expect(() => parseLogArgs([])).toThrow(UsageError);
    expect(() => parseLogArgs(['web-1', '5', '6'])).toThrow('unexpected argument "6"');
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }), (t) => {
        try {
          const r = parseLogArgs(t);
          expect(typeof r.pod).toBe('string');
          if (r.lines !== undefined) expect(Number.isInteger(r.lines)).toBe(true);
          for (const v of Object.values(r))
            if (typeof v === 'string') expect(v.startsWith('-') && !/^-\d+$/.test(v)).toBe(false);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
});

describe('error messages', () => {
  const op = {
    context: 'prod',
    verb: 'patch',
    resource: 'deployments/scale',
    namespace: 'shop',
    name: 'web',
    kind: 'deployment',
  };

  it('are one line naming the context, whatever the server sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 300, max: 599 }), fc.anything(), (code, body) => {
        const m = failureFromStatus(op, { code, body }).message;
        expect(m).not.toMatch(/\n/);
        expect(m).toMatch(/\(context prod\)$/);
      }),
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), (message, kind) => {
        const body = JSON.stringify({ kind: 'Status', code: 422, message, details: { kind } });
        expect(failureFromStatus(op, { code: 422, body }).message).not.toMatch(/\n/);
        const forbidden = failureFromStatus(op, {
          code: 403,
          body: { kind: 'Status', code: 403, details: { kind } },
        }).message;
        expect(forbidden).toMatch(/^forbidden: cannot patch [a-z0-9.-]+\/scale in namespace shop \(context prod\)$/);
      }),
    );
    fc.assert(fc.property(fc.string(), (message) => !toKubeError(new Error(message), op).message.includes('\n')));
  });
});
