import { line, text, value, type Block, type Button, type Span } from '../../core/result.js';
import { formatDuration } from '../../core/text.js';
import type { ContainerDetails } from './port.js';
import { shortId } from './summary.js';

/** Engine timestamps; the zero time ("0001-01-01…") means "never". */
export function parseEngineTime(iso: string): number | undefined {
  const t = Date.parse(iso);
  return Number.isFinite(t) && t > 0 ? t : undefined;
}

/** "api (3f2a1b4c5d6e)" as spans: both parts come from the Engine. */
export function containerSpans(name: string, id: string): Span[] {
  return [value(name), text(' ('), value(shortId(id)), text(')')];
}

export function stateEmoji(state: string, health?: string): string {
  if (state === 'running') return health === 'unhealthy' ? '🟠' : '🟢';
  if (state === 'paused') return '⏸';
  if (state === 'restarting') return '🔁';
  if (state === 'created') return '⚪';
  return '🔴';
}

/**
 * The container's state in a few words: "running · up 2h 05m · healthy · 1 restart",
 * "exited (1) 5m ago · OOM-killed".
 */
function stateSpans(d: ContainerDetails, now: number): Span[] {
  const s = d.state;
  const out: Span[] = [value(s.status)];
  const started = parseEngineTime(s.startedAt);
  const finished = parseEngineTime(s.finishedAt);
  if (s.running && started !== undefined) out.push(text(' · up '), value(formatDuration(now - started)));
  if (!s.running && s.status !== 'created') {
    out.push(text(' · exit code '), value(s.exitCode));
    if (finished !== undefined) out.push(text(' · '), value(formatDuration(now - finished)), text(' ago'));
  }
  if (s.oomKilled) out.push(text(' · OOM-killed'));
  if (d.health && s.running) out.push(text(' · '), value(d.health.status));
  if (d.restartCount > 0) out.push(text(' · restarts '), value(d.restartCount));
  if (s.error) out.push(text(' · error '), value(s.error));
  return out;
}

/** "🟢 api (3f2a1b4c5d6e): running · up 3s" */
export function stateLine(d: ContainerDetails, now: number): Block {
  return line(
    text(`${stateEmoji(d.state.status, d.health?.status)} `),
    ...containerSpans(d.name, d.id),
    text(': '),
    ...stateSpans(d, now),
  );
}

/** One row per container, for lists and alerts: Logs · Restart · Stop or Start. */
export function containerButtons(container: string, running: boolean, opts: { logsLabel?: string } = {}): Button[] {
  return [
    { label: opts.logsLabel ?? '📄 Logs', action: 'docker.logs', params: { container } },
    { label: '🔄 Restart', action: 'docker.restart', params: { container } },
    running
      ? { label: '⏹ Stop', action: 'docker.stop', params: { container } }
      : { label: '▶️ Start', action: 'docker.start', params: { container } },
  ];
}

/** Fixed-width columns for a `pre` block; the last column is left ragged. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
