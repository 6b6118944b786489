/**
 * What the approval card of one agent tool call shows: the tool and its whole input, in the
 * form a person reads it by (a Bash command as code, an Edit as a diff, a Write as its path,
 * size and content, a Codex file change as its diff). Nothing is cut here: the transport
 * sends what does not fit as a document before the buttons work. Every line goes through
 * showInvisible, so control, bidi and zero-width characters are named, never hidden.
 */
import { line, pre, text, value, type Block } from '../../core/result.js';
import { counted } from '../../core/text.js';
import { redactDeepWith, type Redact } from '../../core/redact.js';
import { showInvisible } from '../../core/visible.js';
import type { ToolRequest } from './gate.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const diff = (oldText: string, newText: string): string =>
  [...oldText.split('\n').map((l) => `-${l}`), ...newText.split('\n').map((l) => `+${l}`)].join('\n');

/**
 * How a card shows text: secrets hidden first (escaped, `password:⟨5 spaces⟩x` would no longer
 * read as one to the redactor), then invisible characters named; a block of code keeps its lines.
 */
function viewer(redact: Redact) {
  return {
    shown: (s: string): string => showInvisible(redact(s)),
    code: (s: string): Block => pre(redact(s).split('\n').map(showInvisible).join('\n')),
  };
}
type Viewer = ReturnType<typeof viewer>;

function inputBlocks(tool: string, input: Readonly<Record<string, unknown>>, v: Viewer): Block[] | undefined {
  const { shown, code } = v;
  const path = (label: string, p: string): Block => line(text(`${label}: `), value(shown(p)));
  const file = str(input.file_path);
  switch (tool) {
    case 'Bash':
    case 'command': {
      const command = str(input.command);
      if (command === undefined) return undefined;
      const cwd = str(input.cwd);
      // Codex: the model asked to run it without the sandbox (or teleops could not tell).
      const outside = str(input.outsideSandbox);
      return [
        ...(outside !== undefined
          ? [line(text('⚠ outside the sandbox, with all the rights of teleops: '), value(shown(outside)))]
          : []),
        ...(cwd !== undefined ? [path('in', cwd)] : []),
        code(command),
      ];
    }
    case 'Edit': {
      const [o, n] = [str(input.old_string), str(input.new_string)];
      if (file === undefined || o === undefined || n === undefined) return undefined;
      return [
        path('file', file),
        ...(input.replace_all === true ? [line(text('every occurrence'))] : []),
        code(diff(o, n)),
      ];
    }
    case 'MultiEdit': {
      if (file === undefined || !Array.isArray(input.edits)) return undefined;
      const edits = input.edits as unknown[];
      const parts = edits.map((e) => {
        const r = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
        return diff(str(r.old_string) ?? '', str(r.new_string) ?? '');
      });
      return [path('file', file), line(text(counted(edits.length, 'edit'))), code(parts.join('\n…\n'))];
    }
    case 'Write': {
      const content = str(input.content);
      if (file === undefined || content === undefined) return undefined;
      return [
        path('file', file),
        line(text(`${counted(content.length, 'character')}, ${counted(content.split('\n').length, 'line')}`)),
        code(content),
      ];
    }
    case 'fileChange': {
      if (!Array.isArray(input.changes)) return undefined;
      return (input.changes as unknown[]).flatMap((c) => {
        const r = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
        const k = typeof r.kind === 'object' && r.kind !== null ? (r.kind as Record<string, unknown>) : undefined;
        const kind = k ? str(k.type) : str(r.kind);
        // An update may also move the file: where it lands is what the approval decides.
        const to = k ? str(k.move_path) : undefined;
        return [
          line(text('file: '), value(shown(str(r.path) ?? '?')), text(kind ? ` (${kind})` : '')),
          ...(to !== undefined ? [line(text('⚠ moved to: '), value(shown(to)))] : []),
          code(str(r.diff) ?? ''),
        ];
      });
    }
    default:
      return undefined;
  }
}

/** The input fields each tool's view shows itself; any other field is listed under it. */
const RENDERED: Readonly<Record<string, readonly string[]>> = {
  Bash: ['command', 'cwd', 'outsideSandbox'],
  command: ['command', 'cwd', 'outsideSandbox'],
  Edit: ['file_path', 'old_string', 'new_string', 'replace_all'],
  MultiEdit: ['file_path', 'edits'],
  Write: ['file_path', 'content'],
  fileChange: ['changes'],
};

/** The lines of an approval card for `req` (the card's heading and buttons are the approver's). */
export function toolApprovalBlocks(req: Pick<ToolRequest, 'session' | 'tool' | 'input'>, redact: Redact): Block[] {
  const v = viewer(redact);
  const { shown } = v;
  const head = line(text('Agent '), value(req.session), text(' asks to use '), value(shown(req.tool)), text(':'));
  const reason = str(req.input.reason);
  const view = inputBlocks(req.tool, req.input, v);
  // What the view leaves out still runs (a Bash in the background for two hours): it is listed.
  const rest = Object.fromEntries(
    Object.entries(req.input).filter(([k]) => k !== 'reason' && !(RENDERED[req.tool] ?? []).includes(k)),
  );
  const blocks =
    view === undefined
      ? [v.code(JSON.stringify(redactDeepWith(req.input, redact)))]
      : Object.keys(rest).length === 0
        ? view
        : [...view, line(text('with:')), v.code(JSON.stringify(redactDeepWith(rest, redact)))];
  return [
    head,
    ...(reason !== undefined && req.tool !== 'Bash' ? [line(text('reason: '), value(shown(reason)))] : []),
    ...blocks,
  ];
}
