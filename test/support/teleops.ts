// The real `teleops` CLI with the test-only target added: end-to-end tests run this process.
import { main } from '../../src/cli.js';
import { TARGETS } from '../../src/targets/index.js';
import { testTarget } from './test-target.js';

const runsFile = process.env.TEST_RUNS_FILE;
await main(process.argv.slice(2), runsFile ? [...TARGETS, testTarget(runsFile)] : TARGETS);
