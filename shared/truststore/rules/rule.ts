import type { Finding, Severity } from '../../finding.js';
import { type Certificate, certRef } from '../../pki/certificate.js';
import type { SourcedCertificate } from '../../pki/read.js';
import type { IssuerIndex } from '../issuer-index.js';

/** What every rule may look at: the candidate truststore as a whole, and the settings. */
export interface RuleContext {
  /** The moment to judge validity at. */
  readonly at: Date;
  /** `cert.expiring` fires when a CA expires within this many days. */
  readonly expiringDays: number;
  /** The distinct certificates of the candidate truststore. */
  readonly certificates: readonly Certificate[];
  /** Every occurrence, duplicates included, with where it came from. */
  readonly occurrences: readonly SourcedCertificate[];
  readonly index: IssuerIndex;
  /** Size in bytes of the truststore as it would be rendered. */
  readonly renderedBytes: number;
}

/** A rule judging one certificate at a time. Pure: same certificate and context, same findings. */
export interface CertificateRule {
  readonly id: string;
  readonly scope: 'certificate';
  readonly check: (cert: Certificate, ctx: RuleContext) => readonly Finding[];
}

/** A rule judging the candidate truststore as a whole. */
export interface TruststoreRule {
  readonly id: string;
  readonly scope: 'truststore';
  readonly check: (ctx: RuleContext) => readonly Finding[];
}

export type Rule = CertificateRule | TruststoreRule;

export const finding = (code: string, severity: Severity, cert: Certificate, message: string): Finding => ({
  code,
  severity,
  message,
  cert: certRef(cert),
});

export const day = (date: Date): string => date.toISOString().slice(0, 10);

export const DAY_MS = 86_400_000;
