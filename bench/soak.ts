// Issue 16's crash soak: audited mutating actions (tmux sends, Docker start/stop behind an
// approval) through the real `teleops start` process and the fake Bot API, with `kill -9` at
// random points — while an action runs, during `/audit verify`, and between an audit entry's
// commit and its anchor line — and a restart after each. Loopback only; bounded by an action
// count and a time cap. Ground truth comes from outside the process: the lines the tmux session
// received, the Docker engine's events, the messages that reached the fake chat.
import { execFile, execFileSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Dockerode from 'dockerode';
import type Docker from 'dockerode';
import { fuzzInputs } from './soak-fuzz.js';
import { FakeBotApi, type StoredMessage } from '../test/fakes/botapi.js';
import { tempDir } from '../test/support/app.js';
import {
  createTestContainer,
  DockerdUnavailable,
  startDockerd,
  stopDockerd,
  type DockerdInfo,
} from '../test/support/dockerd.js';
import { runTeleops, type Proc } from '../test/support/process.js';

const OP = 4242;
const SESSION = 'soak';
const START_MS = 120_000;
const REPLY_MS = 60_000;
/** The chat counts as settled after this long without a call to the fake. */
const QUIET_MS = 1500;
/** Sends fired at once so that audit appends run hot while the anchor window is probed. */
const BURST = 25;
/** Audited reads kept queued while the anchor window is probed. */
const FILLER = 8;
/** How long a burst is probed with SIGSTOP for an anchor lagging the table before it is killed anyway. */
const PROBE_MS = 10_000;

export type Fault = 'random' | 'anchor' | 'verify';

export interface SoakOptions {
  readonly actions: number;
  /** The run stops starting new actions after this long. */
  readonly timeCapMs: number;
  /** Chance that a round ends with a kill. */
  readonly killChance: number;
  /** Faults for the first rounds, in order (a short run still meets each kind); random ones follow. */
  readonly faults?: readonly (Fault | undefined)[];
  /** How long an anchor round probes before it kills anyway (default PROBE_MS). */
  readonly probeMs?: number;
  /** Every n-th round is a Docker one (default 10). */
  readonly dockerEvery?: number;
  /** A container the Docker rounds stop and start, on the engine at `host`. */
  readonly docker?: { readonly host: string; readonly client: Docker; readonly container: string };
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface SoakCounts {
  kills: number;
  /** Kills that found the anchor behind the table (a commit whose anchor line was not written). */
  anchorsLagging: number;
  killsDuringVerify: number;
  restarts: number;
  /** Audited mutating actions sent (tmux sends and Docker start/stop). */
  actions: number;
  /** Of those, whose reply reached the chat. */
  replied: number;
  /** Updates delivered again after a restart, and approval buttons pressed again. */
  redelivered: number;
  repressed: number;
  /** `teleops audit verify` runs after restarts, and how many did not exit 0. */
  verified: number;
  verifyFailures: number;
  /** An action that ran more than once, or an approval decided twice. */
  duplicates: number;
  /** An action whose reply reached the chat without its result entry or its effect. */
  lost: number;
  /** Seconds the run took. */
  seconds: number;
}

/** A small seeded generator (mulberry32): a failing run can be repeated with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  readonly kind: 'tmux' | 'docker.start' | 'docker.stop';
  readonly token: string;
  readonly messageId: number;
  readonly updateId: number;
}

interface AuditRow {
  seq: number;
  action: string;
  outcome: string;
  params: Record<string, unknown>;
  detail?: string;
}

/** The last `<seq>` of the anchor file (0 when empty). */
function anchorSeq(path: string): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 256);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('latin1').split('\n').filter(Boolean);
    return Number(lines.at(-1)?.split(' ')[0] ?? 0);
  } finally {
    closeSync(fd);
  }
}

function tableSeq(db: Database.Database): number {
  return db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM audit').pluck().get()!;
}

/**
 * tableSeq while the writer is stopped, or undefined when it was stopped holding a WAL lock a
 * reader needs (SQLite then answers SQLITE_BUSY, or SQLITE_PROTOCOL after its retries).
 */
function tableSeqBesideStopped(db: Database.Database): number | undefined {
  try {
    return tableSeq(db);
  } catch (e) {
    if (e instanceof Database.SqliteError && (e.code === 'SQLITE_BUSY' || e.code === 'SQLITE_PROTOCOL'))
      return undefined;
    throw e;
  }
}

