import { type CertificateRule, finding } from './rule.js';

export const certNotYetValid: CertificateRule = {
  id: 'cert.not-yet-valid',
  scope: 'certificate',
  check: (cert, { at }) =>
    cert.notBefore.getTime() > at.getTime()
      ? [
          finding(
            'cert.not-yet-valid',
            'error',
            cert,
            `Not valid before ${cert.notBefore.toISOString()}: clients under it are refused until then. ` +
              'Upload it once it is valid, or check the clock of the CA that issued it.',
          ),
        ]
      : [],
};
