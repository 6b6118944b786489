/**
 * Polls watched panes and tells listeners what changed. One tick costs one `list-panes -a`
 * for the whole server, plus one `capture-pane` client for all panes whose history size,
 * cursor, activity time or liveness moved since the last look; quiet panes cost nothing more.
 *
 * It knows nothing of Telegram: it emits typed events, decides which state changes are worth
 * an alert (with a per-state cooldown), and persists the watched set through a small store.
 */
import { ActionError } from '../../core/action.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { stripAnsi } from '../../core/text.js';
import {
  ALERTABLE_STATES,
  classify,
  cursorAfterText,
  lastText,
  type ClassifySettings,
  type Classification,
  type TmuxState,
} from './classify.js';
import type { PaneInfo, TmuxPort } from './port.js';
import { displayTarget, parseTarget, type TmuxTarget } from './target.js';

/** What survives a restart. */
export interface WatchedRecord {
  /** `session`, `session:window` or `session:window.pane`; the key. */
  readonly target: string;
  /** ms since epoch. */
  readonly since: number;
  /** The chat that asked, so the transport knows where the card lives. */
  readonly chatId?: number;
  /** The last state seen, so a change while teleops was down still raises its alert. */
  readonly state?: TmuxState;
}

/** Persistence of the watched set (SQLite in the app, memory in tests). */
export interface WatchStore {
  load(): WatchedRecord[];
  save(record: WatchedRecord): void;
  remove(target: string): void;
}

export class MemoryWatchStore implements WatchStore {
  private readonly records = new Map<string, WatchedRecord>();
  load(): WatchedRecord[] {
    return [...this.records.values()];
  }
  save(record: WatchedRecord): void {
    this.records.set(record.target, record);
  }
  remove(target: string): void {
    this.records.delete(target);
  }
}

/** Everything a card needs about one watched pane. */
export interface WatchEntry {
  readonly target: string;
  readonly session: string;
  readonly alias?: string;
  readonly state: TmuxState;
  readonly reason: string;
  /** The pane line that decided the state (untrusted). */
  readonly line?: string;
  /** ms since epoch. */
  readonly stateSince: number;
  readonly lastChange: number;
  /** The foreground process name. */
  readonly command: string;
  /** What the pane was started with; empty for an interactive shell. */
  readonly startCommand: string;
  readonly exitStatus?: number;
  /** The last lines of the pane, ANSI-free, oldest first (untrusted). */
  readonly lines: readonly string[];
  readonly chatId?: number;
  readonly watchedSince: number;
}

export type TmuxEvent =
  /** watch() was called: a new watch, or (renewed) a refresh of an existing one. */
  | { readonly kind: 'watched'; readonly entry: WatchEntry; readonly renewed: boolean }
  | {
      readonly kind: 'state_changed';
      readonly entry: WatchEntry;
      readonly from: TmuxState;
      readonly to: TmuxState;
      /** Raise an alert: an alertable state, entered from another one, outside its cooldown. */
      readonly alertable: boolean;
    }
  /** New output with the state unchanged. */
  | { readonly kind: 'output_changed'; readonly entry: WatchEntry }
  | { readonly kind: 'unwatched'; readonly target: string; readonly reason: 'asked' | 'gone' };

export type TmuxListener = (event: TmuxEvent) => void;

export interface WatcherOptions {
  readonly port: TmuxPort;
  readonly store: WatchStore;
  readonly pollMs: number;
  /** Lines captured and kept per pane. */
  readonly cardLines: number;
  readonly alertCooldownMs: number;
  readonly classify: ClassifySettings;
  readonly now?: () => number;
  readonly logger?: Logger;
  /** Upper bound on watched panes (default 200). */
  readonly maxWatched?: number;
}

interface Tracked {
  record: WatchedRecord;
  readonly target: TmuxTarget;
  /** Pane id, history size, cursor, activity and liveness at the last capture. */
  signature?: string;
  captureAt: number;
  lines: string[];
  lastChange: number;
  result?: Classification;
  stateSince: number;
  pane?: PaneInfo;
  readonly lastAlert: Map<TmuxState, number>;
}

/** At most this often the server is asked to collect exit statuses it missed. */
const NUDGE_EVERY_MS = 1000;

const sameLines = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((l, i) => l === b[i]);

/** The pane a target means: given window/pane, else the active ones, as tmux itself picks. */
export function pickPane(panes: readonly PaneInfo[], t: TmuxTarget): PaneInfo | undefined {
  return panes.find(
    (p) =>
      (p.session === t.session || p.sessionId === t.session) &&
      (t.window === undefined
        ? p.windowActive
        : /^\d+$/.test(t.window)
          ? p.windowIndex === Number(t.window)
          : p.windowName === t.window) &&
      (t.pane === undefined ? p.paneActive : p.paneIndex === t.pane),
  );
}

