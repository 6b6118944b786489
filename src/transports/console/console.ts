import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Agent, AgentUi } from '../../ai/agent.js';
import type { Dispatcher, Outcome, PendingApproval } from '../../core/dispatcher.js';
import type { Principal } from '../../core/policy.js';
import type { ProgressNote } from '../../core/progress.js';
import type { Redactor } from '../../core/redact.js';
import type { Registry } from '../../core/registry.js';
import { plainText, type Button, type Result } from '../../core/result.js';
import { truncate } from '../../core/text.js';
import { saveDownload } from './downloads.js';
import { terminalSafe } from './terminal.js';

/** The person at this terminal, by login name: "console:<login>" in the audit log. */
export const localPrincipal = (login: string): Principal => ({
  transport: 'console',
  userId: 0,
  chatId: 0,
  chatKind: 'local',
  name: login,
});

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
  /** A person at a real terminal: line editing, history and tab completion (from this registry). */
  readonly terminal?: { readonly registry: Registry };
}

export interface ConsoleSession {
  /** Prints an alert without breaking what is being typed: the prompt and input are redrawn under it. */
  alert(r: Result): void;
  /** Reads commands until /quit or the end of input. */
  run(): Promise<void>;
}

/**
 * The same registry and pipeline in a local terminal: commands typed as in Telegram,
 * approvals answered with a y/N prompt, buttons pressed by typing their number.
 */
export function createConsole(d: ConsoleDeps): ConsoleSession {
  const rl = d.terminal
    ? createInterface({
        input: d.input,
        output: d.output,
        terminal: true,
        historySize: 500,
        removeHistoryDuplicates: true,
        completer: completer(d, d.terminal.registry),
      })
    : createInterface({ input: d.input, terminal: false });
  const lines = lineSource(rl);
  const write = lineWriter(d.output, d.redactor);
  const printAlert = consoleAlerts(d.output, d.redactor);
  /** The prompt shown while waiting for a line, to redraw it after an alert. */
  let waiting: string | undefined;

  // Commands and y/N answers come from this one reader: piped input is read ahead, and a
  // second reader (readline's question) would find those lines gone and the input closed.
  const read = async (prompt: string, expiresAt?: number): Promise<string | undefined | 'expired'> => {
    waiting = prompt;
    if (d.terminal) {
      rl.setPrompt(prompt);
      rl.prompt();
    } else d.output.write(prompt);
    let timer: NodeJS.Timeout | undefined;
    const expired =
      expiresAt === undefined
        ? undefined
        : new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), Math.max(0, expiresAt - Date.now()))));
    try {
      const next = await Promise.race([lines.next(), ...(expired ? [expired] : [])]);
      if (next === 'expired') {
        d.output.write('\n');
        return next;
      }
      return next.done ? undefined : next.value.trim();
    } finally {
      clearTimeout(timer);
      waiting = undefined;
    }
  };
  const ui: Ui = { out: write, read };
  d.dispatcher.progress.on(printProgress(ui));

  return {
    alert(r) {
      if (waiting === undefined) return printAlert(r);
      if (d.terminal) {
        clearLine(d.output, 0);
        cursorTo(d.output, 0);
        printAlert(r);
        rl.prompt(true);
      } else {
        printAlert(r);
        d.output.write(waiting);
      }
    },
    async run() {
      let buttons: Button[] = [];
      write('teleops console — type /help, a number to press a button, or /quit.');
      for (let input = await read(PROMPT); input !== undefined && input !== 'expired'; input = await read(PROMPT)) {
        if (input === '/quit' || input === '/exit') break;
        if (input === '') continue;
        const r = await handle(d, ui, input, buttons);
        buttons = r.buttons;
      }
      rl.close();
    },
  };
}

export const runConsole = (d: ConsoleDeps): Promise<void> => createConsole(d).run();

/**
 * `teleops console -c "/docker ps"`: runs one line, prints what it answered (or one JSON
 * object), and returns the exit code: 0 when it ran, 1 otherwise. An approval is still asked,
 * on the output, and read from the input.
 */
export async function runOnce(d: ConsoleDeps, input: string, json: boolean): Promise<number> {
  const rl = createInterface({ input: d.input, terminal: false });
  const lines = lineSource(rl);
  const write = lineWriter(d.output, d.redactor);
  const printed: string[] = [];
  const ui: Ui = {
    out: (s) => (json ? printed.push(s) : write(s)),
    read: async (prompt, expiresAt) => {
      // The card must be seen before the answer; with --json it goes out as lines before the object.
      for (const l of printed.splice(0)) write(l);
      d.output.write(prompt);
      let timer: NodeJS.Timeout | undefined;
      const expired =
        expiresAt === undefined
          ? []
          : [
              new Promise<'expired'>(
                (r) => (timer = setTimeout(() => r('expired'), Math.max(0, expiresAt - Date.now()))),
              ),
            ];
      const next = await Promise.race([lines.next(), ...expired]);
      clearTimeout(timer);
      if (next === 'expired') return next;
      return next.done ? undefined : next.value.trim();
    },
  };
  const off = d.dispatcher.progress.on(printProgress(ui));
  const r = await handle(d, ui, input.trim(), []);
  off();
  rl.close();
  if (json) {
    const text = d.redactor.redact(printed.join('\n'));
    d.output.write(
      `${JSON.stringify({ ok: r.kind === 'done', outcome: r.kind, text, ...(r.file ? { file: r.file } : {}) })}\n`,
    );
  }
  return r.kind === 'done' ? 0 : 1;
}

const PROMPT = 'teleops> ';

