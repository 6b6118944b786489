import type { ContainerSummary } from './port.js';

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';

export const shortId = (id: string): string => id.slice(0, 12);

/** A string field; null or absent is `fallback`, any other type undefined. */
const text = (v: unknown, fallback: string): string | undefined =>
  typeof v === 'string' ? v : v == null ? fallback : undefined;

/** Labels: an object of strings (null or absent is none); undefined when anything else. */
function labelsOf(v: unknown): Readonly<Record<string, string>> | undefined {
  if (v == null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (typeof o[k] !== 'string') return undefined;
  return o as Record<string, string>;
}

function nameOf(id: string, names: unknown): string | undefined {
  if (names == null) return shortId(id);
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return undefined;
  return ((names[0] as string | undefined) ?? shortId(id)).replace(/^\//, '');
}

/**
 * The rows of `GET /containers/json`, or undefined when the answer is not that. This is the
 * one Engine answer with hundreds of entries on every /docker ps, so it is checked by hand,
 * field by field, rather than through a schema: per-field schema parsing cost more than the
 * whole rest of the command (see `npm run bench -- docker`).
 */
export function parseSummaries(raw: unknown): ContainerSummary[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: ContainerSummary[] = [];
  for (const row of raw) {
    if (typeof row !== 'object' || row === null) return undefined;
    const c = row as Record<string, unknown>;
    if (typeof c.Id !== 'string') return undefined;
    const name = nameOf(c.Id, c.Names);
    const image = text(c.Image, '');
    const state = text(c.State, '');
    const status = text(c.Status, '');
    const labels = labelsOf(c.Labels);
    if (
      name === undefined ||
      image === undefined ||
      state === undefined ||
      status === undefined ||
      labels === undefined
    )
      return undefined;
    const project = labels[COMPOSE_PROJECT];
    const service = labels[COMPOSE_SERVICE];
    out.push({
      id: c.Id,
      name,
      image,
      state,
      status,
      labels,
      ...(project ? { project } : {}),
      ...(service ? { service } : {}),
    });
  }
  return out;
}
