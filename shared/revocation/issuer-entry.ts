import { type Certificate, verifySignature } from '../pki/certificate.js';
import { certificateOf, type Entry } from '../truststore/state.js';

/** Which truststore CA issued a client certificate, or why none did. */
export type IssuerEntry =
  | { readonly entry: Entry }
  /** No CA of the truststore has the certificate's issuer name (and key identifier). */
  | { readonly problem: 'not-held' }
  /** CAs of that name are held, but none of their keys verifies the certificate's signature. */
  | { readonly problem: 'not-signed'; readonly named: readonly Entry[] };

/**
 * The truststore entry that issued `cert`: by issuer name, then the authority key identifier (when
 * both carry one), and the signature verified with the CA's key, so a serial is never recorded
 * under a CA that did not sign the certificate (serials are unique per issuer only).
 */
export const issuerEntryOf = (entries: readonly Entry[], cert: Certificate): IssuerEntry => {
  const named = entries.filter((e) => e.subjectKey === cert.issuer.key);
  const candidates = cert.authorityKeyId
    ? named.filter((e) => {
        const ski = certificateOf(e).subjectKeyId;
        return ski === undefined || ski === cert.authorityKeyId;
      })
    : named;
  if (candidates.length === 0) return { problem: 'not-held' };
  const entry = candidates.find((e) => verifySignature(cert, certificateOf(e)));
  return entry ? { entry } : { problem: 'not-signed', named: candidates };
};
