import { type CertificateRule, finding } from './rule.js';

/** A signature that no certificate with the issuer's name verifies: altered, or a re-keyed issuer. */
export const signatureInvalid: CertificateRule = {
  id: 'signature.invalid',
  scope: 'certificate',
  check: (cert, { index }) => {
    const link = index.issuerOf(cert);
    if (link.kind !== 'bad-signature') return [];
    const whose =
      link.candidates.length === 0
        ? 'its own key (it names itself as issuer)'
        : `the key of ${link.candidates.length === 1 ? 'the CA' : 'any CA'} named ${cert.issuer.text} in the truststore`;
    return [
      finding(
        'signature.invalid',
        'error',
        cert,
        `Its signature does not verify with ${whose}: the certificate was altered or its issuer was ` +
          're-keyed. Upload the exact issuer certificate that signed it, or a fresh copy of this one.',
      ),
    ];
  },
};
