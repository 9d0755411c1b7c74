import type { Certificate } from '../../pki/certificate.js';
import { SUPPORTED_CURVES } from '../../pki/oids.js';
import { type CertificateRule, finding } from './rule.js';

const FIX = 'reissue the CA with RSA 2048 bits or more, or ECDSA P-256/P-384.';

/** API Gateway's floor: RSA 2048 or more, ECDSA on a NIST curve of 256 bits or more. */
export const keyTooWeak: CertificateRule = {
  id: 'key.too-weak',
  scope: 'certificate',
  check: (cert) => {
    const problem = weakness(cert);
    return problem ? [finding('key.too-weak', 'error', cert, `${problem}: ${FIX}`)] : [];
  },
};

const weakness = (cert: Certificate): string | undefined => {
  const { type, bits, curve } = cert.publicKey;
  switch (type) {
    case 'rsa':
    case 'rsa-pss':
      // The parser gives every RSA key its modulus size (parsePublicKey, or the certificate is
      // refused), so `bits` is never undefined here: the `?? 0` only satisfies the type.
      return (bits ?? 0) >= 2048
        ? undefined
        : `Its RSA key has ${bits} bits, below API Gateway's minimum of 2048`;
    case 'ec':
      if (!curve || !SUPPORTED_CURVES.has(curve))
        return `Its EC key uses the curve ${curve}, which API Gateway does not support`;
      return undefined;
    default:
      return `Its key type (${type === 'unknown' ? cert.publicKey.algorithmOid : type}) is not supported by API Gateway, which takes RSA and ECDSA`;
  }
};
