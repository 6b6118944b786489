/**
 * `/agent …` actions. Starting, prompting, stopping and ending agent sessions is for admins
 * (an agent edits files and runs commands, each behind the gate); operators may list them
 * and read transcripts. None of the mutating ones is offered to the LLM: an agent session is
 * started by a person, not by text an LLM read somewhere.
 */
import { z } from 'zod';
import { ActionError, defineAction, type AnyAction } from '../../core/action.js';
import { tokenizeSpans } from '../../core/commands.js';
import { line, result, say, value } from '../../core/result.js';
import { endedCard, listResult, statusCard } from './cards.js';
import { readUpload } from '../../core/uploads.js';
import { INBOX_FILE_MAX } from './inbox.js';
import type { AgentSessions, SentFile } from './sessions.js';
import { AGENT_KINDS, type TranscriptKind } from './store.js';

export const PROMPT_MAX = 8000;

const nameParam = z.string().min(1).max(32).describe('the agent session name');
const promptParam = z.string().min(1).max(PROMPT_MAX);

export interface AgentActionDeps {
  readonly sessions: AgentSessions;
  readonly redact: (text: string) => string;
  readonly now: () => number;
}

/** `claude build /srv/app fix the tests` → kind, name, dir (when it is a path), then the prompt as typed. */
export function parseNew(raw: string): Record<string, unknown> {
  const t = tokenizeSpans(raw);
  const out: Record<string, unknown> = {};
  if (t[0]) out.kind = t[0].value.toLowerCase();
  if (t[1]) out.name = t[1].value;
  let i = 2;
  if (t[2]?.value.startsWith('/')) out.dir = t[i++]!.value;
  if (t[i]) out.prompt = raw.slice(t[i]!.start).trimEnd();
  return out;
}

/** When the session a card or button was about started: set by them, so they reach no other of its name. */
const sinceParam = z
  .number()
  .int()
  .nonnegative()
  .optional()
  .describe('when the session a card was about started; set by its buttons and reply target');

