// Issue 16's input fuzz: generated input against every command spelling of the real registry
// (every target enabled), the callback payload decoder, every setting parser and the entity
// renderer. No crash, no entity that the code did not ask for, no parameter starting with `-`
// that would reach a target as a name, every answer one line of error or a valid message.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { MessageEntity } from 'grammy/types';
import type { z } from 'zod';
import { createApp } from '../src/app.js';
import { loadConfig, SETTINGS } from '../src/config.js';
import { parseCommandLine } from '../src/core/commands.js';
import { operatorError } from '../src/core/issues.js';
import { silentLogger } from '../src/core/log.js';
import { createRedactor } from '../src/core/redact.js';
import { bold, line, pre, text, value, type Block, type Span } from '../src/core/result.js';
import { MODULES } from '../src/targets/modules.js';
import { parseKeys } from '../src/targets/tmux/keys.js';
import { isName, parseTarget } from '../src/targets/tmux/target.js';
import { CALLBACK_DATA_MAX, decodeCallback, encodeCallback } from '../src/transports/telegram/callback-data.js';
import { renderResult, TELEGRAM_TEXT_LIMIT } from '../src/transports/telegram/format.js';
import { checkText } from '../test/fakes/botapi/validate.js';
import { scriptedModel } from '../test/fakes/scripted-model.js';
import { tempDir } from '../test/support/app.js';

const refused = (f: () => unknown): boolean => {
  try {
    f();
    return false;
  } catch {
    return true;
  }
};

/**
 * Parameters whose value may start with "-" after validation, and why that never makes it an
 * option of a process: it goes as data (after `-l --` or `--`), or the target refuses it first.
 */
/** tmux names and targets: checked by the target (checkName, parseTarget) before tmux runs. */
const TMUX_NAMES: Readonly<Record<string, (v: string) => boolean>> = {
  target: (v) => refused(() => parseTarget(v)),
  name: (v) => !isName(v),
  alias: (v) => !isName(v),
  session: (v) => !isName(v) && refused(() => parseTarget(v)),
};

/** Targets that run processes with argument vectors. */
const ARGV_TARGETS = new Set(['tmux', 'shell', 'agents']);

const DASH_SAFE: Readonly<Record<string, (v: string) => boolean>> = {
  // send-keys -l -- <text>
  'tmux.send text': () => true,
  // new-session … -- <command>; the action also refuses a command starting with "-"
  'tmux.new command': () => true,
  // a regex matched in this process over capture-pane's output
  'tmux.find pattern': () => true,
  // sh -c -- <command>
  'shell.run command': () => true,
  // a named key goes as a key name (never one starting with "-"), anything else as -l -- text
  'tmux.keys keys': (v) =>
    refused(() => parseKeys([v])) || parseKeys([v]).every((k) => k.kind !== 'named' || !k.name.startsWith('-')),
};

/** How often each branch was reached: a fuzz that never reaches one proves nothing about it. */
export type FuzzBranches = Record<string, number>;

const hostile = fc.constantFrom(
  '-',
  '--',
  '-rf',
  '--force',
  '-n',
  '-c',
  '--secret',
  '-1',
  '"a b"',
  "'x y'",
  '"',
  "'",
  '<b>x</b>',
  '@everyone',
  'http://evil.example/x',
  '`code`',
  '*_~[]()',
  '\u202e',
  '\u0000',
  '\n',
  '\r',
  '\u2028',
  '\t',
  '\ud800',
  'x'.repeat(300),
  '🙂',
);
const word = fc.oneof(
  hostile,
  fc.stringMatching(/^[a-z0-9][a-z0-9._:/-]{0,20}$/),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.integer({ min: -5, max: 200_000 }).map(String),
);

const count = (hit: FuzzBranches, k: string): void => void (hit[k] = (hit[k] ?? 0) + 1);

const isOneLine = (s: string): boolean =>
  !/[\n\r\u0085\u2028\u2029]/.test(s) && s.length > 0 && s.length < TELEGRAM_TEXT_LIMIT;

/** Every string in a value, with its path. */
function strings(v: unknown, path: string[] = []): [string, string][] {
  if (typeof v === 'string') return [[path.join('.'), v]];
  if (Array.isArray(v)) return v.flatMap((x) => strings(x, path));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => strings(x, [...path, k]));
  return [];
}

