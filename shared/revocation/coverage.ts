import type { Certificate } from '../pki/certificate.js';

/**
 * Which certificates a CRL speaks for (RFC 5280 §6.3.3 b), in one place for the three that ask:
 * the index build (is this intermediate covered by its issuer's CRL), the door (is this client)
 * and the CRL tests. A full CRL (no issuing distribution point) covers all; a partition's URIs
 * must meet the certificate's cRLDistributionPoints URIs; onlyUser covers end entities, onlyCA
 * CAs; a CRL of attribute certificates only covers none.
 */
export interface CoverageScope {
  /** fullName URIs of the issuing distribution point; none = every distribution point. */
  readonly uris: readonly string[];
  readonly onlyUser: boolean;
  readonly onlyCA: boolean;
  readonly onlyAttribute?: boolean;
}

/**
 * `as: 'client'` judges the certificate as what it is at the door, an end entity, whatever its
 * basicConstraints say (a CA certificate presented as a client is still a client there).
 */
export const covers = (
  scope: CoverageScope | undefined,
  cert: Certificate,
  as: 'issued' | 'client' = 'issued',
  /** URIs compared byte for byte, as OpenSSL does (the door compares them as URIs: wider, safe there). */
  exact = false,
): boolean => {
  if (!scope) return true;
  if (scope.onlyAttribute) return false;
  const isCa = as === 'issued' && cert.basicConstraints?.ca === true;
  if (scope.onlyUser && isCa) return false;
  if (scope.onlyCA && !isCa) return false;
  if (scope.uris.length === 0) return true;
  const as_ = exact ? (u: string) => u : sameUri;
  const points = new Set((cert.crlDistributionPoints ?? []).map(as_));
  return scope.uris.some((u) => points.has(as_(u)));
};

/**
 * A URI as compared: scheme and host are case-insensitive (RFC 3986 §6.2.2.1), so
 * `HTTP://CRL.Example/p1.crl` names the same partition as `http://crl.example/p1.crl`; the path
 * is compared as written. A URI that does not parse is compared as written.
 */
const sameUri = (uri: string): string => {
  try {
    return new URL(uri).href;
  } catch {
    return uri;
  }
};
