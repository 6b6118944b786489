/**
 * What a long run is doing, told to the person who asked while it runs ("waiting up to 10 s
 * for web to stop"): actions call `ctx.progress(text)`; each transport shows the notes of
 * its own people where it can (a "⏳ …" message, a printed line) and clears them at the end.
 */
import type { Operator } from './action.js';

export interface ProgressNote {
  /** One run; all its notes and its end share it. */
  readonly run: number;
  readonly operator: Operator;
  readonly action: string;
  /** Redacted; undefined once the run has ended (after at least one note). */
  readonly text?: string;
}

export class ProgressBus {
  private readonly listeners = new Set<(n: ProgressNote) => void>();
  private runs = 0;

  on(listener: (n: ProgressNote) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A run's reporter: `say` for the action's context, `end` when it has finished. */
  reporter(operator: Operator, action: string, redact: (s: string) => string): { say(t: string): void; end(): void } {
    const run = ++this.runs;
    let said = false;
    const emit = (n: ProgressNote): void => {
      for (const l of this.listeners) l(n);
    };
    return {
      say: (t) => {
        said = true;
        emit({ run, operator, action, text: redact(t) });
      },
      end: () => {
        if (said) emit({ run, operator, action });
      },
    };
  }
}
