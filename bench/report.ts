/** One figure of a benchmark: a name, a value, its unit, and how to read it. */
export type Report = (name: string, value: number, unit: string, note?: string) => void;

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sortNumbers = (xs: number[]): number[] => xs.sort((a, b) => a - b);

/** "goal ≤ 1.5", "goal ≥ 300": the bound a note states for its figure, in the figure's unit. */
const GOAL = /\bgoal (≤|≥) ?(\d+(?:\.\d+)?)/;

/** ✓ or ✗ for a figure whose note states a goal; empty when it states none. */
export function goalMark(value: number, note: string | undefined): string {
  const g = note === undefined ? null : GOAL.exec(note);
  if (!g) return '';
  const bound = Number(g[2]);
  return (g[1] === '≤' ? value <= bound : value >= bound) ? '✓' : '✗ MISSED';
}

export function printReport(): Report {
  return (name, value, unit, note) => {
    const v = Number.isInteger(value) ? String(value) : value >= 100 ? value.toFixed(0) : value.toFixed(3);
    const mark = goalMark(value, note);
    process.stdout.write(
      `${name.padEnd(58)} ${v.padStart(12)} ${unit.padEnd(10)} ${mark ? `${mark} ` : ''}${note ?? ''}\n`,
    );
  };
}
