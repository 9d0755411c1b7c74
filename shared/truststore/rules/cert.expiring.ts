import { type CertificateRule, DAY_MS, day, finding } from './rule.js';

export const certExpiring: CertificateRule = {
  id: 'cert.expiring',
  scope: 'certificate',
  check: (cert, { at, expiringDays }) => {
    const left = cert.notAfter.getTime() - at.getTime();
    if (left < 0 || left > expiringDays * DAY_MS) return [];
    const days = Math.floor(left / DAY_MS);
    return [
      finding(
        'cert.expiring',
        'warning',
        cert,
        `Expires on ${day(cert.notAfter)} (in ${days} day${days === 1 ? '' : 's'}): ` +
          'upload its renewed certificate before then so clients under it keep working.',
      ),
    ];
  },
};
