/**
 * What targets say (event messages, pane text, labels, refused arguments) reaches a terminal
 * here. Control characters could move the cursor, retitle the window or write the clipboard
 * (ESC and C1 sequences), a carriage return could overwrite the line, and bidirectional
 * controls could reorder what is shown. Each becomes a visible escape such as \u001b; newlines
 * and tabs stay.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
