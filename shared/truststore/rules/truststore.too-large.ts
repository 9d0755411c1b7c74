import type { Finding } from '../../finding.js';
import type { TruststoreRule } from './rule.js';

/** Observed API Gateway limit for the truststore object. */
export const MAX_TRUSTSTORE_BYTES = 1_000_000;
const WARN_AT = 0.8;

export const truststoreTooLarge: TruststoreRule = {
  id: 'truststore.too-large',
  scope: 'truststore',
  check: ({ renderedBytes }) => sizeFindings(renderedBytes),
};

/** The size verdict for a truststore of `renderedBytes` bytes. */
export const sizeFindings = (renderedBytes: number): Finding[] => {
  const kb = (renderedBytes / 1000).toFixed(0);
  const size = `The truststore would be ${kb} KB (${renderedBytes} bytes)`;
  const result: Finding[] = [];
  if (renderedBytes > MAX_TRUSTSTORE_BYTES) {
    result.push({
      code: 'truststore.too-large',
      severity: 'error',
      message: `${size}, over API Gateway's limit of about 1000 KB: remove unused or expired CAs.`,
    });
  } else if (renderedBytes > MAX_TRUSTSTORE_BYTES * WARN_AT) {
    result.push({
      code: 'truststore.too-large',
      severity: 'warning',
      message: `${size}, over 80% of API Gateway's limit of about 1000 KB: plan to remove unused CAs.`,
    });
  }
  return result;
};
