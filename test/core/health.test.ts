import { describe, expect, it } from 'vitest';
import { checkAll, type Integration } from '../../src/core/health.js';

describe('checkAll', () => {
  it('checks every integration at once, each bounded, and says what went wrong in one line', async () => {
    const started: string[] = [];
    let hungAborted = false;
    const integrations: Integration[] = [
      { name: 'docker', check: () => (started.push('docker'), Promise.resolve({ state: 'up', detail: 'Engine 27' })) },
      {
        name: 'kubernetes',
        check: (signal) =>
          new Promise(() => {
            started.push('kubernetes');
            signal.addEventListener('abort', () => (hungAborted = true));
          }),
      },
      { name: 'tmux', check: () => Promise.reject(new Error('no server running\nat line 2')) },
      { name: 'llm', check: () => Promise.reject('not an error') },
    ];
    expect(await checkAll(integrations, 50)).toEqual({
      docker: { state: 'up', detail: 'Engine 27' },
      kubernetes: { state: 'down', detail: 'no answer within 50 ms' },
      tmux: { state: 'down', detail: 'no server running' },
      llm: { state: 'down', detail: 'not an error' },
    });
    expect(started).toEqual(['docker', 'kubernetes']);
    expect(hungAborted).toBe(true);
  });
});
