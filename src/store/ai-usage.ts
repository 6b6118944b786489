import type { Db } from './db.js';

/** The UTC day a time falls on, as the budget counts days. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** LLM tokens per operator per UTC day, so a restart does not reset anyone's budget. */
export class AiUsageRepo {
  private readonly q;

  constructor(db: Db) {
    this.q = {
      add: db.prepare(
        'INSERT INTO ai_usage (operator, day, input, output) VALUES (?, ?, ?, ?) ON CONFLICT (operator, day) DO ' +
          'UPDATE SET input = ai_usage.input + excluded.input, output = ai_usage.output + excluded.output',
      ),
      get: db.prepare('SELECT input, output FROM ai_usage WHERE operator = ? AND day = ?'),
      prune: db.prepare('DELETE FROM ai_usage WHERE day < ?'),
    };
  }

  add(operator: string, day: string, input: number, output: number): void {
    this.q.add.run(operator, day, input, output);
  }

  /** Input plus output tokens used on that day. */
  total(operator: string, day: string): number {
    const row = this.q.get.get(operator, day) as { input: number; output: number } | undefined;
    return row ? row.input + row.output : 0;
  }

  /** Drops the days before `day`. */
  prune(day: string): void {
    this.q.prune.run(day);
  }
}
