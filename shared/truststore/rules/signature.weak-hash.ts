import { WEAK_HASHES } from '../../pki/oids.js';
import { type CertificateRule, finding } from './rule.js';

/** API Gateway refuses SHA-1 and MD5 signatures ("insecure Signature Algorithm"). */
export const signatureWeakHash: CertificateRule = {
  id: 'signature.weak-hash',
  scope: 'certificate',
  check: (cert) => {
    const { hash, algorithm } = cert.signature;
    if (hash === undefined) {
      return [
        finding(
          'signature.weak-hash',
          'error',
          cert,
          `It is signed with an algorithm trustroll does not know (${algorithm}); API Gateway accepts ` +
            'RSA or ECDSA signatures with SHA-256 or stronger: reissue it with one of those.',
        ),
      ];
    }
    return hash !== null && WEAK_HASHES.has(hash)
      ? [
          finding(
            'signature.weak-hash',
            'error',
            cert,
            `It is signed with ${algorithm}; API Gateway requires SHA-256 or stronger ` +
              '("insecure Signature Algorithm"): reissue it with a SHA-256 or stronger signature.',
          ),
        ]
      : [];
  },
};
