import type { AuditEntryInput } from './audit.js';
import type { Metrics } from './metrics.js';
import { principalId, type Principal } from './policy.js';
import { truncate } from './text.js';

const WINDOW_MS = 10 * 60_000;
const AUDITED_PER_WINDOW = 20;

export interface StrangerLogDeps {
  readonly record: (e: AuditEntryInput) => void;
  readonly metrics: Metrics;
  readonly now: () => number;
}

/**
 * Strangers get no answer. They are counted, and audited in aggregate: the first update per
 * sender per window, up to a cap, then one summary line, so a flood cannot fill the disk.
 */
export class StrangerLog {
  private window = { start: 0, audited: new Set<string>(), suppressed: 0 };

  constructor(private readonly d: StrangerLogDeps) {}

  record(p: Principal, what: string): void {
    this.d.metrics.unauthorized.inc();
    const now = this.d.now();
    if (now - this.window.start > WINDOW_MS) {
      this.flush();
      this.window = { start: now, audited: new Set(), suppressed: 0 };
    }
    const who = principalId(p);
    const chat = p.chatKind === 'local' ? null : p.chatId;
    const key = `${who}@${chat}`;
    const w = this.window;
    if (w.audited.has(key) || w.audited.size >= AUDITED_PER_WINDOW) {
      w.suppressed++;
      return;
    }
    w.audited.add(key);
    const action = truncate(what, 64);
    this.d.record({ operator: who, chat, origin: 'command', action, target: '', params: {}, outcome: 'unauthorized' });
  }

  /** Writes the summary of what the window left out; the window goes on. */
  flush(): void {
    const w = this.window;
    if (w.suppressed === 0) return;
    const detail = `${w.suppressed} more unauthorized updates in this window`;
    const what = { action: 'unauthorized', target: '', params: {}, outcome: 'unauthorized' as const, detail };
    this.d.record({ operator: 'unknown', chat: null, origin: 'command', ...what });
    w.suppressed = 0;
  }
}
