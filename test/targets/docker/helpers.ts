import type { ActionContext, AnyAction } from '../../../src/core/action.js';
import type { Alert, AlertSink } from '../../../src/core/alerts.js';
import type { Attachment, Result } from '../../../src/core/result.js';

/** What the dispatcher hands an action: an operator, a signal, chat memory. */
export function actionContext(signal: AbortSignal = new AbortController().signal): ActionContext {
  const state = new Map<string, string>();
  return {
    operator: { userId: 1, chatId: 1, role: 'operator', display: 'tester' },
    origin: 'command',
    signal,
    chat: {
      get: (k) => state.get(k),
      set: (k, v) => (v === undefined ? state.delete(k) : state.set(k, v)),
    },
  };
}

export function byName(actions: readonly AnyAction[], name: string): AnyAction {
  const a = actions.find((x) => x.name === name);
  if (!a) throw new Error(`no action ${name}`);
  return a;
}

/** Validates raw params with the action's schema, as the dispatcher does, then runs it. */
export async function runAction(
  actions: readonly AnyAction[],
  name: string,
  raw: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Result> {
  const a = byName(actions, name);
  return a.run(actionContext(signal), a.params.parse(raw));
}

/** Reads an attachment the way a transport would, chunk by chunk. */
export async function readAttachment(a: Attachment): Promise<string> {
  if (typeof a.content === 'string') return a.content;
  if (Buffer.isBuffer(a.content)) return a.content.toString('utf8');
  let out = '';
  for await (const c of a.content) out += typeof c === 'string' ? c : c.toString('utf8');
  return out;
}

/** An AlertSink that keeps what it is given. */
export function collectingSink(): AlertSink & { readonly alerts: Alert[] } {
  const alerts: Alert[] = [];
  return { alerts, raise: (a) => void alerts.push(a) };
}