/** What a run of the local person's is doing, printed as it happens (core/progress.ts). */
const printProgress =
  (ui: Ui) =>
  (n: ProgressNote): void => {
    if (n.text !== undefined && n.operator.chatId === 0) ui.out(`⏳ ${n.text}`);
  };

interface Handled {
  /** What the request came to; for an approval, what the decision came to. */
  readonly kind: Outcome['kind'] | 'not_a_command';
  readonly buttons: Button[];
  /** Where an attachment was written. */
  readonly file?: string;
}

/** One line typed: a button number, a command, or a question for the agent. */
async function handle(d: ConsoleDeps, ui: Ui, input: string, buttons: readonly Button[]): Promise<Handled> {
  const pressed = /^\d{1,3}$/.test(input) ? buttons[Number(input) - 1] : undefined;
  if (pressed) return show(await d.dispatcher.dispatch(d.principal, 'console', pressed.action, pressed.params), d, ui);
  if (input.startsWith('/')) {
    const outcome = await d.dispatcher.command(d.principal, 'console', input);
    // Telegram ignores what is not shaped like a command (it may be for another bot); here
    // there is no one else it could be for.
    if (outcome.kind === 'ignored')
      return show(
        { kind: 'refused', message: `${truncate(input.split(/\s/, 1)[0]!, 40)} is not a command. /help lists them.` },
        d,
        ui,
      );
    return show(outcome, d, ui);
  }
  if (d.agent) {
    const answer = await d.agent.ask(d.principal, input, agentUi(d, ui));
    return { kind: 'done', ...(await print(answer, d, ui.out)) };
  }
  ui.out('Commands start with a slash; /help lists them. (Set AI_PROVIDER and its key to ask in plain language.)');
  return { kind: 'not_a_command', buttons: [] };
}

/** Lines of the input, one at a time; a read given up (an approval expired) leaves its line for the next. */
function lineSource(rl: Interface): { next(): Promise<IteratorResult<string>> } {
  const it = rl[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<string>> | undefined;
  return {
    next: () =>
      (pending ??= it.next().then((r) => {
        pending = undefined;
        return r;
      })),
  };
}

/** Tab completion of command words, from the registry: "/do" → "/docker", "/docker l" → "/docker logs". */
function completer(d: ConsoleDeps, registry: Registry): (line: string) => [string[], string] {
  const role = d.dispatcher.identify(d.principal)?.role ?? 'viewer';
  const spellings = registry.spellings(role);
  return (line) => {
    if (!line.startsWith('/')) return [[], line];
    const hits = new Set<string>();
    for (const s of spellings) {
      if (!s.startsWith(line.toLowerCase())) continue;
      const end = s.indexOf(' ', line.length);
      hits.add(end < 0 ? `${s} ` : s.slice(0, end));
    }
    return [[...hits].sort(), line];
  };
}

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
  /**
   * The next line typed after the prompt; undefined once the input has ended; 'expired' when
   * `expiresAt` passed first.
   */
  read(prompt: string, expiresAt?: number): Promise<string | undefined | 'expired'>;
}

/**
 * Only an explicit y approves; anything else, or the input ending, denies. The approval's
 * expiry is said when it comes.
 */
async function decide(d: ConsoleDeps, ui: Ui, p: PendingApproval): Promise<Outcome> {
  const answer = await ui.read('Approve? [y/N] ', p.expiresAt);
  if (answer === undefined) ui.out('(input ended: denied)');
  // Past its expiry the dispatcher refuses any answer and says so in its own words; a deny,
  // so that a clock read a moment early still runs nothing.
  const a = answer === 'expired' ? 'no' : answer?.toLowerCase();
  return d.dispatcher.decide(d.principal, p.id, p.token, a === 'y' || a === 'yes' ? 'approve' : 'deny');
}

/** The agent's progress lines are printed as they come; its approval cards are the same y/N prompt. */
function agentUi(d: ConsoleDeps, ui: Ui): AgentUi {
  return {
    progress: (l) => ui.out(l),
    approval: async (p) => {
      ui.out(plainText(p.card));
      await show(await decide(d, ui, p), d, ui);
    },
  };
}

async function show(outcome: Outcome, d: ConsoleDeps, ui: Ui): Promise<Handled> {
  const out = ui.out;
  switch (outcome.kind) {
    case 'ignored':
      return { kind: outcome.kind, buttons: [] };
    case 'rate_limited':
      if (outcome.notify) out(`Slow down: try again in ${outcome.retryAfterS}s.`);
      return { kind: outcome.kind, buttons: [] };
    case 'refused':
      out(`! ${outcome.message}`);
      return { kind: outcome.kind, buttons: [] };
    case 'failed':
      out(`! ${outcome.action} failed: ${outcome.message}`);
      return { kind: outcome.kind, buttons: [] };
    case 'approval':
      out(plainText(outcome.approval.card));
      return show(await decide(d, ui, outcome.approval), d, ui);
    case 'done':
      return { kind: outcome.kind, ...(await print(outcome.result, d, out)) };
  }
}

async function print(
  r: Result,
  d: ConsoleDeps,
  out: (s: string) => void,
): Promise<{ buttons: Button[]; file?: string }> {
  out(plainText(r));
  let file: string | undefined;
  if (r.attachment) {
    const c = r.attachment.content;
    file = await saveDownload(
      d.downloadDir,
      r.attachment.filename,
      typeof c === 'string' || Buffer.isBuffer(c) ? Readable.from([c]) : Readable.from(c),
      d.redactor.lineStream(),
    );
    out(`(written to ${file})`);
  }
  const buttons = (r.buttons ?? []).flat();
  if (buttons.length > 0) out(buttons.map((b, i) => `[${i + 1}] ${b.label}`).join('  '));
  return { buttons, ...(file ? { file } : {}) };
}
