import { type CertificateRule, finding } from './rule.js';

/** Every CA must reach a self-signed root inside the truststore: API Gateway builds no other path. */
export const chainIssuerMissing: CertificateRule = {
  id: 'chain.issuer-missing',
  scope: 'certificate',
  check: (cert, { index }) =>
    index.issuerOf(cert).kind === 'missing'
      ? [
          finding(
            'chain.issuer-missing',
            'error',
            cert,
            `Its issuer "${cert.issuer.text}" is not in the truststore ("Could not find issuer for ` +
              'certificate"): API Gateway needs every CA up to a self-signed root, so add the issuer certificate.',
          ),
        ]
      : [],
};
