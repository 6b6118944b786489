import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { once } from 'node:events';
import { MAX_LINE_CHARS, REDACTED, clip, createRedactor, type Redactor } from '../../src/core/redact.js';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALNUM = `${UPPER}${UPPER.toLowerCase()}${DIGITS}`;
const B64URL = `${ALNUM}_-`;

const chars = (alphabet: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max });

/** Random surroundings: punctuation, whitespace, unicode (emoji, CJK, combining), ASCII. */
const noiseUnit = fc.oneof(
  fc.constantFrom(
    ...' \n\r\t.,;:=-_/"\'()[]{}<>@#&?!*+%$~|\\'.split(''),
    '\r\n',
    '🙂',
    '😀',
    'é',
    '中',
    'ß',
    'e\u0301',
    '\u2028',
    '\u00a0',
  ),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const noise = fc.string({ unit: noiseUnit, maxLength: 60 });

/** Characters that cannot continue a token, so a word-start shape (sk-, JWT) can start after them. */
const boundary = fc.constantFrom(' ', '\n', '\t', '(', '"', "'", '=', ',', ':', '[', '🙂', 'é ', '\r\n');

interface Shape {
  /** What is embedded in the text. */
  readonly text: string;
  /** The part that must not survive. */
  readonly secret: string;
  /** Recognised only at the start of a word. */
  readonly wordStart?: boolean;
}

const KEYS = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'API-KEY',
  'Password',
  'DB_PASSWORD',
  'client_secret',
  'access_token',
  'accessToken',
  'secret_key',
  'X-Api-Key',
  'authorization',
  'credentials',
  'private_key',
  'passphrase',
  'GPG_PASSPHRASE',
];
const VALUE_CHARS = `${ALNUM}!#$%()*+,./:;<=>?@[]^_{|}~-`;

