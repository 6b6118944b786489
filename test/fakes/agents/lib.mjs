/**
 * What the fake agent executables share: the per-test script (FAKE_AGENT_SCRIPT, a JSON
 * file), the record of what they received (FAKE_AGENT_RECORD, one JSON object per line),
 * and a reader of the JSON lines teleops writes to their stdin.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { createInterface } from 'node:readline';

export function record(entry) {
  const path = process.env.FAKE_AGENT_RECORD;
  if (path) appendFileSync(path, JSON.stringify(entry) + '\n');
}

/** How many processes of this fake ran before: picks this one's turn from the script. */
function runsBefore() {
  const path = process.env.FAKE_AGENT_RECORD;
  if (!path || !existsSync(path)) return 0;
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"start"')).length;
}

export function start() {
  const script = JSON.parse(readFileSync(process.env.FAKE_AGENT_SCRIPT ?? '', 'utf8'));
  const index = runsBefore();
  record({ event: 'start', argv: process.argv.slice(2), cwd: process.cwd(), env: process.env });
  return { script, turn: script.turns[Math.min(index, script.turns.length - 1)] };
}

export const out = (m) => process.stdout.write(JSON.stringify(m) + '\n');

/** Messages from stdin, each recorded; `next(pred)` waits for the first that matches. */
export function inbox() {
  const queue = [];
  const waiters = [];
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === '') return;
    const m = JSON.parse(l);
    record({ event: 'in', message: m });
    const w = waiters.findIndex((x) => x.pred(m));
    if (w >= 0) waiters.splice(w, 1)[0].resolve(m);
    else queue.push(m);
  });
  rl.on('close', () => process.exit(0));
  return {
    next(pred) {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}