export class TmuxWatcher {
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners = new Set<TmuxListener>();
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private unreaped = new Set<string>();
  private nudgedAt = -Infinity;
  /** Ticks and watch() calls take turns, so a pane is never observed twice at once. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: WatcherOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.logger ?? silentLogger();
    for (const record of opts.store.load()) {
      try {
        this.track(record, parseTarget(record.target));
      } catch {
        this.log.warn({ target: record.target }, 'dropping an unreadable watched target');
        opts.store.remove(record.target);
      }
    }
  }

  on(listener: TmuxListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts polling every `pollMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = async (): Promise<void> => {
      const started = this.now();
      try {
        await this.tick();
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'tmux watcher: tick failed');
      }
      if (!this.running) return;
      this.timer = setTimeout(() => void loop(), Math.max(0, this.opts.pollMs - (this.now() - started)));
      this.timer.unref();
    };
    this.timer = setTimeout(() => void loop(), 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.queue;
  }

  isWatched(target: TmuxTarget): boolean {
    return this.tracked.has(displayTarget(target));
  }

  /**
   * Watches a pane (its session must exist; aliases already resolved) and looks at it at
   * once. Watching again refreshes. The first look never alerts: the operator is looking.
   */
  watch(target: TmuxTarget, opts: { chatId?: number } = {}): Promise<WatchEntry> {
    return this.serial(async () => {
      const key = displayTarget(target);
      const existing = this.tracked.get(key);
      const panes = await this.opts.port.listPanes();
      const pane = pickPane(panes, target);
      if (!pane) throw new ActionError(`no pane ${key}`);
      let t = existing;
      if (!t) {
        if (this.tracked.size >= (this.opts.maxWatched ?? 200)) {
          throw new ActionError(`already watching ${this.tracked.size} panes; unwatch some first`);
        }
        t = this.track({ target: key, since: this.now(), chatId: opts.chatId }, target);
      } else if (opts.chatId !== undefined && opts.chatId !== t.record.chatId) {
        t.record = { ...t.record, chatId: opts.chatId };
      }
      this.opts.store.save(t.record);
      await this.observe([t], panes, true);
      const entry = this.entry(t);
      this.emit({ kind: 'watched', entry, renewed: existing !== undefined });
      return entry;
    });
  }

  /**
   * Looks at a watched pane now, as the next poll would, and changes nothing else (unlike
   * `watch`, it never starts watching nor moves the card to another chat). Undefined when
   * the pane is not watched, or is gone.
   */
  refresh(target: TmuxTarget): Promise<WatchEntry | undefined> {
    return this.serial(async () => {
      const t = this.tracked.get(displayTarget(target));
      if (!t) return undefined;
      await this.observe([t], await this.opts.port.listPanes(), true);
      return this.tracked.has(t.record.target) ? this.entry(t) : undefined;
    });
  }

  /** Stops watching; false when it was not watched. */
  unwatch(target: TmuxTarget): boolean {
    const key = displayTarget(target);
    if (!this.tracked.delete(key)) return false;
    this.opts.store.remove(key);
    this.emit({ kind: 'unwatched', target: key, reason: 'asked' });
    return true;
  }

  /** Every watched pane whose state is known, for an index card. */
  snapshot(): WatchEntry[] {
    return [...this.tracked.values()].filter((t) => t.result).map((t) => this.entry(t));
  }

  /** One poll of every watched pane. Public so tests and benchmarks can drive it. */
  tick(): Promise<void> {
    return this.serial(async () => {
      if (this.tracked.size === 0) return;
      let panes: PaneInfo[];
      try {
        panes = await this.opts.port.listPanes();
      } catch (e) {
        // A slow or failing server is not a reason to declare sessions gone.
        this.log.warn({ err: (e as Error).message }, 'tmux watcher: listing panes failed');
        return;
      }
      await this.observe([...this.tracked.values()], panes, false);
      await this.collectMissedExits(panes);
    });
  }

