/**
 * The Claude side of the agents target: the real Agent SDK spawning the fake Claude Code
 * CLI (test/fakes/agents/claude), which speaks the stream-json control protocol and records
 * what it received.
 */
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { requiredRole } from '../../../src/core/action.js';
import { plainText, type Result } from '../../../src/core/result.js';
import { toTelegramText } from '../../../src/transports/telegram/format.js';
import { bundledCodex } from '../../../src/targets/agents/bundled.js';
import { DENIED } from '../../../src/targets/agents/index.js';
import { ANTHROPIC_KEY, FAKES, harness, TELEOPS_SECRETS, until, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(() => {
  h?.close();
  h = undefined;
});

const prompts = (h: Harness) => h.record().filter((e) => e.event === 'prompt');
const decisions = (h: Harness) => h.record().filter((e) => e.event === 'decision');
const starts = (h: Harness) =>
  h.record().filter((e) => e.event === 'start') as { argv: string[]; env: Record<string, string> }[];

describe('Claude sessions through the Agent SDK and a fake CLI', () => {
  it('streams a turn, asks the gate for each tool, allows one, denies one, and lets a read-only tool through unasked', async () => {
    h = harness({ allow: { Bash: true } });
    h.script({
      sessionId: 'sess-1',
      turns: [
        {
          cost: 1.25,
          steps: [
            { text: 'Looking at the tests.\n' },
            { tool: 'Read', input: { file_path: 'package.json' } },
            { tool: 'Bash', input: { command: 'npm test' } },
            { tool: 'Write', input: { file_path: '/x/evil.sh', content: 'rm -rf /' } },
            { text: 'All green.\n' },
          ],
        },
      ],
    });
    const first = await h.run('agent.new', {
      kind: 'claude',
      name: 'build',
      dir: join(h.root, 'proj'),
      prompt: 'run the tests',
    });
    expect(first.card?.key).toBe('agent:build');
    await h.target.sessions!.idle('build');

    expect(h.asked.map((r) => r.tool)).toEqual(['Bash', 'Write']);
    expect(h.asked[0]).toMatchObject({
      session: 'build',
      requester: { display: '@admin' },
      input: { command: 'npm test' },
    });
    expect(decisions(h)).toEqual([
      { event: 'decision', tool: 'Read', behavior: 'allow', message: null },
      { event: 'decision', tool: 'Bash', behavior: 'allow', message: null },
      { event: 'decision', tool: 'Write', behavior: 'deny', message: DENIED },
    ]);
    const argv = starts(h)[0]!.argv;
    expect(argv).toEqual(
      expect.arrayContaining(['--permission-mode=default', '--setting-sources=', '--include-partial-messages']),
    );
    expect(prompts(h)).toEqual([{ event: 'prompt', text: 'run the tests', resume: null }]);

    const card = h.target.cards()[0]!;
    const shown = plainText(card);
    expect(shown).toContain('✅');
    expect(shown).toContain('1 turn');
    expect(shown).toContain('$1.25 in all');
    expect(shown).toContain('All green.');
    expect(card.buttons?.flat().map((b) => b.action)).toEqual(['agent.stop', 'agent.log']);
    expect(card.reply).toEqual({ action: 'agent.prompt', params: { name: 'build', since: expect.any(Number) } });
    // The streamed answer reached the card while the turn ran, not only at the end.
    expect(h.cards.some((c) => plainText(c).includes('🟢') && plainText(c).includes('Looking at the tests.'))).toBe(
      true,
    );
    expect(h.alerts.map((a) => a.key)).toEqual(['agents:build:waiting', 'agents:build:waiting', 'agents:build:done']);

    const log = await h.run('agent.log', { name: 'build' });
    const doc = String(log.attachment?.content);
    expect(doc).toContain('prompt: @admin: run the tests');
    expect(doc).toContain('Read: allowed without asking (AGENT_AUTO_ALLOW_TOOLS)');
    expect(doc).toContain('Bash: allowed (approved by @admin)');
    expect(doc).toContain('Write: denied (denied by @admin)');
  });

  it('auto-allows a read-only tool only inside the session directory: a path outside, a link out, or a pattern climbing out is asked', async () => {
    h = harness();
    const proj = join(h.root, 'proj');
    mkdirSync(join(proj, 'src'));
    symlinkSync('/etc', join(proj, 'etc-link'));
    const reads = [
      { tool: 'Read', input: { file_path: join(proj, 'src', 'a.ts') } },
      { tool: 'Grep', input: { pattern: 'TODO' } },
      { tool: 'Glob', input: { pattern: 'src/**/*.ts' } },
      { tool: 'Read', input: { file_path: '/etc/passwd' } },
      { tool: 'Read', input: { file_path: 'etc-link/passwd' } },
      { tool: 'Grep', input: { pattern: 'TOKEN', path: '..' } },
      { tool: 'Glob', input: { pattern: '/work/**/.env' } },
      { tool: 'Glob', input: { pattern: '../../**/.env' } },
      { tool: 'LS', input: { path: h.dir } },
    ];
    h.script({ sessionId: 's', turns: [{ steps: reads }] });
    await h.run('agent.new', { kind: 'claude', name: 'reader', dir: proj, prompt: 'look around' });
    await h.target.sessions!.idle('reader');
    expect(h.asked.map((r) => r.input)).toEqual(reads.slice(3).map((r) => r.input));
    expect(decisions(h).map((d) => d.behavior)).toEqual([
      'allow',
      'allow',
      'allow',
      'deny',
      'deny',
      'deny',
      'deny',
      'deny',
      'deny',
    ]);
  });

  it('checks the directory again at every prompt: one replaced by a link out of the roots is refused', async () => {
    h = harness();
    const proj = join(h.root, 'moving');
    mkdirSync(proj);
    await h.run('agent.new', { kind: 'claude', name: 'mover', dir: proj });
    const outside = join(h.dir, 'outside');
    mkdirSync(outside);
    rmSync(proj, { recursive: true });
    symlinkSync(outside, proj);
    await expect(h.run('agent.prompt', { name: 'mover', prompt: 'go' })).rejects.toThrow(/outside AGENT_ROOTS/);
    expect(prompts(h)).toEqual([]);
  });

  it("gives the CLI its provider key and none of teleops' secrets", async () => {
    h = harness();
    h.script({ sessionId: 's', turns: [{ steps: [{ text: 'hi' }] }] });
    await h.run('agent.new', { kind: 'claude', name: 'env', prompt: 'hi' });
    await h.target.sessions!.idle('env');
    const env = starts(h)[0]!.env;
    expect(env.ANTHROPIC_API_KEY).toBe(ANTHROPIC_KEY);
    for (const k of [...Object.keys(TELEOPS_SECRETS), 'OPENAI_API_KEY', 'AI_API_KEY'])
      expect(env[k], k).toBeUndefined();
    expect(JSON.stringify(env)).not.toContain(TELEOPS_SECRETS.TELEGRAM_BOT_TOKEN);
  });

  it('stops a running turn with interrupt; the session stays and is marked interrupted', async () => {
    h = harness();
    h.script({ sessionId: 'sess-i', turns: [{ steps: [{ text: 'working…' }, { wait: 'interrupt' }] }] });
    await h.run('agent.new', { kind: 'claude', name: 'long', prompt: 'do a long thing' });
    await until(() => prompts(h!).length === 1, 'the fake got the prompt');
    await until(() => plainText(h!.target.cards()[0]!).includes('working…'), 'the card shows the streamed text');
    const stopped = await h.run('agent.stop', { name: 'long' });
    expect(h.record().some((e) => e.event === 'interrupted')).toBe(true);
    expect(plainText(stopped)).toBe('⏹ Stopped the turn of long; its card shows where it got to.');
    expect(plainText(h.target.cards()[0]!)).toContain('⏸ long · claude · interrupted');
    expect(plainText(await h.run('agent.ls', {}))).toContain('long');
    // Stopped by a person: no alert about it.
    expect(h.alerts.map((a) => a.key)).toEqual([]);
  });

  it('stops a turn waiting for approval: the question is withdrawn and a late answer changes nothing', async () => {
    h = harness({ hold: ['Bash'] });
    h.script({
      sessionId: 'sess-w',
      turns: [{ steps: [{ tool: 'Bash', input: { command: 'make deploy' } }, { text: 'deployed' }] }],
    });
    await h.run('agent.new', { kind: 'claude', name: 'wait', prompt: 'deploy' });
    await until(() => h!.asked.length === 1, 'the gate was asked');
    expect(plainText(h.target.cards()[0]!)).toContain('🟡 wait · claude · waiting for approval');
    const stopped = await h.run('agent.stop', { name: 'wait' });
    expect(h.asked[0]!.signal.aborted).toBe(true);
    expect(h.record().some((e) => e.event === 'interrupted')).toBe(true);
    expect(decisions(h)).toEqual([]);
    expect(plainText(stopped)).toMatch(/^⏹ Stopped the turn of wait/);
    await new Promise((r) => setImmediate(r));
    expect(plainText(h.target.cards()[0]!)).toContain('⏸ wait');
  });

  it('interrupts a turn still running after AGENT_TURN_TIMEOUT_MINUTES, and alerts', async () => {
    h = harness({ settings: { turnTimeoutMs: 200 } });
    h.script({ sessionId: 's', turns: [{ steps: [{ text: 'stuck' }, { wait: 'interrupt' }] }] });
    await h.run('agent.new', { kind: 'claude', name: 'slow', prompt: 'go' });
    await until(() => h!.record().some((e) => e.event === 'interrupted'), 'the fake was interrupted');
    await h.target.sessions!.idle('slow');
    expect(plainText(h.target.cards()[0]!)).toContain(
      'error: still running after 0s (AGENT_TURN_TIMEOUT_MINUTES): interrupted',
    );
    expect(h.alerts.map((a) => a.key)).toEqual(['agents:slow:failed']);
  });

  it('after a restart, the next prompt resumes the stored session id', async () => {
    h = harness();
    h.script({ sessionId: 'sess-42', turns: [{ steps: [{ text: 'one' }] }, { steps: [{ text: 'two' }] }] });
    await h.run('agent.new', { kind: 'claude', name: 'keep', prompt: 'first' });
    await h.target.sessions!.idle('keep');
    h = h.restart();
    await h.run('agent.prompt', { name: 'keep', text: 'second' });
    await h.target.sessions!.idle('keep');
    expect(prompts(h)).toEqual([
      { event: 'prompt', text: 'first', resume: null },
      { event: 'prompt', text: 'second', resume: 'sess-42' },
    ]);
    expect(starts(h)[1]!.argv).toContain('--resume=sess-42');
    expect(plainText(h.target.cards()[0]!)).toContain('2 turns');
  });

  it("refuses a reply to an ended session's card once another session has its name; the new card's reply reaches it", async () => {
    h = harness();
    h.script({ sessionId: 's1', turns: [{ steps: [{ text: 'one' }] }, { steps: [{ text: 'two' }] }] });
    const old = await h.run('agent.new', { kind: 'claude', name: 'build', prompt: 'first' });
    await h.target.sessions!.idle('build');
    await h.run('agent.end', { name: 'build' });
    await new Promise((r) => setTimeout(r, 5));
    const now = await h.run('agent.new', { kind: 'claude', name: 'build', prompt: 'again' });
    await h.target.sessions!.idle('build');
    await expect(h.run('agent.prompt', { ...old.reply!.params, text: 'rm -rf the old plan' })).rejects.toThrow(
      /^the session this card was about has ended; build is another one now/,
    );
    expect(prompts(h).map((p) => p.text)).toEqual(['first', 'again']);
    // Its Stop and Log buttons too.
    for (const b of old.buttons!.flat())
      await expect(h.run(b.action, b.params), b.label).rejects.toThrow(/^the session this card was about has ended/);
    await h.run('agent.prompt', { ...now.reply!.params, text: 'go on' });
    await h.target.sessions!.idle('build');
    expect(prompts(h).map((p) => p.text)).toEqual(['first', 'again', 'go on']);
  });

  it('reports whether each agent can run, for /status and doctor', async () => {
    h = harness();
    const health = await h.target.integration.check(new AbortController().signal);
    expect(health).toEqual({
      state: 'up',
      detail: `claude: ready (${join(FAKES, 'claude')}); codex: ready (${join(FAKES, 'codex')})`,
    });
    const noKeys = harness({
      env: { ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', AGENT_CODEX_PATH: '/nonexistent/codex' },
    });
    try {
      const none = await noKeys.target.integration.check(new AbortController().signal);
      const d =
        `claude: ready (${join(FAKES, 'claude')}), no ANTHROPIC_API_KEY; ` +
        'codex: no executable at /nonexistent/codex (AGENT_CODEX_PATH), no OPENAI_API_KEY';
      // No agent can run: down, so that doctor says what to fix.
      expect(none).toEqual({ state: 'down', detail: d });
    } finally {
      noKeys.close();
    }
    // Without AGENT_CODEX_PATH: the binary @openai/codex installs when it is there, else the `codex` on PATH, named.
    const path = process.env.PATH;
    process.env.PATH = `${FAKES}:${path ?? ''}`;
    const onPath = harness({ env: { AGENT_CODEX_PATH: '' } });
    try {
      const found = await onPath.target.integration.check(new AbortController().signal);
      expect(found.detail).toContain(`codex: ready (${bundledCodex() ?? join(FAKES, 'codex')})`);
    } finally {
      process.env.PATH = path;
      onPath.close();
    }
  });

  it('lets only admins start, prompt, stop, end, show and read sessions; operators may list them; the LLM cannot start, prompt, show or read one', () => {
    h = harness();
    const roles = Object.fromEntries(h.target.actions.map((a) => [a.name, [requiredRole(a), a.risk, a.llm ?? true]]));
    expect(roles).toEqual({
      'agent.new': ['admin', 'write', false],
      'agent.prompt': ['admin', 'write', false],
      'agent.ls': ['operator', 'read', true],
      'agent.show': ['admin', 'read', false],
      'agent.log': ['admin', 'read', false],
      'agent.stop': ['admin', 'write', true],
      'agent.end': ['admin', 'destructive', false],
      // A tool call's approval: only a session asks for it, only an admin decides it.
      'agent.tool': ['admin', 'destructive', false],
    });
  });

  it('refuses a directory outside AGENT_ROOTS, and a symlink inside a root that leads out of it', async () => {
    h = harness();
    const outside = join(h.dir, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(h.root, 'escape'));
    await expect(h.run('agent.new', { kind: 'claude', name: 'a', dir: outside })).rejects.toThrow(
      /outside AGENT_ROOTS/,
    );
    await expect(h.run('agent.new', { kind: 'claude', name: 'b', dir: join(h.root, 'escape') })).rejects.toThrow(
      /outside AGENT_ROOTS/,
    );
    await expect(
      h.run('agent.new', { kind: 'claude', name: 'c', dir: join(h.root, 'proj', '..', '..', 'outside') }),
    ).rejects.toThrow(/outside AGENT_ROOTS/);
    await expect(h.run('agent.new', { kind: 'claude', name: 'd', dir: 'relative' })).rejects.toThrow(/absolute path/);
    await expect(h.run('agent.new', { kind: 'claude', name: 'e', dir: join(h.root, 'missing') })).rejects.toThrow(
      'no such directory',
    );
    expect(h.target.sessions!.list()).toEqual([]);
    // A prefix of a root is not inside it: /…/root-other is not /…/root.
    mkdirSync(`${h.root}-other`);
    await expect(h.run('agent.new', { kind: 'claude', name: 'f', dir: `${h.root}-other` })).rejects.toThrow(
      /outside AGENT_ROOTS/,
    );
  });

  it("refuses a prompt once the day's budget is spent, with the figure; ending the session does not refill it", async () => {
    h = harness({ env: { AGENT_DAILY_BUDGET_USD: '0.5' } });
    h.script({ sessionId: 's', turns: [{ cost: 0.6, steps: [{ text: 'costly' }] }] });
    await h.run('agent.new', { kind: 'claude', name: 'spend', prompt: 'go' });
    await h.target.sessions!.idle('spend');
    await expect(h.run('agent.prompt', { name: 'spend', text: 'again' })).rejects.toThrow(
      '$0.60 of $0.50 today (AGENT_DAILY_BUDGET_USD)',
    );
    await h.run('agent.end', { name: 'spend' });
    await h.run('agent.new', { kind: 'claude', name: 'spend', prompt: undefined });
    await expect(h.run('agent.prompt', { name: 'spend', text: 'again' })).rejects.toThrow('$0.60 of $0.50');
    expect(prompts(h)).toHaveLength(1);
  });

  it('keeps at most AGENT_MAX_SESSIONS sessions, refuses reserved and unsafe names', async () => {
    h = harness({ env: { AGENT_MAX_SESSIONS: '1' } });
    await h.run('agent.new', { kind: 'claude', name: 'one' });
    await expect(h.run('agent.new', { kind: 'codex', name: 'two' })).rejects.toThrow(/AGENT_MAX_SESSIONS/);
    await h.run('agent.end', { name: 'one' });
    for (const bad of ['ls', '-x', 'a b', '$(id)', 'x'.repeat(33)]) {
      await expect(h.run('agent.new', { kind: 'claude', name: bad }), bad).rejects.toThrow();
    }
  });

  it('redacts a secret the agent prints in the card, the alert, the transcript and the database', async () => {
    h = harness();
    const leak = `the key is ${ANTHROPIC_KEY} and password=hunter2hunter2\n`;
    // A key where the card cuts a long line: cut first, it would show a piece no redactor knows.
    const straddling = `${'x'.repeat(150)}${ANTHROPIC_KEY}\n`;
    h.script({
      sessionId: 's',
      turns: [
        {
          steps: [
            { text: leak },
            { text: straddling },
            { tool: 'Bash', input: { command: `curl -H "x-api-key: ${ANTHROPIC_KEY}" https://x` } },
            // A manifest's env pair, whose line break JSON would turn into the two characters `\n`.
            {
              tool: 'Write',
              input: { file_path: 'k8s/app.yaml', content: '- name: DB_PASSWORD\n  value: hunter3hunter3\n' },
            },
            // The card's 4,000-character tail would begin just after `password=`, at the value.
            { text: `password=hunter4hunter4 ${'y'.repeat(3985)}` },
          ],
        },
      ],
    });
    await h.run('agent.new', { kind: 'claude', name: 'leaky', prompt: 'show me' });
    await h.target.sessions!.idle('leaky');
    const seen: string[] = [
      ...h.cards.map(plainText),
      ...h.target.cards().map(plainText),
      ...h.alerts.map((a) => plainText(a.result)),
      String((await h.run('agent.log', { name: 'leaky' })).attachment?.content),
    ];
    expect(seen.join('\n')).toContain('the key is');
    // An alert may reach operators: the state, not what the agent printed or the tool it used.
    expect(h.alerts.length).toBeGreaterThan(0);
    for (const a of h.alerts) expect(plainText(a.result)).not.toMatch(/the key is|curl|tool:/);
    for (const s of seen) {
      expect(s).not.toContain(ANTHROPIC_KEY.slice(0, 9));
      expect(s).not.toContain('hunter2hunter2');
      expect(s).not.toContain('hunter3hunter3');
      expect(s).not.toContain('hunter4hunter4');
    }
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(h.dbPath, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM agent_transcript').all());
    db.close();
    expect(dump).toContain('the key is');
    expect(dump).not.toContain(ANTHROPIC_KEY);
    expect(dump).not.toContain('hunter3hunter3');
  });

  it('shows a hostile tool input (a 100 kB command with HTML entities) safely and in bounds on the card', async () => {
    const hostile = `echo "<b>&amp;&lt;script&gt;</b> <a href='tg://x'>@admin</a>" ${'x'.repeat(100_000)}`;
    h = harness();
    h.script({
      sessionId: 's',
      turns: [{ steps: [{ tool: 'Bash', input: { command: hostile } }, { wait: 'interrupt' }] }],
    });
    await h.run('agent.new', { kind: 'claude', name: 'hostile', prompt: 'go' });
    await until(() => h!.asked.length === 1, 'the gate was asked');
    // The approver gets the input whole: what is approved is exactly what runs.
    expect(h.asked[0]!.input.command).toBe(hostile);
    const waiting = h.cards.find((c) => plainText(c).includes('🟡')) as Result;
    const tg = toTelegramText(waiting.blocks, (s) => s);
    expect(tg.text.length).toBeLessThan(4096);
    expect(tg.text).toContain(`<b>&amp;&lt;script&gt;</b> <a href='tg://x'>@admin</a>`);
    expect(tg.text).toContain('(100');
    expect(tg.entities.every((e) => e.type === 'bold' || e.type === 'pre' || e.type === 'code')).toBe(true);
    await h.run('agent.stop', { name: 'hostile' });
  });
});
