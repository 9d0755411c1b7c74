import { type Certificate, toPem } from '../pki/certificate.js';

/** Distinct certificates by SHA-256 fingerprint, first occurrence kept. */
export const dedupe = (certificates: Iterable<Certificate>): Certificate[] => {
  const seen = new Map<string, Certificate>();
  for (const cert of certificates) if (!seen.has(cert.fingerprint)) seen.set(cert.fingerprint, cert);
  return [...seen.values()];
};

/**
 * The truststore object API Gateway reads: one PEM block per distinct certificate, LF endings,
 * nothing else. Deterministic: the same set renders to the same bytes whatever the input order
 * (sorted by subject, then fingerprint), so identical content never makes a new S3 version.
 */
export const renderTruststore = (certificates: Iterable<Certificate>): string =>
  dedupe(certificates)
    .sort((a, b) => compare(a.subject.text, b.subject.text) || compare(a.fingerprint, b.fingerprint))
    .map((cert) => toPem(cert.der))
    .join('');

// Code-unit order, not locale order: the bytes must not depend on the machine's locale.
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
