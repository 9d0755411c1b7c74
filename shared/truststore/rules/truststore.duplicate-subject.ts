import type { Finding } from '../../finding.js';
import { finding, type TruststoreRule } from './rule.js';

/** API Gateway refuses a truststore holding two different certificates with the same subject. */
export const truststoreDuplicateSubject: TruststoreRule = {
  id: 'truststore.duplicate-subject',
  scope: 'truststore',
  check: ({ certificates, index }) => {
    const out: Finding[] = [];
    const done = new Set<string>();
    for (const cert of certificates) {
      if (done.has(cert.subject.key)) continue;
      done.add(cert.subject.key);
      const same = index.withSubject(cert.subject.key);
      if (same.length < 2) continue;
      for (const each of same) {
        const others = same.filter((o) => o !== each).map((o) => o.fingerprint.slice(0, 16));
        out.push(
          finding(
            'truststore.duplicate-subject',
            'error',
            each,
            `${same.length} different certificates share the subject "${cert.subject.text}" and API Gateway ` +
              `refuses that: keep one (usually the newest) and remove the others (also ${others.join(', ')}).`,
          ),
        );
      }
    }
    return out;
  },
};
