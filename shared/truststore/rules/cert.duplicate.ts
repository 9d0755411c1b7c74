import type { Finding } from '../../finding.js';
import { finding, type TruststoreRule } from './rule.js';

/** The same certificate twice (same SHA-256): harmless, kept once, reported for the record. */
export const certDuplicate: TruststoreRule = {
  id: 'cert.duplicate',
  scope: 'truststore',
  check: ({ occurrences }) => {
    const byFingerprint = new Map<string, string[]>();
    for (const { cert, source } of occurrences) {
      const list = byFingerprint.get(cert.fingerprint);
      if (list) list.push(source);
      else byFingerprint.set(cert.fingerprint, [source]);
    }
    const out: Finding[] = [];
    for (const { cert } of occurrences) {
      const sources = byFingerprint.get(cert.fingerprint);
      if (!sources || sources.length < 2) continue;
      byFingerprint.delete(cert.fingerprint);
      out.push(
        finding(
          'cert.duplicate',
          'info',
          cert,
          `Appears ${sources.length} times (${sources.join('; ')}); it is kept once.`,
        ),
      );
    }
    return out;
  },
};