/** Commands: parse, look up in the real registry, validate as the dispatcher does. */
async function fuzzCommands(runs: number, seed: number, hit: FuzzBranches): Promise<void> {
  const dir = tempDir('teleops-fuzz-');
  const kubeconfig = join(dir.path, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'prod',
      clusters: [{ name: 'prod', cluster: { server: 'http://127.0.0.1:9' } }],
      users: [{ name: 'prod', user: { token: 'unused' } }],
      contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'prod' } }],
    }),
  );
  const r = loadConfig(
    {
      AUTHORIZED_USER_IDS: '10',
      HTTP_PORT: '0',
      STATE_DIR: dir.path,
      DOCKER_HOST: `unix://${join(dir.path, 'docker.sock')}`,
      TMUX_SOCKET: join(dir.path, 'tmux.sock'),
      KUBECONFIG: kubeconfig,
      SHELL_ENABLED: 'true',
    },
    'console',
  );
  if (!r.ok) throw new Error(r.problems.join('\n'));
  const app = await createApp(r.config, MODULES, { log: silentLogger(), model: scriptedModel([]) });
  try {
    const spellings = app.registry
      .list()
      .flatMap((a) => (a.command ? [a.command.path, ...(a.command.aliases ?? [])] : []))
      .map((p) => p.join(' '));
    const cmd = fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...spellings) },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_]{1,33}$/) },
    );
    const lineArb = fc.tuple(
      cmd,
      fc.constantFrom('', '@teleops_bot', '@other_bot', '@'),
      fc.array(word, { maxLength: 8, size: 'max' }),
      fc.constantFrom(' ', '  ', '\n', '\t'),
    );
    fc.assert(
      fc.property(lineArb, ([c, at, args, sep]) => {
        const [first, ...verbs] = c.split(' ');
        const line = `/${[`${first}${at}`, ...verbs].join(' ')}${sep}${args.join(sep)}`;
        const parsed = parseCommandLine(line, 'teleops_bot');
        if (!parsed) return void count(hit, 'command.not_for_us');
        const found = app.registry.lookup(parsed);
        if (found.kind !== 'match') {
          count(hit, `command.${found.kind}`);
          if (!isOneLine(found.message)) throw new Error(`not one line: ${JSON.stringify(found.message)}`);
          return;
        }
        const { action, params: raw } = found.match;
        const p = (action.params as z.ZodType).safeParse(raw, { error: operatorError });
        if (!p.success) {
          count(hit, 'command.invalid');
          for (const i of p.error.issues) {
            if (!isOneLine(i.message)) throw new Error(`${action.name}: not one line: ${JSON.stringify(i.message)}`);
          }
          return;
        }
        count(hit, 'command.valid');
        count(hit, `action.${action.name}`);
        for (const [path, s] of strings(p.data)) {
          if (!s.startsWith('-')) continue;
          // Docker and Kubernetes are reached through their HTTP APIs: a value is never an argv option.
          if (!ARGV_TARGETS.has(action.target)) {
            count(hit, 'command.dash_api');
            continue;
          }
          const safe = DASH_SAFE[`${action.name} ${path}`] ?? (action.target === 'tmux' ? TMUX_NAMES[path] : undefined);
          if (safe?.(s)) {
            count(hit, 'command.dash_safe');
            continue;
          }
          throw new Error(`${action.name}: ${path} = ${JSON.stringify(s)} starts with "-" and would reach the target`);
        }
      }),
      { numRuns: runs, seed },
    );
  } finally {
    await app.close(0);
    dir.remove();
  }
}

/** Callback payloads: undefined, or the exact payload the encoder would make. */
function fuzzCallbacks(runs: number, seed: number, hit: FuzzBranches): void {
  const id = fc.stringMatching(/^[A-Za-z0-9_-]{16}$/);
  const valid = fc.oneof(
    fc
      .tuple(id, fc.stringMatching(/^[0-9a-f]{16}$/), fc.boolean())
      .map(([i, t, y]) => encodeCallback({ kind: 'approval', id: i, token: t, decision: y ? 'approve' : 'deny' })),
    fc.tuple(id, fc.nat(999)).map(([k, n]) => encodeCallback({ kind: 'button', ref: { keyboard: k, index: n } })),
  );
  const mutated = fc
    .tuple(valid, fc.nat(80), fc.string({ maxLength: 3 }), fc.nat(3))
    .map(([s, at, ins, del]) => s.slice(0, at) + ins + s.slice(at + del));
  fc.assert(
    fc.property(fc.oneof(valid, mutated, fc.string({ maxLength: 80, unit: 'binary' })), (s) => {
      const d = decodeCallback(s);
      if (d === undefined) return void count(hit, 'callback.rejected');
      count(hit, `callback.${d.kind}`);
      // `b:<keyboard>` alone is the first button, as buttons were stored before keyboards.
      const again = encodeCallback(d);
      if (again !== s && again !== `${s}:0`) throw new Error(`${JSON.stringify(s)} decodes to something else`);
      if (Buffer.byteLength(s) > CALLBACK_DATA_MAX) throw new Error(`${JSON.stringify(s)} is too long`);
    }),
    { numRuns: runs, seed },
  );
}

