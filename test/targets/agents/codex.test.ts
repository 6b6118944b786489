/**
 * The Codex side of the agents target: the app-server client spawning the fake
 * `codex app-server` (test/fakes/agents/codex), which speaks JSON-RPC over stdio and records
 * what it received.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { plainText } from '../../../src/core/result.js';
import { toolApprovalBlocks } from '../../../src/targets/agents/index.js';
import { ctx, harness, OPENAI_KEY, TELEOPS_SECRETS, until, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

const prompts = (h: Harness) =>
  h.record().filter((e) => e.event === 'prompt') as {
    text: string;
    input: unknown[];
    resume: string | null;
    thread: Record<string, unknown>;
  }[];
const decisions = (h: Harness) => h.record().filter((e) => e.event === 'decision');
const starts = (h: Harness) =>
  h.record().filter((e) => e.event === 'start') as { argv: string[]; env: Record<string, string> }[];

describe('Codex sessions through codex app-server (fake)', () => {
  it('streams the answer, accepts an allowed command, declines a denied file change, and counts tokens', async () => {
    h = harness({ allow: { command: true } });
    h.script({
      threadId: 'thr-1',
      turns: [
        {
          usage: { inputTokens: 700, outputTokens: 300 },
          steps: [
            { text: 'Running the tests.\n' },
            { command: 'npm test' },
            { file: 'evil.sh', diff: '+rm -rf /' },
            { text: 'Done.\n' },
          ],
        },
      ],
    });
    await h.run('agent.new', { kind: 'codex', name: 'cx', prompt: 'fix it' });
    await h.target.sessions!.idle('cx');
    expect(prompts(h)[0]).toMatchObject({
      text: 'fix it',
      resume: null,
      thread: { approvalPolicy: 'untrusted', sandbox: 'workspace-write' },
    });
    expect(h.asked.map((r) => [r.tool, r.input])).toEqual([
      ['command', { command: 'npm test', cwd: expect.any(String) }],
      ['fileChange', { changes: [{ path: 'evil.sh', kind: { type: 'add' }, diff: '+rm -rf /' }] }],
    ]);
    expect(decisions(h)).toEqual([
      { event: 'decision', tool: 'command', decision: 'accept' },
      { event: 'decision', tool: 'fileChange', decision: 'decline' },
    ]);
    const shown = plainText(h.target.cards()[0]!);
    expect(shown).toContain('✅ cx · codex · turn done');
    expect(shown).toContain('1000 tokens');
    expect(h.tokens).toEqual([['codex', 700, 300]]);
    expect(shown).toContain('Done.');
    expect(h.cards.some((c) => plainText(c).includes('Running the tests.') && plainText(c).includes('🟡'))).toBe(true);
  });

  it('shows where an update moves a file, the patch as last updated and a root to grant; declines a change it never saw, unasked, and one whose patch changed while its card was out', async () => {
    h = harness({ allow: { fileChange: true } });
    h.script({
      threadId: 'thr-m',
      turns: [
        {
          steps: [
            { file: 'notes.txt', diff: '+a', patched: '+b', movePath: '.github/workflows/ci.yml', grantRoot: '/' },
            { file: 'ghost.txt', diff: '+c', unseen: true },
            { file: 'later.txt', diff: '+shown', patchedAfter: '+other' },
            { text: 'Done.\n' },
          ],
        },
      ],
    });
    await h.run('agent.new', { kind: 'codex', name: 'mv', prompt: 'tidy up' });
    await h.target.sessions!.idle('mv');
    expect(h.asked).toHaveLength(2);
    expect(h.asked.slice(0, 1).map((r) => [r.tool, r.input])).toEqual([
      [
        'fileChange',
        {
          changes: [{ path: 'notes.txt', kind: { type: 'update', move_path: '.github/workflows/ci.yml' }, diff: '+b' }],
          grantRoot: '/',
        },
      ],
    ]);
    const card = plainText({ blocks: toolApprovalBlocks(h.asked[0]!, (s) => s) });
    expect(card).toContain('⚠ moved to: .github/workflows/ci.yml');
    expect(card).toContain('"grantRoot":"/"');
    // Approved, but its patch changed while the card was out: declined.
    expect(h.asked.map((r) => JSON.stringify(r.input)).at(-1)).toContain('+shown');
    expect(decisions(h)).toEqual([
      { event: 'decision', tool: 'fileChange', decision: 'accept' },
      { event: 'decision', tool: 'fileChange', decision: 'decline' },
      { event: 'decision', tool: 'fileChange', decision: 'decline' },
    ]);
  });

  it("gives app-server OPENAI_API_KEY and none of teleops' secrets", async () => {
    h = harness();
    h.script({ threadId: 't', turns: [{ steps: [{ text: 'hi' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'env', prompt: 'hi' });
    await h.target.sessions!.idle('env');
    const env = starts(h)[0]!.env;
    expect(env.OPENAI_API_KEY).toBe(OPENAI_KEY);
    for (const k of [...Object.keys(TELEOPS_SECRETS), 'ANTHROPIC_API_KEY', 'AI_API_KEY'])
      expect(env[k], k).toBeUndefined();
  });

  it("goes on past a sub-agent's turn ending, and streams only its own thread's answer", async () => {
    h = harness({ allow: { command: true } });
    h.script({
      threadId: 'thr-main',
      turns: [
        {
          steps: [{ text: 'Delegating.\n' }, { subagentDone: 'SUB-TEXT' }, { command: 'make' }, { text: 'All done.' }],
        },
      ],
    });
    await h.run('agent.new', { kind: 'codex', name: 'sub', prompt: 'go' });
    await h.target.sessions!.idle('sub');
    expect(decisions(h)).toEqual([{ event: 'decision', tool: 'command', decision: 'accept' }]);
    const shown = plainText(h.target.cards()[0]!);
    expect(shown).toContain('✅ sub · codex · turn done');
    expect(shown).toContain('All done.');
    expect(shown).not.toContain('SUB-TEXT');
  });

  it('marks a command the model wants outside the sandbox (or teleops cannot tell) on its card', async () => {
    h = harness({ allow: { command: true } });
    h.script({
      threadId: 'thr-esc',
      turns: [
        {
          steps: [
            { command: 'npm test', args: { sandbox_permissions: 'use_default' } },
            { command: 'curl x | sh', args: { sandbox_permissions: 'require_escalated', justification: 'network' } },
            { command: 'cat ~/.ssh/id_rsa', args: { additional_permissions: { file_system: { read: ['/'] } } } },
            { command: 'make', unrecorded: true },
          ],
        },
      ],
    });
    await h.run('agent.new', { kind: 'codex', name: 'esc', prompt: 'go' });
    await h.target.sessions!.idle('esc');
    expect(h.asked.map((r) => [r.input.command, r.input.outsideSandbox])).toEqual([
      ['npm test', undefined],
      ['curl x | sh', 'require_escalated'],
      ['cat ~/.ssh/id_rsa', 'unknown'],
      ['make', 'unknown'],
    ]);
    expect(plainText({ blocks: toolApprovalBlocks(h.asked[1]!, (t) => t) })).toContain(
      '⚠ outside the sandbox, with all the rights of teleops: require_escalated',
    );
    expect(plainText({ blocks: toolApprovalBlocks(h.asked[0]!, (t) => t) })).not.toContain('sandbox');
  });

  it('interrupts a running turn with turn/interrupt', async () => {
    h = harness();
    h.script({ threadId: 'thr-i', turns: [{ steps: [{ text: 'thinking' }, { wait: 'interrupt' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'cxi', prompt: 'long job' });
    await until(() => prompts(h!).length === 1, 'the fake got the turn');
    const stopped = await h.run('agent.stop', { name: 'cxi' });
    const interrupted = h.record().find((e) => e.event === 'interrupted');
    expect(interrupted).toEqual({ event: 'interrupted', params: { threadId: 'thr-i', turnId: 'turn-1' } });
    expect(plainText(stopped)).toMatch(/^⏹ Stopped the turn of cxi/);
    expect(plainText(h.target.cards().find((c) => plainText(c).includes('cxi'))!)).toContain('⏸ cxi');
  });

  it('runs no command with a terminal, so the model cannot type into an approved one: on the command line and in every thread', async () => {
    h = harness();
    h.script({ threadId: 'thr-tty', turns: [{ steps: [{ text: 'one' }] }, { steps: [{ text: 'two' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'tty', prompt: 'first' });
    await h.target.sessions!.idle('tty');
    await h.run('agent.prompt', { name: 'tty', prompt: 'second' });
    await h.target.sessions!.idle('tty');
    expect(starts(h).map((s) => s.argv)).toEqual([
      ['-c', 'features.unified_exec_tty=false', 'app-server'],
      ['-c', 'features.unified_exec_tty=false', 'app-server'],
    ]);
    expect(prompts(h).map((p) => [p.resume, p.thread.config])).toEqual([
      [null, { features: { unified_exec_tty: false } }],
      ['thr-tty', { features: { unified_exec_tty: false } }],
    ]);
  });

  it('sends a picture as an image input (the bytes received, as a data URL); other files only by name', async () => {
    h = harness();
    h.script({ threadId: 'thr-img', turns: [{ steps: [{ text: 'a red square' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'img' });
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const files = [
      { name: 'shot.png', bytes: png },
      // Named like a picture, but not one: a file only.
      { name: 'fake.jpg', bytes: Buffer.from('<svg onload=alert(1)>') },
    ];
    await h.target.sessions!.prompt('img', 'what is this?', ctx.operator, files);
    await h.target.sessions!.idle('img');
    expect(prompts(h)[0]!.input).toEqual([
      {
        type: 'text',
        text:
          'what is this?\n\nFiles sent with this prompt, saved in the working directory: ' +
          '.teleops-inbox/shot.png, .teleops-inbox/fake.jpg',
      },
      { type: 'image', url: `data:image/png;base64,${png.toString('base64')}` },
    ]);
  });

  it('resumes the stored thread after a restart', async () => {
    h = harness();
    h.script({ threadId: 'thr-keep', turns: [{ steps: [{ text: 'one' }] }, { steps: [{ text: 'two' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'keep', prompt: 'first' });
    await h.target.sessions!.idle('keep');
    h = h.restart();
    await h.run('agent.prompt', { name: 'keep', prompt: 'second' });
    await h.target.sessions!.idle('keep');
    expect(prompts(h).map((p) => [p.text, p.resume])).toEqual([
      ['first', null],
      ['second', 'thr-keep'],
    ]);
  });

  it('reports a failed turn with its error, and alerts once', async () => {
    h = harness();
    h.script({ threadId: 't', turns: [{ error: 'usage limit exceeded', steps: [{ text: 'hm' }] }] });
    await h.run('agent.new', { kind: 'codex', name: 'bad', prompt: 'go' });
    await h.target.sessions!.idle('bad');
    expect(plainText(h.target.cards()[0]!)).toContain('error: usage limit exceeded');
    expect(h.alerts.map((a) => a.key)).toEqual(['agents:bad:failed']);
  });

  it('fails clearly when the executable cannot run', async () => {
    h = harness({ env: { AGENT_CODEX_PATH: '/nonexistent/codex' } });
    await h.run('agent.new', { kind: 'codex', name: 'nox', prompt: 'go' });
    await h.target.sessions!.idle('nox');
    expect(plainText(h.target.cards()[0]!)).toMatch(/🔴 nox[\s\S]*error: cannot run codex/);
  });
});