export function agentActions(d: AgentActionDeps): AnyAction[] {
  const { sessions } = d;
  /** The session named, unless a card or button was about an earlier one of that name, since ended. */
  const current = (p: { name: string; since?: number | undefined }) => {
    const session = sessions.get(p.name);
    if (p.since !== undefined && p.since !== session.createdAt)
      throw new ActionError(
        `the session this card was about has ended; ${p.name} is another one now (in ${session.dir}): ` +
          `/agent ${p.name} <prompt…> reaches it`,
      );
    return session;
  };

  const create = defineAction({
    name: 'agent.new',
    summary: 'Start a Claude Code or Codex session in a directory under AGENT_ROOTS, optionally with a first prompt',
    target: 'agents',
    risk: 'write',
    minRole: 'admin',
    llm: false,
    params: z.object({
      kind: z.enum(AGENT_KINDS as [string, ...string[]]).describe('claude or codex'),
      name: nameParam,
      dir: z.string().min(1).max(1024).optional().describe('absolute working directory (default AGENT_DEFAULT_DIR)'),
      prompt: promptParam.optional(),
    }),
    command: {
      path: ['agent', 'new'],
      usage: '<claude|codex> <name> [dir] [prompt...]',
      parse: (_tokens, raw) => parseNew(raw),
    },
    subject: (p) => `agent session ${p.name}`,
    async run(ctx, p) {
      const created = await sessions.create({
        kind: p.kind as 'claude' | 'codex',
        name: p.name,
        ...(p.dir ? { dir: p.dir } : {}),
        requester: ctx.operator,
      });
      return statusCard(p.prompt ? await sessions.prompt(p.name, p.prompt, ctx.operator) : created, d.redact);
    },
  });

  const prompt = defineAction({
    name: 'agent.prompt',
    summary: 'Send the next prompt to an agent session (or reply to its card, with a photo or file too)',
    target: 'agents',
    risk: 'write',
    minRole: 'admin',
    llm: false,
    params: z.object({
      name: nameParam,
      prompt: promptParam.optional(),
      text: promptParam.optional(),
      since: sinceParam,
    }),
    // A bare /agent is the list (agent.ls).
    command: { path: ['agent'], usage: '<name> <prompt...>' },
    subject: (p) => `agent session ${p.name}`,
    uploads: true,
    async run(ctx, p) {
      const text = p.prompt ?? p.text;
      const uploads = ctx.uploads ?? [];
      if (text === undefined && uploads.length === 0)
        throw new ActionError(`say what ${p.name} should do: /agent ${p.name} <prompt…>`);
      current(p);
      const files: SentFile[] = [];
      for (const u of uploads) files.push({ name: u.name, bytes: await readUpload(u, INBOX_FILE_MAX, ctx.signal) });
      return statusCard(await sessions.prompt(p.name, text ?? '', ctx.operator, files), d.redact);
    },
  });

  const ls = defineAction({
    name: 'agent.ls',
    summary: 'List agent sessions: kind, directory, state, turns, cost today',
    target: 'agents',
    risk: 'read',
    minRole: 'operator',
    params: z.object({}),
    command: { path: ['agent', 'ls'], aliases: [['agents']], bare: ['agent'] },
    async run() {
      return listResult(sessions.list());
    },
  });

  const show = defineAction({
    name: 'agent.show',
    summary: "Show an agent session's live card: state, the answer so far, the tool it is on",
    target: 'agents',
    risk: 'read',
    minRole: 'admin',
    // What an admin's agent read and printed: for admins only (/audit shows others its summary), never an LLM.
    llm: false,
    params: z.object({ name: nameParam }),
    command: { path: ['agent', 'show'], usage: '<name>' },
    async run(_ctx, p) {
      return statusCard(sessions.get(p.name), d.redact);
    },
  });

  const log = defineAction({
    name: 'agent.log',
    summary: 'Send the transcript of an agent session (prompts, answers, tool calls, decisions) as a file',
    target: 'agents',
    risk: 'read',
    minRole: 'admin',
    llm: false,
    params: z.object({ name: nameParam, since: sinceParam }),
    command: { path: ['agent', 'log'], usage: '<name>' },
    async run(_ctx, p) {
      current(p);
      const lines = sessions.transcript(p.name);
      const body = lines.map((l) => `${new Date(l.at).toISOString()} ${LABEL[l.kind]}: ${l.text}`).join('\n');
      const stamp = new Date(d.now()).toISOString().replace(/:/g, '-');
      return result([line(`${lines.length} transcript entries of `, value(p.name), '.')], {
        attachment: { filename: `agent-${p.name}-${stamp}.log`, content: d.redact(body) + '\n' },
      });
    },
  });

  const stop = defineAction({
    name: 'agent.stop',
    summary: 'Interrupt the running turn of an agent session (the session stays and can go on)',
    target: 'agents',
    risk: 'write',
    minRole: 'admin',
    params: z.object({ name: nameParam, since: sinceParam }),
    command: { path: ['agent', 'stop'], usage: '<name>' },
    subject: (p) => `agent session ${p.name}`,
    async run(_ctx, p) {
      current(p);
      const stopped = await sessions.stop(p.name);
      if (!stopped) return say(value(p.name), ' is not working on anything.');
      // Not the card: what the agent printed is not for whoever stops it (an LLM may).
      return say('⏹ Stopped the turn of ', value(p.name), '; its card shows where it got to.');
    },
  });

  const end = defineAction({
    name: 'agent.end',
    summary: 'Stop an agent session and forget it (its transcript too)',
    target: 'agents',
    risk: 'destructive',
    minRole: 'admin',
    llm: false,
    params: z.object({ name: nameParam }),
    command: { path: ['agent', 'end'], usage: '<name>' },
    subject: (p) => `agent session ${p.name}`,
    async preview(_ctx, p) {
      const v = sessions.get(p.name);
      return [
        line('Session ', value(v.name), ` (${v.kind}) in `, value(v.dir), `: ${v.turns} turns, state ${v.state}.`),
      ];
    },
    async run(_ctx, p) {
      await sessions.end(p.name);
      return endedCard(p.name);
    },
  });

  return [create, prompt, ls, show, log, stop, end];
}

const LABEL: Readonly<Record<TranscriptKind, string>> = {
  prompt: 'prompt',
  answer: 'answer',
  tool: 'tool',
  decision: 'decision',
  result: 'result',
  error: 'error',
};
