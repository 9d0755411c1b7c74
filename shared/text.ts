/**
 * Names are data: a file name (or any text an upload brought) may hold line breaks, control
 * characters or Unicode direction overrides that would forge or reorder lines of a log, a console
 * or an e-mail. Where such text is shown to people it goes through `printable`.
 */

/** C0 and C1 controls, DEL, line/paragraph separators, and the bidirectional formatting marks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The text with every unsafe character shown as an escape (`\n`, `\u202e`): one visible line. */
export const printable = (text: string): string =>
  text.replace(UNSAFE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });

/**
 * JSON for files people open (reports, the outbox): JSON.stringify escapes control characters but
 * not direction overrides or line separators; these are escaped too (the JSON stays equivalent).
 */
export const safeJson = (value: unknown, indent?: number): string =>
  JSON.stringify(value, null, indent).replace(
    /[\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
