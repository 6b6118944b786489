import { z } from 'zod';
import { defineAction, type AnyAction } from '../../core/action.js';
import { FOLLOW_LINES, followFor, Follows, parseFollowArgs } from '../../core/follow.js';
import { bold, text, value } from '../../core/result.js';
import { sleep } from '../../core/sleep.js';
import { foldBlankRuns, stripAnsi } from '../../core/text.js';
import { TmuxError, type TmuxPort } from './port.js';
import { displayTarget, type TmuxTarget } from './target.js';

/**
 * `/tmux tail -f <target> [for <duration>]`: the pane's last lines in one live card, looked at
 * every poll interval (tmux has no stream of a pane's screen; a redraw replaces the view).
 */
export function tailFollowAction(deps: {
  port: TmuxPort;
  follows: Follows;
  resolve: (ref: string) => Promise<TmuxTarget>;
  pollMs: number;
}): AnyAction {
  const { port, follows, resolve, pollMs } = deps;
  return defineAction({
    name: 'tmux.tail-follow',
    summary: 'Follow a terminal session live in one card (5 minutes unless "for <duration>"; a Stop button)',
    target: 'tmux',
    risk: 'read',
    params: z.object({
      target: z.string().min(1).max(140).describe('session, session:window or session:window.pane'),
      for: followFor.optional(),
    }),
    command: {
      path: ['tmux', 'tail', '-f'],
      usage: '<target> [for <duration>]',
      aliases: [['tmux', 'tail', '--follow']],
      parse: (tokens) => parseFollowArgs('target', tokens),
    },
    // A card for a phone: the LLM reads panes with tmux.tail.
    llm: false,
    subject: (p) => `tmux ${p.target}`,
    async run(ctx, p) {
      const t = await resolve(p.target);
      const shown = displayTarget(t);
      await port.capture(t, 1);
      return follows.start({
        heading: [text('📜 '), bold('Terminal '), value(shown)],
        title: `📜 ${shown}`,
        durationMs: Follows.duration(p.for),
        by: ctx.operator.display,
        source: async (feed, signal) => {
          while (!signal.aborted) {
            try {
              feed.replace(foldBlankRuns((await port.capture(t, FOLLOW_LINES)).map(stripAnsi)));
            } catch (e) {
              if (e instanceof TmuxError && (e.code === 'not-found' || e.code === 'no-server'))
                return 'the session ended';
              throw e;
            }
            await sleep(pollMs, signal);
          }
          return 'stopped';
        },
      });
    },
  });
}
