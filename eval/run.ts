/**
 * `npm run eval [-- <task id prefix>]`: runs every task once against the configured LLM (the
 * same AI_* settings as teleops, from the environment or .env) and reports pass@1. Without a
 * configured provider each task runs against its scripted model instead, and says so: that
 * checks the harness, the tools and the checkers, not a model. Needs no network either way
 * except the provider's own.
 */
import { config as loadDotenv } from 'dotenv';
import { modelFromSettings, type AiModel } from '../src/ai/providers.js';
import { AI_PROVIDERS, type AiSettingsInput } from '../src/ai/settings.js';
import { scriptedModel } from '../test/fakes/scripted-model.js';
import { TASKS, type Check, type EvalTask } from './tasks.js';
import { createWorld, OPERATOR, runTask } from './world.js';

loadDotenv({ quiet: true });

function settingsFromEnv(env: NodeJS.ProcessEnv): AiSettingsInput | string {
  const provider = (env.AI_PROVIDER ?? '').trim().toLowerCase();
  if (provider !== '' && !(AI_PROVIDERS as readonly string[]).includes(provider))
    return `AI_PROVIDER "${provider}" is not one of ${AI_PROVIDERS.join(', ')}`;
  const get = (k: string) => (env[k] ?? '').trim();
  return {
    AI_PROVIDER: provider as AiSettingsInput['AI_PROVIDER'],
    AI_MODEL: get('AI_MODEL'),
    AI_BASE_URL: get('AI_BASE_URL').replace(/\/$/, ''),
    GEMINI_API_KEY: get('GEMINI_API_KEY'),
    OPENAI_API_KEY: get('OPENAI_API_KEY'),
    ANTHROPIC_API_KEY: get('ANTHROPIC_API_KEY'),
    AI_API_KEY: get('AI_API_KEY'),
  };
}

async function runOne(task: EvalTask, real: AiModel | undefined): Promise<Check & { ms: number }> {
  const started = Date.now();
  const world = await createWorld(real ?? scriptedModel(task.script));
  try {
    await task.setup?.(world);
    const run = await runTask(world, task.as ?? OPERATOR, task.prompt, task.decision ?? 'approve');
    const c = task.check(world, run);
    return {
      ...c,
      why: c.pass ? c.why : `${c.why} — answer: ${JSON.stringify(run.answer.slice(0, 300))}`,
      ms: Date.now() - started,
    };
  } catch (e) {
    return { pass: false, why: `error: ${e instanceof Error ? e.message : String(e)}`, ms: Date.now() - started };
  } finally {
    await task.cleanup?.(world);
    await world.close();
  }
}

async function main(): Promise<number> {
  const filter = process.argv[2] ?? '';
  const tasks = TASKS.filter((t) => t.id.startsWith(filter));
  if (tasks.length === 0) {
    console.error(`no task id starts with "${filter}"`);
    return 2;
  }
  const settings = settingsFromEnv(process.env);
  if (typeof settings === 'string') {
    console.error(settings);
    return 2;
  }
  const chosen = modelFromSettings(settings);
  const real = chosen.ok ? chosen.model : undefined;
  console.log(
    real
      ? `teleops eval: ${tasks.length} tasks against ${real.provider} ${real.modelId}`
      : `teleops eval: ${tasks.length} tasks against the SCRIPTED model (no LLM configured: ${chosen.ok ? '' : chosen.reason}). This checks the harness, not a model; set AI_PROVIDER and a key to evaluate one.`,
  );
  let passed = 0;
  for (const task of tasks) {
    const r = await runOne(task, real);
    if (r.pass) passed++;
    console.log(`${r.pass ? 'PASS' : 'FAIL'}  ${task.id.padEnd(30)} ${String(r.ms).padStart(6)} ms  ${r.why}`);
  }
  const pct = ((passed / tasks.length) * 100).toFixed(1);
  console.log(`pass@1: ${passed}/${tasks.length} (${pct}%)${real ? '' : ' [scripted model]'}`);
  // A scripted run must pass everything: a failure there is a broken harness or tool.
  return real || passed === tasks.length ? 0 : 1;
}

process.exitCode = await main();
