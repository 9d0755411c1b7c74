import type { Finding, Severity } from '../finding.js';
import type { EventType, Notification } from '../ports.js';
import { printable } from '../text.js';
import type { CertDecision } from '../truststore/admission.js';

/** SNS e-mail subjects are limited to 100 characters. */
export const MAX_SUBJECT = 100;

export const subjectLine = (text: string): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: subjects must be one printable line
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length <= MAX_SUBJECT ? clean : `${clean.slice(0, MAX_SUBJECT - 1)}…`;
};

export const notification = (
  eventType: EventType,
  severity: Severity,
  id: string,
  subject: string,
  lines: readonly string[],
  partner?: string,
): Notification => ({
  id: `${eventType}:${id}`,
  eventType,
  severity,
  ...(partner === undefined ? {} : { partner }),
  // Names are data: a file name cannot forge a line or reorder one (shared/text.ts).
  subject: subjectLine(`[trustroll] ${printable(subject)}`),
  body: `${lines.map(printable).join('\n')}\n`,
});

/** One block per certificate: subject, fingerprint, partner, expiry, then its findings. */
export const describeCertificate = (c: CertDecision, partner: string): string[] => [
  `- ${c.cert.subject.text}`,
  `  sha256 ${c.cert.fingerprint}`,
  `  partner ${partner}, expires ${c.cert.notAfter.toISOString().slice(0, 10)}, ${c.verdict}`,
  ...c.findings.map((f) => `  ${f.severity}: ${f.code}: ${f.message}`),
];

export const describeFindings = (findings: readonly Finding[]): string[] =>
  findings.map((f) => `- ${f.severity}: ${f.code}: ${f.message}`);
