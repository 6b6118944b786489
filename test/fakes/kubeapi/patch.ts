/** The three patch formats the API server accepts for built-in types. */
import type { Json } from './types.js';

export class PatchError extends Error {}

const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/**
 * Strategic merge patch, for the lists that matter here: lists of objects with a `name`
 * (containers, env, ports, volumes) merge by name; other lists are replaced.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v) && Array.isArray(cur) && v.every((e) => isObject(e) && typeof e.name === 'string')) {
      const merged = cur.map((e) => structuredClone(e));
      for (const e of v as Record<string, Json>[]) {
        const i = merged.findIndex((m) => isObject(m) && m.name === e.name);
        if (i >= 0) merged[i] = strategicMergePatch(merged[i]!, e);
        else merged.push(structuredClone(e));
      }
      out[k] = merged;
    } else {
      out[k] = strategicMergePatch(cur ?? null, v);
    }
  }
  return out;
}

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

function parent(doc: Json, path: string): { holder: Record<string, Json> | Json[]; key: string } {
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer ${path}`);
  const parts = path.slice(1).split('/').map(unescape);
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)] ?? null;
    else if (isObject(cur)) cur = cur[p] ?? null;
    else cur = null;
    if (cur === null) throw new PatchError(`doc is missing path: ${path}`);
  }
  if (!Array.isArray(cur) && !isObject(cur)) throw new PatchError(`doc is missing path: ${path}`);
  return { holder: cur, key: parts[parts.length - 1]! };
}

/** RFC 6902 JSON patch: add, remove, replace, test. */
export function jsonPatch(doc: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be a list of operations');
  const out = structuredClone(doc);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new PatchError('invalid operation');
    const { holder, key } = parent(out, raw.path);
    const value = raw.value === undefined ? null : structuredClone(raw.value);
    const has = Array.isArray(holder) ? Number(key) < holder.length : key in holder;
    switch (raw.op) {
      case 'add':
        if (Array.isArray(holder)) holder.splice(key === '-' ? holder.length : Number(key), 0, value);
        else holder[key] = value;
        break;
      case 'replace':
        if (!has) throw new PatchError(`replace operation does not apply: doc is missing key: ${raw.path}`);
        if (Array.isArray(holder)) holder[Number(key)] = value;
        else holder[key] = value;
        break;
      case 'remove':
        if (!has) throw new PatchError(`remove operation does not apply: doc is missing path: ${raw.path}`);
        if (Array.isArray(holder)) holder.splice(Number(key), 1);
        else delete holder[key];
        break;
      case 'test': {
        const actual = Array.isArray(holder) ? holder[Number(key)] : holder[key];
        if (JSON.stringify(actual) !== JSON.stringify(value)) throw new PatchError(`testing value ${raw.path} failed`);
        break;
      }
      default:
        throw new PatchError(`unsupported operation ${raw.op}`);
    }
  }
  return out;
}
