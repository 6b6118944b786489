import { z } from 'zod';
import { defineAction, type AnyAction } from '../../core/action.js';
import type { Redactor } from '../../core/redact.js';
import { bold, line, pre, result, text, value, type Block } from '../../core/result.js';
import { counted, truncate } from '../../core/text.js';
import { parseSince } from './logs.js';
import type { DockerEvent, DockerPort } from './port.js';
import { shortId } from './summary.js';

/** The newest this many are shown; older ones are counted. */
export const EVENTS_SHOWN = 50;
const FIELD_MAX = 80;
/**
 * What a container went through, as an operator reads it; exec_* (every health check) and
 * attach/resize are noise here.
 */
export const LIFECYCLE = [
  'create',
  'start',
  'restart',
  'stop',
  'kill',
  'die',
  'oom',
  'pause',
  'unpause',
  'destroy',
  'rename',
  'update',
  'health_status',
] as const;

const sinceParam = z
  .string()
  .max(40)
  .refine((s) => parseSince(s, Date.now()) !== undefined, {
    error: 'a duration like 10m, 2h, 1d, or a date like 2025-01-31T12:00:00Z',
  });

/** `05-31 12:00:07  die  web (3f2a1b)  exit 3` in UTC. */
function eventRow(ev: DockerEvent, field: (s: string) => string): string {
  const at = new Date(ev.time * 1000).toISOString().slice(5, 19).replace('T', ' ');
  const extra = [
    ...(ev.exitCode !== undefined ? [`exit ${ev.exitCode}`] : []),
    ...(ev.signal !== undefined ? [`signal ${ev.signal}`] : []),
  ];
  return [at, field(ev.action), `${field(ev.name)} (${shortId(ev.id)})`, ...extra].join('  ');
}

/** `/docker events [since]`: the Engine's recent container events, newest last. */
export function eventsAction(deps: { port: DockerPort; redactor: Redactor; clock: () => number }): AnyAction {
  const { port, redactor, clock } = deps;
  const field = (s: string): string => truncate(redactor.redact(s), FIELD_MAX);
  return defineAction({
    name: 'docker.events',
    summary: `Recent container events (start, die, oom, health…) since a time, default 1h; the newest ${EVENTS_SHOWN}`,
    target: 'docker',
    risk: 'read',
    params: z.object({ since: sinceParam.default('1h') }),
    command: { path: ['docker', 'events'], usage: '[since]' },
    timeoutMs: 30_000,
    async run(ctx, p) {
      const now = clock();
      const since = parseSince(p.since, now)!;
      // Fractional: events of this very second are included.
      const until = now / 1000;
      const ring: DockerEvent[] = [];
      let total = 0;
      for await (const ev of await port.events({ since, until, actions: LIFECYCLE }, ctx.signal)) {
        total++;
        ring.push(ev);
        if (ring.length > EVENTS_SHOWN) ring.shift();
      }
      const head: Block = line(
        text('📜 '),
        bold('Docker events'),
        text(' since '),
        value(p.since),
        text(`: ${counted(total, 'event')}`),
        text(total > ring.length ? ` · the newest ${ring.length} shown` : ''),
        text(' · times in UTC'),
      );
      if (total === 0) return result([head, line(text('Nothing happened to any container in that time.'))]);
      return result([head, pre(ring.map((ev) => eventRow(ev, field)).join('\n'))]);
    },
  });
}
