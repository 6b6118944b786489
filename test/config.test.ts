import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envExample, loadConfig, SETTINGS } from '../src/config.js';
import { scrubbedEnv, SECRET_ENV } from '../src/core/env.js';

const TOKEN = '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi';

describe('loadConfig', () => {
  it('starts with just a token and one operator, defaults everywhere else', () => {
    const r = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42' }, 'start');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.AUTHORIZED_USER_IDS).toEqual([42]);
    expect(r.config.RATE_LIMIT_PER_MINUTE).toBe(20);
    expect(r.config.CONFIRM_TTL_SECONDS).toBe(120);
    expect(r.config.HTTP_PORT).toBe(9464);
    expect(r.config.auditAnchorPath).toBe('.state/audit.anchor');
    expect(r.config.secrets).toContain(TOKEN);
  });

  it("webhook mode: an https URL and a secret of Telegram's alphabet, which is redacted", () => {
    const base = { TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42' };
    const secret = `${'aZ09_-'.repeat(42)}abcd`;
    const r = loadConfig(
      { ...base, TELEGRAM_WEBHOOK_URL: 'https://bot.example.test/tg/hook', TELEGRAM_WEBHOOK_SECRET: secret },
      'start',
    );
    expect(r.ok && [r.config.TELEGRAM_WEBHOOK_URL, r.config.TELEGRAM_WEBHOOK_PORT]).toEqual([
      'https://bot.example.test/tg/hook',
      8443,
    ]);
    expect(r.ok && r.config.secrets).toContain(secret);
    const bad = loadConfig(
      { ...base, TELEGRAM_WEBHOOK_URL: 'https://bot.example.test/', TELEGRAM_WEBHOOK_SECRET: `${secret}x` },
      'start',
    );
    expect(bad.ok || bad.problems).toEqual([expect.stringMatching(/^TELEGRAM_WEBHOOK_SECRET: must be 1-256/)]);
    const noSecret = loadConfig({ ...base, TELEGRAM_WEBHOOK_URL: 'https://bot.example.test/' }, 'doctor');
    expect(noSecret.ok || noSecret.problems).toEqual([expect.stringMatching(/^TELEGRAM_WEBHOOK_SECRET: missing/)]);
  });

  it('an empty setting means its default, for every setting', () => {
    const base = { TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42' };
    const defaults = loadConfig(base, 'start');
    expect(defaults.ok).toBe(true);
    if (!defaults.ok) return;
    const names = Object.keys(SETTINGS).filter((n) => !(n in base));
    for (const blank of ['', '  ']) {
      const r = loadConfig({ ...base, ...Object.fromEntries(names.map((n) => [n, blank])) }, 'start');
      expect(r).toEqual(defaults);
    }
    expect(names).toContain('RATE_LIMIT_PER_MINUTE');
  });

  it('lists every problem at once', () => {
    const r = loadConfig(
      {
        AUTHORIZED_USER_IDS: '12,abc',
        RATE_LIMIT_PER_MINUTE: '-3',
        HTTP_PORT: 'x',
        AUDIT_FSYNC: 'maybe',
        TMUX_SOCKET: '',
      },
      'start',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const names = r.problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        'AUTHORIZED_USER_IDS',
        'RATE_LIMIT_PER_MINUTE',
        'HTTP_PORT',
        'AUDIT_FSYNC',
        'TELEGRAM_BOT_TOKEN',
      ]),
    );
    expect(r.problems.join('\n')).toContain('"abc" is not a numeric Telegram user id');
  });

  it('names a mistyped namespace even while Kubernetes is off', () => {
    const r = loadConfig(
      { TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42', K8S_NAMESPACES: 'shop, Bad_NS,payments' },
      'start',
    );
    expect(r.ok ? [] : r.problems).toEqual(['K8S_NAMESPACES: not a namespace name: "Bad_NS"']);
    const good = loadConfig(
      { TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '42', K8S_NAMESPACES: 'shop, payments' },
      'start',
    );
    expect(good.ok && good.config.K8S_NAMESPACES).toEqual(['shop', 'payments']);
  });

  it('refuses to start with nobody authorized', () => {
    const r = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN }, 'start');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join()).toMatch(/AUTHORIZED_USER_IDS: no operator is authorized/);
  });

  it('the console needs no Telegram settings', () => {
    expect(loadConfig({}, 'console').ok).toBe(true);
  });

  it('refuses one user with two roles', () => {
    const r = loadConfig({ TELEGRAM_BOT_TOKEN: TOKEN, AUTHORIZED_USER_IDS: '1', VIEWER_USER_IDS: '1' }, 'start');
    expect(r.ok).toBe(false);
  });
});

describe('passwords in settings', () => {
  it('are hidden in the problems that quote a refused value, the rest of the message kept', () => {
    const r = loadConfig(
      {
        TELEGRAM_BOT_TOKEN: TOKEN,
        AUTHORIZED_USER_IDS: '42',
        DOCKER_HOST: 'tcp://admin:pa/ss#w0rd@db:2375',
        AI_BASE_URL: 'ftp://u:Hunter2-pw@llm/v1',
        OPENAI_API_KEY: 'sk-not-a-real-key-0123456789abcdef',
      },
      'start',
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.problems.join('\n');
    expect(text).toContain('DOCKER_HOST: tcp://admin:[REDACTED]@db:2375: expected');
    expect(text).toContain('AI_BASE_URL: "ftp://u:[REDACTED]@llm/v1" is not an http(s) URL');
    for (const secret of ['pa/ss', 'w0rd', 'Hunter2-pw']) expect(text).not.toContain(secret);
  });

  it('in an accepted URL setting are configured secrets, redacted wherever they appear', () => {
    const r = loadConfig(
      {
        TELEGRAM_BOT_TOKEN: TOKEN,
        AUTHORIZED_USER_IDS: '42',
        AI_PROVIDER: 'openai-compatible',
        AI_MODEL: 'm',
        AI_BASE_URL: 'https://u:Hunter%2F2-pw@llm.example/v1',
      },
      'start',
    );
    expect(r.ok && r.config.secrets).toContain('Hunter/2-pw');
  });
});

describe('secret settings', () => {
  // That the sessions and commands teleops starts do not see them is checked where they start:
  // test/targets/tmux/actions.test.ts "keep teleops secrets out of the sessions they start" and
  // test/targets/shell/shell.test.ts "… keeps teleops secrets out of its environment".
  it('are all on SECRET_ENV, the list scrubbedEnv drops', () => {
    const secret = Object.entries(SETTINGS)
      .filter(([, s]) => 'secret' in s && s.secret)
      .map(([n]) => n);
    expect([...SECRET_ENV].sort()).toEqual(secret.sort());
  });

  it('scrubbedEnv drops every one of them and keeps the rest', () => {
    const saved = { ...process.env };
    try {
      for (const k of SECRET_ENV) process.env[k] = `secret-${k}`;
      process.env.TELEOPS_TEST_PLAIN = 'kept';
      const env = scrubbedEnv();
      for (const k of SECRET_ENV) expect(env, k).not.toHaveProperty(k);
      expect(env.TELEOPS_TEST_PLAIN).toBe('kept');
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      for (const k of [...SECRET_ENV, 'TELEOPS_TEST_PLAIN']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});

describe('.env.example', () => {
  it('is generated from the settings and lists every one of them', () => {
    const file = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    expect(file).toBe(envExample());
    for (const name of Object.keys(SETTINGS)) expect(file).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });

  it('is documented in the README settings table', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of Object.keys(SETTINGS)) expect(readme).toContain(`\`${name}\``);
  });
});
