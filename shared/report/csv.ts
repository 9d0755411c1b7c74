import { printable } from '../text.js';
import type { Report } from './model.js';

/** The CSV columns, in order: one row per CA of the truststore. */
export const CSV_COLUMNS = [
  'partner',
  'subject',
  'issuer',
  'sha256',
  'key',
  'not_before',
  'not_after',
  'days_left',
  'chain_length',
  'clients_break_at',
  'clients_break_because',
  'added_at',
  'upload',
  'upload_version',
  'findings',
  'revoked',
] as const;

const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * One field, safe for spreadsheets and RFC 4180: text a spreadsheet would run as a formula (it
 * starts with `=`, `+`, `-`, `@`, a tab or a carriage return; OWASP's list) gets a leading `'`,
 * a plain number stays a number; a field with a quote, comma or line break is quoted, its
 * quotes doubled. Subjects and partner names are partner-controlled: control characters and
 * direction overrides are shown as escapes (`printable`), as everywhere trustroll shows them.
 */
/**
 * Printable ASCII with nothing to quote, escape or neutralise (no quote or comma; not starting
 * with `=`, `+`, `-` or `@`): the field as it is, without the slower steps (most fields).
 */
const PLAIN = /^(?:[\x20\x21\x23-\x2a\x2e-\x3c\x3e\x3f\x41-\x7e][\x20\x21\x23-\x2b\x2d-\x7e]*)?$/;

export const csvField = (value: string | number): string => {
  if (typeof value === 'string' && PLAIN.test(value)) return value;
  let text = typeof value === 'number' ? String(value) : printable(value);
  if (/^[=+\-@\t\r]/.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** The report's CAs as CSV (RFC 4180: CRLF line ends, a header row), one row per CA. */
export const reportCsv = (report: Report): string => {
  const rows = [CSV_COLUMNS.join(',')];
  for (const ca of report.cas)
    rows.push(
      [
        ca.partner,
        ca.subject,
        ca.issuer,
        ca.fingerprint,
        ca.key,
        ca.notBefore,
        ca.notAfter,
        ca.days,
        ca.chainLength,
        ca.chainBreaksAt,
        ca.chainBreaksBecause,
        ca.addedAt,
        ca.upload.key,
        ca.upload.version,
        ca.findings.map((f) => f.code).join(' '),
        ca.revoked ? ca.revoked.source : '',
      ]
        .map(csvField)
        .join(','),
    );
  return `${rows.join('\r\n')}\r\n`;
};
