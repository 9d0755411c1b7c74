import type { CertRef } from './pki/certificate.js';

/**
 * `critical` is above `error`: it rejects like an error and also demands action beyond the upload
 * (a private key was shared).
 */
export type Severity = 'critical' | 'error' | 'warning' | 'info';

export interface Finding {
  /** Stable, e.g. `chain.issuer-missing`, `key.too-weak`. */
  readonly code: string;
  /** critical and error reject; warning is accepted and alerted; info is for the record. */
  readonly severity: Severity;
  /** One sentence a partner can act on. */
  readonly message: string;
  /** The certificate it concerns, when there is one. */
  readonly cert?: CertRef;
  /** The input it concerns (file name and place within it), for input findings. */
  readonly source?: string;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  critical: 0,
  error: 1,
  warning: 2,
  info: 3,
};

export const isBlocking = (finding: Finding): boolean =>
  finding.severity === 'critical' || finding.severity === 'error';

export const bySeverity = (a: Finding, b: Finding): number =>
  SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.code.localeCompare(b.code);
