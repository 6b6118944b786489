/**
 * Codex through `codex app-server`: JSON-RPC (without the "jsonrpc" member) over the
 * process's stdin/stdout, one line per message. One process per prompt: initialize, start
 * or resume the thread, start a turn, stream its items, answer its approval requests
 * through the gate, and end when `turn/completed` arrives. (`codex exec` cannot ask a
 * person before a command, so it is not used.)
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { JsonLineReader } from './jsonl.js';
import { errorText, type AgentRunner, type RunningTurn, type TurnEnd, type TurnOptions } from './runner.js';

export interface CodexRunnerOptions {
  /** AGENT_CODEX_PATH; unset: `codex` on PATH. */
  readonly executable?: string;
  readonly stderr?: (text: string) => void;
}

/** Codex asks before anything it does not consider safe, and writes only inside the workspace. */
const APPROVAL_POLICY = 'untrusted';
const SANDBOX = 'workspace-write';
/**
 * No command runs with a terminal: a process started with one keeps its stdin open, and the
 * model could then type into it (its `write_stdin` tool) with no approval, e.g. into an approved
 * `bash`. Without it, stdin is closed and write_stdin can only read output. Set on the command
 * line (above the user's and the project's config.toml) and in each thread's config (the one
 * layer above the command line).
 */
const NO_TTY = { features: { unified_exec_tty: false } };
const ARGS = ['-c', 'features.unified_exec_tty=false', 'app-server'];

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** The real app-server sends `reason: null` when it has none: only a text is worth showing. */
const reason = (params: Json): Json => (typeof params.reason === 'string' ? { reason: params.reason } : {});
/**
 * Request fields a card need not show: ids and times, the command parsed, and the offers of an
 * amended policy that only a decision teleops never sends (acceptWith…) would apply.
 */
