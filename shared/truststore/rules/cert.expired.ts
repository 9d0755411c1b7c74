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
            `Expired on ${day(cert.notAfter)}: every client certificate under it is refused. ` +
              'Upload the renewed CA certificate and remove this one.',
          ),
        ]
      : [],
};
