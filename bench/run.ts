// `npm run bench`: every performance figure the issues ask for, each next to a baseline
// measured in the same run (this machine is shared and noisy). Pass names to run a subset:
// `npm run bench -- pipeline telegram`.
import { benchAgents } from './agents.js';
import { benchAudit } from './audit.js';
import { benchColdStart } from './coldstart.js';
import { benchDockerPrivate } from './docker.js';
import { withDockerBot } from './docker-bot.js';
import { benchFleet } from './fleet.js';
import { benchKubernetes } from './k8s.js';
import { benchPipeline } from './pipeline.js';
import { benchPostgres } from './postgres.js';
import { benchReplicas } from './replicas.js';
import { printReport, type Report } from './report.js';
import { benchSlope } from './slope.js';
import { benchMemory, benchTelegram } from './telegram.js';
import { benchTmux } from './tmux.js';
import { benchTmuxBot } from './tmux-bot.js';

const BENCHES: Record<string, (r: Report) => Promise<void>> = {
  audit: benchAudit,
  postgres: benchPostgres,
  replicas: benchReplicas,
  coldstart: benchColdStart,
  pipeline: benchPipeline,
  telegram: benchTelegram,
  memory: (r) => benchMemory(r),
  slope: benchSlope,
  tmux: benchTmux,
  'tmux-bot': benchTmuxBot,
  docker: (r) => withDockerBot(r, (bot) => benchDockerPrivate(r, bot)),
  fleet: benchFleet,
  k8s: benchKubernetes,
  agents: benchAgents,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
const report = printReport();
for (const [name, run] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stdout.write(`\n== ${name}\n`);
  await run(report);
}
