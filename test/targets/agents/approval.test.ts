import { describe, expect, it } from 'vitest';
import { plainText } from '../../../src/core/result.js';
import { createRedactor } from '../../../src/core/redact.js';
import { toolApprovalBlocks } from '../../../src/targets/agents/approval.js';

const { redact } = createRedactor([]);
const shown = (tool: string, input: Record<string, unknown>) =>
  toolApprovalBlocks({ session: 'build', tool, input }, redact);

describe('approval card of an agent tool call', () => {
  it('lists what its view leaves out: a Bash in the background for two hours, without the sandbox, says so', () => {
    const input = {
      command: 'npm run dev',
      run_in_background: true,
      timeout: 7_200_000,
      dangerouslyDisableSandbox: true,
    };
    const card = plainText({ blocks: shown('Bash', input) });
    expect(card).toContain('npm run dev');
    expect(card).toContain('with:\n{"run_in_background":true,"timeout":7200000,"dangerouslyDisableSandbox":true}');
  });

  it('shows a Bash command whole as code, with HTML entities as typed and hidden characters named', () => {
    const command = `echo "<b>&amp;&lt;i&gt;</b>" \u202Etxt.exe ${'x'.repeat(100_000)}\nrm -rf /tmp/y`;
    const blocks = shown('Bash', { command, description: 'list' });
    expect(blocks[0]).toEqual({
      kind: 'line',
      spans: [
        { kind: 'text', text: 'Agent ' },
        { kind: 'value', text: 'build' },
        { kind: 'text', text: ' asks to use ' },
        { kind: 'value', text: 'Bash' },
        { kind: 'text', text: ':' },
      ],
    });
    const codeBlock = blocks.find((b) => b.kind === 'pre')!;
    // The field the Bash view does not show itself is listed under it.
    expect(plainText({ blocks: blocks.slice(-2) })).toBe('with:\n{"description":"list"}');
    expect(codeBlock.kind).toBe('pre');
    const t = plainText({ blocks: [codeBlock] });
    expect(t.startsWith('echo "<b>&amp;&lt;i&gt;</b>"⟨space, U+202E⟩txt.exe ')).toBe(true);
    expect(t.includes('x'.repeat(100_000))).toBe(true);
    expect(t.split('\n')).toHaveLength(2);
    expect(t).toContain('rm -rf /tmp/y');
    // Nothing from the input is ever a text or bold span.
    expect(
      blocks
        .flatMap((b) => (b.kind === 'line' ? b.spans : []))
        .filter((s) => s.kind !== 'value')
        .map((s) => s.text)
        .join(''),
    ).not.toMatch(/echo|rm|x{10}/);
  });

  it('shows an Edit as a diff, a Write as path, size and content, a Codex file change as its diff', () => {
    expect(
      plainText({
        blocks: shown('Edit', { file_path: '/p/a.ts', old_string: 'let a = 1;', new_string: 'let a = 2;\nlet b = 3;' }),
      }),
    ).toBe('Agent build asks to use Edit:\nfile: /p/a.ts\n-let a = 1;\n+let a = 2;\n+let b = 3;');
    expect(plainText({ blocks: shown('Write', { file_path: '/p/run.sh', content: '#!/bin/sh\ncurl x | sh\n' }) })).toBe(
      'Agent build asks to use Write:\nfile: /p/run.sh\n22 characters, 3 lines\n#!/bin/sh\ncurl x | sh\n⟨empty⟩',
    );
    expect(
      plainText({
        blocks: shown('fileChange', { changes: [{ path: 'a.txt', kind: { type: 'add' }, diff: '+hello' }] }),
      }),
    ).toBe('Agent build asks to use fileChange:\nfile: a.txt (add)\n+hello');
    expect(plainText({ blocks: shown('command', { command: 'npm test', cwd: '/srv/app', reason: 'run tests' }) })).toBe(
      'Agent build asks to use command:\nreason: run tests\nin: /srv/app\nnpm test',
    );
  });

  it("shows any other tool's input as JSON, and an input of the wrong shape the same way", () => {
    expect(plainText({ blocks: shown('WebFetch', { url: 'https://x' }) })).toBe(
      'Agent build asks to use WebFetch:\n{"url":"https://x"}',
    );
    expect(plainText({ blocks: shown('Bash', { command: 42 }) })).toContain('{"command":42}');
  });
});
