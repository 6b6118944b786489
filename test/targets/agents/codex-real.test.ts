/**
 * The Codex runner against the REAL `codex` binary (no provider is reachable: the model is a
 * fake Responses API at the network boundary, test/fakes/responses-api.ts). The binary is
 * REAL_CODEX_PATH, else the one `@openai/codex` (an optional dependency) installs for this
 * platform, found as the agents target finds it by default; without either these tests are
 * skipped (outside CI).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { plainText } from '../../../src/core/result.js';
import { bundledCodex } from '../../../src/targets/agents/bundled.js';
import {
  startFakeResponses,
  type FakeResponses,
  type ResponsesReply,
  type ResponsesRequest,
} from '../../fakes/responses-api.js';
import { ctx, harness, OPENAI_KEY, until, type Harness, type HarnessOptions } from './helpers.js';

/** REAL_CODEX_PATH, else (the agents target's own default) the binary @openai/codex installs. */
const CODEX = process.env.REAL_CODEX_PATH || bundledCodex();
const SKIP = CODEX === undefined;
// @openai/codex is an optional dependency: under CI a platform it ships for must have it.
if (SKIP && process.env.CI === 'true' && ['linux', 'darwin'].includes(process.platform))
  throw new Error('the codex binary of @openai/codex (an optional dependency) is required under CI=true');

let h: Harness | undefined;
let llm: FakeResponses | undefined;
let scratch: string | undefined;
const TMPDIR = process.env.TMPDIR;
afterEach(async () => {
  delete process.env.CODEX_HOME;
  if (TMPDIR === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = TMPDIR;
  h?.close();
  h = undefined;
  await llm?.close();
  llm = undefined;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
});

type Schema = Record<string, unknown>;

/**
 * The generated schemas leave objects open; closed here, so that a misspelt or invented member
 * of our params fails instead of being ignored by the check (as the server would ignore it).
 */
function closed(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(closed);
  if (typeof node !== 'object' || node === null) return node;
  const out: Schema = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, closed(v)]));
  const combined = 'anyOf' in out || 'oneOf' in out || 'allOf' in out;
  if ('properties' in out && !('additionalProperties' in out) && !combined) out.additionalProperties = false;
  return out;
}

/** The protocol schema as the real binary prints it (`codex app-server generate-json-schema`). */
function protocol() {
  const out = mkdtempSync(join(tmpdir(), 'codex-schema-'));
  execFileSync(CODEX!, ['app-server', 'generate-json-schema', '--out', out], { stdio: 'pipe' });
  const read = (name: string) => JSON.parse(readFileSync(join(out, `${name}.json`), 'utf8')) as Schema;
  const requests = read('ClientRequest');
  const definitions = requests.definitions as Schema;
  /** Validates the params of a client request against the definition its method names. */
  const params = (method: string): z.ZodType => {
    const variant = (requests.oneOf as Schema[]).find((v) => {
      const m = (v.properties as Schema).method as Schema;
      return (m.enum as string[]).includes(method);
    });
    if (!variant) throw new Error(`the protocol has no client request ${method}`);
    const ref = ((variant.properties as Schema).params as Schema).$ref as string;
    return z.fromJSONSchema(closed({ $schema: requests.$schema, $ref: ref, definitions }) as never);
  };
  const whole = (name: string): z.ZodType => z.fromJSONSchema(closed(read(name)) as never);
  return {
    params,
    notification: z.fromJSONSchema(read('ClientNotification') as never),
    commandAnswer: whole('CommandExecutionRequestApprovalResponse'),
    fileAnswer: whole('FileChangeRequestApprovalResponse'),
  };
}

/** A 4×4 red PNG. */
const RED_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGP4z8AARwzEcQCukw/x0F8jngAAAABJRU5ErkJggg==',
  'base64',
);