const shapes: Record<string, fc.Arbitrary<Shape>> = {
  telegram: fc.tuple(chars(DIGITS, 6, 12), chars(B64URL, 35, 35)).map(([id, t]) => ({ text: `${id}:${t}`, secret: t })),
  openai: fc
    .tuple(fc.constantFrom('sk-', 'sk-proj-', 'sk-ant-api03-'), chars(B64URL, 20, 90))
    .map(([p, b]) => ({ text: p + b, secret: p + b, wordStart: true })),
  google: chars(B64URL, 35, 35).map((b) => ({ text: `AIza${b}`, secret: `AIza${b}` })),
  awsId: fc
    .tuple(fc.constantFrom('AKIA', 'ASIA'), chars(UPPER + DIGITS, 16, 16))
    .map(([p, b]) => ({ text: p + b, secret: p + b })),
  awsSecret: fc
    .tuple(
      fc.constantFrom('aws_secret_access_key=', 'AWS_SECRET_ACCESS_KEY: ', 'aws_secret_access_key = '),
      chars(`${ALNUM}/+`, 40, 40),
    )
    .map(([k, v]) => ({ text: k + v, secret: v })),
  github: fc
    .oneof(
      fc.tuple(fc.constantFrom('ghp_', 'gho_', 'ghs_'), chars(ALNUM, 36, 40)).map(([p, b]) => p + b),
      chars(`${ALNUM}_`, 82, 82).map((b) => `github_pat_${b}`),
    )
    .map((t) => ({ text: t, secret: t })),
  slack: fc
    .tuple(fc.constantFrom('xoxb-', 'xoxp-', 'xoxa-', 'xoxr-'), chars(`${ALNUM}-`, 10, 50))
    .map(([p, b]) => ({ text: p + b, secret: p + b })),
  jwt: fc
    .tuple(chars(B64URL, 10, 40), chars(B64URL, 10, 80), chars(B64URL, 0, 60))
    .map(([h, p, s]) => ({ text: `eyJ${h}.eyJ${p}.${s}`, secret: `eyJ${h}.eyJ${p}.${s}`, wordStart: true })),
  bearer: fc
    .tuple(
      fc.constantFrom(
        'Bearer ',
        'bearer ',
        'Authorization: Bearer ',
        'authorization: bearer\t',
        'Authorization: Basic ',
      ),
      chars(`${ALNUM}._~+/-`, 8, 80),
    )
    .map(([p, t]) => ({ text: p + t, secret: t })),
  privateKey: fc
    .tuple(
      fc.constantFrom(
        'RSA PRIVATE KEY',
        'PRIVATE KEY',
        'OPENSSH PRIVATE KEY',
        'EC PRIVATE KEY',
        'ENCRYPTED PRIVATE KEY',
        'PGP PRIVATE KEY BLOCK',
      ),
      fc.array(chars(`${ALNUM}+/=`, 16, 64), { minLength: 1, maxLength: 5 }),
      fc.boolean(),
      fc.constantFrom('\n', '\\n'),
    )
    .map(([kind, body, ended, nl]) => ({
      text: `-----BEGIN ${kind}-----${nl}${body.join(nl)}${ended ? `${nl}-----END ${kind}-----` : ''}`,
      secret: body.join(nl),
    })),
  keyValue: fc
    .tuple(
      fc.constantFrom(...KEYS),
      fc.constantFrom('', '"', "'", '\\"'),
      fc.constantFrom('=', ': ', ' = ', ':', '=>', ':=', '\t=\t'),
      fc.oneof(
        chars(VALUE_CHARS, 8, 40).map((v) => ({ v, q: '' })),
        chars(`${VALUE_CHARS} é中🙂'`, 8, 40).map((v) => ({ v, q: '"' })),
        chars(`${VALUE_CHARS} é中🙂"`, 8, 40).map((v) => ({ v, q: "'" })),
      ),
    )
    .map(([k, kq, sep, { v, q }]) => ({ text: `${kq}${k}${kq}${sep}${q}${v}${q}`, secret: v })),
  urlCredentials: fc
    .tuple(
      fc.constantFrom('https', 'postgres', 'redis', 'mongodb+srv', 'amqp', 'tcp'),
      chars(ALNUM, 0, 12),
      // A password may hold / # ? and @; digits then / would read as a port (host:8080/path).
      chars(`${ALNUM}!$%*+,;=~._-@/#?`, 8, 30).filter((p) => !/^[0-9]{1,5}([/?#]|$)/.test(p)),
      chars(`${ALNUM}.`, 1, 20),
    )
    .map(([scheme, user, pass, host]) => ({ text: `${scheme}://${user}:${pass}@${host}/x`, secret: pass })),
  cliFlag: fc
    .tuple(
      fc.constantFrom(
        '--password',
        '--passwd',
        '--token',
        '--requirepass',
        '--api-key',
        '--secret',
        '--auth-token',
        '--masterauth',
      ),
      fc.constantFrom(' ', '  ', '\t', '='),
      chars(VALUE_CHARS, 8, 40).filter((v) => !v.startsWith('--')),
    )
    .map(([flag, sep, v]) => ({ text: `${flag}${sep}${v}`, secret: v })),
  mysqlPassword: fc
    .tuple(
      fc.constantFrom('mysql', 'mysqldump', 'mariadb', 'mysqladmin'),
      fc.constantFrom('', ' -h db', ' -u root', ' --host=db.local -P 3306 -u admin'),
      chars(VALUE_CHARS, 8, 40),
    )
    .map(([cmd, args, v]) => ({ text: `${cmd}${args} -p${v}`, secret: v, wordStart: true })),
  redisCli: fc
    .tuple(
      fc.constantFrom('', ' -h cache', ' -p 6380'),
      chars(VALUE_CHARS, 8, 40).filter((v) => !v.startsWith('-')),
    )
    .map(([args, v]) => ({ text: `redis-cli${args} -a ${v}`, secret: v, wordStart: true })),
  azure: fc
    .tuple(
      fc.constantFrom('AccountKey=', 'SharedAccessKey=', 'accountkey=', 'SharedAccessSignature='),
      chars(`${ALNUM}+/=`, 20, 88),
    )
    .map(([k, v]) => ({
      text: `DefaultEndpointsProtocol=https;AccountName=acct;${k}${v};EndpointSuffix=core.windows.net`,
      secret: v,
    })),
  stripe: fc
    .tuple(fc.constantFrom('sk_live_', 'rk_live_', 'sk_test_', 'whsec_'), chars(ALNUM, 24, 99))
    .map(([p, b]) => ({ text: p + b, secret: p + b, wordStart: true })),
  gitlab: chars(`${ALNUM}_-`, 20, 40).map((b) => ({ text: `glpat-${b}`, secret: `glpat-${b}`, wordStart: true })),
  npm: chars(ALNUM, 36, 36).map((b) => ({ text: `npm_${b}`, secret: `npm_${b}`, wordStart: true })),
  slackWebhook: fc
    .tuple(chars(UPPER + DIGITS, 9, 11), chars(UPPER + DIGITS, 9, 11), chars(ALNUM, 24, 24))
    .map(([t, b, x]) => ({ text: `https://hooks.slack.com/services/T${t}/B${b}/${x}`, secret: `${b}/${x}` })),
  googleOauth: chars(B64URL, 30, 160).map((b) => ({ text: `ya29.${b}`, secret: `ya29.${b}`, wordStart: true })),
  awsPair: fc
    .tuple(
      chars(UPPER + DIGITS, 16, 16),
      fc.constantFrom(' ', ',', '\t', ' : ', '","', '\n'),
      chars(`${ALNUM}/+`, 40, 40),
    )
    .map(([id, sep, key]) => ({ text: `AKIA${id}${sep}${key} `, secret: key })),
  k8sEnvYaml: fc
    .tuple(
      fc.constantFrom('DB_PASSWORD', 'API_TOKEN', 'password', 'STRIPE_SECRET_KEY', 'GPG_PASSPHRASE'),
      fc.constantFrom('', '"'),
      fc.constantFrom('  ', '    '),
      chars(VALUE_CHARS, 8, 40),
    )
    .map(([name, q, indent, v]) => ({ text: `\n- name: ${q}${name}${q}\n${indent}value: ${v}`, secret: v })),
  k8sEnvJson: fc
    .tuple(
      fc.constantFrom('DB_PASSWORD', 'API_TOKEN', 'secret_key', 'ADMIN_CREDENTIALS'),
      fc.constantFrom(',', ', ', ',\n  '),
      chars(`${VALUE_CHARS} é`, 8, 40),
    )
    .map(([name, sep, v]) => ({ text: `{"name":"${name}"${sep}"value":${JSON.stringify(v)}}`, secret: v })),
  secretManifest: fc
    .tuple(
      fc.constantFrom('data', 'stringData'),
      fc.constantFrom('tls.key', 'password', 'config.json', 'username'),
      chars(`${ALNUM}+/=`, 8, 60),
      fc.constantFrom('  ', '    '),
    )
    .map(([section, key, v, indent]) => ({
      text: `\n${section}:\n${indent}other: x\n${indent}${key}: ${v}\nkind: Secret`,
      secret: v,
    })),
  secretKeyFile: fc
    .tuple(
      fc.constantFrom('tls.key: ', '.dockerconfigjson: ', '".dockerconfigjson": "', 'ssh-privatekey: '),
      chars(`${ALNUM}+/=`, 12, 80),
    )
    .map(([k, v]) => ({ text: `${k}${v}${k.endsWith('"') ? '"' : ''}`, secret: v })),
};

const anyShape = fc.oneof(...Object.values(shapes));

/** A shape placed anywhere in random text, with a word boundary where the shape needs one. */
const embedded = (shape: fc.Arbitrary<Shape>): fc.Arbitrary<{ text: string; secret: string }> =>
  fc
    .tuple(noise, shape, boundary, fc.constantFrom('', ' ', '.', ',', ')', '\n', '"'), noise, fc.boolean())
    .map(([before, s, b, glue, after, spaced]) => ({
      text: `${before}${s.wordStart || spaced ? b : ''}${s.text}${glue}${after}`,
      secret: s.secret,
    }))
    // The noise itself may spell the secret ("toString"): that copy is no secret of this shape.
    .filter(({ text, secret }) => text.split(secret).length === 2);

/** A configured secret: printable, not part of the marker, at least 6 characters. */
const configuredSecret = fc
  .string({
    unit: fc.oneof(fc.constantFrom(...`${ALNUM}!#$%&*+-./:;=?@^_~ "\\`.split('')), fc.constantFrom('é', '🙂')),
    minLength: 6,
    maxLength: 40,
  })
  .filter((s) => !REDACTED.includes(s));

/** Over-approximates "looks like it could hold a secret"; text it rejects must come out unchanged. */
const SUSPICIOUS =
  /password|passwd|pwd|passphrase|secret|token|api.?key|private.?key|credential|authorization|bearer|sk-|aiza|akia|asia|gh[pousr]_|github_pat_|xox|eyj|private key|\/\/|\d{6}|mysql|mariadb|-cli|--pass|accountkey|sharedaccess|[sr]k_(live|test)|whsec_|glpat-|npm_|ya29\.|hooks\.slack|tls\.key|dockerc|ssh-privatekey|data:/i;

describe('redact: configured secrets', () => {
  it('never leaves a configured secret, raw, URL-encoded or JSON-escaped, anywhere in random text', () => {
    fc.assert(
      fc.property(
        fc.array(configuredSecret, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(noise, fc.nat(), fc.constantFrom<'raw' | 'url' | 'json'>('raw', 'url', 'json')), {
          minLength: 1,
          maxLength: 4,
        }),
        noise,
        (secrets, parts, tail) => {
          const { redact } = createRedactor(['', 'short', ...secrets]);
          const forms = (s: string) => ({ raw: s, url: encodeURIComponent(s), json: JSON.stringify(s).slice(1, -1) });
          const text = parts.map(([n, i, form]) => n + forms(secrets[i % secrets.length]!)[form]).join('') + tail;
          const out = redact(text);
          for (const s of secrets) for (const f of Object.values(forms(s))) expect(out).not.toContain(f);
          expect(redact(out)).toBe(out);
        },
      ),
    );
  });

  it('never leaves a configured secret hex- or base64-encoded, at any offset inside a larger encoded blob', () => {
    /** Every base64 run of the text, decoded at each of the four character offsets. */
    const decodedRuns = (text: string): Buffer[] =>
      (text.match(/[A-Za-z0-9+/_-]{4,}/g) ?? []).flatMap((run) =>
        [0, 1, 2, 3].map((o) => Buffer.from(run.slice(o).replace(/-/g, '+').replace(/_/g, '/'), 'base64')),
      );
    const hexRuns = (text: string): Buffer[] =>
      (text.match(/[0-9a-fA-F]{2,}/g) ?? []).flatMap((run) => [0, 1].map((o) => Buffer.from(run.slice(o), 'hex')));
    let encodedAtOffset = 0;
    fc.assert(
      fc.property(
        configuredSecret,
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        fc.constantFrom<'base64' | 'base64url' | 'hex' | 'HEX'>('base64', 'base64url', 'hex', 'HEX'),
        noise,
        noise,
        (secret, before, after, encoding, a, b) => {
          const bytes = Buffer.concat([before, Buffer.from(secret), after]);
          const encoded = encoding === 'HEX' ? bytes.toString('hex').toUpperCase() : bytes.toString(encoding);
          if (before.length % 3 !== 0) encodedAtOffset++;
          const out = createRedactor([secret]).redact(`${a} ${encoded} ${b}`);
          const needle = Buffer.from(secret);
          for (const d of [...decodedRuns(out), ...hexRuns(out)]) expect(d.includes(needle)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    expect(encodedAtOffset).toBeGreaterThan(50);
  });

  it('ignores empty and short configured values', () => {
    const { redact } = createRedactor(['', 'abc', 'abcde']);
    expect(redact('abc abcde abcdef')).toBe('abc abcde abcdef');
  });

  it('prefers the longest configured secret when one is a prefix of another', () => {
    const { redact } = createRedactor(['abcdef', 'abcdefghij']);
    expect(redact('x abcdefghij y')).toBe(`x ${REDACTED} y`);
  });
});

describe('redact: secret shapes', () => {
  for (const [name, shape] of Object.entries(shapes)) {
    it(`hides a ${name} embedded anywhere in random text`, () => {
      fc.assert(
        fc.property(embedded(shape), ({ text, secret }) => {
          const out = createRedactor([]).redact(text);
          expect(out).not.toContain(secret);
          expect(out).toContain(REDACTED);
        }),
        { numRuns: 200 },
      );
    });
  }

  it.each([
    ['Authorization: Bearer abc.def-ghi', 'Authorization: Bearer [REDACTED]'],
    ['curl -H "authorization: basic dXNlcjpwYXNz"', 'curl -H "authorization: basic [REDACTED]"'],
    ['DB_PASSWORD=s3cr3t next', 'DB_PASSWORD=[REDACTED] next'],
    ['{"password":"x y","user":"bob"}', '{"password":"[REDACTED]","user":"bob"}'],
    ["password: 'quoted pw' rest", "password: '[REDACTED]' rest"],
    ['api-key => foo', 'api-key => [REDACTED]'],
    ['https://h/?token=abc&page=2', 'https://h/?token=[REDACTED]&page=2'],
    ['postgres://admin:p@ss@db:5432/x', 'postgres://admin:[REDACTED]@db:5432/x'],
    [
      'https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_/getMe',
      'https://api.telegram.org/bot123456789:[REDACTED]/getMe',
    ],
    ['{"msg":"token: \\"abc\\" more","level":30}', '{"msg":"token: \\"[REDACTED]\\" more","level":30}'],
    ['key: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- after', 'key: [REDACTED] after'],
    ['id AKIAIOSFODNN7EXAMPLE.', 'id [REDACTED].'],
    ['mysql -h db -u root -pS3cretPass -e "select 1"', 'mysql -h db -u root -p[REDACTED] -e "select 1"'],
    ['mysqldump --password=abc -psecondpw db', 'mysqldump --password=[REDACTED] -p[REDACTED] db'],
    ['redis-cli -h cache -a foobared123 ping', 'redis-cli -h cache -a [REDACTED] ping'],
    ['cli --password hunter22 --token abc.def next', 'cli --password [REDACTED] --token [REDACTED] next'],
    ['cli --password=hunter22 --password="two words"', 'cli --password=[REDACTED] --password="[REDACTED]"'],
    ['redis-server --requirepass foobared123 --port 6379', 'redis-server --requirepass [REDACTED] --port 6379'],
    [
      'docker login --password-stdin; app --password-file /run/secrets/pw',
      'docker login --password-stdin; app --password-file /run/secrets/pw',
    ],
    [
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy+/==;EndpointSuffix=core.windows.net',
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net',
    ],
    [
      'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcDEF123+/=;EntityPath=q',
      'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=[REDACTED];EntityPath=q',
    ],
    ['stripe sk_live_51HabcdefghijklmnopQRST and rk_live_51HabcdefghijklmnopQRST', 'stripe [REDACTED] and [REDACTED]'],
    ['GITLAB_TOKEN glpat-abcdefghij1234567890', 'GITLAB_TOKEN [REDACTED]'],
    [
      '//registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789',
      '//registry.npmjs.org/:_authToken [REDACTED]',
    ],
    [
      'npm_config_cache=/tmp/npm npm_package_name=x npm_lifecycle_event=test',
      'npm_config_cache=/tmp/npm npm_package_name=x npm_lifecycle_event=test',
    ],
    [
      'POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ok',
      'POST https://hooks.slack.com/services/[REDACTED] ok',
    ],
    ['Authorization header ya29.a0AfH6SMBabcdefghijklmnopqrstuvwxyz', 'Authorization header [REDACTED]'],
    ['AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '[REDACTED] [REDACTED]'],
    ['User,AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n', 'User,[REDACTED],[REDACTED]\n'],
    [
      '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBFxyz\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\nafter',
      '[REDACTED]\nafter',
    ],
    ['postgres://user:pa/ss#w?rd@db:5432/x', 'postgres://user:[REDACTED]@db:5432/x'],
    ['redis://:p@ss/w@cache:6379', 'redis://:[REDACTED]@cache:6379'],
    ['http://host:8080/path?email=a@b.com', 'http://host:8080/path?email=a@b.com'],
    [
      '        - name: DB_PASSWORD\n          value: hunter99 x\n        - name: MAX_TOKENS\n          value: "100"',
      '        - name: DB_PASSWORD\n          value: [REDACTED]\n        - name: MAX_TOKENS\n          value: "100"',
    ],
    [
      '[{"name":"DB_PASSWORD","value":"s3 cr3t"},{"name":"LOG_LEVEL","value":"debug"}]',
      '[{"name":"DB_PASSWORD","value":"[REDACTED]"},{"name":"LOG_LEVEL","value":"debug"}]',
    ],
    [
      'apiVersion: v1\ndata:\n  tls.crt: LS0tcert\n  tls.key: LS0tkey\n  user: YWRtaW4=\nkind: Secret\nmetadata:\n  name: db',
      'apiVersion: v1\ndata:\n  tls.crt: [REDACTED]\n  tls.key: [REDACTED]\n  user: [REDACTED]\nkind: Secret\nmetadata:\n  name: db',
    ],
    [
      'stringData:\n  config: |\n    line one\n    line two\ntype: Opaque',
      'stringData:\n  config: [REDACTED]\n    [REDACTED]\n    [REDACTED]\ntype: Opaque',
    ],
    ['tls.key: LS0tLS1CRUdJTiBQUklWQVRF and ".dockerconfigjson": "eyJhdXRocyI6e319"', 'tls.key: [REDACTED]'],
    [
      '{"data":{"a":"YWJj","b":"ZGVm"},"kind":"Secret"}',
      '{"data":{"a":"[REDACTED]","b":"[REDACTED]"},"kind":"Secret"}',
    ],
    ['{".dockerconfigjson":"eyJhdXRocyI6e319"}', '{".dockerconfigjson":"[REDACTED]"}'],
    [
      'credentials=abc private_key=xyz passphrase=foo',
      'credentials=[REDACTED] private_key=[REDACTED] passphrase=[REDACTED]',
    ],
    // Found by a review: names ending in PASS, and passwords on curl, docker login and sshpass.
    ['SMTP_PASS=hunter2 RABBITMQ_DEFAULT_PASS: guest1', 'SMTP_PASS=[REDACTED] RABBITMQ_DEFAULT_PASS: [REDACTED]'],
    ['- name: REDIS_PASS\n  value: hunter2', '- name: REDIS_PASS\n  value: [REDACTED]'],
    ['curl -sS -u admin:hunter2 https://x/a', 'curl -sS -u admin:[REDACTED] https://x/a'],
    ['curl --user=admin:hunter2 -A "ua:1" https://x', 'curl --user=admin:[REDACTED] -A "ua:1" https://x'],
    ['docker login -p hunter2 -u me registry.example', 'docker login -p [REDACTED] -u me registry.example'],
    ['sshpass -p hunter2 ssh deploy@host', 'sshpass -p [REDACTED] ssh deploy@host'],
    ['helm registry login -u me -p hunter2 r.example', 'helm registry login -u me -p [REDACTED] r.example'],
    ["sshpass -p 'correct horse' ssh h", "sshpass -p '[REDACTED]' ssh h"],
    ["curl -u 'admin:my secret' https://x", "curl -u 'admin:[REDACTED]' https://x"],
    [
      'openssl pkcs12 -export -passout pass:hunter2 -out k.p12',
      'openssl pkcs12 -export -passout pass:[REDACTED] -out k.p12',
    ],
    // A key's body without its BEGIN: indented, after a compose log prefix, in CRLF text.
    [
      '    MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunV\n    AbCd==\n    -----END RSA PRIVATE KEY-----',
      '    [REDACTED]\n    [REDACTED]\n    -----END RSA PRIVATE KEY-----',
    ],
    [
      'web-1  | MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunV\r\nweb-1  | AbCd==\r\nweb-1  | -----END RSA PRIVATE KEY-----',
      'web-1  | [REDACTED]\r\nweb-1  | [REDACTED]\r\nweb-1  | -----END RSA PRIVATE KEY-----',
    ],
  ])('%j → %j', (input, expected) => {
    expect(createRedactor([]).redact(input)).toBe(expected);
  });

  it('keeps JSON log lines valid JSON', () => {
    const line = JSON.stringify({
      level: 30,
      msg: 'login password=hunter22 token: "abc def"',
      err: 'Bearer abcdefghijk',
    });
    const out = createRedactor([]).redact(line);
    expect(JSON.parse(out)).toEqual({
      level: 30,
      msg: `login password=${REDACTED} token: "${REDACTED}"`,
      err: `Bearer ${REDACTED}`,
    });
  });
});

describe('redact: ordinary text', () => {
  it.each([
    'container 3f4e5d6c7b8a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e started',
    'pod api-7d9f8b6c5d-x2x9k Running 3/3 10.244.1.17',
    'risk-assessment-worker-service-deployment-blue scaled to 3',
    'max_tokens=1024 total_tokens: 77 tokenizer=cl100k passwords: 3 secretary: Bob',
    'the bearer of news; ssh://git@github.com:22/repo.git',
    'GET /api/v1/namespaces/default/pods?limit=500 200 OK 12ms',
    '2024-05-01T12:00:00.123Z level=info msg="listening" addr=127.0.0.1:9464',
    'uuid 123e4567-e89b-12d3-a456-426614174000 ok, é 中文 🙂',
    'bypass=1 compass=2 PASS: test-1 passenger_id=4 docker run --user 1000:1000 img; curl --user-agent a:b x',
    'sha256\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nDONE',
  ])('leaves %j unchanged', (s) => {
    expect(createRedactor(['not-in-here-secret']).redact(s)).toBe(s);
  });

  it('leaves random text without secret-looking content unchanged', () => {
    const { redact } = createRedactor(['Zq8#kL2!pW']);
    fc.assert(
      fc.property(
        fc.oneof(
          noise,
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
        ),
        (s) => {
          fc.pre(!SUSPICIOUS.test(s) && !s.includes('Zq8#kL2!pW'));
          expect(redact(s)).toBe(s);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('redact: idempotence', () => {
  it('redact(redact(x)) === redact(x) for text mixing secrets, shapes and noise', () => {
    fc.assert(
      fc.property(
        fc.array(configuredSecret, { maxLength: 2 }),
        fc.array(
          fc.oneof(
            noise,
            anyShape.map((s) => s.text),
            fc.constantFrom(REDACTED, '[', ']', 'password=', '//u:', '@'),
          ),
          { maxLength: 8 },
        ),
        (secrets, pieces) => {
          const r = createRedactor(secrets);
          const text = pieces.join('') + secrets.join(' ');
          const once = r.redact(text);
          expect(r.redact(once)).toBe(once);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is idempotent on arbitrary strings', () => {
    const r = createRedactor(['hunter2-secret']);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        const once = r.redact(s);
        expect(r.redact(once)).toBe(once);
      }),
    );
  });
});

/**
 * Runs the work on an input so large that anything worse than linear cannot finish within the
 * test's timeout (a quadratic scan of a million characters takes hours; a linear one, well
 * under a second). No clock is read, so a busy machine cannot fail it; the speed figures live
 * in `npm run bench`.
 */
function expectLinear(work: (n: number) => void, n = 1_000_000): void {
  expect(() => work(n)).not.toThrow();
}

describe('redact: linear time', () => {
  it.each([
    ['eyJ', 'eyJ'],
    ['JWT segments without a dot', '_eyJaaaa'],
    ['half JWTs', 'eyJa.eyJa'],
    ['sk- prefixes', '-sk-'],
    ['URL authorities', '//a:b'],
    ['URL authorities with @', '//a:b@'],
    ['URL passwords with /', '//a:b/'],
    ['key words', 'password'],
    ['key words with separators', 'token_'],
    ['open quotes', 'password="\\'],
    ['digits', '1234567890'],
    ['bearer', 'Bearer '],
    ['PEM headers', '-----BEGIN RSA PRIVATE KEY-----'],
    ['letters', 'a'],
    ['mysql commands', 'mysql '],
    ['mysql flags', 'mysql -p'],
    ['redis-cli commands', 'redis-cli '],
    ['flags', '--password '],
    ['env names', 'name: DB_PASSWORD\n'],
    ['JSON env names', '"name":"password","value":"'],
    ['YAML data keys', 'data:\n '],
    ['JSON data keys', '"data":{'],
    ['AWS key ids', 'AKIAIOSFODNN7EXAMPLE '],
    ['Azure keys', 'AccountKey='],
  ])('scans repeated %s in linear time', (_name, unit) => {
    const { redact } = createRedactor(['configured-secret-1', 'configured-secret-2']);
    expectLinear((n) => redact(unit.repeat(Math.ceil(n / unit.length))));
  });
});

describe('clip', () => {
  it('hides shapes before the cut and cuts at a blank: a token or a one-word secret is shown whole or not at all', () => {
    const token = '7012345678:AAH4aBcDeFgHiJkLmNoPqRsTuVwXyZ0123_';
    expect(clip(`${'x'.repeat(150)} ${token} tail`, 160)).toBe(`${'x'.repeat(150)}…`);
    expect(clip(`${'x'.repeat(150)} ${token} tail`, 175)).toBe(`${'x'.repeat(150)} 7012345678:${REDACTED}…`);
    fc.assert(
      fc.property(
        // Words and the secret from different letters: a word is never taken for part of the secret.
        fc.array(chars('abcdefghij', 1, 12), { minLength: 1, maxLength: 30 }),
        chars(`${UPPER}${DIGITS}`, 12, 30),
        fc.nat(),
        fc.integer({ min: 20, max: 200 }),
        (words, secret, at, max) => {
          const all = [...words];
          all.splice(at % (all.length + 1), 0, secret);
          const text = all.join(' ');
          // A first word longer than `max` has no blank to be cut at.
          fc.pre(text.indexOf(' ') > 0 && text.indexOf(' ') < max - 1);
          const out = clip(text, max);
          if (!out.endsWith('…')) return;
          // What is shown of the secret is all of it or none.
          const shown = out.slice(0, -1).split(' ').at(-1)!;
          expect(secret.startsWith(shown) && shown !== secret && shown.length > 0 && out.includes(` ${shown}…`)).toBe(
            false,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('redactDeep', () => {
  const SECRET = 'S3cr3t-Value-42';
  const leaf = fc.oneof(
    fc.tuple(noise, fc.boolean(), noise).map(([a, withSecret, b]) => (withSecret ? `${a}${SECRET}${b}` : a + b)),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const key = fc.oneof(
    fc.constantFrom('a', 'name', 'nested', 'items', 'max_tokens', '__proto__'),
    fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
  );
  const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('tree'), { maxLength: 4 }),
      fc.dictionary(key, tie('tree'), { maxKeys: 4 }),
    ),
  }));

  it('redacts every string in nested objects and arrays, keeps the structure, does not mutate', () => {
    const r = createRedactor([SECRET]);
    fc.assert(
      fc.property(tree, (input) => {
        fc.pre(!JSON.stringify(input).match(SUSPICIOUS));
        const before = structuredClone(input);
        const out = r.redactDeep(input);
        expect(input).toEqual(before);
        expect(JSON.stringify(out)).not.toContain(SECRET);
        const check = (i: unknown, o: unknown): void => {
          if (typeof i === 'string') expect(o).toBe(r.redact(i));
          else if (Array.isArray(i)) {
            expect(Array.isArray(o)).toBe(true);
            expect((o as unknown[]).length).toBe(i.length);
            i.forEach((x, n) => check(x, (o as unknown[])[n]));
          } else if (i !== null && typeof i === 'object') {
            expect(o).not.toBe(i);
            expect(Object.keys(o as object)).toEqual(Object.keys(i));
            for (const [k, x] of Object.entries(i)) check(x, (o as Record<string, unknown>)[k]);
          } else expect(o).toBe(i);
        };
        check(input, out);
      }),
    );
  });

  it('replaces values under secret-named keys and keeps other values', () => {
    const r = createRedactor([]);
    const input = {
      user: 'bob',
      password: 'plain',
      nested: [{ apiKey: 'k', api_key: 7, accessToken: 't', max_tokens: 5, secret_access_key: 'x' }],
      empty: { token: '' },
    };
    expect(r.redactDeep(input)).toEqual({
      user: 'bob',
      password: REDACTED,
      nested: [
        { apiKey: REDACTED, api_key: REDACTED, accessToken: REDACTED, max_tokens: 5, secret_access_key: REDACTED },
      ],
      empty: { token: '' },
    });
  });

  it('checks a long key in linear time (a 96 K key took seconds)', () => {
    const r = createRedactor([]);
    expectLinear(
      (n) => r.redactDeep({ ['token_'.repeat(n / 6) + '!']: 'v', ['x'.repeat(n) + 'password']: 'v' }),
      1_200_000,
    );
    expect(
      r.redactDeep({
        ['token_'.repeat(4) + '!']: 'v',
        [`${'x'.repeat(50)}_password`]: 'v',
        'a.b.secret_key': 'v',
        tokens: 'v',
      }),
    ).toEqual({
      'token_token_token_token_!': 'v',
      [`${'x'.repeat(50)}_password`]: REDACTED,
      'a.b.secret_key': REDACTED,
      tokens: 'v',
    });
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'x' };
    a.self = a;
    expect(createRedactor([]).redactDeep(a)).toEqual({ name: 'x', self: '[Circular]' });
  });
});

async function pipeThrough(r: Redactor, chunks: readonly Buffer[]): Promise<string> {
  const s = r.lineStream();
  const out: Buffer[] = [];
  s.on('data', (b: Buffer) => out.push(b));
  for (const c of chunks) s.write(c);
  s.end();
  await once(s, 'end');
  return Buffer.concat(out).toString('utf8');
}

/** Cuts a buffer at the given byte positions (possibly inside a UTF-8 sequence). */
function chunk(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, buf.length]) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  return parts;
}

describe('lineStream', () => {
  const lineShape = fc.oneof(
    ...Object.entries(shapes)
      .filter(([n]) => n !== 'privateKey')
      .map(([, s]) => s),
  );
  const line = fc
    .array(
      fc.oneof(
        noise,
        lineShape.map((s) => s.text),
        fc.constant('hunter2-secret'),
      ),
      { maxLength: 5 },
    )
    .map((ps) => ps.join('').replace(/\n/g, ' '));

  it('equals redact applied per line, for random chunkings of the bytes', async () => {
    const r = createRedactor(['hunter2-secret']);
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 8 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (lines, trailingNewline, cuts) => {
          const input = lines.join('\n') + (trailingNewline ? '\n' : '');
          const out = await pipeThrough(r, chunk(Buffer.from(input), cuts));
          expect(out).toBe(input.split('\n').map(r.redact).join('\n'));
        },
      ),
    );
  });

  it('replaces every line of a multi-line private key, however it is chunked', async () => {
    const r = createRedactor([]);
    const input = [
      'before',
      'key: -----BEGIN RSA PRIVATE KEY-----',
      'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu',
      'KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ',
      '-----END RSA PRIVATE KEY----- tail password=x',
      'after',
    ].join('\n');
    const expected = [
      'before',
      `key: ${REDACTED}`,
      REDACTED,
      REDACTED,
      `${REDACTED} tail password=${REDACTED}`,
      'after',
    ].join('\n');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 6 }), async (cuts) => {
        expect(await pipeThrough(r, chunk(Buffer.from(input), cuts))).toBe(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('hides a private key whose BEGIN line is outside the window (a tail starting inside the key), streamed or whole', async () => {
    const r = createRedactor([]);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 300, maxLength: 1200 }),
        fc.constantFrom(64, 70),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (bytes, width, from, cuts) => {
          const body = Buffer.from(bytes)
            .toString('base64')
            .match(new RegExp(`.{1,${width}}`, 'g'))!;
          // A random digest has both cases in a line of 60 or more with near certainty; such a line is the rule.
          fc.pre(body.slice(0, -1).every((l) => /[a-z]/.test(l) && /[A-Z]/.test(l)));
          const window = body.slice(from % body.length);
          fc.pre(window.length > 1 || body.length === 1);
          const input = ['ts=1 key material follows', ...window, '-----END OPENSSH PRIVATE KEY-----', 'after'].join(
            '\n',
          );
          for (const out of [r.redact(input), await pipeThrough(r, chunk(Buffer.from(input), cuts))])
            // A short last line ("s=") is looked for as a line: as text it is in "ts=1".
            for (const l of window)
              if (l.length >= 8) expect(out).not.toContain(l);
              else expect(out.split('\n')).not.toContain(l);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('streams a 1 MB line in bounded pieces and still redacts it', async () => {
    const r = createRedactor(['hunter2-secret']);
    const words: string[] = Array.from({ length: 1 << 20 }, (_, i) => (i % 7 === 0 ? 'lorem' : 'ipsum'));
    words[40_000] = 'sk-abcdefghijklmnopqrstuvwxyz012345';
    words[150_000] = 'hunter2-secret';
    const input = Buffer.from(words.join(' ').slice(0, 1 << 20));
    const s = r.lineStream();
    const out: Buffer[] = [];
    let received = 0;
    s.on('data', (b: Buffer) => {
      out.push(b);
      received += b.length;
    });
    const step = 16 * 1024;
    for (let at = 0; at < input.length; at += step) {
      await new Promise<void>((resolve) => s.write(input.subarray(at, at + step), () => resolve()));
      // Never more than one piece (plus the chunk being read) is held back.
      expect(at + step - received).toBeLessThanOrEqual(MAX_LINE_CHARS + step);
    }
    s.end();
    await once(s, 'end');
    expect(Math.max(...out.map((b) => b.length))).toBeLessThanOrEqual(2 * MAX_LINE_CHARS);
    const text = Buffer.concat(out).toString('utf8');
    expect(text).toBe(r.redact(input.toString('utf8')));
    expect(text).not.toContain('hunter2-secret');
    expect(text).not.toContain('sk-abcdefghijklmnopqrstuvwxyz012345');
  });

  it('takes a 1 MB line in one write without holding more than a piece per push', async () => {
    const r = createRedactor([]);
    const chunks: number[] = [];
    const s = r.lineStream();
    s.on('data', (b: Buffer) => chunks.push(b.length));
    s.end(Buffer.alloc(1 << 20, 'x'));
    await once(s, 'end');
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(1 << 20);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(2 * MAX_LINE_CHARS);
  });
});

describe('lineStream: long lines are cut outside every secret', () => {
  const BOT = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';
  const CONFIGURED = 'Conf1gured Secret, with blanks';
  /** Secrets as they straddle a cut: each with the text that must not survive. */
  const straddler = fc.oneof(
    fc.constant({ text: BOT, secret: BOT.split(':')[1]! }),
    fc.constant({ text: CONFIGURED, secret: CONFIGURED }),
    shapes.openai!,
    shapes.keyValue!,
    shapes.jwt!,
    shapes.bearer!,
    shapes.cliFlag!,
    shapes.urlCredentials!,
    // A secret longer than MATCH_OVERLAP: the cut moves before it, and it is redacted whole.
    chars(B64URL, 5000, 9000).map((b) => ({ text: `token=${b}`, secret: b.slice(-40) })),
  );
  /** Filler with no blank near the cut (so the naive cut is exactly at the limit), or with blanks. */
  const filler = fc.constantFrom('abcdefgh,', 'ab cd ef,', 'x');
  let straddled = 0;

  it('hides a secret straddling the cut at MAX_LINE_CHARS, for any chunking, equal to redacting the whole line', async () => {
    const r = createRedactor([CONFIGURED]);
    await fc.assert(
      fc.asyncProperty(
        straddler,
        filler,
        fc.nat(),
        fc.nat({ max: 2 * MAX_LINE_CHARS }),
        fc.array(fc.nat(), { maxLength: 20, size: 'max' }),
        async (s, unit, offset, tail, cuts) => {
          // The secret starts before the limit and ends after it.
          const start = MAX_LINE_CHARS - 1 - (offset % (s.text.length - 1));
          const line = `${unit.repeat(Math.ceil(start / unit.length)).slice(0, start - 1)},${s.text},${unit.repeat(Math.ceil(tail / unit.length)).slice(0, tail)}`;
          if (start < MAX_LINE_CHARS && start + s.text.length > MAX_LINE_CHARS) straddled++;
          const input = Buffer.from(`${line}\nnext line\n`);
          const out = await pipeThrough(
            r,
            chunk(
              input,
              cuts.map((c) => c * 7919),
            ),
          );
          expect(out).not.toContain(s.secret);
          expect(out).toBe(`${r.redact(line)}\nnext line\n`);
        },
      ),
      { numRuns: 40 },
    );
    expect(straddled).toBeGreaterThan(20);
  });

  it('hides a secret longer than the look-ahead up to the next blank, and keeps what follows', async () => {
    const r = createRedactor([]);
    const value = 'A'.repeat(2 * MAX_LINE_CHARS);
    const out = await pipeThrough(r, [Buffer.from(`${'x'.repeat(MAX_LINE_CHARS - 10)} password=${value} after\n`)]);
    expect(out).not.toContain('A'.repeat(50));
    expect(out.endsWith(` password=${REDACTED} after\n`)).toBe(true);
  });

  it('carries a YAML data: map and a secret-named env entry across lines', async () => {
    const r = createRedactor([]);
    const input = [
      'kind: Secret',
      'data:',
      '  tls.crt: LS0tcert',
      '  user: YWRtaW4=',
      'metadata:',
      '  name: db',
      'env:',
      '- name: DB_PASSWORD',
      '  value: hunter99',
      '- name: LOG_LEVEL',
      '  value: debug',
      '',
    ].join('\n');
    const expected = [
      'kind: Secret',
      'data:',
      `  tls.crt: ${REDACTED}`,
      `  user: ${REDACTED}`,
      'metadata:',
      '  name: db',
      'env:',
      '- name: DB_PASSWORD',
      `  value: ${REDACTED}`,
      '- name: LOG_LEVEL',
      '  value: debug',
      '',
    ].join('\n');
    expect(await pipeThrough(r, [Buffer.from(input)])).toBe(expected);
    expect(r.redact(input)).toBe(expected);
  });
});

it('takes a configured secret with a lone surrogate without throwing (found by the input fuzz: start-up crashed)', () => {
  const secret = 'tok\ud800-abcdefghijklmnop';
  expect(createRedactor([secret]).redact(`x ${secret} y`)).not.toContain(secret);
});
