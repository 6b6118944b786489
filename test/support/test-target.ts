import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ActionError, defineAction } from '../../src/core/action.js';
import type { TargetModule } from '../../src/core/target.js';
import { line, pre, value, type Result } from '../../src/core/result.js';

/**
 * A target that exists only in tests: each run of a mutating action appends a line to
 * `file`, so a test (or a test that drives the real process) can count what really ran.
 */
export const testTarget = (file: string): TargetModule => ({
  name: 'test',
  settings: {},
  create: () => ({
    onCard: ticker.onCard,
    cards: ticker.cards,
    actions: [
      ticker.action,
      defineAction({
        name: 'test.echo',
        summary: 'Echo text back',
        target: 'test',
        risk: 'read',
        params: z.object({ text: z.string().max(5000).default('') }),
        command: { path: ['test', 'echo'], usage: '[text...]' },
        run: async (_ctx, p) => ({ blocks: [line('echo: ', value(p.text))] }),
      }),
      defineAction({
        name: 'test.menu',
        summary: 'Answer with a button',
        target: 'test',
        risk: 'read',
        params: z.object({}),
        command: { path: ['test', 'menu'] },
        run: async () => ({
          blocks: [line('menu')],
          buttons: [[{ label: 'Echo', action: 'test.echo', params: { text: 'from the menu' } }]],
        }),
      }),
      defineAction({
        name: 'test.touch',
        summary: 'Record a harmless change',
        target: 'test',
        risk: 'write',
        params: z.object({ name: z.string().regex(/^[a-z0-9-]{1,20}$/) }),
        command: { path: ['test', 'touch'], usage: '<name>' },
        subject: (p) => `thing ${p.name}`,
        run: async (_ctx, p) => {
          appendFileSync(file, `touch ${p.name}\n`);
          return {
            blocks: [line('touched ', value(p.name))],
            buttons: [
              [
                { label: 'Touch again', action: 'test.touch', params: { name: p.name } },
                { label: 'Destroy', action: 'test.destroy', params: { name: p.name } },
              ],
            ],
          };
        },
      }),
      defineAction({
        name: 'test.destroy',
        summary: 'Record a destructive change',
        target: 'test',
        risk: 'destructive',
        params: z.object({ name: z.string().regex(/^[a-z0-9-]{1,20}$/), secret: z.string().optional() }),
        command: { path: ['test', 'destroy'], usage: '<name> [secret]' },
        subject: (p) => `thing ${p.name}`,
        preview: async (_ctx, p) => {
          if (p.name === 'missing') throw new ActionError('no thing named missing');
          return [line('Current runs: ', value(runs(file, 'destroy')))];
        },
        run: async (_ctx, p) => {
          appendFileSync(file, `destroy ${p.name}\n`);
          return { blocks: [line('destroyed ', value(p.name))] };
        },
      }),
      defineAction({
        name: 'test.slow',
        summary: 'Wait, then answer',
        target: 'test',
        risk: 'read',
        timeoutMs: 2000,
        params: z.object({ ms: z.coerce.number().int().min(0).max(60_000) }),
        command: { path: ['test', 'slow'], usage: '<ms>' },
        run: async (ctx, p) => {
          await sleep(p.ms, undefined, { signal: ctx.signal });
          return { blocks: [line(`slept ${p.ms} ms`)] };
        },
      }),
      defineAction({
        name: 'test.lines',
        summary: 'Print n lines of output',
        target: 'test',
        risk: 'read',
        params: z.object({ n: z.coerce.number().int().min(0).max(100_000) }),
        command: { path: ['test', 'lines'], usage: '<n>' },
        run: async (_ctx, p) => ({
          blocks: [
            pre(
              Array.from({ length: p.n }, (_, i) => `line ${i + 1} <b>@everyone</b> http://evil.example/${i}`).join(
                '\n',
              ),
            ),
          ],
        }),
      }),
      defineAction({
        name: 'test.boom',
        summary: 'Fail unexpectedly',
        target: 'test',
        risk: 'read',
        params: z.object({}),
        command: { path: ['test', 'boom'] },
        run: async () => {
          throw new Error('internal detail: password=hunter2hunter2');
        },
      }),
    ],
  }),
});

/**
 * The test target's live card, one per process: a counter shown once, then edited in place.
 * `/test tick <n>` shows it, then changes it n times in a row, as a busy watcher would.
 */
const ticker = (() => {
  const listeners = new Set<(card: Result) => void>();
  let ticks = 0;
  const card = (n: number): Result => ({ blocks: [line('ticks: ', value(n))], card: { key: 'test:ticker' } });
  return {
    onCard: (listener: (card: Result) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    cards: () => [card(ticks)],
    action: defineAction({
      name: 'test.tick',
      summary: 'Show the ticker card, then change it n times in a row',
      target: 'test',
      risk: 'read',
      params: z.object({ n: z.coerce.number().int().min(0).max(10_000) }),
      command: { path: ['test', 'tick'], usage: '<n>' },
      run: async (_ctx, p) => {
        const shown = card(ticks);
        // The changes come after the answer, as a target's watcher reports them.
        setImmediate(() => {
          for (let i = 0; i < p.n; i++) for (const l of listeners) l(card(++ticks));
        });
        return shown;
      },
    }),
  };
})();

/** How many times a mutating test action really ran. */
export function runs(file: string, verb: 'touch' | 'destroy'): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${verb} `)).length;
}
