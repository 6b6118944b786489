import { describe, expect, it } from 'vitest';
import { bold, line, plainText, pre, result, say, text, value } from '../../src/core/result.js';

describe('result', () => {
  it('keeps what this program wrote apart from what came from outside, span by span', () => {
    expect(line('Status: ', bold('up'), value(3))).toEqual({
      kind: 'line',
      spans: [
        { kind: 'text', text: 'Status: ' },
        { kind: 'bold', text: 'up' },
        { kind: 'value', text: '3' },
      ],
    });
    expect(text('a')).toEqual({ kind: 'text', text: 'a' });
    expect(pre('x\ny')).toEqual({ kind: 'pre', text: 'x\ny' });
  });

  it('builds results with their extras, and one-line answers', () => {
    const r = result([line('a')], { failure: 'broken' });
    expect(r).toEqual({ blocks: [{ kind: 'line', spans: [{ kind: 'text', text: 'a' }] }], failure: 'broken' });
    expect(result([])).toEqual({ blocks: [] });
    expect(say('hello ', value('<b>'))).toEqual({ blocks: [line(text('hello '), value('<b>'))] });
  });

  it('reads as plain text: lines joined by newlines, pre blocks as they are', () => {
    expect(plainText({ blocks: [line('a', bold('b'), value('c')), pre('d\ne'), line()] })).toBe('abc\nd\ne\n');
    expect(plainText({ blocks: [] })).toBe('');
  });
});
