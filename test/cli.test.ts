import { describe, expect, it } from 'vitest';
import { runTeleops } from './support/process.js';
import { tempDir } from './support/app.js';

async function teleops(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  const p = runTeleops(args, env);
  const code = await p.exited;
  return { code, out: p.output() };
}

const VERBS = ['start', 'console', 'doctor', 'audit verify', 'audit rekey', 'health', 'backup'];

describe('teleops CLI', () => {
  it.each(VERBS)('%s --help prints its usage, exits 0 and starts nothing', async (verb) => {
    const dir = tempDir();
    try {
      // Settings that would make the verb run (and a console wait on stdin) if --help were ignored.
      const r = await teleops([...verb.split(' '), '--help'], {
        STATE_DIR: dir.path,
        TELEGRAM_BOT_TOKEN: '1:x',
        AUTHORIZED_USER_IDS: '1',
      });
      expect(r.out).toMatch(new RegExp(`^Usage:\\n  teleops ${verb}`));
      expect(r.code).toBe(0);
    } finally {
      dir.remove();
    }
  });

  it.each([
    [['start', '--foo'], /^teleops start: unknown option "--foo"\n\nUsage:\n {2}teleops start/],
    [['console', 'extra'], /^teleops console: unexpected argument "extra"\n\nUsage:\n {2}teleops console/],
    [['doctor', '--jsn'], /^teleops doctor: unknown option "--jsn"\n\nUsage:\n {2}teleops doctor \[--json\]/],
    [['doctor', '--json=yes'], /^teleops doctor: --json takes no value\n/],
    [
      ['audit', 'verify', 'extra'],
      /^teleops audit verify: unexpected argument "extra"\n\nUsage:\n {2}teleops audit verify/,
    ],
    [['audit', 'verify', '--state-dir'], /^teleops audit verify: --state-dir needs a value\n/],
    [['audit', 'rekey', '--head', '1:ab'], /^teleops audit rekey: unknown option "--head"\n/],
    [['audit', 'nope'], /^teleops audit: unknown command "nope"\n\nUsage:\n {2}teleops audit verify/],
    [['health', 'x'], /^teleops health: unexpected argument "x"\n/],
    [['--version', 'x'], /^teleops --version: unexpected argument "x"\n/],
    [['frobnicate'], /^teleops frobnicate: unknown command\n\nteleops .* — an operations console/],
  ])('%j is a usage error: one line, the usage, exit 2', async (args, expected) => {
    const r = await teleops(args);
    expect(r.out).toMatch(expected);
    expect(r.out).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(2);
  });

  it('teleops audit alone lists the audit sub-commands', async () => {
    const r = await teleops(['audit']);
    expect(r.out).toMatch(/^Usage:\n {2}teleops audit verify .*\n[\s\S]* {2}teleops audit rekey /);
    expect(r.code).toBe(0);
  });

  it("teleops help VERB prints that verb's usage", async () => {
    const r = await teleops(['help', 'doctor']);
    expect(r.out).toMatch(/^Usage:\n {2}teleops doctor \[--json\]/);
    expect(r.code).toBe(0);
  });

  it('doctor --json prints one object per check, with the same exit code as doctor', async () => {
    const dir = tempDir();
    try {
      const env = {
        STATE_DIR: dir.path,
        DOCKER_HOST: `unix://${dir.path}/nope.sock`,
        TMUX_ENABLED: 'false',
        KUBECONFIG: '',
      };
      const r = await teleops(['doctor', '--json'], env);
      const body = JSON.parse(r.out) as {
        ok: boolean;
        checks: { name: string; status: string; detail: string; fix: string | null }[];
      };
      expect(body.ok).toBe(false);
      expect(body.checks).toContainEqual({
        name: 'settings',
        status: 'fail',
        detail: expect.stringMatching(/^TELEGRAM_BOT_TOKEN: missing/),
        fix: null,
      });
      expect(body.checks).toContainEqual({
        name: 'docker',
        status: 'fail',
        detail: expect.stringMatching(/not reachable/),
        fix: expect.stringMatching(/DOCKER_ENABLED=false/),
      });
      expect(body.checks).toContainEqual({ name: 'tmux', status: 'off', detail: expect.any(String), fix: null });
      expect(body.checks).toContainEqual({
        name: 'audit key',
        status: 'warn',
        detail: expect.any(String),
        fix: expect.any(String),
      });
      expect(r.code).toBe(1);
    } finally {
      dir.remove();
    }
  });
});
