import { type CertificateRule, finding } from './rule.js';

/** API Gateway accepts at most four certificates from root to the issuing CA. */
export const MAX_CHAIN = 4;

export const chainTooLong: CertificateRule = {
  id: 'chain.too-long',
  scope: 'certificate',
  check: (cert, { index }) => {
    const length = index.pathLength(cert);
    return length !== null && length > MAX_CHAIN
      ? [
          finding(
            'chain.too-long',
            'error',
            cert,
            `The path from this CA to its root holds ${length} certificates; API Gateway accepts at most ` +
              `${MAX_CHAIN} (root and 3 intermediates): issue client certificates from a CA closer to the root.`,
          ),
        ]
      : [];
  },
};
