import fc from 'fast-check';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { text as readText } from 'node:stream/consumers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../../src/core/redact.js';
import { plainText, type Result } from '../../../src/core/result.js';
import { dockerActions } from '../../../src/targets/docker/actions.js';
import { INLINE_MAX_LINES, parseLogsArgs, parseSince } from '../../../src/targets/docker/logs.js';
import { createDockerPort } from '../../../src/targets/docker/client.js';
import type { DockerPort } from '../../../src/targets/docker/port.js';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { byName, readAttachment, runAction } from './helpers.js';

describe('parseSince', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it('reads durations back from now and ISO dates', () => {
    expect(parseSince('10m', now)).toBe(now / 1000 - 600);
    expect(parseSince('1h30m', now)).toBe(now / 1000 - 5400);
    expect(parseSince('2025-05-31T00:00:00Z', now)).toBe(Date.parse('2025-05-31T00:00:00Z') / 1000);
    expect(parseSince('2025-05-31', now)).toBe(Date.parse('2025-05-31') / 1000);
    for (const bad of ['', '10', 'soon', '0s', '-5m', '2025-13-45T99:99', 'now; rm -rf /'])
      expect(parseSince(bad, now)).toBeUndefined();
  });

  it('is always a whole number of seconds in the past for any duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9999 }), fc.constantFrom('s', 'm', 'h', 'd'), (n, unit) => {
        const t = parseSince(`${n}${unit}`, now)!;
        expect(Number.isInteger(t)).toBe(true);
        expect(t).toBeLessThan(now / 1000);
      }),
    );
  });
});

describe('parseLogsArgs', () => {
  it('maps the spelled forms', () => {
    expect(parseLogsArgs(['api'])).toEqual({ container: 'api' });
    expect(parseLogsArgs(['api', '100'])).toEqual({ container: 'api', lines: 100 });
    expect(parseLogsArgs(['api', '10m', '100'])).toEqual({ container: 'api', since: '10m', lines: 100 });
    expect(parseLogsArgs(['api', '100', 'connection', 'refused'])).toEqual({
      container: 'api',
      lines: 100,
      grep: 'connection refused',
    });
    expect(parseLogsArgs(['api', '100', '404'])).toEqual({ container: 'api', lines: 100, grep: '404' });
  });

  it('gives back what was written, in the documented order', () => {
    const word = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9=_:.]{0,10}$/).filter((w) => parseSince(w, 0) === undefined);
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 5000 })),
        fc.option(fc.constantFrom('5m', '2h', '1d', '2025-01-31T12:00:00Z')),
        fc.array(word, { maxLength: 4 }),
        (lines, since, grep) => {
          const tokens = [
            'api',
            ...(lines === null ? [] : [String(lines)]),
            ...(since === null ? [] : [since]),
            ...grep,
          ];
          const want: Record<string, unknown> = { container: 'api' };
          if (lines !== null) want.lines = lines;
          if (since !== null) want.since = since;
          if (grep.length > 0) want.grep = grep.join(' ');
          expect(parseLogsArgs(tokens)).toEqual(want);
        },
      ),
    );
  });
});

const env = await useDockerd('logs');
const P = 'tlg';
/** A configured secret (as TELEGRAM_BOT_TOKEN or an API key would be). */
const SECRET = 'Conf1gured-Secret-Value-77';
const redactor = createRedactor([SECRET]);
const BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';
const SK = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789';
/**
 * One 80 KB line with no blank, a secret across every 16 KiB boundary (where Docker log lines
 * were cut) and the bot token across 64 KiB (where the transport's line stream cuts).
 */
const LONG_LINE = (() => {
  const chars = Array.from({ length: 80 * 1024 }, (_, i) => 'abcdefgh,'[i % 9]!);
  const put = (at: number, s: string): void => void chars.splice(at, s.length, ...s);
  put(16_384 - 10, `,${SECRET},`);
  put(32_768 - 15, `,${SK},`);
  put(49_152 - 5, `,${SECRET},`);
  put(65_536 - 20, `,${BOT_TOKEN},`);
  return chars.join('');
})();

/** Every line of a result: inline pre block or attached file. */
async function outputLines(r: Result): Promise<string[]> {
  if (r.attachment) return (await readAttachment(r.attachment)).replace(/\n$/, '').split('\n');
  const block = r.blocks.find((b) => b.kind === 'pre');
  return block?.kind === 'pre' ? block.text.split('\n') : [];
}

