import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run mutate` runs against each mutant of src/core: the unit tests of core,
 * which start no dockerd, tmux or teleops process (Stryker runs them once per mutant).
 */
export default defineConfig({
  test: {
    // config.test.ts holds the tests of core/env.ts (the secrets kept from child processes).
    // witnesses/spec.test.ts holds the tests of core/audit-verify.ts's parseHead (the witnesses' format).
    include: ['test/core/**/*.test.ts', 'test/config.test.ts', 'test/witnesses/spec.test.ts'],
    // A mutant can slow a test that starts a teleops process; under load the 30 s of the suite is too short.
    testTimeout: 90_000,
    pool: 'forks',
  },
});
