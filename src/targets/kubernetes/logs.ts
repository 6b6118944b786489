/** /k8s logs: a pod's container log, bounded; short ones inline, long ones streamed as a file. */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from '../../core/action.js';
import { readBody } from '../../core/body.js';
import { UsageError } from '../../core/commands.js';
import { bold, line, pre, result, text, value } from '../../core/result.js';
import { parseDuration, stripAnsi } from '../../core/text.js';
import {
  flags,
  labelNameSchema,
  objectNameSchema,
  scopeOf,
  scopeParams,
  scopeShape,
  TARGET,
  type KubeActionDeps,
} from './common.js';

/** Up to this many lines are shown in the chat; more go as a document. */
const INLINE_LINES = 200;
const MAX_LINES = 10_000;
const INLINE_BYTES = 256 * 1024;
const FILE_BYTES = 10 * 1024 * 1024;
const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

/** `<pod> [container] [lines] [--previous] [since]`: numbers are lines, durations are since. */
export function parseLogArgs(tokens: readonly string[]): Record<string, unknown> {
  const a = flags(tokens, { switches: { '--previous': 'previous', '-p': 'previous' } });
  const [pod, ...rest] = a.positionals;
  if (pod === undefined) throw new UsageError('which pod? /k8s pods lists them');
  const out: Record<string, unknown> = { ...scopeParams(a), pod };
  for (const t of rest) {
    const slot = /^\d+$/.test(t) ? 'lines' : parseDuration(t) !== undefined ? 'since' : 'container';
    if (out[slot] !== undefined) throw new UsageError(`unexpected argument "${t.slice(0, 40)}"`);
    out[slot] = slot === 'lines' ? Number(t) : t;
  }
  if (a.switches.has('previous')) out.previous = true;
  return out;
}

/** The container kubectl would pick: the default-container annotation, else the first. */
function pickContainer(pod: V1Pod, wanted: string | undefined): string {
  const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
  const where = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  if (wanted !== undefined) {
    if (!names.includes(wanted))
      throw new ActionError(`${where} has no container ${wanted}; containers: ${names.join(', ')}`);
    return wanted;
  }
  const annotated = pod.metadata?.annotations?.[DEFAULT_CONTAINER];
  const first = pod.spec?.containers?.[0]?.name;
  const pick = annotated && names.includes(annotated) ? annotated : first;
  if (!pick) throw new ActionError(`${where} has no containers`);
  return pick;
}

/** Terminal escapes removed, in ~64 KiB pieces, never the whole log in memory. */
async function* cleaned(stream: Readable): AsyncGenerator<string> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let buf = '';
  for await (const l of lines) {
    buf += `${stripAnsi(l)}\n`;
    if (buf.length >= 64 * 1024) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

export function logsAction(deps: KubeActionDeps): AnyAction {
  return defineAction({
    name: 'k8s.logs',
    summary: `A pod's log: last N lines (default 100; over ${INLINE_LINES} as a file), of a container, since a duration, or of the previous (crashed) container`,
    target: TARGET,
    risk: 'read',
    timeoutMs: 60_000,
    params: z
      .object({
        ...scopeShape,
        pod: objectNameSchema.describe('pod name'),
        container: labelNameSchema.optional().describe('container; default: the pod’s default container'),
        lines: z.number().int().min(1).max(MAX_LINES).default(100).describe('how many of the last lines'),
        previous: z.boolean().default(false).describe('the log of the previous, terminated container (after a crash)'),
        since: z
          .string()
          .max(16)
          .refine((s) => (parseDuration(s) ?? 0) > 0, 'a duration like 30s, 5m, 2h')
          .optional()
          .describe('only lines newer than this, e.g. 10m'),
      })
      .strict(),
    command: {
      path: ['k8s', 'logs'],
      usage: '<pod> [container] [lines] [--previous] [since] [-c context] [-n namespace]',
      parse: parseLogArgs,
    },
    run: async (ctx, p) => {
      const s = scopeOf(deps, ctx, p);
      const pod = await s.port.read('pod', s.namespace, p.pod, { signal: ctx.signal });
      const container = pickContainer(pod, p.container);
      const asFile = p.lines > INLINE_LINES;
      const sinceSeconds = p.since === undefined ? undefined : Math.ceil(parseDuration(p.since)! / 1000);
      const stream = await s.port.logs(s.namespace, p.pod, {
        container,
        tailLines: p.lines,
        previous: p.previous,
        limitBytes: asFile ? FILE_BYTES : INLINE_BYTES,
        signal: ctx.signal,
        ...(sinceSeconds !== undefined ? { sinceSeconds } : {}),
      });
      const head = line(
        bold('Logs'),
        text(' of pod '),
        value(`${s.namespace}/${p.pod}`),
        text(', container '),
        value(container),
        text(' @ '),
        value(s.context),
        text(
          ` — last ${p.lines} lines${p.since ? `, since ${p.since}` : ''}${p.previous ? ', previous container' : ''}`,
        ),
      );
      if (asFile) {
        return result([head, line('Sent as a file.')], {
          attachment: { filename: `${p.pod}.${container}.log`, content: cleaned(stream) },
        });
      }
      // Whole: the port has bounded the stream to limitBytes already.
      const body = stripAnsi((await readBody(stream)).bytes.toString('utf8')).replace(/\n+$/, '');
      return result([head, body === '' ? line('No log lines.') : pre(body)]);
    },
  });
}