const BOOKKEEPING = new Set([
  'approvalId',
  'itemId',
  'threadId',
  'turnId',
  'startedAtMs',
  'commandActions',
  'availableDecisions',
  'proposedExecpolicyAmendment',
  'proposedNetworkPolicyAmendments',
]);
/** Values every ordinary request carries. */
const ORDINARY: Readonly<Record<string, unknown>> = { kind: 'command', environmentId: 'local' };
/** The rest of a request (a network context, a root to grant, another kind): the card shows it. */
const others = (params: Json, shown: readonly string[]): Json =>
  Object.fromEntries(
    Object.entries(params).filter(
      ([k, v]) => !BOOKKEEPING.has(k) && !shown.includes(k) && v !== null && v !== undefined && ORDINARY[k] !== v,
    ),
  );
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Pictures as image inputs, as data URLs of the bytes teleops received and checked (not a path
 * for codex to read again from the agent's own directory).
 */
const images = (o: TurnOptions): Json[] =>
  (o.images ?? []).map((i) => ({ type: 'image', url: `data:${i.mime};base64,${i.data.toString('base64')}` }));

/**
 * Whether the model asked to run a command outside the sandbox (exec_command's
 * `sandbox_permissions`): the approval request does not say, but the thread's rollout file
 * (written before the request) holds the call with its arguments. undefined: in the sandbox;
 * else what it asked for, or `unknown` when the call is not found there.
 */
export async function sandboxAsked(
  rollout: string | undefined,
  callId: string | undefined,
): Promise<string | undefined> {
  if (rollout === undefined || callId === undefined) return 'unknown';
  const lines = await readFile(rollout, 'utf8').then(
    (t) => t.split('\n'),
    () => [],
  );
  // The newest call of that id: the one asking now.
  for (const l of lines.reverse()) {
    if (!l.includes(callId)) continue;
    let payload: Json;
    try {
      payload = obj(obj(JSON.parse(l)).payload);
    } catch {
      continue;
    }
    if (payload.type !== 'function_call' || payload.call_id !== callId) continue;
    let args: Json;
    try {
      args = obj(JSON.parse(str(payload.arguments) ?? ''));
    } catch {
      return 'unknown';
    }
    const asked = args.sandbox_permissions;
    if ((asked === undefined || asked === 'use_default') && args.additional_permissions === undefined) return undefined;
    return typeof asked === 'string' ? asked : 'unknown';
  }
  return 'unknown';
}

export function codexRunner(opts: CodexRunnerOptions = {}): AgentRunner {
  return { run: (o) => runCodex(o, opts) };
}

function runCodex(o: TurnOptions, opts: CodexRunnerOptions): RunningTurn {
  const child = spawn(opts.executable ?? 'codex', ARGS, {
    cwd: o.cwd,
    env: o.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const reader = new JsonLineReader();
  const pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
  /** fileChange items as item/started showed them: the approval request names only the item. */
  const changes = new Map<string, unknown>();
  /** File changes whose card is out, and whether their patch changed since. */
  const asked = new Map<string, boolean>();
  let nextId = 0;
  let threadId: string | undefined;
  /** This thread's rollout file; a sub-agent's lies next to it, named after its thread. */
  let rollout: string | undefined;
  const rolloutOf = async (thread: string | undefined): Promise<string | undefined> => {
    if (thread === undefined || rollout === undefined || thread === threadId) return rollout;
    const dir = dirname(rollout);
    const names = await readdir(dir).catch(() => []);
    const name = names.find((n) => n.startsWith('rollout-') && n.endsWith(`-${thread}.jsonl`));
    return name === undefined ? undefined : join(dir, name);
  };
  let turnId: string | undefined;
  let interrupted = false;
  let finish: (end: TurnEnd) => void = () => undefined;
  const done = new Promise<TurnEnd>((resolve) => {
    finish = (end) => {
      resolve(end);
      for (const p of pending.values()) p.reject(new Error('codex app-server stopped'));
      pending.clear();
      if (child.exitCode === null) child.kill('SIGTERM');
    };
  });

  const send = (m: Json): void => {
    if (child.stdin.writable) child.stdin.write(JSON.stringify(m) + '\n');
  };
  const request = (method: string, params: Json): Promise<Json> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      send({ method, id, params });
    });

  /** `changed`: the thing asked about changed while its card was out; an Approve then declines. */
  const approve = async (id: unknown, tool: string, input: Json, changed = () => false): Promise<void> => {
    let decision = 'decline';
    try {
      if ((await o.gate(tool, input)).allow && !changed()) decision = 'accept';
    } finally {
      send({ id, result: { decision } });
    }
  };

  const onServerRequest = (id: unknown, method: string, params: Json): void => {
    if (method === 'item/commandExecution/requestApproval') {
      void (async () => {
        // A command the model wants unsandboxed says so on its card.
        const sandbox = await sandboxAsked(await rolloutOf(str(params.threadId)), str(params.itemId));
        const input: Json = {
          command: params.command,
          cwd: params.cwd,
          ...reason(params),
          ...(sandbox !== undefined ? { outsideSandbox: sandbox } : {}),
          ...others(params, ['command', 'cwd', 'reason']),
        };
        await approve(id, 'command', input);
      })().catch(() => undefined);
    } else if (method === 'item/fileChange/requestApproval') {
      const item = str(params.itemId);
      const seen = item === undefined ? undefined : changes.get(item);
      // A change whose files this client never saw cannot be shown on a card: declined unasked.
      if (item === undefined || seen === undefined) send({ id, result: { decision: 'decline' } });
      else {
        asked.set(item, false);
        const input = { changes: seen, ...reason(params), ...others(params, ['reason']) };
        void approve(id, 'fileChange', input, () => asked.get(item) === true)
          .finally(() => asked.delete(item))
          .catch(() => undefined);
      }
    } else {
      // Anything else this client cannot answer for a person is refused.
      send({ id, error: { code: -32601, message: `teleops does not handle ${method}` } });
    }
  };

  const onNotification = (method: string, params: Json): void => {
    switch (method) {
      case 'item/agentMessage/delta': {
        // The answer is this thread's: a sub-agent's text is not streamed into it.
        if (params.threadId !== threadId) break;
        const delta = str(params.delta);
        if (delta) o.onEvent({ type: 'text', delta });
        break;
      }
      case 'item/fileChange/patchUpdated': {
        // The patch as it now stands is what an approval card must show.
        const item = str(params.itemId);
        if (item !== undefined && changes.has(item)) changes.set(item, params.changes);
        // A card already out shows the patch as it was: its Approve no longer stands for this one.
        if (item !== undefined && asked.has(item)) asked.set(item, true);
        break;
      }
      case 'item/started': {
        const item = obj(params.item);
        if (item.type === 'commandExecution')
          o.onEvent({ type: 'tool', tool: 'command', input: { command: item.command } });
        else if (item.type === 'fileChange') {
          changes.set(str(item.id) ?? '', item.changes);
          o.onEvent({ type: 'tool', tool: 'fileChange', input: { changes: item.changes } });
        }
        break;
      }
      case 'thread/tokenUsage/updated': {
        const last = obj(obj(params.tokenUsage).last);
        o.onEvent({
          type: 'usage',
          costUsd: 0,
          inputTokens: num(last.inputTokens),
          outputTokens: num(last.outputTokens),
        });
        break;
      }
      case 'turn/completed': {
        // A sub-agent's thread (the model may start some) ending is not this turn ending.
        if (params.threadId !== threadId) break;
        const turn = obj(params.turn);
        if (turn.status === 'completed') finish({ outcome: 'ok' });
        else if (turn.status === 'interrupted' || interrupted) finish({ outcome: 'interrupted' });
        else finish({ outcome: 'failed', detail: str(obj(turn.error).message) ?? `turn ${String(turn.status)}` });
        break;
      }
      default:
        break;
    }
  };

  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const line of reader.push(chunk)) {
      if (line.kind === 'bad') continue;
      const m = line.value;
      const method = str(m.method);
      if (method !== undefined && 'id' in m) onServerRequest(m.id, method, obj(m.params));
      else if (method !== undefined) onNotification(method, obj(m.params));
      else if (typeof m.id === 'number') {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error !== undefined)
          p?.reject(new Error(str(obj(m.error).message) ?? 'codex app-server refused the request'));
        else p?.resolve(obj(m.result));
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => opts.stderr?.(s));
  child.on('error', (e) => finish({ outcome: 'failed', detail: `cannot run codex: ${e.message}` }));
  child.on('close', (code, signal) => {
    finish(
      interrupted
        ? { outcome: 'interrupted' }
        : {
            outcome: 'failed',
            detail: `codex app-server exited (${signal ?? `status ${code}`}) before the turn ended`,
          },
    );
  });
  child.stdin.on('error', () => undefined);

  const sendInterrupt = async (): Promise<void> => {
    if (threadId && turnId) await request('turn/interrupt', { threadId, turnId }).catch(() => undefined);
  };

  void (async () => {
    await request('initialize', { clientInfo: { name: 'teleops', title: 'teleops', version: '1' } });
    send({ method: 'initialized', params: {} });
    const threadParams: Json = {
      cwd: o.cwd,
      approvalPolicy: APPROVAL_POLICY,
      sandbox: SANDBOX,
      config: NO_TTY,
      ...(o.model ? { model: o.model } : {}),
    };
    const started = o.resume
      ? await request('thread/resume', { threadId: o.resume, ...threadParams })
      : await request('thread/start', threadParams);
    threadId = str(obj(started.thread).id);
    rollout = str(obj(started.thread).path);
    if (!threadId) throw new Error('codex app-server gave no thread id');
    o.onEvent({ type: 'session', id: threadId });
    const turn = await request('turn/start', { threadId, input: [{ type: 'text', text: o.prompt }, ...images(o)] });
    turnId = str(obj(turn.turn).id);
    if (interrupted) await sendInterrupt();
  })().catch((e: unknown) => finish({ outcome: interrupted ? 'interrupted' : 'failed', detail: errorText(e) }));

  return {
    done,
    async interrupt() {
      interrupted = true;
      // Before the turn has an id, the interrupt is sent as soon as it has one.
      await sendInterrupt();
    },
  };
}
