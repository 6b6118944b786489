import type { AlertSink } from '../../core/alerts.js';
import type { Logger } from '../../core/log.js';
import type { Redactor } from '../../core/redact.js';
import { bold, line, pre, result, text, value, type Block } from '../../core/result.js';
import { sleep } from '../../core/sleep.js';
import { truncate } from '../../core/text.js';
import type { EventCursor } from './cursor.js';
import { containerSpans } from './format.js';
import { tailLines } from './logs.js';
import type { ContainerDetails, DockerEvent, DockerPort } from './port.js';
import type { ExpectedStops } from './stops.js';

export type IncidentKind = 'die' | 'oom' | 'unhealthy';

export interface DockerEventsOptions {
  readonly port: DockerPort;
  readonly sink: AlertSink;
  readonly stops: ExpectedStops;
  readonly log: Logger;
  /** Log lines are redacted before they are cut (see logs.ts). */
  readonly redactor: Redactor;
  readonly clock?: () => number;
  /** Reconnect delays: doubled after each failure from `initialMs` up to `maxMs`. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Log lines attached to an alert. */
  readonly logLines?: number;
  /** Where the stream resumes (a restart, a new leader); without it, from when the watcher starts. */
  readonly cursor?: EventCursor;
}

/** How far back a resumed stream reaches: older incidents are not news any more. */
const RESUME_MAX_S = 600;

export interface DockerEvents {
  stop(): Promise<void>;
  /** 'up' while subscribed to the Engine's event stream. */
  state(): 'up' | 'down';
}

/** `kill` is watched only to recognise deliberate stops made outside teleops. */
const ACTIONS = ['die', 'oom', 'kill', 'health_status'] as const;
/** How long a kill or an OOM explains a following `die`. */
const CORRELATION_MS = 30_000;
/** 128 + 9: how a process killed by SIGKILL exits, OOM kills included. */
const SIGKILL_EXIT = 137;
/** Signals that end a process unless it handles them: a `kill` with one of these is a stop (HUP, USR1… are reloads). */
const STOPPING = new Set([
  '2',
  '3',
  '9',
  '15',
  'SIGINT',
  'SIGQUIT',
  'SIGKILL',
  'SIGTERM',
  'INT',
  'QUIT',
  'KILL',
  'TERM',
]);

/**
 * Watches the Engine's container events and raises one alert per incident: a non-zero
 * exit, an OOM kill, a container turning unhealthy. A `die` is not a crash when teleops
 * stopped the container (ExpectedStops) or someone did through the Engine (a `kill` event
 * came first: docker stop/kill/rm -f, compose down); an OOM kill is always reported, once,
 * whichever of its `oom` and `die` events arrives first.
 */
