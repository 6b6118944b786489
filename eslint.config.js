import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const STORE = {
  group: ['**/store/*'],
  message: 'storage is not imported here: core and targets take a Db (core/sqlite.ts) and keep their own tables',
};
const CONFIG = {
  group: ['**/config.js'],
  message: 'settings reach this folder as values (a target reads its module settings from TargetEnv)',
};
const APP = { group: ['**/app.js'], message: 'the composition root imports this folder, not the other way round' };
const TARGETS = {
  group: ['**/targets/*'],
  message: 'targets are plugged in through src/targets/modules.ts; name none here',
};
const TRANSPORTS = { group: ['**/transports/*'], message: 'transports render results; nothing here may know one' };

/** `no-restricted-imports` for the files of one folder. */
const walls = (files, patterns) => ({ files: [files], rules: { 'no-restricted-imports': ['error', { patterns }] } });

export default tseslint.config(
  { ignores: ['node_modules/', 'coverage/', '.state/', 'dist/', '.test-dist/', '.stryker-tmp/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The walls between folders (docs: DESIGN.md §1). Each group is what that folder must not import.
  walls('src/core/**/*.ts', [STORE, CONFIG, APP, TARGETS, TRANSPORTS]),
  walls('src/targets/**/*.ts', [STORE, CONFIG, APP, TRANSPORTS]),
  walls('src/store/**/*.ts', [TARGETS, TRANSPORTS]),
  walls('src/transports/**/*.ts', [TARGETS]),
  // Prettier lays code out at 120 columns but leaves long strings, comments and SQL alone.
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-len': ['error', { code: 120 }],
      // On Node 20 each call leaves an entry in a long-lived source signal for good (core/signals.ts).
      'no-restricted-properties': [
        'error',
        { object: 'AbortSignal', property: 'any', message: 'Use anySignal from core/signals.ts: no leak on Node 20.' },
      ],
    },
  },
  {
    files: ['bin/**/*.js', 'deploy/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
