import { type CertificateRule, finding } from './rule.js';

/**
 * Every CA must reach a self-signed root through the truststore. CAs that sign each other (a
 * cross-signed pair without its root) have an issuer each, yet no path ends: OpenSSL and API
 * Gateway refuse their clients ("certificate chain too long").
 */
export const chainNoRoot: CertificateRule = {
  id: 'chain.no-root',
  scope: 'certificate',
  check: (cert, { index }) => {
    if (index.issuerOf(cert).kind !== 'issuer' || index.pathLength(cert) !== null) return [];
    const path = index.pathOf(cert);
    const last = path.at(-1)!;
    const link = index.issuerOf(last);
    if (link.kind !== 'issuer' || !path.includes(link.issuer)) return [];
    const loop = [...path.slice(path.indexOf(link.issuer)), link.issuer].map((c) => `"${c.subject.text}"`);
    return [
      finding(
        'chain.no-root',
        'error',
        cert,
        `Its path never reaches a self-signed root: the CAs sign each other in a loop (${loop.join(' → ')}). Add the self-signed root of this chain.`,
      ),
    ];
  },
};