  /** Watched panes dead for a whole tick with no exit status yet: see collectExitStatuses. */
  private async collectMissedExits(panes: readonly PaneInfo[]): Promise<void> {
    const watched = new Set([...this.tracked.values()].map((t) => t.pane?.id));
    const pending = new Set(
      panes
        .filter((p) => watched.has(p.id) && p.dead && p.deadStatus === undefined && p.deadSignal === undefined)
        .map((p) => p.id),
    );
    const stale = [...pending].some((id) => this.unreaped.has(id));
    this.unreaped = pending;
    const now = this.now();
    if (!stale || now - this.nudgedAt < NUDGE_EVERY_MS) return;
    this.nudgedAt = now;
    try {
      await this.opts.port.collectExitStatuses();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'tmux watcher: collecting exit statuses failed');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private track(record: WatchedRecord, target: TmuxTarget): Tracked {
    const t: Tracked = {
      record,
      target,
      captureAt: 0,
      lines: [],
      lastChange: this.now(),
      stateSince: this.now(),
      lastAlert: new Map(),
    };
    this.tracked.set(record.target, t);
    return t;
  }

  private async observe(list: readonly Tracked[], panes: readonly PaneInfo[], force: boolean): Promise<void> {
    const now = this.now();
    const found = new Map<Tracked, PaneInfo>();
    const toCapture = new Set<Tracked>();
    for (const t of list) {
      const pane = pickPane(panes, t.target);
      if (!pane) continue;
      found.set(t, pane);
      const signature = `${pane.id} ${pane.historySize} ${pane.cursorX},${pane.cursorY} ${pane.activityAt} ${pane.dead}`;
      // tmux keeps activity in whole seconds: output later in the second of the last capture
      // would not move it, so such panes are looked at once more.
      const recent = pane.activityAt >= Math.floor(t.captureAt / 1000) * 1000;
      if (force || t.signature !== signature || recent || t.pane?.id !== pane.id) {
        t.signature = signature;
        toCapture.add(t);
      }
    }
    let captured = new Map<string, string[]>();
    if (toCapture.size > 0) {
      try {
        captured = await this.opts.port.captureMany(
          [...toCapture].map((t) => found.get(t)!.id),
          this.opts.cardLines,
        );
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'tmux watcher: capture failed');
      }
    }
    for (const t of list) {
      const pane = found.get(t);
      if (!pane) {
        this.settle(t, { state: 'gone', reason: 'session is gone' }, false, now);
        this.tracked.delete(t.record.target);
        this.opts.store.remove(t.record.target);
        this.emit({ kind: 'unwatched', target: t.record.target, reason: 'gone' });
        continue;
      }
      const raw = captured.get(pane.id);
      let changed = false;
      if (raw) {
        const lines = raw.map(stripAnsi);
        const first = t.result === undefined && t.captureAt === 0;
        // On a first look only tmux's activity clock (whole seconds) says whether it moves.
        changed = first ? now - pane.activityAt < 2 * this.opts.pollMs + 1000 : !sameLines(lines, t.lines);
        if (first) t.lastChange = Math.min(now, pane.activityAt || now);
        if (changed) t.lastChange = now;
        t.lines = lines;
        t.captureAt = now;
      } else if (toCapture.has(t)) {
        t.signature = undefined;
      }
      t.pane = pane;
      const result = classify(
        {
          exists: true,
          dead: pane.dead,
          exitStatus: pane.deadStatus,
          exitSignal: pane.deadSignal,
          lines: t.lines,
          changed,
          msSinceChange: now - t.lastChange,
          command: pane.command,
          startedWithCommand: pane.startCommand !== '',
          cursorAtLineEnd: cursorAfterText(lastText(t.lines), pane.cursorX, pane.width),
        },
        this.opts.classify,
      );
      this.settle(t, result, changed, now);
    }
  }

  /** Records a classification and emits what it means. */
  private settle(t: Tracked, result: Classification, changed: boolean, now: number): void {
    const from = t.result?.state ?? t.record.state;
    t.result = result;
    if (from === undefined) {
      // The first look at a newly watched pane: the `watched` event that follows reports it.
      t.stateSince = now;
      t.record = { ...t.record, state: result.state };
      this.opts.store.save(t.record);
      return;
    }
    if (from === result.state) {
      if (changed) this.emit({ kind: 'output_changed', entry: this.entry(t) });
      return;
    }
    t.stateSince = now;
    const last = t.lastAlert.get(result.state);
    const alertable =
      ALERTABLE_STATES.has(result.state) && (last === undefined || now - last >= this.opts.alertCooldownMs);
    if (alertable) t.lastAlert.set(result.state, now);
    t.record = { ...t.record, state: result.state };
    if (result.state !== 'gone') this.opts.store.save(t.record);
    this.emit({ kind: 'state_changed', entry: this.entry(t), from, to: result.state, alertable });
  }

  private entry(t: Tracked): WatchEntry {
    const r = t.result ?? { state: 'running' as const, reason: 'not looked at yet' };
    return {
      target: t.record.target,
      session: t.target.session,
      alias: t.pane?.alias,
      state: r.state,
      reason: r.reason,
      line: r.line,
      stateSince: t.stateSince,
      lastChange: t.lastChange,
      command: t.pane?.command ?? '',
      startCommand: t.pane?.startCommand ?? '',
      exitStatus: t.pane?.deadStatus,
      lines: t.lines,
      chatId: t.record.chatId,
      watchedSince: t.record.since,
    };
  }

  private emit(event: TmuxEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        this.log.error({ err: (e as Error).message, kind: event.kind }, 'tmux watcher listener failed');
      }
    }
  }
}