export function startDockerEvents(opts: DockerEventsOptions): DockerEvents {
  const { port, sink, stops, log } = opts;
  const clock = opts.clock ?? Date.now;
  const initialMs = opts.backoff?.initialMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 30_000;
  const logLines = opts.logLines ?? 20;
  const ac = new AbortController();
  let state: 'up' | 'down' = 'down';
  let since: number | undefined;
  // Events already handled in the second `since` points at: a reconnect replays that second.
  let seen = new Set<string>();
  let seenSecond = -1;
  const resumed = opts.cursor?.load();
  if (resumed && resumed.since >= Math.floor(clock() / 1000) - RESUME_MAX_S) {
    since = seenSecond = resumed.since;
    seen = new Set(resumed.seen);
  }
  const killedAt = new Map<string, number>();
  const oomAt = new Map<string, number>();
  let queue: Promise<void> = Promise.resolve();

  const recent = (m: Map<string, number>, id: string): boolean => {
    const t = m.get(id);
    return t !== undefined && clock() - t < CORRELATION_MS;
  };
  const prune = (): void => {
    const cutoff = clock() - CORRELATION_MS;
    for (const m of [killedAt, oomAt]) for (const [id, t] of m) if (t < cutoff) m.delete(id);
  };

  async function raise(kind: IncidentKind, ev: DockerEvent, details: ContainerDetails | undefined): Promise<void> {
    let lines: string[] | undefined;
    try {
      lines = await tailLines(port, opts.redactor, ev.id, logLines, ac.signal);
    } catch (e) {
      log.debug({ err: (e as Error).message, container: ev.id }, 'docker alert: logs unavailable');
    }
    const name = details?.name ?? ev.name;
    const who = containerSpans(name, ev.id);
    const blocks: Block[] = [];
    if (kind === 'die')
      blocks.push(line(text('💥 '), bold('Container '), ...who, text(' exited with code '), value(ev.exitCode ?? '?')));
    if (kind === 'oom') blocks.push(line(text('🧠 '), bold('Container '), ...who, text(' was OOM-killed')));
    if (kind === 'unhealthy') blocks.push(line(text('🩺 '), bold('Container '), ...who, text(' is unhealthy')));
    // The Engine misses some OOM kills under load (no `oom` event, OOMKilled false); the exit code still tells.
    const sigkill = kind === 'die' && ev.exitCode === SIGKILL_EXIT;
    if (sigkill) blocks.push(line(text('killed by SIGKILL with no stop asked for: the kernel OOM killer does this')));
    blocks.push(line(text('image '), value(details?.image || ev.image || '?')));
    if ((kind === 'oom' || sigkill) && details && details.memoryLimit > 0)
      blocks.push(line(text('memory limit '), value(`${Math.round(details.memoryLimit / 1048576)} MiB`)));
    const probe = details?.health?.log.at(-1);
    if (kind === 'unhealthy' && probe)
      blocks.push(
        line(
          text('last check: exit '),
          value(probe.exitCode),
          text(' · '),
          value(truncate(opts.redactor.redact(probe.output.trim()), 300)),
        ),
      );
    if (lines === undefined) blocks.push(line(text('(logs unavailable)')));
    else if (lines.length === 0) blocks.push(line(text('(no log lines)')));
    else blocks.push(line(text(`last ${lines.length} log lines:`)), pre(lines.join('\n')));
    sink.raise({
      source: 'docker',
      key: `docker:${ev.id}:${kind}`,
      result: result(blocks, {
        buttons: [
          [
            { label: '📄 Logs', action: 'docker.logs', params: { container: name } },
            { label: '🔄 Restart', action: 'docker.restart', params: { container: name } },
          ],
        ],
      }),
    });
  }

  async function details(id: string): Promise<ContainerDetails | undefined> {
    try {
      return await port.inspect(id, ac.signal);
    } catch {
      return undefined;
    }
  }

  async function handle(ev: DockerEvent): Promise<void> {
    prune();
    if (ev.action === 'kill') {
      if (ev.signal === undefined || STOPPING.has(ev.signal.toUpperCase())) killedAt.set(ev.id, clock());
      return;
    }
    if (ev.action === 'oom') {
      if (recent(oomAt, ev.id)) return;
      oomAt.set(ev.id, clock());
      await raise('oom', ev, await details(ev.id));
      return;
    }
    if (ev.action === 'health_status: unhealthy') {
      await raise('unhealthy', ev, await details(ev.id));
      return;
    }
    if (ev.action !== 'die') return;
    const expected = stops.consume(ev.id);
    const killed = recent(killedAt, ev.id);
    killedAt.delete(ev.id);
    if (ev.exitCode === undefined || ev.exitCode === 0 || recent(oomAt, ev.id)) return;
    const d = await details(ev.id);
    if (d?.state.oomKilled) {
      oomAt.set(ev.id, clock());
      await raise('oom', ev, d);
      return;
    }
    if (expected || killed) {
      log.debug({ container: ev.id, exitCode: ev.exitCode }, 'docker: deliberate stop, no alert');
      return;
    }
    await raise('die', ev, d);
  }

  /** True the first time an event is seen; replays after a reconnect are dropped. */
  function fresh(ev: DockerEvent): boolean {
    const sig = `${ev.timeNano}:${ev.id}:${ev.action}`;
    if (ev.time < seenSecond) return false;
    if (ev.time > seenSecond) {
      seen = new Set();
      seenSecond = ev.time;
    }
    if (seen.has(sig)) return false;
    seen.add(sig);
    return true;
  }

  async function loop(): Promise<void> {
    let delay = initialMs;
    while (!ac.signal.aborted) {
      try {
        const startedAt = Math.floor(clock() / 1000);
        const stream = await port.events({ actions: ACTIONS, ...(since !== undefined ? { since } : {}) }, ac.signal);
        since ??= startedAt;
        state = 'up';
        delay = initialMs;
        log.info({ host: port.host }, 'docker events: subscribed');
        for await (const ev of stream) {
          if (!fresh(ev)) continue;
          since = ev.time;
          const at = { second: seenSecond, seen: [...seen] };
          queue = queue
            .then(() => handle(ev))
            // Saved once handled: a watcher that dies before that leaves the event to the next one.
            .then(() => opts.cursor?.save(at.second, at.seen))
            .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'docker events: handling failed'));
        }
        if (!ac.signal.aborted) log.warn({ host: port.host }, 'docker events: stream ended');
      } catch (e) {
        if (!ac.signal.aborted)
          log.warn({ host: port.host, err: (e as Error).message, retryInMs: delay }, 'docker events: not connected');
      }
      state = 'down';
      if (ac.signal.aborted) break;
      await sleep(delay, ac.signal);
      delay = Math.min(delay * 2, maxMs);
    }
  }

  const running = loop();
  return {
    state: () => state,
    async stop() {
      ac.abort();
      await running;
      await queue;
    },
  };
}