describe.skipIf(!env)('docker.logs against a real engine', () => {
  const e = env!;
  let bytesFromEngine = 0;
  const real = createDockerPort({ host: e.host });
  /** The real port, counting the log bytes the Engine sends. */
  const port: DockerPort = {
    ...real,
    async logs(id, o, s) {
      const frames = await real.logs(id, o, s);
      return (async function* () {
        for await (const f of frames) {
          bytesFromEngine += f.data.length;
          yield f;
        }
      })();
    },
  };
  const actions = dockerActions({ port, stops: createExpectedStops(), redactor });
  const logs = (raw: Record<string, unknown>): Promise<Result> => runAction(actions, 'docker.logs', raw);
  const expectedChatty = [
    'red line',
    'password=hunter2',
    'err-line',
    ...Array.from({ length: 300 }, (_, i) => `line ${i}`),
  ];

  beforeAll(async () => {
    const script = [
      'printf "\\033[31mred line\\033[0m\\n"',
      'echo password=hunter2',
      'echo err-line >&2',
      // The Engine copies stdout and stderr separately: let stderr land before the rest.
      'sleep 0.5',
      'i=0; while [ $i -lt 300 ]; do echo "line $i"; i=$((i+1)); done',
      'exec sleep 3600',
    ].join('; ');
    await Promise.all([
      createTestContainer(e.docker, { name: `${P}-chatty`, cmd: ['sh', '-c', script], suite: e.suite }),
      createTestContainer(e.docker, {
        name: `${P}-many`,
        cmd: ['sh', '-c', 'seq 1 20000; exec sleep 3600'],
        suite: e.suite,
      }),
      createTestContainer(e.docker, {
        name: `${P}-long`,
        cmd: [
          'sh',
          '-c',
          'printf "%s\\n" "$LONG"; echo "key AKIAIOSFODNN7EXAMPLE and $SECRET"; echo done; exec sleep 3600',
        ],
        env: [`LONG=${LONG_LINE}`, `SECRET=${SECRET}`],
        suite: e.suite,
      }),
      createTestContainer(e.docker, {
        name: `${P}-tty`,
        cmd: ['sh', '-c', 'echo tty-line; exec sleep 3600'],
        suite: e.suite,
        tty: true,
      }),
      // ~18 MB of log, then a marker.
      createTestContainer(e.docker, {
        name: `${P}-big`,
        cmd: ['sh', '-c', `yes ${'x'.repeat(300)} | head -n 60000; echo last-line; exec sleep 3600`],
        suite: e.suite,
      }),
    ]);
    for (const [name, last] of [
      [`${P}-chatty`, 'line 299'],
      [`${P}-many`, '20000'],
      [`${P}-tty`, 'tty-line'],
      [`${P}-long`, 'done'],
      [`${P}-big`, 'last-line'],
    ] as const) {
      await waitFor(
        async () => ((await outputLines(await logs({ container: name, lines: 1 })))[0] === last ? true : undefined),
        `${name} to log ${last}`,
        60_000,
        200,
      );
    }
  }, 90_000);

  it('shows a few lines in the chat as a pre block', async () => {
    const r = await logs({ container: `${P}-chatty`, lines: 5 });
    expect(r.attachment).toBeUndefined();
    expect(plainText(r).split('\n')[0]).toMatch(new RegExp(`^📄 Logs of ${P}-chatty \\(\\w{12}\\) · last 5 lines$`));
    expect(await outputLines(r)).toEqual(['line 295', 'line 296', 'line 297', 'line 298', 'line 299']);
  });

  it('sends more than 200 lines as a file: stdout and stderr demultiplexed, ANSI stripped, redacted', async () => {
    const r = await logs({ container: `${P}-chatty`, lines: 400 });
    expect(r.attachment?.filename).toMatch(new RegExp(`^${P}-chatty-\\d{8}-\\d{6}\\.log$`));
    const lines = await outputLines(r);
    // The Engine copies stdout and stderr separately, so their relative order may vary.
    expect([...lines].sort()).toEqual(expectedChatty.map(redactor.redact).sort());
    // eslint-disable-next-line no-control-regex
    expect(lines.join('\n')).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    // Redacted here, before lines are cut or searched (the transport redacts again).
    expect(lines).toContain(`password=${REDACTED}`);
  });

  it('greps the newest lines, keeping the newest matches', async () => {
    const one = await logs({ container: `${P}-chatty`, lines: 10, grep: 'ERR' });
    expect(plainText(one)).toContain('1 matching line in the last 303');
    expect(await outputLines(one)).toEqual(['err-line']);
    const some = await logs({ container: `${P}-chatty`, lines: 3, grep: 'line 1' });
    expect(plainText(some)).toContain('111 matching lines in the last 303; the newest 3 shown');
    expect(await outputLines(some)).toEqual(['line 197', 'line 198', 'line 199']);
    // It looks far further back than the lines it shows: the whole 20,000 lines of many.
    const old = await logs({ container: `${P}-many`, lines: 1, grep: '5001' });
    expect(plainText(old)).toContain('2 matching lines in the last 20000; the newest 1 shown');
    expect(await outputLines(old)).toEqual(['15001']);
  });

  it('never splits a secret where a long line is cut: not at 16 KiB (Docker lines), not at 64 KiB (the transport)', async () => {
    const r = await logs({ container: `${P}-long`, lines: 50 });
    const raw = await readAttachment(r.attachment!);
    const pieces = raw.replace(/\n$/, '').split('\n');
    expect(pieces.length).toBeGreaterThan(4);
    expect(pieces.every((l) => l.length <= 16_384 + 4096)).toBe(true);
    // The pieces of the line, put back together, are the whole line redacted at once.
    expect(pieces.slice(0, -2).join('')).toBe(redactor.redact(LONG_LINE));
    // What reaches the document: the attachment through the transport's line stream.
    const document = await readText(Readable.from([raw]).pipe(redactor.lineStream()));
    for (const secret of [SECRET, SK, BOT_TOKEN.split(':')[1]!, SECRET.slice(0, 12), SECRET.slice(-12)])
      expect(document).not.toContain(secret);
    expect(document.split(REDACTED)).toHaveLength(7);
  });

  it('searches the redacted text only: a prefix of a hidden secret matches nothing', async () => {
    for (const probe of ['AKIAIOSFODNN7EX', 'AKIAIOSFODNN7XX', SECRET.slice(0, 10), SECRET.slice(3, 20)]) {
      expect(plainText(await logs({ container: `${P}-long`, lines: 5, grep: probe }))).toContain('0 matching lines');
    }
    const shown = await logs({ container: `${P}-long`, lines: 5, grep: 'key ' });
    expect(plainText(shown)).toContain('1 matching line');
    expect(await outputLines(shown)).toEqual([`key ${REDACTED} and ${REDACTED}`]);
  });

  it('honours since', async () => {
    const r = await logs({ container: `${P}-chatty`, since: '2099-01-01' });
    expect(plainText(r)).toContain('(no log lines)');
    const all = await logs({ container: `${P}-chatty`, lines: 2, since: '1h' });
    expect(await outputLines(all)).toEqual(['line 298', 'line 299']);
  });

  it('streams a long answer from the Engine instead of holding it', async () => {
    const r = await logs({ container: `${P}-many`, lines: 5000 });
    const content = r.attachment!.content;
    expect(typeof content).not.toBe('string');
    expect(Buffer.isBuffer(content)).toBe(false);
    const iterator = (content as AsyncIterable<string | Buffer>)[Symbol.asyncIterator]();
    // Only what fits in a message was read before the action returned.
    const first = String((await iterator.next()).value);
    expect(first.split('\n').length - 1).toBeLessThanOrEqual(INLINE_MAX_LINES + 1);
    let rest = '';
    for (let n = await iterator.next(); !n.done; n = await iterator.next()) rest += String(n.value);
    const lines = (first + rest).replace(/\n$/, '').split('\n');
    expect(lines).toHaveLength(5000);
    expect(lines[0]).toBe('15001');
    expect(lines.at(-1)).toBe('20000');
  });

  it('can stop reading a streamed file early', async () => {
    const r = await logs({ container: `${P}-many`, lines: 5000 });
    const iterator = (r.attachment!.content as AsyncIterable<string | Buffer>)[Symbol.asyncIterator]();
    await iterator.next();
    await expect(iterator.return!(undefined)).resolves.toMatchObject({ done: true });
  });

  it('reads the tail of a big log without the Engine sending the rest', async () => {
    bytesFromEngine = 0;
    const r = await logs({ container: `${P}-big`, lines: 3 });
    expect(await outputLines(r)).toEqual(['x'.repeat(300), 'x'.repeat(300), 'last-line']);
    expect(bytesFromEngine).toBeLessThan(2_000);
    const { LogPath } = await e.docker.getContainer(`${P}-big`).inspect();
    expect((await stat(LogPath)).size).toBeGreaterThan(15_000_000);
  });

  it('reads a TTY container, whose log is not multiplexed', async () => {
    expect(await outputLines(await logs({ container: `${P}-tty` }))).toEqual(['tty-line']);
  });

  it('is a read action with a custom argument parser', () => {
    const a = byName(actions, 'docker.logs');
    expect(a.risk).toBe('read');
    expect(a.command?.usage).toBe('<container> [lines] [since] [grep...]');
    expect(a.params.parse(parseLogsArgs(['api']))).toEqual({ container: 'api', lines: 50 });
    expect(() => a.params.parse(parseLogsArgs(['api', '999999']))).toThrow();
  });
});
