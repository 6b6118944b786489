import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Agent, AgentUi } from '../../ai/agent.js';
import type { Dispatcher, Outcome } from '../../core/dispatcher.js';
import type { Principal } from '../../core/policy.js';
import type { Redactor } from '../../core/redact.js';
import { plainText, type Button, type Result } from '../../core/result.js';
import { truncate } from '../../core/text.js';
import { saveDownload } from './downloads.js';
import { terminalSafe } from './terminal.js';

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
  const rl = createInterface({ input: d.input, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const out = lineWriter(d.output, d.redactor);
  // Commands and y/N answers come from this one reader: piped input is read ahead, and a
  // second reader (readline's question) would find those lines gone and the input closed.
  const read = async (prompt: string): Promise<string | undefined> => {
    d.output.write(prompt);
    const next = await lines.next();
    return next.done ? undefined : next.value.trim();
  };
  const ui: Ui = { out, read };
  let buttons: Button[] = [];
  out('teleops console — type /help, a number to press a button, or /quit.');

  for (let input = await read(PROMPT); input !== undefined; input = await read(PROMPT)) {
    if (input === '/quit' || input === '/exit') break;
    if (input === '') continue;
    let outcome: Outcome;
    const pressed = /^\d{1,3}$/.test(input) ? buttons[Number(input) - 1] : undefined;
    if (pressed) outcome = await d.dispatcher.dispatch(d.principal, 'console', pressed.action, pressed.params);
    else if (input.startsWith('/')) {
      outcome = await d.dispatcher.command(d.principal, 'console', input);
      // Telegram ignores what is not shaped like a command (it may be for another bot); here
      // there is no one else it could be for.
      if (outcome.kind === 'ignored') outcome = { kind: 'refused', message: `${truncate(input.split(/\s/, 1)[0]!, 40)} is not a command. /help lists them.` };
    } else if (d.agent) {
      const answer = await d.agent.ask(d.principal, input, agentUi(d, ui));
      buttons = await print(answer, d, out);
      continue;
    } else {
      out('Commands start with a slash; /help lists them. (Set AI_PROVIDER and its key to ask in plain language.)');
      continue;
    }
    buttons = await show(outcome, d, ui);
  }
  rl.close();
}

const PROMPT = 'teleops> ';

/** Every line the console prints: redacted, then made safe for a terminal. */
function lineWriter(output: NodeJS.WritableStream, redactor: Redactor): (s: string) => void {
  return (s) => output.write(`${terminalSafe(redactor.redact(s))}\n`);
}

/** Prints an alert raised while the console runs, like any other output. */
export function consoleAlerts(output: NodeJS.WritableStream, redactor: Redactor): (r: Result) => void {
  const out = lineWriter(output, redactor);
  return (r) => out(`\n🔔 ${plainText(r)}`);
}

interface Ui {
  out(s: string): void;
  /** The next line typed after the prompt; undefined once the input has ended. */
  read(prompt: string): Promise<string | undefined>;
}

/** Only an explicit y approves; anything else, or the input ending, denies. */
async function decision(ui: Ui): Promise<'approve' | 'deny'> {
  const answer = await ui.read('Approve? [y/N] ');
  if (answer === undefined) ui.out('(input ended: denied)');
  const a = answer?.toLowerCase();
  return a === 'y' || a === 'yes' ? 'approve' : 'deny';
}

/** The agent's progress lines are printed as they come; its approval cards are the same y/N prompt. */
function agentUi(d: ConsoleDeps, ui: Ui): AgentUi {
  return {
    progress: (l) => ui.out(l),
    approval: async (p) => {
      ui.out(plainText(p.card));
      const decided = await d.dispatcher.decide(d.principal, p.id, p.token, await decision(ui));
      await show(decided, d, ui);
    },
  };
}

async function show(outcome: Outcome, d: ConsoleDeps, ui: Ui): Promise<Button[]> {
  const out = ui.out;
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
      const decided = await d.dispatcher.decide(d.principal, outcome.approval.id, outcome.approval.token, await decision(ui));
      return show(decided, d, ui);
    }
    case 'done':
      return print(outcome.result, d, out);
  }
}

async function print(r: Result, d: ConsoleDeps, out: (s: string) => void): Promise<Button[]> {
  out(plainText(r));
  if (r.attachment) {
    const c = r.attachment.content;
    const path = await saveDownload(d.downloadDir, r.attachment.filename, typeof c === 'string' || Buffer.isBuffer(c) ? Readable.from([c]) : Readable.from(c), d.redactor.lineStream());
    out(`(written to ${path})`);
  }
  const buttons = (r.buttons ?? []).flat();
  if (buttons.length > 0) out(buttons.map((b, i) => `[${i + 1}] ${b.label}`).join('  '));
  return buttons;
}
