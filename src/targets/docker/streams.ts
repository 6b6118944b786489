/** The Engine's streamed answers, turned into what the port hands on, item by item. */
import { eventSchema } from './answers.js';
import type { DockerEvent } from './port.js';
import { shortId } from './summary.js';

/** A connection that breaks mid-stream is reported like any other Engine failure. */
export async function* oneLineErrors<T>(source: AsyncIterable<T>, wrap: (e: unknown) => Error): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (e) {
    throw wrap(e);
  }
}

/** The events endpoint sends one JSON object per line. */
export async function* parseEvents(source: AsyncIterable<Buffer>): AsyncGenerator<DockerEvent> {
  let rest = '';
  for await (const chunk of source) {
    rest += chunk.toString('utf8');
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const lineText = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (lineText === '') continue;
      const ev = toEvent(lineText);
      if (ev) yield ev;
    }
    // One event is a few hundred bytes; anything longer without a newline is not one.
    if (rest.length > 1 << 20) rest = '';
  }
}

function toEvent(json: string): DockerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const p = eventSchema.safeParse(raw);
  if (!p.success || p.data.Type !== 'container') return undefined;
  const a = p.data.Actor.Attributes;
  const code = a.exitCode === undefined ? undefined : Number(a.exitCode);
  return {
    action: p.data.Action,
    id: p.data.Actor.ID,
    name: a.name ?? shortId(p.data.Actor.ID),
    image: a.image ?? '',
    ...(code !== undefined && Number.isInteger(code) ? { exitCode: code } : {}),
    ...(a.signal !== undefined ? { signal: a.signal } : {}),
    time: p.data.time,
    timeNano: p.data.timeNano,
  };
}
