import { unsupportedKey } from '../../pki/certificate.js';
import { type CertificateRule, finding } from './rule.js';

/**
 * A key no CA should have, refused before any signature work: an RSA modulus over 16,384 bits or
 * a public exponent that is even, below 3 or over 256 bits (the cost of verifying with it grows
 * with the exponent's size; a crafted upload could make every check take seconds).
 */
export const keyUnsupported: CertificateRule = {
  id: 'key.unsupported',
  scope: 'certificate',
  check: (cert) => {
    const problem = unsupportedKey(cert.publicKey);
    return problem
      ? [
          finding(
            'key.unsupported',
            'error',
            cert,
            `Its key has ${problem}, which no CA should have: reissue the CA with RSA 2048 to 4096 bits and exponent 65537, or ECDSA P-256/P-384.`,
          ),
        ]
      : [];
  },
};
