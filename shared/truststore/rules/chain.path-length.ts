import type { Certificate } from '../../pki/certificate.js';
import { isCa } from './cert.not-ca.js';
import { type CertificateRule, finding } from './rule.js';

/**
 * A CA in the truststore is an intermediate of every client path it issues (client ← this CA ←
 * … ← root), so each CA above it with a pathLenConstraint must allow it: RFC 5280 §4.2.1.9 counts
 * the non-self-issued CAs strictly below that CA down to this one, and OpenSSL refuses the client
 * ("path length constraint exceeded") when there are more than the constraint. A self-signed
 * root's own constraint counts too.
 */
export const chainPathLength: CertificateRule = {
  id: 'chain.path-length',
  scope: 'certificate',
  check: (cert, { index }) => {
    if (!isCa(cert)) return [];
    const exceeded = exceededAncestors(index.pathOf(cert));
    if (exceeded.length === 0) return [];
    const why = exceeded
      .map(
        ({ ancestor, pathLen, below }) =>
          `"${ancestor.subject.text}" has pathLenConstraint ${pathLen}, yet this CA is ${below} CA${below === 1 ? '' : 's'} below it`,
      )
      .join('; ');
    const fix = exceeded
      .map(
        ({ ancestor, below }) =>
          `reissue "${ancestor.subject.text}" with a pathLenConstraint of at least ${below}`,
      )
      .join(' and ');
    return [
      finding(
        'chain.path-length',
        'error',
        cert,
        `Every client certificate this CA issues is refused ("path length constraint exceeded"): ${why}. ` +
          `Leave this CA out and issue client certificates from a CA within the limit, or ${fix}.`,
      ),
    ];
  },
};

/** One ancestor whose pathLenConstraint a CA exceeds, and by how many CAs below it. */
interface PathLengthExcess {
  readonly ancestor: Certificate;
  readonly pathLen: number;
  /** Non-self-issued CAs strictly below the ancestor, down to and including the CA judged. */
  readonly below: number;
}

/**
 * The ancestors along `path` (the CA judged first, its root last) whose pathLenConstraint the
 * first certificate of the path exceeds. Self-issued CAs (key rollovers) are not counted.
 */
const exceededAncestors = (path: readonly Certificate[]): PathLengthExcess[] => {
  const out: PathLengthExcess[] = [];
  let below = 0;
  for (let k = 1; k < path.length; k++) {
    if (!path[k - 1]!.selfIssued) below++;
    const ancestor = path[k]!;
    const pathLen = ancestor.basicConstraints?.pathLen;
    if (pathLen !== undefined && below > pathLen) out.push({ ancestor, pathLen, below });
  }
  return out;
};
