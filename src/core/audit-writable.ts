import type { AlertSink } from './alerts.js';
import type { AuditEntryInput } from './audit.js';
import { unwritableDir } from './dirs.js';
import type { Health } from './health.js';
import type { Logger } from './log.js';
import { bold, line, text, value } from './result.js';

/** How often the state directory is tried while the audit log cannot be written. */
export const PROBE_EVERY_MS = 5_000;

/** What `watch` needs to resume: make the state writable again (reopen it), and write an entry. */
export interface Resume {
  reopen(): void;
  append(entry: AuditEntryInput): unknown;
}

/**
 * Whether the audit log can be written (a full disk, a read-only state directory). While it
 * cannot, nothing that must be audited first may run: the dispatcher refuses mutating
 * actions, reads keep answering, /health says degraded, and one alert goes out. The next
 * audit entry written ends it, with one alert: a person's, or the probe's (`watch`) once the
 * state directory takes a write again.
 */
export class AuditWritable {
  private failure: string | undefined;
  private since: Date | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      readonly log: Logger;
      readonly alerts?: AlertSink;
      /** The state directory: a failure there is named as the filesystem says it (read-only). */
      readonly dir?: string;
      /** Why it could not be written at start; alerted by `watch`. */
      readonly failing?: string;
    },
  ) {
    this.failure = o.failing;
    if (o.failing !== undefined) this.since = new Date();
  }

  /**
   * Alerts a failure known at start, then, while failing, tries the state directory every
   * `everyMs`; once it takes a write, `resume` reopens the state and writes an entry saying
   * since when nothing could be written, which ends the failure when it succeeds.
   */
  watch(resume: Resume, everyMs = PROBE_EVERY_MS): void {
    if (this.o.failing !== undefined) this.alert(this.o.failing);
    this.timer = setInterval(() => this.probe(resume), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private probe(resume: Resume): void {
    if (this.failure === undefined || (this.o.dir !== undefined && unwritableDir(this.o.dir) !== undefined)) return;
    const detail = `could not be written since ${this.since?.toISOString() ?? '?'} (${this.failure})`;
    this.attempt(() => {
      resume.reopen();
      resume.append({
        operator: 'teleops',
        chat: null,
        origin: 'system',
        action: 'audit.writable',
        target: '',
        params: {},
        outcome: 'info',
        detail: `${detail}; nothing that needs an entry ran meanwhile`,
      });
    });
  }

  /** Runs one audit append; false when it failed (remembered until an append succeeds, which ends it). */
  attempt(append: () => void): boolean {
    if (!this.run(append)) return false;
    if (this.failure !== undefined) {
      this.o.log.info('the audit log is writable again');
      this.failure = undefined;
      this.o.alerts?.raise({
        source: 'audit',
        alarm: true,
        key: 'audit:writable',
        result: {
          blocks: [
            line(text('✅ '), bold('The audit log can be written again: '), text('mutating actions run again.')),
          ],
        },
      });
    }
    return true;
  }

  /**
   * Runs a write to the state that is no audit entry (an approval's decision): false when it
   * failed, remembered as by `attempt`. Its success ends nothing: the store may take a write that
   * the audit log cannot (a copy in memory, an anchor file elsewhere).
   */
  write(change: () => void): boolean {
    return this.run(change);
  }

  private run(write: () => void): boolean {
    try {
      write();
    } catch (e) {
      const said = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      const dir = this.o.dir === undefined ? undefined : unwritableDir(this.o.dir);
      const why = dir === undefined || said.includes(dir) ? said : `${said}: ${dir}`;
      if (this.failure === undefined) {
        this.alert(why);
        this.since = new Date();
      }
      this.failure = why;
      return false;
    }
    return true;
  }

  private alert(why: string): void {
    this.o.log.error({ err: why }, 'the audit log cannot be written: mutating actions are refused');
    this.o.alerts?.raise({
      source: 'audit',
      alarm: true,
      key: 'audit:unwritable',
      result: {
        blocks: [
          line(text('🛑 '), bold('The audit log cannot be written: '), value(why)),
          line(
            text(
              'Mutating actions are refused until it can; reads still answer. Free space in the state ' +
                'directory (STATE_DIR) or make it writable again.',
            ),
          ),
        ],
      },
    });
  }

  /** Why the last write failed, while no audit entry has been written since. */
  get failing(): string | undefined {
    return this.failure;
  }

  /** The refusal a person gets for an action that cannot be audited. */
  refusal(action: string): string {
    return (
      `${action} was not run: the audit log cannot be written (${this.failure ?? 'unknown error'}), and nothing ` +
      `runs unaudited. Reads still work.`
    );
  }

  /** The answer to an Approve or Deny that could not be recorded: nothing changed. */
  undecided(action: string): string {
    return (
      `Not decided: the audit log cannot be written (${this.failure ?? 'unknown error'}). ${action} did not run; ` +
      `the approval stays open, to be decided once it can.`
    );
  }

  /** /health's audit check while writes fail; undefined while they succeed. */
  health(): Health | undefined {
    if (this.failure === undefined) return undefined;
    return {
      state: 'down',
      detail: `cannot write: ${this.failure}; mutating actions are refused`,
      stillWorks: true,
    };
  }
}
