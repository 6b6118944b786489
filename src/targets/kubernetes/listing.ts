/**
 * The first objects of a list by name, as the list actions show them, and the same read straight
 * from a list's JSON body: a scan that follows only brackets and strings finds each item and its
 * `metadata.name`, and only the items shown are parsed. A namespace of 500 pods is then about a
 * third of the work of JSON.parse, and hundreds of objects are not built to show forty.
 */
import { compareNames } from '../../core/text.js';
import type { Page } from './port.js';

/**
 * The first `n` objects in name order (equal names in list order), as a list shows them: what
 * sorting them all and taking `n` gives, without sorting hundreds to show forty.
 */
export function firstByName<T extends { metadata?: { name?: string } }>(items: readonly T[], n: number): T[] {
  const kept: T[] = [];
  const names: string[] = [];
  for (const item of items) {
    const name = item.metadata?.name ?? '';
    if (kept.length === n && (n === 0 || compareNames(name, names[n - 1]!) >= 0)) continue;
    // After every kept name that is not greater: equal names stay in list order.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareNames(name, names[mid]!) < 0) hi = mid;
      else lo = mid + 1;
    }
    kept.splice(lo, 0, item);
    names.splice(lo, 0, name);
    if (kept.length > n) {
      kept.pop();
      names.pop();
    }
  }
  return kept;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OBJECT = 1;
const ARRAY = 2;
/** Deeper than any Kubernetes object nests; a body that goes deeper is parsed whole. */
const MAX_DEPTH = 128;
/** The keys the scan looks for, each at its own depth. */
type Key = 'items' | 'metadata' | 'name';
const KEY_BYTES: Record<Key, Buffer> = {
  items: Buffer.from('items'),
  metadata: Buffer.from('metadata'),
  name: Buffer.from('name'),
};
/** What the value after the key just read is, where it matters. */
type Next = 'other' | Key;

interface ItemSpan {
  readonly start: number;
  readonly end: number;
  readonly metadata: { readonly name: string };
}

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function hasBackslash(b: Buffer, start: number, end: number): boolean {
  for (let j = start; j < end; j++) if (b[j] === BACKSLASH) return true;
  return false;
}

/**
 * The string between the quotes at `start - 1` and `end`; undefined if it is not a valid JSON string.
 * Decoded as JSON.parse reads it: a leading U+FEFF is kept (a TextDecoder would drop it).
 */
function stringAt(b: Buffer, start: number, end: number): string | undefined {
  for (let j = start; j < end; j++) if (b[j]! < 0x20) return undefined;
  if (!hasBackslash(b, start, end)) return b.toString('utf8', start, end);
  try {
    return JSON.parse(b.toString('utf8', start - 1, end + 1)) as string;
  } catch {
    return undefined;
  }
}

/** Whether the key between `start` and `end` is `key` (escapes decoded); undefined if it is not a valid string. */
function keyIs(b: Buffer, start: number, end: number, key: Key): boolean | undefined {
  const want = KEY_BYTES[key];
  if (!hasBackslash(b, start, end)) {
    if (end - start !== want.length) return false;
    for (let j = 0; j < want.length; j++) if (b[start + j] !== want[j]) return false;
    return true;
  }
  const k = stringAt(b, start, end);
  return k === undefined ? undefined : k === key;
}

/**
 * Each item of a list body (`{"items":[{…},…],…}`): where it lies and its `metadata.name`
 * (the last one, as JSON.parse keeps it; escapes decoded). Undefined when the body is not plainly
 * such a list: an item that is not an object, a name that is not a string, a key that matters
 * spelled with an invalid escape, a repeated `items`, unbalanced brackets or strings. The items are
 * checked no further: the ones shown are parsed, the rest only counted.
 */
