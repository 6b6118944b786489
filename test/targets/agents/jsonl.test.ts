import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonLineReader, type JsonLine } from '../../../src/targets/agents/jsonl.js';

/** Feeds `text` to a reader cut at the given points, then ends it. */
function readAll(text: string, cuts: number[], max?: number): JsonLine[] {
  const r = new JsonLineReader(max);
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: JsonLine[] = [];
  let at = 0;
  for (const p of [...points, text.length]) {
    out.push(...r.push(text.slice(at, p)));
    at = p;
  }
  return [...out, ...r.end()];
}

const message = fc.dictionary(
  fc.string({ maxLength: 8 }),
  fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
  { maxKeys: 4 },
);

describe('JsonLineReader', () => {
  it('yields the same messages however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(message, { size: 'max', maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        (msgs, cuts, trailingNewline) => {
          const text = msgs.map((m) => JSON.stringify(m)).join('\n') + (trailingNewline ? '\n' : '');
          const got = readAll(text, cuts);
          expect(got).toEqual(msgs.map((value) => ({ kind: 'message', value })));
        },
      ),
    );
  });

  it('drops a line over the cap without holding it, and reads the lines after it', () => {
    let reached = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (repeat, cuts) => {
        const big = JSON.stringify({ big: 'x'.repeat(100 * repeat) });
        const text = `{"a":1}\n${big}\n{"b":2}\n`;
        const got = readAll(text, cuts, 64);
        const bad = got.filter((l) => l.kind === 'bad');
        if (bad.length > 0) reached++;
        expect(bad).toHaveLength(1);
        expect(got.filter((l) => l.kind === 'message')).toEqual([
          { kind: 'message', value: { a: 1 } },
          { kind: 'message', value: { b: 2 } },
        ]);
      }),
    );
    expect(reached).toBeGreaterThan(0);
  });

  it('reports lines that are not JSON objects and goes on', () => {
    const got = readAll('not json\n[1,2]\n"s"\n\n{"ok":true}\n', []);
    expect(got).toEqual([
      { kind: 'bad', reason: 'not JSON' },
      { kind: 'bad', reason: 'not a JSON object' },
      { kind: 'bad', reason: 'not a JSON object' },
      { kind: 'message', value: { ok: true } },
    ]);
  });
});
