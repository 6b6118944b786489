import { defineConfig } from 'vitest/config';

const report = process.env.TELEOPS_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/dockerd.global.ts'],
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
