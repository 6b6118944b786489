// The real `teleops` CLI with the test-only target added: end-to-end tests run this process.
import { main } from '../../src/cli.js';
import { MODULES } from '../../src/targets/modules.js';
import { testTarget } from './test-target.js';

const runsFile = process.env.TEST_RUNS_FILE;
await main(process.argv.slice(2), runsFile ? [...MODULES, testTarget(runsFile)] : MODULES);