function auditRows(dbFile: string): AuditRow[] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db
      .prepare<[], string>('SELECT entry FROM audit ORDER BY seq')
      .pluck()
      .all()
      .map((e) => JSON.parse(e) as AuditRow);
  } finally {
    db.close();
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakCounts> {
  const seed = o.seed ?? Date.now() % 2 ** 31;
  const random = rng(seed);
  const log = o.log ?? (() => undefined);
  log(`soak: seed ${seed}, up to ${o.actions} actions, ${Math.round(o.timeCapMs / 1000)} s cap`);
  const began = performance.now();
  const counts: SoakCounts = {
    kills: 0,
    anchorsLagging: 0,
    killsDuringVerify: 0,
    restarts: 0,
    actions: 0,
    replied: 0,
    redelivered: 0,
    repressed: 0,
    verified: 0,
    verifyFailures: 0,
    duplicates: 0,
    lost: 0,
    seconds: 0,
  };
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP });
  const dir = tempDir('teleops-soak-');
  const sock = join(dir.path, 'tmux.sock');
  const typed = join(dir.path, 'typed.txt');
  const dbFile = join(dir.path, 'teleops.db');
  const anchor = join(dir.path, 'audit.anchor');
  const tmux = (...args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile('tmux', ['-S', sock, '-f', '/dev/null', ...args], { timeout: 10_000 }, (e, out, err) =>
        e ? reject(new Error(`tmux ${args[0]}: ${err.trim() || e.message}`)) : resolve(out),
      ),
    );
  const env = {
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    ADMIN_USER_IDS: String(OP),
    STATE_DIR: dir.path,
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    TMUX_SOCKET: sock,
    RATE_LIMIT_PER_MINUTE: '10000',
    TELEGRAM_PRIVATE_PER_SECOND: '0',
    ...(o.docker ? { DOCKER_HOST: o.docker.host } : { DOCKER_ENABLED: 'false' }),
  };
  let proc: Proc | undefined;
  const start = async () => {
    const polls = fake.calls.filter((c) => c.method === 'getUpdates').length;
    const p = runTeleops(['start'], env);
    proc = p;
    const exited = p.exited.then((code) => {
      throw new Error(`teleops exited (${code}) before polling:\n${p.output()}`);
    });
    await Promise.race([
      fake.waitFor(() => fake.calls.filter((c) => c.method === 'getUpdates').length > polls, START_MS, 'a poll'),
      exited,
    ]);
    exited.catch(() => undefined);
  };
  const pid = () => proc!.child.pid!;
  const sent: Sent[] = [];
  const replies = () => fake.messages(OP).filter((m) => /^Sent 1 line/.test(m.text ?? '')).length;
  const send = (kind: Sent['kind'], text: string, token: string): Sent => {
    const { updateId, message } = fake.sendText({ from: OP, text });
    const s = { kind, token, messageId: message.message_id, updateId };
    sent.push(s);
    counts.actions++;
    return s;
  };
  /** Approval cards answered (card message id → the Approve button's data), to press again later. */
  const pressed: { messageId: number; data: string }[] = [];
  /** tmux sends answered in the chat, counted per round: within a round replies come in order. */
  const answered: { tokens: string[]; replies: number }[] = [];

  const kill = async () => {
    const p = proc!;
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
    counts.kills++;
  };

  /** After a kill: note an anchor behind the table, restart, verify, and replay what Telegram may replay. */
  const restart = async (lastUpdate: number | undefined) => {
    const db = new Database(dbFile, { readonly: true });
    const lag = tableSeq(db) > anchorSeq(anchor);
    db.close();
    if (lag) counts.anchorsLagging++;
    await start();
    counts.restarts++;
    const v = runTeleops(['audit', 'verify', '--state-dir', dir.path], {});
    const code = await v.exited;
    counts.verified++;
    if (code !== 0) {
      counts.verifyFailures++;
      log(`soak: audit verify exited ${code} after restart ${counts.restarts}: ${v.output().trim()}`);
    }
    // Telegram re-delivers what was not confirmed; a button is pressed again by an impatient thumb.
    if (lastUpdate !== undefined) {
      fake.redeliver(lastUpdate);
      counts.redelivered++;
    }
    const again = pressed.at(-1);
    if (again) {
      fake.pressButton({ from: OP, messageId: again.messageId, data: again.data, unchecked: true });
      const deny = again.data.replace(/:y$/, ':n');
      fake.pressButton({ from: OP, messageId: again.messageId, data: deny, unchecked: true });
      counts.repressed += 2;
    }
    await settle();
  };

  /** Until every update was taken and the chat has been quiet for a moment. */
  const settle = async () => {
    await fake.waitFor(() => fake.pendingUpdates === 0, REPLY_MS, 'the bot to take every update');
    for (let n = -1; n !== fake.calls.length;) {
      n = fake.calls.length;
      await sleep(QUIET_MS);
    }
  };

  /**
   * Keeps audit appends running hot (reads, each one audited, topped up as the bot takes them)
   * and kills at the first SIGSTOP probe that finds the anchor behind the table, or after PROBE_MS.
   */
  const killInAnchorWindow = async () => {
    const db = new Database(dbFile, { readonly: true });
    const t0 = performance.now();
    const until = t0 + (o.probeMs ?? PROBE_MS);
    let probes = 0;
    try {
      while (performance.now() < until) {
        probes++;
        while (fake.pendingUpdates < FILLER) fake.sendText({ from: OP, text: '/whoami' });
        process.kill(pid(), 'SIGSTOP');
        const seq = tableSeqBesideStopped(db);
        if (seq !== undefined && seq > anchorSeq(anchor)) break;
        process.kill(pid(), 'SIGCONT');
        // Let it run a random little while: often only a turn of this loop, sometimes a millisecond or two.
        await (random() < 0.5 ? new Promise((r) => setImmediate(r)) : sleep(random() * 2));
      }
    } finally {
      db.close();
    }
    log(`soak: anchor round: ${probes} probes in ${Math.round(performance.now() - t0)} ms`);
    await kill();
  };

  /** A Docker round: start the container, or stop it through its approval card. */
  const dockerRound = async (i: number): Promise<{ done: () => boolean }> => {
    const token = `d${i}`;
    const c = o.docker!;
    const before = fake.messages(OP).length;
    const state = await c.client.getContainer(c.container).inspect();
    if (!state.State.Running) {
      send('docker.start', `/docker start ${c.container}`, token);
      return { done: () => fake.messages(OP).length > before };
    }
    send('docker.stop', `/docker stop ${c.container}`, token);
    const buttonOf = (m: StoredMessage | undefined) =>
      (m?.reply_markup?.inline_keyboard ?? [])
        .flat()
        .map((b) => ('callback_data' in b ? b.callback_data : undefined))
        .find((d) => d?.endsWith(':y'));
    await fake.waitFor(
      () =>
        fake
          .messages(OP)
          .slice(before)
          .some((m) => buttonOf(m) !== undefined),
      REPLY_MS,
      `the approval card for ${token}`,
    );
    const card = fake
      .messages(OP)
      .slice(before)
      .find((m) => buttonOf(m) !== undefined)!;
    const data = buttonOf(card)!;
    fake.pressButton({ from: OP, messageId: card.message_id, data });
    pressed.push({ messageId: card.message_id, data });
    return { done: () => buttonOf(fake.message(OP, card.message_id)) === undefined };
  };

  try {
    execFileSync('tmux', ['-S', sock, '-f', '/dev/null', 'new-session', '-d', '-s', SESSION, `cat >> ${typed}`]);
    await start();
    for (let i = 0; counts.actions < o.actions; i++) {
      if (performance.now() - began > o.timeCapMs) {
        log('soak: time cap reached');
        break;
      }
      const roll = random() < o.killChance ? Math.floor(random() * 3) : -1;
      const fault = o.faults?.[i] ?? (['random', 'anchor', 'verify'] as const)[roll];
      const repliesBefore = replies();
      const tokens: string[] = [];
      const tmuxSend = (token: string) => {
        tokens.push(token);
        return send('tmux', `/tmux send ${SESSION} ${token}`, token);
      };
      if (fault === 'anchor') {
        let last: Sent | undefined;
        for (let b = 0; b < Math.min(BURST, o.actions - counts.actions); b++) last = tmuxSend(`t${i}x${b}`);
        await killInAnchorWindow();
        await restart(last?.updateId);
      } else if (fault === 'verify') {
        const { updateId } = fake.sendText({ from: OP, text: '/audit verify' });
        await sleep(random() * 150);
        await kill();
        counts.killsDuringVerify++;
        await restart(updateId);
      } else {
        const docker = o.docker && i % (o.dockerEvery ?? 10) === (o.dockerEvery ?? 10) - 1;
        const s = docker ? undefined : tmuxSend(`t${i}`);
        const round = docker ? await dockerRound(i) : { done: () => replies() > repliesBefore };
        if (fault === 'random') {
          await sleep(random() * 300);
          await kill();
          await restart(s?.updateId ?? sent.at(-1)?.updateId);
        } else {
          await fake.waitFor(round.done, REPLY_MS, `the answer to action ${counts.actions}`);
        }
      }
      answered.push({ tokens, replies: replies() - repliesBefore });
    }
    await settle();
    await proc?.stop();
    const final = runTeleops(['audit', 'verify', '--state-dir', dir.path], {});
    counts.verified++;
    if ((await final.exited) !== 0) {
      counts.verifyFailures++;
      log(`soak: final audit verify: ${final.output().trim()}`);
    }
    const rows = auditRows(dbFile);
    tally(counts, answered, rows, readFileSync(typed, 'utf8'), log);
    if (o.docker) counts.duplicates += await dockerRuns(o.docker, rows, began, log);
  } finally {
    await proc?.stop();
    await tmux('kill-server').catch(() => undefined);
    await fake.stop();
    dir.remove();
  }
  counts.seconds = Math.round((performance.now() - began) / 1000);
  return counts;
}

