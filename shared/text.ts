/**
 * Names are data: a file name (or any text an upload brought) may hold line breaks, control
 * characters or Unicode direction overrides that would forge or reorder lines of a log, a console
 * or an e-mail. Where such text is shown to people it goes through `printable`.
 */

/** C0 and C1 controls, DEL, line/paragraph separators, and the bidirectional formatting marks. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (c: string): string => {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
};

/** The text with every unsafe character shown as an escape (`\n`, `\u202e`): one visible line. */
export const printable = (text: string): string => text.replace(UNSAFE, escaped);

/**
 * A line of text for people whose every interpolated value goes through `printable`, while the
 * template's own text is kept as written: `` shown`  + ${subject} (partner ${partner})` ``.
 * Build multi-line output from such lines joined with `\n`, never by interpolating a block.
 */
export const shown = (parts: TemplateStringsArray, ...values: readonly unknown[]): string => {
  let out = parts[0]!;
  for (const [i, value] of values.entries()) out += printable(String(value)) + parts[i + 1]!;
  return out;
};

/**
 * The last guard before a terminal: every unsafe character escaped except the line breaks the
 * output is made of. It cannot tell a forged line break from a real one (`printable` on each value
 * does that), but no escape sequence or direction override gets through whatever was missed.
 */
export const terminalSafe = (text: string): string =>
  // A CRLF is a line break too (RFC 4180 CSV is made of them); a lone CR, which lets a line be
  // overwritten on a terminal, is escaped.
  text.replace(UNSAFE, (c, at: number) =>
    c === '\n' || (c === '\r' && text.charCodeAt(at + 1) === 10) ? c : escaped(c),
  );

/**
 * JSON for files and terminals people read (reports, the outbox, `--json`): JSON.stringify escapes
 * C0 control characters but not DEL, the C1 controls (U+009B starts an escape sequence on some
 * terminals), direction overrides or line separators; these are escaped too (the JSON stays
 * equivalent).
 */
export const safeJson = (value: unknown, indent?: number): string =>
  JSON.stringify(value, null, indent).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** A value a partner controls, cut for display when it runs long, saying how long it was. */
export const clipped = (text: string, max = 200): string =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
