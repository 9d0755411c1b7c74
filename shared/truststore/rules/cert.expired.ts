import { isCa } from './cert.not-ca.js';
import { type CertificateRule, day, finding } from './rule.js';

export const certExpired: CertificateRule = {
  id: 'cert.expired',
  scope: 'certificate',
  check: (cert, { at }) =>
    cert.notAfter.getTime() < at.getTime()
      ? [
          finding(
            'cert.expired',
            'error',
            cert,
            isCa(cert)
              ? `Expired on ${day(cert.notAfter)}: every client certificate under it is refused. ` +
                  'Upload the renewed CA certificate and remove this one.'
              : // A leaf issues nothing: no client is "under" it (cert.not-ca says what to upload instead).
                `Expired on ${day(cert.notAfter)}: this end-entity (client or server) certificate is itself ` +
                  'no longer valid, and it does not belong in a truststore. Remove it.',
          ),
        ]
      : [],
};
