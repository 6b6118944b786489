import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../support/app.js';
import { runTeleops } from '../../support/process.js';
import { runs } from '../../support/test-target.js';
import { createRedactor } from '../../../src/core/redact.js';
import { line, pre, result, text } from '../../../src/core/result.js';
import { consoleAlerts } from '../../../src/transports/console/console.js';

let dir: { path: string; remove(): void } | undefined;
afterEach(() => {
  dir?.remove();
  dir = undefined;
});

/** `teleops console` as a script runs it: every line piped in, then the end of input. */
async function consoleWith(input: string): Promise<{ code: number | null; out: string; runsFile: string }> {
  dir = tempDir('teleops-console-');
  const runsFile = join(dir.path, 'runs.txt');
  const proc = runTeleops(['console'], { AUTHORIZED_USER_IDS: '1', STATE_DIR: dir.path, HTTP_PORT: '0', DOCKER_ENABLED: 'false', TMUX_ENABLED: 'false', TEST_RUNS_FILE: runsFile, LOG_LEVEL: 'error' }, { input });
  const code = await proc.exited;
  return { code, out: proc.output(), runsFile };
}

describe('teleops console with piped input', () => {
  it('takes y/N answers from the same input, and denies when the input ends at a prompt', async () => {
    const { code, out, runsFile } = await consoleWith('/test destroy a\ny\n/test echo between\n/test destroy b\n');
    expect(code).toBe(0);
    expect(out).toContain('destroyed a');
    expect(out).toContain('echo: between');
    expect(out).toContain('(input ended: denied)');
    expect(out).not.toMatch(/ERR_|\n\s+at /);
    expect(runs(runsFile, 'destroy')).toBe(1);
  });

  it('presses a button by its number; anything but y denies', async () => {
    const { code, out, runsFile } = await consoleWith(`/test touch x\n1\n2\nno\n/nonsense\n/${'a'.repeat(300)} x\n/quit\n/test touch never\n`);
    expect(code).toBe(0);
    expect(runs(runsFile, 'touch')).toBe(2);
    expect(runs(runsFile, 'destroy')).toBe(0);
    expect(out).toMatch(/Denied/);
    expect(out.split('\n').filter((l) => /nonsense/.test(l))).toHaveLength(1);
    // Not even shaped like a command: still one line of answer, cut short.
    expect(out).toContain(`/${'a'.repeat(38)}… is not a command. /help lists them.`);
    expect(out).not.toMatch(/\n\s+at /);
  });

  it('prints terminal controls from a result as visible escapes, never raw', async () => {
    const { code, out } = await consoleWith('/test echo \u001b]0;pwned\u0007 \u202eexe.pdf \u001b[2J\n');
    expect(code).toBe(0);
    expect(out).toContain('echo: \\u001b]0;pwned\\u0007 \\u202eexe.pdf \\u001b[2J');
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u001b\u0007\u202e]/);
  });
});

describe('alerts in the console', () => {
  it('are printed redacted and terminal-safe, like every other line', () => {
    const output = new PassThrough();
    let printed = '';
    output.on('data', (b: Buffer) => (printed += b.toString()));
    consoleAlerts(output, createRedactor(['s3cr3t-value-123']))(result([line(text('💥 api died (exit 1)')), pre('password=s3cr3t-value-123\n\u001b]52;c;ZWNobyBoaQ==\u0007')]));
    expect(printed).toBe('\n🔔 💥 api died (exit 1)\npassword=[REDACTED]\n\\u001b]52;c;ZWNobyBoaQ==\\u0007\n');
  });
});
