import type { Certificate } from './certificate.js';
import { children, DerError, expectTag, readSingle, TAG, toHex } from './der.js';
import { type DistinguishedName, parseName } from './name.js';

export interface Crl {
  readonly issuer: DistinguishedName;
  /** Revoked serial numbers (hex, as encoded). */
  readonly revoked: ReadonlySet<string>;
  /** Whether a CA's key verifies the CRL's signature (absent: not judged, the CRL is taken as given). */
  readonly signedBy?: (ca: Certificate) => boolean;
  /** What a server that checks CRLs also judges (absent: not known, not judged). */
  readonly thisUpdate?: Date;
  readonly nextUpdate?: Date;
  /** Dotted OIDs of critical extensions (of the CRL or an entry) a server cannot process. */
  readonly unknownCritical?: readonly string[];
  /** Hex, the key identifier of its authorityKeyIdentifier, when it has one. */
  readonly authorityKeyId?: string;
  /** Whether the CRL speaks for this certificate (its issuing distribution point's scope). */
  readonly covers?: (cert: Certificate) => boolean;
  /**
   * Why a server without extended CRL support (OpenSSL's default) cannot use it at all: a
   * partition by reasons, an indirect CRL (absent: it can).
   */
  readonly extendedOnly?: string;
}

/**
 * The CRLs whose signature the CA of that name on `path` verifies (or that cannot be judged), and
 * the others: a CRL another key signed under the CA's name is not the CA's.
 */
export const crlsSignedOnPath = (
  crls: readonly Crl[],
  path: readonly Certificate[],
): { readonly signed: Crl[]; readonly forged: Crl[] } => {
  const signed: Crl[] = [];
  const forged: Crl[] = [];
  for (const crl of crls) {
    const ca = path.find((c) => c.subject.key === crl.issuer.key);
    (ca && crl.signedBy && !crl.signedBy(ca) ? forged : signed).push(crl);
  }
  return { signed, forged };
};

/**
 * Reads the issuer and revoked serials of a DER CRL (CertificateList). Used for a warning only —
 * API Gateway checks no revocation — so the CRL's own signature and dates are not judged.
 */
export const parseCrl = (der: Uint8Array): Crl => {
  const [tbs] = children(expectTag(readSingle(der), TAG.SEQUENCE, 'CRL'));
  const fields = children(expectTag(tbs, TAG.SEQUENCE, 'tbsCertList'));
  let i = fields[0]?.tag === TAG.INTEGER ? 2 : 1; // optional version, then the signature algorithm
  const issuerTlv = fields[i++];
  if (!issuerTlv) throw new DerError('CRL issuer is missing');
  const issuer = parseName(issuerTlv, 'CRL issuer');
  i++; // thisUpdate
  if (fields[i]?.tag === TAG.UTC_TIME || fields[i]?.tag === TAG.GENERALIZED_TIME) i++; // nextUpdate
  const revoked = new Set<string>();
  if (fields[i]?.tag === TAG.SEQUENCE) {
    for (const entry of children(fields[i]!))
      revoked.add(toHex(expectTag(children(entry)[0], TAG.INTEGER, 'serial').content));
  }
  return { issuer, revoked };
};

/** Whether a CRL from the certificate's issuer lists its serial. */
export const listedOn = (cert: Certificate, crl: Crl): boolean =>
  crl.issuer.key === cert.issuer.key && crl.revoked.has(cert.serial);
