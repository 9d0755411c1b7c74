import type { TruststoreRule } from './rule.js';

/**
 * A truststore must hold at least one CA. API Gateway refuses an empty truststore object, so
 * publishing one would leave every domain on its previous version while reporting the change done.
 */
export const truststoreEmpty: TruststoreRule = {
  id: 'truststore.empty',
  scope: 'truststore',
  check: ({ certificates }) =>
    certificates.length > 0
      ? []
      : [
          {
            code: 'truststore.empty',
            severity: 'error',
            message:
              'The truststore would hold no CA certificate, which API Gateway refuses: keep at least one CA (to stop mutual TLS on a domain, change the domain, not the truststore).',
          },
        ],
};
