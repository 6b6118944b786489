import { ActionError } from '../../core/action.js';
import type { ContainerDetails, ContainerSummary, DockerPort } from './port.js';
import { shortId } from './summary.js';
import { compareNames } from '../../core/text.js';
import { editDistance } from '../../core/suggest.js';

/**
 * A container reference as operators type it: a name, an id prefix, or compose
 * `project/service`. Never starts with "-" (the first character is alphanumeric).
 */
export const CONTAINER_REF = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}(\/[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127})?$/;

/** Shortest id prefix accepted; shorter hex strings are only matched as names. */
export const MIN_ID_PREFIX = 3;
const MAX_SUGGESTIONS = 5;

export function isContainerRef(s: string): boolean {
  return CONTAINER_REF.test(s);
}

export function assertContainerRef(s: string): string {
  if (!isContainerRef(s)) {
    throw new ActionError(
      'a container is a name, an id prefix (3+ hex characters) or compose project/service, e.g. api, 3f2a1b or shop/web',
    );
  }
  return s;
}

const label = (c: ContainerSummary): string => `${c.name} (${shortId(c.id)})`;

/**
 * Picks the one container `ref` means, in the Docker CLI's order: full id, exact name,
 * then id prefix; `project/service` matches the compose labels. Anything else is an
 * ActionError that lists up to five close matches.
 */
export function resolveContainer(ref: string, containers: readonly ContainerSummary[]): ContainerSummary {
  assertContainerRef(ref);
  const slash = ref.indexOf('/');
  if (slash >= 0) {
    const project = ref.slice(0, slash);
    const service = ref.slice(slash + 1);
    const hits = containers.filter((c) => c.project === project && c.service === service);
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw ambiguous(ref, hits);
    throw unknown(ref, containers);
  }
  const byId = containers.find((c) => c.id === ref);
  if (byId) return byId;
  const byName = containers.find((c) => c.name === ref);
  if (byName) return byName;
  if (ref.length >= MIN_ID_PREFIX && /^[0-9a-f]+$/.test(ref)) {
    const hits = containers.filter((c) => c.id.startsWith(ref));
    if (hits.length === 1) return hits[0]!;
    if (hits.length > 1) throw ambiguous(ref, hits);
  }
  throw unknown(ref, containers);
}

function ambiguous(ref: string, hits: readonly ContainerSummary[]): ActionError {
  const shown = [...hits]
    .sort((a, b) => compareNames(a.name, b.name))
    .slice(0, MAX_SUGGESTIONS)
    .map(label)
    .join(', ');
  const more = hits.length > MAX_SUGGESTIONS ? `, and ${hits.length - MAX_SUGGESTIONS} more` : '';
  return new ActionError(`"${ref}" matches ${hits.length} containers: ${shown}${more}; use the name or a longer id`);
}

function unknown(ref: string, containers: readonly ContainerSummary[]): ActionError {
  const close = suggestions(ref, containers);
  return new ActionError(
    close.length > 0 ? `no container "${ref}"; did you mean ${close.join(', ')}?` : `no container "${ref}"`,
  );
}

/** Names and compose project/service spellings closest to `ref`, best first. */
export function suggestions(ref: string, containers: readonly ContainerSummary[]): string[] {
  const r = ref.toLowerCase();
  const scored = new Map<string, number>();
  for (const c of containers) {
    const spellings = [c.name, ...(c.project && c.service ? [`${c.project}/${c.service}`] : [])];
    for (const s of spellings) {
      const score = closeness(r, s.toLowerCase());
      if (score !== undefined && (scored.get(s) ?? Infinity) > score) scored.set(s, score);
    }
  }
  return [...scored.entries()]
    .sort((a, b) => a[1] - b[1] || compareNames(a[0], b[0]))
    .slice(0, MAX_SUGGESTIONS)
    .map(([s]) => s);
}

/** Lower is closer; undefined when not worth suggesting. */
function closeness(ref: string, candidate: string): number | undefined {
  if (candidate.startsWith(ref) || ref.startsWith(candidate)) return 0;
  if (candidate.includes(ref)) return 1;
  const d = editDistance(ref, candidate, 3);
  const allowed = Math.min(3, Math.max(1, Math.floor(ref.length / 3)));
  return d <= allowed ? 1 + d : undefined;
}

/** Whether the Engine's own lookup of `ref` agrees with ours (it also takes 1- and 2-character id prefixes). */
function engineAgrees(ref: string, d: ContainerDetails): boolean {
  return (
    d.id === ref || d.name === ref || (ref.length >= MIN_ID_PREFIX && /^[0-9a-f]+$/.test(ref) && d.id.startsWith(ref))
  );
}

/**
 * The container `ref` means, with its details. A name or id is looked up by the Engine in one
 * round trip (same order as ours: id, name, id prefix); compose references, and anything the
 * Engine does not find, go through the full list so that the error can suggest close matches.
 */
export async function findContainer(port: DockerPort, ref: string, signal?: AbortSignal): Promise<ContainerDetails> {
  assertContainerRef(ref);
  if (!ref.includes('/')) {
    try {
      const d = await port.inspect(ref, signal);
      if (engineAgrees(ref, d)) return d;
    } catch (e) {
      if (!(e instanceof ActionError)) throw e;
    }
  }
  const c = resolveContainer(ref, await port.list({ all: true }, signal));
  return port.inspect(c.id, signal);
}