/**
 * Docker's own record: the engine must have started and stopped the container exactly as often
 * as the audit says an action started (none ran twice, none ran unaudited).
 */
async function dockerRuns(
  d: NonNullable<SoakOptions['docker']>,
  rows: readonly AuditRow[],
  began: number,
  log: (line: string) => void,
): Promise<number> {
  const fromNs = (Date.now() - (performance.now() - began)) * 1e6;
  const stream = (await d.client.getEvents({
    since: Math.floor(fromNs / 1e9),
    until: Math.ceil(Date.now() / 1000),
    filters: { container: [d.container], type: ['container'] },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  const events = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { Action: string; timeNano: number })
    .filter((e) => e.timeNano >= fromNs)
    .map((e) => e.Action);
  let dup = 0;
  for (const verb of ['start', 'stop'] as const) {
    const engine = events.filter((a) => a === verb).length;
    const audited = rows.filter((r) => r.action === `docker.${verb}` && r.outcome === 'started').length;
    if (engine > audited) {
      dup += engine - audited;
      log(`soak: the engine saw ${engine} ${verb}s, the audit started ${audited}`);
    }
  }
  return dup;
}

/**
 * Compares what the chat saw, what the audit holds and what the tmux session received: each
 * token typed at most once and started at most once; by the end of each round, no more replies
 * than tokens with a result entry that were typed (a reply comes only after its result).
 */
function tally(
  counts: SoakCounts,
  rounds: readonly { tokens: string[]; replies: number }[],
  rows: readonly AuditRow[],
  typed: string,
  log: (line: string) => void,
): void {
  const lines = new Map<string, number>();
  for (const l of typed.split('\n')) if (l) lines.set(l, (lines.get(l) ?? 0) + 1);
  const byToken = new Map<string, { started: number; results: number }>();
  for (const r of rows) {
    if (r.action !== 'tmux.send' || typeof r.params.text !== 'string') continue;
    const e = byToken.get(r.params.text) ?? { started: 0, results: 0 };
    if (r.outcome === 'started') e.started++;
    if (r.outcome === 'ok') e.results++;
    byToken.set(r.params.text, e);
  }
  // A reply may come in a later round than its token (a slow one, or one adopted after a
  // restart), never before its result: so by the end of each round, the replies so far are at
  // most the tokens so far typed with a result.
  let replied = 0;
  let done = 0;
  let unexplained = 0;
  for (const round of rounds) {
    counts.replied += round.replies;
    replied += round.replies;
    for (const token of round.tokens) {
      const e = byToken.get(token) ?? { started: 0, results: 0 };
      const typedTimes = lines.get(token) ?? 0;
      if (e.started > 1 || e.results > 1 || typedTimes > 1) {
        counts.duplicates++;
        log(`soak: ${token} started ${e.started} times, ${e.results} results, typed ${typedTimes} times`);
      }
      if (e.results > 0 && typedTimes > 0) done++;
    }
    if (replied - done > unexplained) {
      counts.lost += replied - done - unexplained;
      unexplained = replied - done;
      log(
        `soak: ${replied} replies by the round of ${round.tokens.join(' ') || '(none)'}, but ${done} typed with a result`,
      );
    }
  }
  // An approval is decided once; its action starts at most once.
  const perApproval = new Map<string, { decided: number; started: number }>();
  for (const r of rows) {
    const id = /^approval (\S+)/.exec(r.detail ?? '')?.[1];
    if (!id) continue;
    const e = perApproval.get(id) ?? { decided: 0, started: 0 };
    if (['approved', 'rejected', 'expired', 'cancelled'].includes(r.outcome)) e.decided++;
    if (r.outcome === 'started') e.started++;
    perApproval.set(id, e);
  }
  for (const [id, e] of perApproval) {
    if (e.decided > 1 || e.started > 1) {
      counts.duplicates++;
      log(`soak: approval ${id} decided ${e.decided} times, started ${e.started} times`);
    }
  }
}

/** A container that stops at once on SIGTERM, so that a stop does not wait out the grace period. */
export const SOAK_CMD = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];

/**
 * `npm run soak -- [--actions N] [--seconds S] [--seed N] [--fuzz CASES]`: the long crash run (on a
 * private dockerd when one can start), then the input fuzz.
 */
async function main(argv: string[]): Promise<void> {
  const arg = (name: string, def: number) => {
    const i = argv.indexOf(name);
    const v = i >= 0 ? Number(argv[i + 1]) : def;
    if (!Number.isSafeInteger(v) || v < 0) {
      process.stderr.write(`soak: ${name} needs a whole number\n`);
      process.exit(2);
    }
    return v;
  };
  const actions = arg('--actions', 1000);
  const log = (l: string) => process.stdout.write(`${l}\n`);
  let dockerd: DockerdInfo | undefined;
  try {
    dockerd = await startDockerd();
  } catch (e) {
    if (!(e instanceof DockerdUnavailable)) throw e;
    log(`soak: no Docker rounds: ${e.message}`);
  }
  try {
    let docker: SoakOptions['docker'];
    if (dockerd) {
      const client = new Dockerode({ socketPath: dockerd.socketPath });
      const c = await createTestContainer(client, { name: 'soak-c', cmd: SOAK_CMD, suite: 'soak' });
      docker = { host: dockerd.host, client, container: c.name };
    }
    const counts = await runSoak({
      actions,
      timeCapMs: arg('--seconds', 1800) * 1000,
      killChance: 0.05,
      faults: ['anchor', 'verify', 'random'],
      seed: arg('--seed', Date.now() % 2 ** 31),
      log,
      ...(docker ? { docker } : {}),
    });
    log(
      `soak: kills ${counts.kills} (anchor lagging ${counts.anchorsLagging}, during /audit verify ` +
        `${counts.killsDuringVerify}), restarts ${counts.restarts}, actions ${counts.actions}, replied ` +
        `${counts.replied}, redelivered ${counts.redelivered}, re-pressed ${counts.repressed}, audit verify ` +
        `${counts.verified - counts.verifyFailures}/${counts.verified} exit 0, duplicates=${counts.duplicates}, ` +
        `lost=${counts.lost}, ${counts.seconds} s`,
    );
    const cases = arg('--fuzz', 100_000);
    const hit = await fuzzInputs(cases, arg('--seed', 16));
    const branches = Object.entries(hit).filter(([k]) => !k.startsWith('action.'));
    log(
      `fuzz: ${cases} cases, no failure; ${Object.keys(hit).length - branches.length} actions validated; ` +
        branches.map(([k, n]) => `${k} ${n}`).join(', '),
    );
    process.exitCode = counts.duplicates === 0 && counts.lost === 0 && counts.verifyFailures === 0 ? 0 : 1;
  } finally {
    if (dockerd) await stopDockerd(dockerd);
  }
}

if (process.argv[1]?.endsWith('soak.ts')) await main(process.argv.slice(2));
