import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from '../../core/action.js';
import { FOLLOW_LINES, followFor, Follows, parseFollowArgs } from '../../core/follow.js';
import type { Redactor } from '../../core/redact.js';
import { bold, text, value } from '../../core/result.js';
import { containerSpans } from './format.js';
import { cleanLines } from './logs.js';
import type { DockerPort } from './port.js';
import { CONTAINER_REF, findContainer } from './resolve.js';

/** `/docker logs -f <container> [for <duration>]`: the log as it grows, in one live card. */
export function logsFollowAction(deps: {
  port: DockerPort;
  redactor: Redactor;
  follows: Follows;
  /** The host's name, when there are several: the live card names it in every version. */
  host?: string;
}): AnyAction {
  const { port, redactor, follows, host } = deps;
  return defineAction({
    name: 'docker.logs-follow',
    summary: 'Follow a container log live in one card (5 minutes unless "for <duration>"; a Stop button)',
    target: 'docker',
    risk: 'read',
    params: z.object({
      container: z.string().regex(CONTAINER_REF, { error: 'a name, an id prefix or compose project/service' }),
      for: followFor.optional(),
    }),
    command: {
      path: ['docker', 'logs', '-f'],
      usage: '<container> [for <duration>]',
      aliases: [['docker', 'logs', '--follow']],
      parse: (tokens) => parseFollowArgs('container', tokens),
    },
    // A card for a phone: the LLM reads logs with docker.logs.
    llm: false,
    timeoutMs: 30_000,
    subject: (p) => `container ${p.container}`,
    async run(ctx, p) {
      const c = await findContainer(port, p.container, ctx.signal);
      if (!c.state.running) {
        throw new ActionError(
          `container ${c.name} is not running (${c.state.status}); /docker logs shows its last lines`,
        );
      }
      return follows.start({
        heading: [
          text('📄 '),
          bold('Logs of '),
          ...containerSpans(c.name, c.id),
          ...(host ? [text(' on host '), value(host)] : []),
        ],
        title: `📄 ${c.name}${host ? `@${host}` : ''}`,
        durationMs: Follows.duration(p.for),
        by: ctx.operator.display,
        source: async (feed, signal) => {
          const frames = await port.logs(c.id, { tail: FOLLOW_LINES, follow: true }, signal);
          for await (const l of cleanLines(frames, redactor)) feed.append([l]);
          // The Engine ends a followed log when the container stops.
          const after = await port.inspect(c.id, signal);
          return after.state.running
            ? 'the Engine ended the log stream'
            : `container exited with code ${after.state.exitCode}`;
        },
      });
    },
  });
}
