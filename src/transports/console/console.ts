import { createInterface, type Interface } from 'node:readline/promises';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Agent, AgentUi } from '../../ai/agent.js';
import type { Dispatcher, Outcome } from '../../core/dispatcher.js';
import type { Principal } from '../../core/policy.js';
import type { Redactor } from '../../core/redact.js';
import { plainText, type Button, type Result } from '../../core/result.js';

export interface ConsoleDeps {
  readonly dispatcher: Dispatcher;
  readonly redactor: Redactor;
  readonly principal: Principal;
  /** Attachments (long logs) are written here and their path printed. */
  readonly downloadDir: string;
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** When an LLM is configured: plain text (not a command) is a request to it. */
  readonly agent?: Agent;
}

/**
 * The same registry and pipeline in a local terminal: commands typed as in Telegram,
 * approvals answered with a y/N prompt, buttons pressed by typing their number.
 */
export async function runConsole(d: ConsoleDeps): Promise<void> {
  const rl = createInterface({ input: d.input, output: d.output, terminal: false });
  const out = (s: string) => d.output.write(`${d.redactor.redact(s)}\n`);
  let buttons: Button[] = [];
  out('teleops console — type /help, a number to press a button, or /quit.');

  const prompt = () => d.output.write('teleops> ');
  prompt();
  for await (const raw of rl) {
    const input = raw.trim();
    if (input === '/quit' || input === '/exit') break;
    if (input === '') {
      prompt();
      continue;
    }
    let outcome: Outcome;
    const pressed = /^\d{1,3}$/.test(input) ? buttons[Number(input) - 1] : undefined;
    if (pressed) outcome = await d.dispatcher.dispatch(d.principal, 'console', pressed.action, pressed.params);
    else if (input.startsWith('/')) outcome = await d.dispatcher.command(d.principal, 'console', input);
    else if (d.agent) {
      const answer = await d.agent.ask(d.principal, input, agentUi(d, rl, out));
      buttons = await print(answer, d, out);
      prompt();
      continue;
    } else {
      out('Commands start with a slash; /help lists them. (Set AI_PROVIDER and its key to ask in plain language.)');
      prompt();
      continue;
    }
    buttons = await show(outcome, d, rl, out);
    prompt();
  }
  rl.close();
}

/** The agent's progress lines are printed as they come; its approval cards are the same y/N prompt. */
function agentUi(d: ConsoleDeps, rl: Interface, out: (s: string) => void): AgentUi {
  return {
    progress: (l) => out(l),
    approval: async (p) => {
      out(plainText(p.card));
      const answer = (await rl.question('Approve? [y/N] ')).trim().toLowerCase();
      const decided = await d.dispatcher.decide(d.principal, p.id, p.token, answer === 'y' || answer === 'yes' ? 'approve' : 'deny');
      await show(decided, d, rl, out);
    },
  };
}

async function show(outcome: Outcome, d: ConsoleDeps, rl: Interface, out: (s: string) => void): Promise<Button[]> {
  switch (outcome.kind) {
    case 'ignored':
      return [];
    case 'rate_limited':
      if (outcome.notify) out(`Slow down: try again in ${outcome.retryAfterS}s.`);
      return [];
    case 'refused':
      out(`! ${outcome.message}`);
      return [];
    case 'failed':
      out(`! ${outcome.action} failed: ${outcome.message}`);
      return [];
    case 'approval': {
      out(plainText(outcome.approval.card));
      const answer = (await rl.question('Approve? [y/N] ')).trim().toLowerCase();
      const decided = await d.dispatcher.decide(d.principal, outcome.approval.id, outcome.approval.token, answer === 'y' || answer === 'yes' ? 'approve' : 'deny');
      return show(decided, d, rl, out);
    }
    case 'done':
      return print(outcome.result, d, out);
  }
}

async function print(r: Result, d: ConsoleDeps, out: (s: string) => void): Promise<Button[]> {
  out(plainText(r));
  if (r.attachment) {
    mkdirSync(d.downloadDir, { recursive: true });
    const path = join(d.downloadDir, r.attachment.filename.replace(/[^A-Za-z0-9._-]+/g, '_'));
    const c = r.attachment.content;
    await pipeline(typeof c === 'string' || Buffer.isBuffer(c) ? Readable.from([c]) : Readable.from(c), d.redactor.lineStream(), createWriteStream(path));
    out(`(written to ${path})`);
  }
  const buttons = (r.buttons ?? []).flat();
  if (buttons.length > 0) out(buttons.map((b, i) => `[${i + 1}] ${b.label}`).join('  '));
  return buttons;
}
