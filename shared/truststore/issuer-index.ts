import { type Certificate, verifySignature, verifySignatures } from '../pki/certificate.js';

/** How a certificate links to its issuer within a set of CAs. */
export type IssuerLink =
  | { readonly kind: 'self' }
  | { readonly kind: 'issuer'; readonly issuer: Certificate }
  /** No certificate in the set has the issuer's name. */
  | { readonly kind: 'missing' }
  /** Certificates with the issuer's name exist, but none of their keys verifies the signature. */
  | { readonly kind: 'bad-signature'; readonly candidates: readonly Certificate[] };

/**
 * Subject-name index over a set of certificates, with each certificate's issuer resolved once
 * (name lookup, then AKI/SKI preference, then signature check). Lookups are O(1) per certificate:
 * linting a truststore verifies each signature once instead of scanning the set per certificate.
 */
export class IssuerIndex {
  private readonly bySubject = new Map<string, Certificate[]>();
  private readonly links = new Map<Certificate, IssuerLink>();
  private readonly depths = new Map<Certificate, number | null>();

  constructor(certificates: Iterable<Certificate>) {
    for (const cert of certificates) this.add(cert);
  }

  add(cert: Certificate): void {
    const list = this.bySubject.get(cert.subject.key);
    if (list) list.push(cert);
    else this.bySubject.set(cert.subject.key, [cert]);
    // A new certificate can resolve links and depths computed before it arrived.
    this.links.clear();
    this.depths.clear();
  }

  /** Certificates whose subject is the given canonical name key. */
  withSubject(key: string): readonly Certificate[] {
    return this.bySubject.get(key) ?? [];
  }

  /** The issuer link of `cert` (which need not be in the index itself). */
  issuerOf(cert: Certificate): IssuerLink {
    let link = this.links.get(cert);
    if (!link) {
      link = this.resolve(cert);
      this.links.set(cert, link);
    }
    return link;
  }

  /**
   * Number of certificates from `cert` up to and including its self-signed root, or `null` when
   * the path is broken (missing issuer, bad signature, or a loop).
   */
  pathLength(cert: Certificate): number | null {
    const known = this.depths.get(cert);
    if (known !== undefined) return known;
    const walked: Certificate[] = [];
    const onPath = new Set<Certificate>();
    let current: Certificate = cert;
    let base: number | null;
    for (;;) {
      const cached = this.depths.get(current);
      if (cached !== undefined) {
        base = cached;
        break;
      }
      if (onPath.has(current)) {
        base = null;
        break;
      }
      onPath.add(current);
      walked.push(current);
      const link = this.issuerOf(current);
      if (link.kind === 'self') {
        base = 0;
        break;
      }
      if (link.kind !== 'issuer') {
        base = null;
        break;
      }
      current = link.issuer;
    }
    for (let i = walked.length - 1, n = 1; i >= 0; i--, n++) {
      this.depths.set(walked[i]!, base === null ? null : base + n);
    }
    return this.depths.get(cert) ?? null;
  }

  /** The path from `cert` up to its root (inclusive), following resolved issuer links. */
  pathOf(cert: Certificate): Certificate[] {
    const path = [cert];
    const seen = new Set(path);
    for (let link = this.issuerOf(cert); link.kind === 'issuer'; link = this.issuerOf(link.issuer)) {
      if (seen.has(link.issuer)) break;
      seen.add(link.issuer);
      path.push(link.issuer);
    }
    return path;
  }

  /**
   * Verifies ahead of time, on several cores, the signature each certificate's issuer link is most
   * likely to rest on (its own key for a self-issued one, else its first issuer candidate), so that
   * resolving the links afterwards does little signature work. Links resolve the same either way.
   */
  async verifyAhead(certificates: Iterable<Certificate>): Promise<void> {
    const pairs: [Certificate, Certificate][] = [];
    for (const cert of certificates) {
      const first = cert.selfIssued ? cert : this.candidates(cert)[0];
      if (first) pairs.push([cert, first]);
    }
    await verifySignatures(pairs);
  }

  /** Certificates named as `cert`'s issuer, those whose key id matches first. */
  private candidates(cert: Certificate): Certificate[] {
    const candidates = (this.bySubject.get(cert.issuer.key) ?? []).filter((c) => c !== cert);
    if (cert.authorityKeyId) {
      // Prefer the issuer whose subject key identifier matches, as path builders do.
      candidates.sort((a, b) => rank(b, cert) - rank(a, cert));
    }
    return candidates;
  }

  private resolve(cert: Certificate): IssuerLink {
    const candidates = this.candidates(cert);
    if (cert.selfIssued && verifySignature(cert, cert)) return { kind: 'self' };
    // Bounded work: at most a few signature checks per certificate, however many CAs share the
    // issuer's name (a truststore may hold only one of them anyway: truststore.duplicate-subject).
    for (const candidate of candidates.slice(0, MAX_ISSUER_CANDIDATES)) {
      if (verifySignature(cert, candidate)) return { kind: 'issuer', issuer: candidate };
    }
    if (candidates.length > 0 || cert.selfIssued) return { kind: 'bad-signature', candidates };
    return { kind: 'missing' };
  }
}

/** Issuer candidates tried per certificate (name matches, those with a matching key id first). */
export const MAX_ISSUER_CANDIDATES = 4;

const rank = (candidate: Certificate, cert: Certificate): number =>
  candidate.subjectKeyId !== undefined && candidate.subjectKeyId === cert.authorityKeyId ? 1 : 0;
