import { describe, expect, it } from 'vitest';
import { createExpectedStops } from '../../../src/targets/docker/stops.js';

describe('ExpectedStops', () => {
  it('answers true once per expected stop, within the window only', () => {
    let now = 1_000;
    const stops = createExpectedStops({ windowMs: 5_000, clock: () => now });
    expect(stops.consume('a')).toBe(false);
    stops.expect('a');
    expect(stops.consume('a')).toBe(true);
    expect(stops.consume('a')).toBe(false);
    stops.expect('b');
    now += 5_001;
    expect(stops.consume('b')).toBe(false);
  });

  it('forgets a stop whose request failed', () => {
    const stops = createExpectedStops();
    stops.expect('c');
    stops.forget('c');
    expect(stops.consume('c')).toBe(false);
  });
});
