import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { safeFilename, saveDownload } from '../../../src/transports/console/downloads.js';
import { tempDir } from '../../support/app.js';
import { useDockerd } from '../../support/docker-env.js';
import { createTestContainer, waitFor } from '../../support/dockerd.js';
import { runTeleops } from '../../support/process.js';

let dir: { path: string; remove(): void } | undefined;
afterEach(() => {
  dir?.remove();
  dir = undefined;
});

const save = (
  d: string,
  name: string,
  content: string,
  bounds?: { maxBytes: number; maxFiles: number },
): Promise<string> => saveDownload(d, name, Readable.from([content]), new PassThrough(), bounds);

describe('saveDownload', () => {
  it('never overwrites: the same name twice at once gives two files, each with its own content', async () => {
    dir = tempDir('teleops-downloads-');
    const [a, b, c] = await Promise.all([
      save(dir.path, 'api-20260101-120000.log', 'first\n'),
      save(dir.path, 'api-20260101-120000.log', 'second\n'),
      save(dir.path, 'api-20260101-120000.log', 'third\n'),
    ]);
    expect(new Set([a, b, c]).size).toBe(3);
    expect(readdirSync(dir.path).sort()).toEqual([
      'api-20260101-120000-2.log',
      'api-20260101-120000-3.log',
      'api-20260101-120000.log',
    ]);
    expect([a, b, c].map((p) => readFileSync(p, 'utf8')).sort()).toEqual(['first\n', 'second\n', 'third\n']);
  });

  it('keeps the folder within its bounds, removing the oldest first and never the new file', async () => {
    dir = tempDir('teleops-downloads-');
    const old = (name: string, bytes: number, ageS: number): void => {
      const p = join(dir!.path, name);
      writeFileSync(p, 'x'.repeat(bytes));
      const t = Date.now() / 1000 - ageS;
      utimesSync(p, t, t);
    };
    old('oldest.log', 40, 300);
    old('older.log', 40, 200);
    old('recent.log', 40, 100);
    mkdirSync(join(dir.path, 'a-folder'));
    // 40 × 3 + 50 = 170 bytes > 100: the two oldest must go.
    const kept = await save(dir.path, 'new.log', 'y'.repeat(50), { maxBytes: 100, maxFiles: 10 });
    expect(readdirSync(dir.path).sort()).toEqual(['a-folder', 'new.log', 'recent.log']);
    // A count bound as well; and a file larger than the whole bound is still kept, alone.
    await save(dir.path, 'huge.log', 'z'.repeat(500), { maxBytes: 100, maxFiles: 10 });
    expect(readdirSync(dir.path).sort()).toEqual(['a-folder', 'huge.log']);
    expect(kept).toBe(join(dir.path, 'new.log'));
    await save(dir.path, 'one.log', '1', { maxBytes: 1e6, maxFiles: 2 });
    await save(dir.path, 'two.log', '2', { maxBytes: 1e6, maxFiles: 2 });
    expect(readdirSync(dir.path).sort()).toEqual(['a-folder', 'one.log', 'two.log']);
  });

  it('writes inside the folder whatever the name: "..", "../x", "/etc/passwd", ".hidden"', async () => {
    dir = tempDir('teleops-downloads-');
    const inner = join(dir.path, 'downloads');
    for (const name of ['..', '../escape.log', '/etc/passwd', '.hidden', '']) await save(inner, name, 'x');
    expect(readdirSync(dir.path)).toEqual(['downloads']);
    expect(readdirSync(inner).sort()).toEqual(['_escape.log', '_etc_passwd', 'download', 'download-2', 'hidden']);
  });

  it('safeFilename: never a separator, never a leading dot, never empty', () => {
    let dotted = 0;
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('.', '/', '\\', 'a', '-', '\u0000', 'é', ' '), maxLength: 60, size: 'max' }),
        (s) => {
          if (s.startsWith('.')) dotted++;
          const out = safeFilename(s);
          expect(out).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/);
        },
      ),
    );
    expect(dotted).toBeGreaterThan(0);
  });
});

const env = await useDockerd('console-downloads');

describe.skipIf(!env)('teleops console: long logs asked twice in one go', () => {
  it('are written to two files, not one overwritten', async () => {
    const e = env!;
    const name = 'tcd-chatty';
    await createTestContainer(e.docker, {
      name,
      cmd: ['sh', '-c', 'i=1; while [ $i -le 400 ]; do echo "line $i"; i=$((i+1)); done; exec sleep 3600'],
      suite: e.suite,
    });
    await waitFor(
      async () =>
        (await e.docker.getContainer(name).logs({ stdout: true, tail: 1 })).toString().includes('line 400')
          ? true
          : undefined,
      'the log',
    );
    dir = tempDir('teleops-console-downloads-');
    const proc = runTeleops(
      ['console'],
      {
        AUTHORIZED_USER_IDS: '1',
        STATE_DIR: dir.path,
        HTTP_PORT: '0',
        DOCKER_HOST: e.host,
        TMUX_ENABLED: 'false',
        LOG_LEVEL: 'error',
      },
      { input: `/docker logs ${name} 300\n/docker logs ${name} 400\n` },
    );
    expect(await proc.exited).toBe(0);
    const files = readdirSync(join(dir.path, 'downloads')).sort();
    expect(files).toHaveLength(2);
    const sizes = files
      .map(
        (f) =>
          readFileSync(join(dir!.path, 'downloads', f), 'utf8')
            .split('\n')
            .filter(Boolean).length,
      )
      .sort();
    expect(sizes).toEqual([300, 400]);
    expect(proc.output().match(/\(written to /g)).toHaveLength(2);
    await e.docker.getContainer(name).remove({ force: true });
  });
});
