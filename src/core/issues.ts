import type { z } from 'zod';
import { truncate } from './text.js';

const limit = (n: number | bigint, origin: string): string =>
  origin === 'string'
    ? `${n} character${n === 1 || n === 1n ? '' : 's'}`
    : origin === 'array' || origin === 'set'
      ? `${n} item${n === 1 || n === 1n ? '' : 's'}`
      : String(n);

/**
 * Validation problems in an operator's words ("at most 5000", not "Too big: expected number
 * to be <=5000"), as a zod error map for parsing requests. A message a schema gives itself
 * (a pattern's explanation) takes precedence over this; undefined leaves zod's own.
 */
export const operatorError: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'too_big':
      if (iss.exact) return `exactly ${limit(iss.maximum, iss.origin)}`;
      return iss.inclusive === false
        ? `less than ${limit(iss.maximum, iss.origin)}`
        : `at most ${limit(iss.maximum, iss.origin)}`;
    case 'too_small':
      if (iss.exact) return `exactly ${limit(iss.minimum, iss.origin)}`;
      if (iss.origin === 'string' && Number(iss.minimum) === 1 && iss.inclusive !== false) return 'must not be empty';
      return iss.inclusive === false
        ? `more than ${limit(iss.minimum, iss.origin)}`
        : `at least ${limit(iss.minimum, iss.origin)}`;
    case 'invalid_type':
      if (iss.input === undefined) return 'missing';
      return iss.expected === 'int' ? 'a whole number' : `a ${iss.expected}`;
    case 'invalid_value':
      return iss.values.length === 1
        ? `only ${JSON.stringify(iss.values[0])}`
        : `one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      // The keys come from the request (an LLM's tool call, say): quoted, cut short, few.
      return `unknown ${iss.keys.length === 1 ? 'parameter' : 'parameters'} ${iss.keys
        .slice(0, 5)
        .map((k) => JSON.stringify(truncate(k, 40)))
        .join(', ')}${iss.keys.length > 5 ? ', …' : ''}`;
    default:
      return undefined;
  }
};
