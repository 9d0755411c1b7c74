import type { Certificate } from '../../pki/certificate.js';
import { type CertificateRule, finding } from './rule.js';

/** The most common mistake: a client (leaf) certificate uploaded where a CA belongs. */
export const certNotCa: CertificateRule = {
  id: 'cert.not-ca',
  scope: 'certificate',
  check: (cert) => {
    if (isCa(cert)) return [];
    const why = cert.basicConstraints
      ? 'its basicConstraints say it is not a CA'
      : 'it has no basicConstraints extension marking it as a CA';
    return [
      finding(
        'cert.not-ca',
        'error',
        cert,
        `This is an end-entity (client or server) certificate, not a CA: ${why}. ` +
          'Upload the CA certificates that issued it (intermediate and root) instead.',
      ),
    ];
  },
};

/**
 * CA as OpenSSL judges a trust anchor: basicConstraints cA=TRUE, or a version 1 self-issued
 * certificate (old roots predate extensions).
 */
export const isCa = (cert: Certificate): boolean =>
  cert.basicConstraints ? cert.basicConstraints.ca : cert.version === 1 && cert.selfIssued;
