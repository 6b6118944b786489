import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const report = process.env.TELEOPS_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at once on two cores: a test that starts several processes can take twice as long.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most of the suite's time is spent waiting on processes (dockerd, tmux, teleops, PostgreSQL),
    // so two files run at once even on two cores (vitest's default there is one).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    globalSetup: ['test/support/bundle.global.ts', 'test/support/dockerd.global.ts'],
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