const issues = (schema: z.ZodType, value: unknown): string[] => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe.skipIf(SKIP)(
  'Codex runner against the real codex binary (skipped: no REAL_CODEX_PATH, no @openai/codex)',
  () => {
    it('sends only requests and answers the real app-server protocol schema accepts', async () => {
      const p = protocol();
      // The check bites: a wrong value and an invented member are both caught.
      expect(issues(p.params('thread/start'), { sandbox: 'workspace' })).not.toEqual([]);
      expect(issues(p.params('thread/start'), { sandboxMode: 'workspace-write' })).not.toEqual([]);
      expect(issues(p.commandAnswer, { decision: 'deny' })).not.toEqual([]);

      // Every path of the runner, through the fake app-server that records what it received.
      h = harness({ allow: { command: true } });
      h.script({
        threadId: 'thr-s',
        turns: [
          { steps: [{ command: 'npm test' }, { file: 'a.txt', diff: '+a' }] },
          { steps: [{ command: 'rm -rf /' }, { file: 'b.txt', diff: '+b' }] },
          { steps: [{ text: 'working' }, { wait: 'interrupt' }] },
        ],
      });
      await h.run('agent.new', { kind: 'codex', name: 's', prompt: 'first' });
      await h.target.sessions!.idle('s');
      await h.target.sessions!.prompt('s', 'second', ctx.operator, [{ name: 'red.png', bytes: RED_PNG }]);
      await h.target.sessions!.idle('s');
      await h.run('agent.prompt', { name: 's', prompt: 'third' });
      await until(() => h!.record().filter((e) => e.event === 'prompt').length === 3, 'the third turn started');
      await h.run('agent.stop', { name: 's' });
      await h.target.sessions!.idle('s');

      const received = h
        .record()
        .filter((e) => e.event === 'in')
        .map((e) => e.message as Schema);
      const methods = new Set(received.map((m) => m.method).filter((m) => m !== undefined));
      expect([...methods].sort()).toEqual(
        ['initialize', 'initialized', 'thread/resume', 'thread/start', 'turn/interrupt', 'turn/start'].sort(),
      );
      const problems: string[] = [];
      const answers = { command: 0, file: 0 };
      for (const m of received) {
        const where = (s: string[]) => s.map((x) => `${String(m.method ?? `answer ${String(m.id)}`)} ${x}`);
        if (typeof m.method === 'string' && 'id' in m) problems.push(...where(issues(p.params(m.method), m.params)));
        else if (typeof m.method === 'string') problems.push(...where(issues(p.notification, m)));
        else {
          // The fake numbers its requests 1000 + step: odd steps are commands, even ones file changes.
          const command = Number(m.id) % 2 === 1;
          answers[command ? 'command' : 'file']++;
          problems.push(...where(issues(command ? p.commandAnswer : p.fileAnswer, m.result)));
        }
      }
      expect(answers).toEqual({ command: 2, file: 2 });
      expect(problems).toEqual([]);
    });

    /**
     * The real binary in a fresh CODEX_HOME, its model a fake Responses API following `script`.
     * CODEX_HOME is outside the TMPDIR codex is given, as ~/.codex is in use: under its temporary
     * directory codex makes no helper links and cannot start a command with a terminal at all.
     */
    async function realCodexSession(
      script: (req: ResponsesRequest, index: number) => ResponsesReply,
      opts: HarnessOptions,
    ) {
      llm = await startFakeResponses(script);
      scratch = mkdtempSync(join(tmpdir(), 'codex-real-'));
      const home = join(scratch, 'home');
      mkdirSync(home);
      mkdirSync(join(scratch, 'tmp'));
      const config = [
        'model = "fake-model"',
        'model_provider = "fake"',
        '[model_providers.fake]',
        'name = "fake"',
        `base_url = "${llm.baseUrl}"`,
        'env_key = "OPENAI_API_KEY"',
        'wire_api = "responses"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
      ];
      writeFileSync(join(home, 'config.toml'), config.join('\n') + '\n');
      process.env.CODEX_HOME = home;
      process.env.TMPDIR = join(scratch, 'tmp');
      // Without REAL_CODEX_PATH, no AGENT_CODEX_PATH either: the target's default binary runs.
      h = harness({ ...opts, env: { AGENT_CODEX_PATH: process.env.REAL_CODEX_PATH || '' } });
      return join(h.root, 'proj');
    }

    /** A model that answers each prompt with a shell call running `cmd` and each tool output with a message. */
    const realSession = (cmd: string, opts: HarnessOptions) =>
      realCodexSession(
        (req) =>
          req.last?.type === 'function_call_output'
            ? { text: 'all done' }
            : { call: { name: 'exec_command', args: { cmd } } },
        opts,
      );

    async function shellTurn(allow: boolean) {
      const dir = await realSession('echo hi > marker.txt', { allow: { command: allow } });
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'write the marker' });
      await h!.target.sessions!.idle('real');
      return { dir, marker: join(dir, 'marker.txt') };
    }

    it('asks before a shell command (approvalPolicy untrusted); Deny: the command does not run', async () => {
      const { dir, marker } = await shellTurn(false);
      expect(llm!.requests[0]!.tools).toContain('exec_command');
      expect(llm!.requests[0]!.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      expect(h!.asked.map((r) => [r.tool, r.input])).toEqual([
        ['command', { command: expect.stringContaining('echo hi > marker.txt'), cwd: dir }],
      ]);
      expect(existsSync(marker)).toBe(false);
      // The model is told, and the turn goes on to its answer.
      expect(llm!.requests).toHaveLength(2);
      expect(llm!.requests[1]!.outputs).toHaveLength(1);
      const card = plainText(h!.target.cards()[0]!);
      expect(card).toContain('✅ real · codex · turn done');
      expect(card).toContain('all done');
    });

    it('Approve: the command runs, and the tokens of both model calls are counted', async () => {
      const { marker } = await shellTurn(true);
      expect(h!.asked.map((r) => r.tool)).toEqual(['command']);
      expect(readFileSync(marker, 'utf8')).toBe('hi\n');
      expect(llm!.requests).toHaveLength(2);
      expect(plainText(h!.target.cards()[0]!)).toContain('all done');
      expect(h!.tokens).toEqual([['codex', 20, 10]]);
    });

    it('asks before a file change (apply_patch) with the change itself; Deny: the file is not written', async () => {
      const patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: new.txt\n+hello\n*** End Patch\nEOF\n";
      const dir = await realSession(patch, {});
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'add a file' });
      await h!.target.sessions!.idle('real');
      expect(h!.asked.map((r) => [r.tool, r.input])).toEqual([
        ['fileChange', { changes: [{ path: join(dir, 'new.txt'), kind: { type: 'add' }, diff: 'hello\n' }] }],
      ]);
      expect(existsSync(join(dir, 'new.txt'))).toBe(false);
      expect(llm!.requests.map((r) => r.outputs.map((o) => o.output))).toEqual([[], ['patch rejected by user']]);
    });

    it('Stop while a command waits for approval: interrupted, nothing runs; the next prompt resumes the thread', async () => {
      const dir = await realSession('echo hi > marker.txt', { hold: ['command'] });
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'first prompt' });
      await until(() => h!.asked.length === 1, 'the command waits for approval');
      expect(plainText(await h!.run('agent.stop', { name: 'real' }))).toMatch(/^⏹ Stopped the turn of real/);
      await h!.target.sessions!.idle('real');
      expect(plainText(h!.target.cards()[0]!)).toContain('⏸ real · codex · interrupted');
      expect(h!.asked[0]!.signal.aborted).toBe(true);
      expect(existsSync(join(dir, 'marker.txt'))).toBe(false);

      await h!.run('agent.prompt', { name: 'real', prompt: 'second prompt' });
      await until(() => h!.asked.length === 2, 'the second turn asks');
      await h!.run('agent.stop', { name: 'real' });
      await h!.target.sessions!.idle('real');
      const [first, second] = llm!.requests;
      expect(second!.body.prompt_cache_key).toBe(first!.body.prompt_cache_key);
      const said = JSON.stringify(second!.body.input);
      expect(said).toContain('first prompt');
      expect(said).toContain('second prompt');
      expect(existsSync(join(dir, 'marker.txt'))).toBe(false);
    });

    it('asks even for a read-only command (ls): nothing runs unasked', async () => {
      const dir = await realSession('ls', {});
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'list the files' });
      await h!.target.sessions!.idle('real');
      expect(h!.asked.map((r) => [r.tool, r.input.command])).toEqual([['command', '/bin/bash -lc ls']]);
      expect(llm!.requests[1]!.outputs.map((o) => o.output)).toEqual([
        'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }',
      ]);
    });

    it('gives the model a picture sent with the prompt as an image', async () => {
      const dir = await realCodexSession(() => ({ text: 'a red square' }), {});
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir });
      await h!.target.sessions!.prompt('real', 'what is this?', ctx.operator, [{ name: 'red.png', bytes: RED_PNG }]);
      await h!.target.sessions!.idle('real');
      const said = (llm!.requests[0]!.body.input as { role?: string; content?: unknown[] }[]).at(-1)!;
      expect(said.role).toBe('user');
      expect(said.content).toContainEqual(
        expect.objectContaining({
          type: 'input_image',
          image_url: `data:image/png;base64,${RED_PNG.toString('base64')}`,
        }),
      );
      expect(plainText(h!.target.cards()[0]!)).toContain('a red square');
    });

    it('shows on the card a command the model wants outside the sandbox; Deny: it does not run', async () => {
      let outside = '';
      const dir = await realCodexSession(
        (req) =>
          req.last?.type === 'function_call_output'
            ? { text: 'all done' }
            : {
                call: {
                  name: 'exec_command',
                  args: { cmd: `touch ${outside}`, sandbox_permissions: 'require_escalated' },
                },
              },
        {},
      );
      outside = join(scratch!, 'escaped');
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'escape' });
      await h!.target.sessions!.idle('real');
      expect(h!.asked.map((r) => [r.input.command, r.input.outsideSandbox])).toEqual([
        [expect.stringContaining(`touch ${outside}`), 'require_escalated'],
      ]);
      expect(existsSync(outside)).toBe(false);
    });

    it("a sub-agent's turn ending does not end the session's turn; only its own answer is streamed; its command asks", async () => {
      const script = (req: ResponsesRequest): ResponsesReply => {
        const said = JSON.stringify(req.body.input);
        // The sub-agent: one command (its card is found in the sub-agent's own rollout file), then its answer.
        if (!said.includes('the main task'))
          return req.outputs.length === 0
            ? { call: { name: 'exec_command', args: { cmd: 'ls' } } }
            : { text: 'SUB-ANSWER' };
        const outputs = req.outputs.map((o) => String(o.output));
        if (outputs.length === 0)
          return { call: { name: 'spawn_agent', namespace: 'multi_agent_v1', args: { message: 'a side task' } } };
        if (outputs.length === 1) {
          const agent = (JSON.parse(outputs[0]!) as { agent_id: string }).agent_id;
          return { call: { name: 'wait_agent', namespace: 'multi_agent_v1', args: { targets: [agent] } } };
        }
        return { text: 'main answer' };
      };
      const dir = await realCodexSession(script, {});
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'the main task' });
      await h!.target.sessions!.idle('real');
      expect(llm!.requests.some((r) => r.outputs.length === 2)).toBe(true);
      const card = plainText(h!.target.cards()[0]!);
      expect(card).toContain('✅ real · codex · turn done');
      expect(card).toContain('main answer');
      expect(card).not.toContain('SUB-ANSWER');
      expect(h!.asked.map((r) => [r.input.command, r.input.outsideSandbox])).toEqual([
        [expect.stringContaining('ls'), undefined],
      ]);
    });

    it('runs no command with a terminal: an approved shell cannot be typed into (write_stdin)', async () => {
      // The model's side: a shell with a terminal, else without one, then type into it.
      const SHELL = 'bash --norc --noprofile';
      const calls = new Map<string, string>();
      const attack = (req: ResponsesRequest, index: number): ResponsesReply => {
        const call = (what: string, name: string, args: Record<string, unknown>): ResponsesReply => {
          calls.set(`call_${index}`, what);
          return { call: { name, args } };
        };
        const last = req.last;
        if (last?.type !== 'function_call_output')
          return call('tty', 'exec_command', { cmd: SHELL, login: false, tty: true, yield_time_ms: 500 });
        const what = calls.get(String(last.call_id));
        const session = /session ID (\d+)/.exec(String(last.output))?.[1];
        if ((what === 'tty' || what === 'pipe') && session)
          return call('type', 'write_stdin', {
            session_id: Number(session),
            chars: 'touch pwned\n',
            yield_time_ms: 500,
          });
        // Without a terminal the shell starts late, so that it is surely running when typed into.
        if (what === 'tty')
          return call('pipe', 'exec_command', { cmd: `sleep 3; ${SHELL}`, login: false, yield_time_ms: 250 });
        if (what === 'type' && session)
          return call('poll', 'write_stdin', { session_id: Number(session), chars: '', yield_time_ms: 1000 });
        return { text: 'all done' };
      };
      const dir = await realCodexSession(attack, { allow: { command: true } });
      await h!.run('agent.new', { kind: 'codex', name: 'real', dir, prompt: 'open a shell' });
      await h!.target.sessions!.idle('real');
      await h!.run('agent.prompt', { name: 'real', prompt: 'again, in the resumed thread' });
      await h!.target.sessions!.idle('real');

      // The model is not even offered a terminal...
      const tools = llm!.requests[0]!.body.tools as { name?: string; parameters?: { properties: object } }[];
      const exec = tools.find((t) => t.name === 'exec_command');
      expect(Object.keys(exec!.parameters!.properties)).toContain('cmd');
      expect(Object.keys(exec!.parameters!.properties)).not.toContain('tty');
      // ...and asking for one is refused before any card; the shell it then gets has no stdin.
      const outputs = [
        ...new Map(llm!.requests.flatMap((r) => r.outputs.map((o) => [o.call_id, String(o.output)]))).values(),
      ];
      expect(outputs.filter((o) => o.includes('TTY execution is disabled'))).toHaveLength(2);
      expect(outputs.filter((o) => o.includes('stdin is closed for this session'))).toHaveLength(2);
      expect(h!.asked.map((r) => r.input.command)).toEqual([
        expect.stringContaining(`sleep 3; ${SHELL}`),
        expect.stringContaining(`sleep 3; ${SHELL}`),
      ]);
      expect(existsSync(join(dir, 'pwned'))).toBe(false);
    });
  },
);
