/**
 * How tool output is handed to the LLM: redacted, cut to a budget with a note on how to ask
 * for less, and wrapped in a labelled element that the text inside cannot close.
 */

export const TOOL_OUTPUT_CHARS = 4000;
/** All tool output of one request together; later calls get what is left. */
export const CONTEXT_CHARS = 24_000;

const OPEN = '<tool_output';
const CLOSE = '</tool_output>';

/** Text that would open or close the wrapper gets a zero-width break, so it cannot end the data early. */
export function neutralize(s: string): string {
  return s.replace(/<(\/?)(tool_output)/gi, '<$1\u200b$2');
}

/**
 * Cuts `s` to at most `max` characters, keeping the start and the (usually more telling) end,
 * and says how much was left out and how to narrow the request.
 */
export function cut(s: string, max: number, hint: string): string {
  if (s.length <= max) return s;
  const note = `\n[… ${s.length} characters in all; the middle was left out. ${hint}]\n`;
  const room = Math.max(0, max - note.length);
  const head = Math.floor(room / 4);
  return `${s.slice(0, head)}${note}${s.slice(s.length - (room - head))}`;
}

export const NARROW_HINT =
  'To see more, narrow the request: fewer lines, a time window, a grep text, or one specific name.';

/** The element the LLM sees for one tool result; `body` must already be redacted. */
export function wrapUntrusted(action: string, body: string, max: number): string {
  return `${OPEN} action="${action}" untrusted="true">\n${cut(neutralize(body), max, NARROW_HINT)}\n${CLOSE}`;
}
