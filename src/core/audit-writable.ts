import type { AlertSink } from './alerts.js';
import { unwritableDir } from './dirs.js';
import type { Health } from './health.js';
import type { Logger } from './log.js';
import { bold, line, text, value } from './result.js';

/**
 * Whether the audit log can be written (a full disk, a read-only state directory). While it
 * cannot, nothing that must be audited first may run: the dispatcher refuses mutating
 * actions, reads keep answering, /health says degraded, and one alert goes out. The next
 * write that succeeds (space is back) ends it.
 */
export class AuditWritable {
  private failure: string | undefined;

  constructor(
    private readonly o: {
      readonly log: Logger;
      readonly alerts?: AlertSink;
      /** The state directory: a failure there is named as the filesystem says it (read-only). */
      readonly dir?: string;
    },
  ) {}

  /** Runs one append; false when it failed (the failure is remembered until a write succeeds). */
  attempt(append: () => void): boolean {
    try {
      append();
    } catch (e) {
      const said = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
      const dir = this.o.dir === undefined ? undefined : unwritableDir(this.o.dir);
      const why = dir === undefined ? said : `${said}: ${dir}`;
      if (this.failure === undefined) {
        this.o.log.error({ err: why }, 'the audit log cannot be written: mutating actions are refused');
        this.o.alerts?.raise({
          source: 'audit',
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
      this.failure = why;
      return false;
    }
    if (this.failure !== undefined) {
      this.o.log.info('the audit log is writable again');
      this.failure = undefined;
    }
    return true;
  }

  /** Why the last write failed, while no write has succeeded since. */
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