/** Every setting row, alone and through loadConfig: a value or one line per problem naming it. */
function fuzzSettings(runs: number, seed: number, hit: FuzzBranches): void {
  const rows = Object.entries({ ...SETTINGS, ...Object.assign({}, ...MODULES.map((m) => m.settings)) }) as [
    string,
    { schema: z.ZodType; default?: string },
  ][];
  const valueArb = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.integer({ min: -1e9, max: 1e12 }).map(String),
    fc.array(fc.oneof(fc.integer().map(String), word), { maxLength: 5, size: 'max' }).map((a) => a.join(',')),
    fc.constantFrom('true', 'false', 'yes', '0', '1', '', ' ', '30s', '5m', '-1', 'http://127.0.0.1:1', '/tmp/x'),
    word,
  );
  fc.assert(
    fc.property(fc.constantFrom(...rows), valueArb, ([name, row], v) => {
      const one = row.schema.safeParse(v);
      count(hit, one.success ? 'setting.ok' : 'setting.rejected');
      const r = loadConfig(
        { AUTHORIZED_USER_IDS: '1', TELEGRAM_BOT_TOKEN: '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11', [name]: v },
        'offline',
      );
      if (r.ok) return;
      for (const p of r.problems) if (!isOneLine(p)) throw new Error(`${name}: not one line: ${JSON.stringify(p)}`);
      // A blank value is an unset one: the default applies.
      if (!one.success && v.trim() !== '' && !r.problems.some((p) => p.startsWith(`${name}: `)))
        throw new Error(`${name}: no problem names it`);
    }),
    { numRuns: runs, seed },
  );
}

/** Cards and results: each message valid for Telegram, every entity one the code asked for. */
function fuzzRenderer(runs: number, seed: number, hit: FuzzBranches): void {
  const { redact } = createRedactor(['Tk9-very-secret-value']);
  const untrusted = fc.oneof(
    fc.string({ maxLength: 60, unit: 'binary' }),
    fc.array(word, { maxLength: 10, size: 'max' }).map((a) => a.join(' ')),
    fc.nat(9000).map((n) => '<i>@x</i> https://e.example '.repeat(1 + (n % 300))),
  );
  const span: fc.Arbitrary<Span> = fc.oneof(untrusted.map(value), untrusted.map(text), untrusted.map(bold));
  const block: fc.Arbitrary<Block> = fc.oneof(
    fc.array(span, { maxLength: 5, size: 'max' }).map((s) => line(...s)),
    untrusted.map(pre),
  );
  const allowed = new Set<MessageEntity['type']>(['bold', 'code', 'pre']);
  fc.assert(
    fc.property(fc.array(block, { maxLength: 12, size: 'max' }), (blocks) => {
      const r = renderResult({ blocks }, redact);
      const messages = 'messages' in r ? r.messages : [r.preview];
      count(hit, 'overflow' in r ? 'render.document' : messages.length > 1 ? 'render.split' : 'render.one');
      for (const m of messages) {
        if (m.text.length > TELEGRAM_TEXT_LIMIT) throw new Error(`a message of ${m.text.length} characters`);
        checkText(m.text, m.entities);
        for (const e of m.entities) if (!allowed.has(e.type)) throw new Error(`an entity of type ${e.type}`);
      }
    }),
    { numRuns: runs, seed },
  );
}

/** `cases` generated inputs in all, spread over the four parsers; throws on the first failure. */
export async function fuzzInputs(cases: number, seed: number): Promise<FuzzBranches> {
  const hit: FuzzBranches = {};
  const quarter = Math.ceil(cases / 4);
  await fuzzCommands(quarter, seed, hit);
  fuzzCallbacks(quarter, seed, hit);
  fuzzSettings(quarter, seed, hit);
  fuzzRenderer(quarter, seed, hit);
  return hit;
}
