import { describe, expect, it } from 'vitest';
import { guarded } from '../../cli/io.js';
import { printable, safeJson, shown, terminalSafe } from '../../shared/text.js';

/** Anything but a line feed: C0/C1 controls, DEL, separators, bidi marks. */
const RAW =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const HOSTILE = 'a\nb\r\t\u001b[31m\u009b\u202e\u2066\u2028z';

describe('text shown to people', () => {
  it('printable makes one visible line of any text', () => {
    expect(printable(HOSTILE)).toBe('a\\nb\\r\\t\\u001b[31m\\u009b\\u202e\\u2066\\u2028z');
  });

  it('shown escapes every interpolated value and keeps the template text as written', () => {
    const subject = `CN=x\n${'forged'}\u202e`;
    expect(shown`  + ${subject} (partner ${'p\u001b'}, ${3})\n`).toBe(
      '  + CN=x\\nforged\\u202e (partner p\\u001b, 3)\n',
    );
  });

  it('terminalSafe keeps the line breaks of an output and escapes every other unsafe character', () => {
    expect(terminalSafe(`line 1\n${HOSTILE}\n`)).toBe(
      'line 1\na\nb\\r\\t\\u001b[31m\\u009b\\u202e\\u2066\\u2028z\n',
    );
  });

  it('terminalSafe keeps CRLF line ends (RFC 4180 CSV) and escapes a lone carriage return', () => {
    expect(terminalSafe('a,b\r\nc,d\r\n')).toBe('a,b\r\nc,d\r\n');
    expect(terminalSafe('ok\rforged\r\r\n')).toBe('ok\\rforged\\r\r\n');
  });

  it('safeJson escapes what JSON.stringify leaves raw (C1 controls, DEL, bidi marks, separators) and parses back equal', () => {
    const value = { name: `${HOSTILE}\u007f`, list: ['\u202a', '\u0085'] };
    const text = safeJson(value, 2);
    expect(text).not.toMatch(RAW);
    expect(text).toContain('\\u009b');
    expect(JSON.parse(text)).toEqual(value);
  });

  it('the CLI streams pass everything through terminalSafe', () => {
    let out = '';
    let err = '';
    const io = guarded({
      out: (t) => (out += t),
      err: (t) => (err += t),
      stdin: async () => new Uint8Array(),
    });
    io.out(`ok\n${HOSTILE}\n`);
    io.err('\u001b[2J\u202e\n');
    expect(out).toBe(terminalSafe(`ok\n${HOSTILE}\n`));
    expect(err).toBe('\\u001b[2J\\u202e\n');
  });
});