function scanItems(b: Buffer): ItemSpan[] | undefined {
  const n = b.length;
  const stack = new Uint8Array(MAX_DEPTH);
  const spans: ItemSpan[] = [];
  let depth = 0;
  let i = 0;
  let expectKey = false;
  let next: Next = 'other';
  let itemsSeen = false;
  let inItems = false;
  let itemStart = -1;
  let inMetadata = false;
  let name: string | undefined;
  while (i < n) {
    const c = b[i]!;
    if (c === QUOTE) {
      const start = i + 1;
      let q = start;
      for (;;) {
        q = b.indexOf(QUOTE, q);
        if (q < 0) return undefined;
        let k = q - 1;
        while (b[k] === BACKSLASH) k--;
        if ((q - 1 - k) % 2 === 0) break;
        q++;
      }
      i = q + 1;
      if (expectKey) {
        expectKey = false;
        const wanted: Key | undefined =
          depth === 1
            ? 'items'
            : depth === 3 && itemStart >= 0
              ? 'metadata'
              : depth === 4 && inMetadata
                ? 'name'
                : undefined;
        const is = wanted === undefined ? false : keyIs(b, start, q, wanted);
        if (is === undefined) return undefined;
        next = is ? wanted! : 'other';
        if (next === 'metadata') name = undefined;
      } else {
        if (next === 'name' && (name = stringAt(b, start, q)) === undefined) return undefined;
        if (next === 'items' || (inItems && depth === 2)) return undefined;
        next = 'other';
      }
      continue;
    }
    switch (c) {
      case 0x3a: // :
      case 0x20:
      case 0x0a:
      case 0x0d:
      case 0x09:
        i++;
        continue;
      case 0x2c: // ,
        expectKey = stack[depth - 1] === OBJECT;
        next = 'other';
        i++;
        continue;
      case 0x7b: // {
        if (depth === MAX_DEPTH || next === 'name' || next === 'items') return undefined;
        if (inItems && depth === 2) {
          itemStart = i;
          name = undefined;
        }
        if (next === 'metadata' && depth === 3) inMetadata = true;
        stack[depth++] = OBJECT;
        expectKey = true;
        next = 'other';
        i++;
        continue;
      case 0x5b: // [
        if (depth === MAX_DEPTH || next === 'name' || (inItems && depth === 2)) return undefined;
        if (next === 'items') {
          if (itemsSeen) return undefined;
          itemsSeen = inItems = true;
        }
        stack[depth++] = ARRAY;
        expectKey = false;
        next = 'other';
        i++;
        continue;
      case 0x7d: // }
      case 0x5d: // ]
        if (depth === 0 || stack[depth - 1] !== (c === 0x7d ? OBJECT : ARRAY)) return undefined;
        depth--;
        if (depth === 2 && itemStart >= 0) {
          spans.push({ start: itemStart, end: i + 1, metadata: { name: name ?? '' } });
          itemStart = -1;
        } else if (depth === 3 && inMetadata) inMetadata = false;
        else if (depth === 1 && inItems) inItems = false;
        else if (depth === 0) {
          for (i++; i < n; i++) if (!isSpace(b[i])) return undefined;
          return itemsSeen ? spans : undefined;
        }
        expectKey = false;
        next = 'other';
        i++;
        continue;
      default:
        // A number, true, false or null: as a name, an item or the list itself, not a plain list.
        if (depth === 0 || next === 'items' || next === 'name' || (inItems && depth === 2)) return undefined;
        for (i++; i < n; i++) {
          const x = b[i];
          if (x === 0x2c || x === 0x7d || x === 0x5d || isSpace(x)) break;
        }
    }
  }
  return undefined;
}

/**
 * The first `n` items of a list body by name and how many it holds, parsing only those `n`;
 * undefined when the body is not plainly a list (see `scanItems`): the caller parses it whole.
 * Throws JSON.parse's error if a shown item is not JSON.
 */
export function firstInBody<T>(body: Buffer, n: number): Page<T> | undefined {
  const spans = scanItems(body);
  if (!spans) return undefined;
  const items = firstByName(spans, n).map((s) => JSON.parse(body.toString('utf8', s.start, s.end)) as T);
  return { total: spans.length, items };
}
