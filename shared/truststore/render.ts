import { createHash } from 'node:crypto';
import { type Certificate, toPem } from '../pki/certificate.js';

/** Distinct certificates by SHA-256 fingerprint, first occurrence kept. */
export const dedupe = (certificates: Iterable<Certificate>): Certificate[] => {
  const seen = new Map<string, Certificate>();
  for (const cert of certificates) if (!seen.has(cert.fingerprint)) seen.set(cert.fingerprint, cert);
  return [...seen.values()];
};

/** What a PEM block of the truststore needs: the block, and what it is sorted by. */
export interface Block {
  readonly subject: string;
  readonly fingerprint: string;
  readonly pem: string;
}

/**
 * The truststore object API Gateway reads: one PEM block per distinct certificate, LF endings,
 * nothing else. Deterministic: the same set renders to the same bytes whatever the input order
 * (sorted by subject, then fingerprint), so identical content never makes a new S3 version.
 */
export const renderBlocks = (blocks: Iterable<Block>): string => {
  const unique = new Map<string, Block>();
  for (const block of blocks) if (!unique.has(block.fingerprint)) unique.set(block.fingerprint, block);
  return [...unique.values()]
    .sort((a, b) => compare(a.subject, b.subject) || compare(a.fingerprint, b.fingerprint))
    .map((block) => block.pem)
    .join('');
};

/**
 * The rendered truststore of a block set and its SHA-256, computed once per set: sets (entry
 * arrays) are never changed in place, and a batch needs both several times (the commit records the
 * hash, the publish writes the body, the state check compares them).
 */
export const renderedOf = (blocks: readonly Block[]): { readonly body: string; readonly hash: string } => {
  let known = rendered.get(blocks);
  if (!known) {
    const body = renderBlocks(blocks);
    known = { body, hash: createHash('sha256').update(body).digest('hex') };
    rendered.set(blocks, known);
  }
  return known;
};
const rendered = new WeakMap<readonly Block[], { readonly body: string; readonly hash: string }>();

export const renderTruststore = (certificates: Iterable<Certificate>): string =>
  renderBlocks(
    [...certificates].map((cert) => ({
      subject: cert.subject.text,
      fingerprint: cert.fingerprint,
      get pem() {
        return toPem(cert.der);
      },
    })),
  );

// Code-unit order, not locale order: the bytes must not depend on the machine's locale.
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
