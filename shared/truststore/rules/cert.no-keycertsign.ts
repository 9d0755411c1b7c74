import { type CertificateRule, finding } from './rule.js';

/** A CA whose keyUsage leaves out keyCertSign cannot sign client certificates. No keyUsage is fine. */
export const certNoKeyCertSign: CertificateRule = {
  id: 'cert.no-keycertsign',
  scope: 'certificate',
  check: (cert) =>
    cert.basicConstraints?.ca && cert.keyUsage && !cert.keyUsage.usages.includes('keyCertSign')
      ? [
          finding(
            'cert.no-keycertsign',
            'error',
            cert,
            `Its keyUsage (${cert.keyUsage.usages.join(', ') || 'empty'}) lacks keyCertSign, so certificates ` +
              'it issued are refused: reissue the CA with keyCertSign in keyUsage.',
          ),
        ]
      : [],
};
