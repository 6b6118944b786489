import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { COMPOSE_PROJECT, COMPOSE_SERVICE, parseSummaries } from '../../../src/targets/docker/summary.js';

/**
 * The oracle: what the list rows must look like, written as a schema. The hand-written
 * parser accepts everything this accepts (and, leniently, null where a string has a default).
 */
const rowSchema = z.object({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  Image: z.string().default(''),
  State: z.string().default(''),
  Status: z.string().default(''),
  Labels: z.record(z.string(), z.string()).nullish(),
});

const row = fc.record(
  {
    Id: fc.stringMatching(/^[0-9a-f]{1,64}$/),
    Names: fc.option(
      fc.array(
        fc.string().map((s) => `/${s}`),
        { maxLength: 3 },
      ),
      { nil: null },
    ),
    Image: fc.string(),
    State: fc.constantFrom('created', 'running', 'paused', 'restarting', 'exited', 'dead'),
    Status: fc.string(),
    // "__proto__" is left to its own test below: the schema oracle drops it, the parser keeps it as data.
    Labels: fc.option(
      fc.dictionary(
        fc.oneof(
          fc.string().filter((k) => k !== '__proto__'),
          fc.constantFrom(COMPOSE_PROJECT, COMPOSE_SERVICE),
        ),
        fc.string(),
      ),
      { nil: null },
    ),
    Ports: fc.array(fc.jsonValue(), { maxLength: 2 }),
  },
  { requiredKeys: ['Id'] },
);

describe('parseSummaries (the container list)', () => {
  it('maps every row the schema accepts, with the same defaults', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
        // Through JSON, as the Engine's answer arrives.
        const raw = JSON.parse(JSON.stringify(rows)) as unknown;
        const parsed = parseSummaries(raw);
        const expected = z.array(rowSchema).parse(raw);
        expect(parsed).toHaveLength(expected.length);
        expected.forEach((e, i) => {
          const p = parsed![i]!;
          const labels = e.Labels ?? {};
          expect(p.id).toBe(e.Id);
          expect(p.name).toBe((e.Names?.[0] ?? e.Id.slice(0, 12)).replace(/^\//, ''));
          expect([p.image, p.state, p.status]).toEqual([e.Image, e.State, e.Status]);
          expect(p.labels).toEqual(labels);
          expect(p.project).toBe(labels[COMPOSE_PROJECT] || undefined);
          expect(p.service).toBe(labels[COMPOSE_SERVICE] || undefined);
        });
      }),
    );
  });

  it('never throws, and rejects whatever the schema rejects', () => {
    const hostile = fc.oneof(
      fc.jsonValue(),
      fc.array(
        fc.oneof(
          row,
          fc.jsonValue(),
          fc.record({ Id: fc.jsonValue(), Names: fc.jsonValue(), Labels: fc.jsonValue(), State: fc.jsonValue() }),
        ),
        { maxLength: 5 },
      ),
    );
    fc.assert(
      fc.property(hostile, (value) => {
        const raw = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
        const parsed = parseSummaries(raw);
        // Null where a string has a default is the one thing accepted beyond the schema.
        const strict = z.array(
          rowSchema.extend({
            Image: rowSchema.shape.Image.or(z.null()),
            State: rowSchema.shape.State.or(z.null()),
            Status: rowSchema.shape.Status.or(z.null()),
          }),
        );
        expect(parsed !== undefined).toBe(strict.safeParse(raw).success);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a label named like an Object property as data', () => {
    const raw = JSON.parse('[{"Id":"abc","Names":["/x"],"Labels":{"__proto__":"p","constructor":"c"}}]') as unknown;
    const [c] = parseSummaries(raw)!;
    expect(Object.keys(c!.labels).sort()).toEqual(['__proto__', 'constructor']);
    expect(c!.project).toBeUndefined();
  });
});
