import { type Finding, isBlocking } from '../finding.js';
import { type Certificate, certRef, toPem } from '../pki/certificate.js';
import type { SourcedCertificate } from '../pki/read.js';
import { introducedErrors, memberOfCertificate, memberOfEntry } from './change-lint.js';
import { lintCertificates } from './lint.js';
import { RULES } from './rules/index.js';
import { MAX_TRUSTSTORE_BYTES, sizeFindings } from './rules/truststore.too-large.js';
import { certificateOf, type Entry, entriesBySubject } from './state.js';

/** One upload of a batch, read: its certificates and what the reader found. */
export interface CandidateUpload {
  readonly id: string;
  /**
   * The upload replaces the CAs of the truststore that have the same subjects (rotating a
   * re-keyed intermediate): API Gateway refuses two certificates with one subject.
   */
  readonly replace?: boolean;
  /** Who uploaded it: a replace-upload rotates only this partner's own CAs. */
  readonly partner?: string;
  readonly certificates: readonly SourcedCertificate[];
  readonly inputFindings: readonly Finding[];
}

export type CertVerdict = 'added' | 'present' | 'rejected';

export interface CertDecision {
  readonly cert: Certificate;
  readonly source: string;
  readonly verdict: CertVerdict;
  readonly findings: readonly Finding[];
}

export interface UploadDecision {
  readonly id: string;
  readonly accepted: boolean;
  /**
   * Rejected only because an issuer is missing (an intermediate whose root has not arrived yet):
   * the caller may hold it and judge it again later instead of rejecting it for good.
   */
  readonly waitingForIssuer: boolean;
  /** Entries this accepted replace-upload takes the place of. */
  readonly replaces: readonly Entry[];
  readonly certificates: readonly CertDecision[];
  /** Findings about the upload as a whole (input findings, truststore size, rejected with others). */
  readonly findings: readonly Finding[];
}

export interface AdmissionOptions {
  readonly at: Date;
  readonly expiringDays: number;
  /**
   * CAs removed lately whose clients the door still decides as their partner's (retired, with
   * until when): their names and places stay their partner's until then (`partnerClaims`).
   */
  readonly retired?: readonly { readonly entry: Entry; readonly until: string }[];
}

/** Rules judged per batch; size is judged on the whole new truststore, duplicates are not a problem here. */
const BATCH_RULES = RULES.filter(
  (r) => r.id !== 'truststore.too-large' && r.id !== 'truststore.empty' && r.id !== 'cert.duplicate',
);

/**
 * Decides which uploads of a batch may join the truststore.
 * 1. Certificates already in the truststore are `present` (no change, no re-verification).
 * 2. The other certificates of all uploads still in play are linted together with the existing
 *    entries they chain to or collide with — only those are parsed, so the cost grows with the
 *    upload, not the truststore. An intermediate and its root may come in separate uploads.
 * 3. An upload with any blocking finding is rejected whole, and the rest is judged again without
 *    it (its root may have been what completed another upload's chain), until nothing changes.
 * 4. The CAs that stay must still pass once rotated ones are gone (`truststore.breaks-entry`).
 * 5. Size: each upload is judged against the truststore plus the uploads admitted before it in
 *    the batch; the one that does not fit is refused, the others are admitted.
 */
export const admit = (
  all: readonly Entry[],
  uploads: readonly CandidateUpload[],
  options: AdmissionOptions,
): UploadDecision[] => {
  // CAs that replace-uploads rotate are judged as if already gone; a partner rotates only its own
  // CAs (another partner's CA with that subject stays, and the upload collides with it).
  const rotates = (u: CandidateUpload, e: Entry) =>
    u.replace === true &&
    (u.partner === undefined || u.partner === e.partner) &&
    u.certificates.some((c) => c.cert.subject.key === e.subjectKey);
  const uploaded = new Set(uploads.flatMap((u) => u.certificates.map((c) => c.cert.fingerprint)));
  // Only the subjects a replace-upload brings can be rotated: looked up, not searched for.
  const replaced = uploads.some((u) => u.replace === true)
    ? all.filter((e) => !uploaded.has(e.fingerprint) && uploads.some((u) => rotates(u, e)))
    : [];
  const entries = replaced.length === 0 ? all : all.filter((e) => !replaced.includes(e));
  const { byFingerprint, bySubject } = indexOf(entries);
  const parsed = new Map<string, Certificate>();
  const existing = (entry: Entry): SourcedCertificate => {
    let cert = parsed.get(entry.fingerprint);
    if (!cert) {
      cert = certificateOf(entry);
      parsed.set(entry.fingerprint, cert);
    }
    return { cert, source: `truststore entry of ${entry.partner}` };
  };

  /**
   * Uploads whose change would make a CA that stays in the truststore fail lint, with why. Only a
   * rotation can do that (an addition that collides with a CA is judged on itself), so only
   * batches that rotate something pay for it; the commit checks every change again.
   */
  const upsetting = new Map<string, Finding[]>();
  const breakages = (inPlay: readonly CandidateUpload[], candidates: readonly SourcedCertificate[]) => {
    const out = new Map<string, Finding[]>();
    const gone = new Set(
      all
        .filter((e) => !uploaded.has(e.fingerprint) && inPlay.some((u) => rotates(u, e)))
        .map((e) => e.fingerprint),
    );
    if (gone.size === 0) return out;
    const before = all.map((e) => memberOfEntry(e, parsed));
    const staying = all.filter((e) => !gone.has(e.fingerprint));
    const stayingFps = new Set(staying.map((e) => e.fingerprint));
    const after = [
      ...staying.map((e) => memberOfEntry(e, parsed)),
      ...candidates
        .filter((c) => !stayingFps.has(c.cert.fingerprint))
        .map((c) => memberOfCertificate(c.cert)),
    ];
    const allBySubject = entriesBySubject(all);
    for (const f of introducedErrors(before, after, options)) {
      const entry = f.cert && staying.find((e) => e.fingerprint === f.cert?.fingerprint);
      if (!entry) continue;
      const above = new Set([entry.subjectKey]);
      const queue = [entry.issuerKey];
      while (queue.length > 0) {
        const key = queue.pop()!;
        if (above.has(key)) continue;
        above.add(key);
        for (const e of allBySubject.get(key) ?? []) queue.push(e.issuerKey);
      }
      // Never none: the entry's lint changed, so a certificate named in its chain (as the
      // truststore had it) was rotated away or added, and the upload that did it holds a
      // certificate of that name (rotation goes by subject).
      const culprits = inPlay.filter((u) => u.certificates.some((c) => above.has(c.cert.subject.key)));
      for (const u of culprits) {
        const list = out.get(u.id) ?? [];
        list.push({
          code: 'truststore.breaks-entry',
          severity: 'error',
          message: `Accepting this upload would leave ${entry.subject} (partner ${entry.partner}, sha256 ${entry.fingerprint.slice(0, 16)}…) in the truststore failing lint with ${f.code}: ${f.message} Send the CAs issued under the one you rotate, re-issued, in the same replace upload, or remove them first.`,
        });
        out.set(u.id, list);
      }
    }
    return out;
  };

  // Who holds a CA is decided before anything is linted: a partner's claim on another partner's
  // CA is refused whatever else the upload holds (see `partnerClaims`).
  const claimed = partnerClaims(all, uploads, undefined, options.retired);
  const rejected = new Set(
    uploads.filter((u) => u.inputFindings.some(isBlocking) || claimed.has(u.id)).map((u) => u.id),
  );
  let findingsByCert = new Map<string, Finding[]>();
  const frozen = new Map<string, Finding[]>();
  for (;;) {
    const inPlay = uploads.filter((u) => !rejected.has(u.id));
    const candidates = inPlay
      .flatMap((u) => u.certificates)
      .filter((c) => !byFingerprint.has(c.cert.fingerprint));
    const context = relatedEntries(candidates, bySubject).map(existing);
    const result = lintCertificates([...context, ...candidates], { ...options, rules: BATCH_RULES });
    const candidateFps = new Set(candidates.map((c) => c.cert.fingerprint));
    findingsByCert = new Map();
    for (const f of result.findings) {
      if (!f.cert || !candidateFps.has(f.cert.fingerprint)) continue;
      const list = findingsByCert.get(f.cert.fingerprint) ?? [];
      list.push(f);
      findingsByCert.set(f.cert.fingerprint, list);
    }
    let newlyRejected = inPlay.filter((u) =>
      u.certificates.some((c) => (findingsByCert.get(c.cert.fingerprint) ?? []).some(isBlocking)),
    );
    if (newlyRejected.length === 0) {
      // The candidates pass; now the CAs that stay must too (a rotated root or intermediate
      // that no longer verifies, or constrains, what was issued under the one it replaces).
      const broken = breakages(inPlay, candidates);
      for (const [id, findings] of broken) upsetting.set(id, findings);
      newlyRejected = inPlay.filter((u) => broken.has(u.id));
    }
    if (newlyRejected.length === 0) {
      // Then size: each upload is judged against the truststore plus what was admitted before it,
      // so the upload that does not fit is the one refused, not every upload of the batch.
      const oversized = oversize(entries, inPlay, byFingerprint);
      for (const [id, finding] of oversized) upsetting.set(id, [finding]);
      newlyRejected = inPlay.filter((u) => oversized.has(u.id));
    }
    if (newlyRejected.length === 0) break;
    for (const u of newlyRejected) {
      rejected.add(u.id);
      // Keep the findings that rejected it: later rounds judge without this upload.
      for (const c of u.certificates)
        frozen.set(c.cert.fingerprint, findingsByCert.get(c.cert.fingerprint) ?? []);
    }
  }
  for (const [fingerprint, findings] of frozen)
    if (!findingsByCert.has(fingerprint)) findingsByCert.set(fingerprint, findings);

  const refusedSubjects = new Set(
    uploads.filter((u) => rejected.has(u.id)).flatMap((u) => u.certificates.map((c) => c.cert.subject.key)),
  );
  return uploads.map((u) => {
    const accepted = !rejected.has(u.id);
    const claim = claimed.get(u.id);
    const certificates = u.certificates.map(({ cert, source }): CertDecision => {
      const held = claim?.get(cert.fingerprint) ?? [];
      if (byFingerprint.has(cert.fingerprint)) {
        return { cert, source, verdict: 'present', findings: [alreadyPresent(cert), ...held] };
      }
      const own = findingsByCert.get(cert.fingerprint) ?? [];
      return { cert, source, verdict: accepted ? 'added' : 'rejected', findings: [...held, ...own] };
    });
    // A refused upload always carries the blocking finding that refused it: its input's, one of its
    // certificates' (kept from the round that refused it: no upload holding that certificate stays
    // in play), or the breakage or size finding of the round that refused it. An intermediate
    // whose root was refused in the batch is refused by its own `chain.issuer-missing`.
    const findings = [...u.inputFindings, ...(upsetting.get(u.id) ?? [])];
    const blocking = [...findings, ...certificates.flatMap((c) => c.findings)].filter(isBlocking);
    // Worth waiting for only if the issuer was not itself refused in this batch.
    const waitingForIssuer =
      !accepted &&
      blocking.length > 0 &&
      blocking.every((f) => f.code === 'chain.issuer-missing') &&
      certificates.every((c) => !refusedSubjects.has(c.cert.issuer.key));
    const replaces = accepted ? replaced.filter((e) => rotates(u, e)) : [];
    if (
      !accepted &&
      !u.replace &&
      certificates.some((c) => c.findings.some((f) => f.code === 'truststore.duplicate-subject'))
    ) {
      findings.push({
        code: 'truststore.replace-hint',
        severity: 'info',
        message:
          'To rotate a CA (same subject, new key or validity), upload it again under inbox/<partner>/replace/: it then replaces the existing one, and clients issued under the old CA fail from that roll on.',
      });
    }
    return { id: u.id, accepted, waitingForIssuer, replaces, certificates, findings };
  });
};

/**
 * The certificates of each upload that claim another partner's CA, with why (`ca.other-partner`).
 * Which partner holds a CA decides, at the door, whose routes, pins and CRLs apply to its clients,
 * so the first partner to upload a CA must not take it from its owner. An upload (of a known
 * partner) is refused when one of its certificates:
 * - is already in the truststore for another partner (nothing would change, and saying "accepted"
 *   would let its sender believe the CA is theirs);
 * - is new and bears the subject of another partner's CA (a name at the door and in CRLs is the
 *   CA's: a squatted name would have the owner's CA refused later as a duplicate);
 * - is new and issued, directly or through CAs of the same upload, by a CA the truststore holds
 *   for another partner (the owner of the CA above is the one to add CAs under it).
 * Lookups by fingerprint and subject only: the cost is the upload's, not the truststore's.
 * The messages go to the uploader and name no other partner (a partner's alerts must not tell it
 * who the platform's other partners are); `holders`, when given, receives the other partner of
 * each refused certificate (by fingerprint) for operators.
 */
export const partnerClaims = (
  held: readonly Entry[],
  uploads: readonly CandidateUpload[],
  holders?: Map<string, string>,
  /**
   * CAs removed lately, still deciding their clients at the door as their partner's until their
   * retirement ends: another partner taking one (its copy, a look-alike of its name and key, a CA
   * under it) would take those clients as its own meanwhile, so they claim like held CAs.
   */
  retired: readonly { readonly entry: Entry; readonly until: string }[] = [],
): Map<string, Map<string, Finding[]>> => {
  const out = new Map<string, Map<string, Finding[]>>();
  if (!uploads.some((u) => u.partner !== undefined)) return out;
  const heldPrints = new Set(held.map((e) => e.fingerprint));
  const until = new Map(
    retired.filter((r) => !heldPrints.has(r.entry.fingerprint)).map((r) => [r.entry.fingerprint, r.until]),
  );
  const all = [...held, ...retired.map((r) => r.entry).filter((e) => until.has(e.fingerprint))];
  const { bySubject } = indexOf(all);
  const byFingerprint = new Map(all.map((e) => [e.fingerprint, e]));
  /** For a retired CA of another partner: what is said instead of "remove it first". */
  const retiredNote = (e: Entry) =>
    until.has(e.fingerprint)
      ? `It was removed from that partner lately, but the door still decides its clients as that partner's until ${until.get(e.fingerprint)!.slice(0, 16).replace('T', ' ')} UTC (targets may still serve a version with it): no other partner may take it, its name or its place before then. Upload again after that time.`
      : undefined;
  const short = (e: Entry) => `${e.subject} (sha256 ${e.fingerprint.slice(0, 16)}…)`;
  // What the other partners of the batch send (an issuer may arrive in the same batch as a claim).
  const sentBy = (what: (c: Certificate) => string) => {
    const by = new Map<string, Set<string>>();
    for (const u of uploads) {
      if (u.partner === undefined) continue;
      for (const { cert } of u.certificates) {
        if (byFingerprint.has(cert.fingerprint)) continue;
        const set = by.get(what(cert)) ?? new Set<string>();
        set.add(u.partner);
        by.set(what(cert), set);
      }
    }
    return (key: string, partner: string) => [...(by.get(key) ?? [])].filter((p) => p !== partner).sort();
  };
  const othersSending = sentBy((c) => c.fingerprint);
  const othersNaming = sentBy((c) => c.subject.key);
  for (const u of uploads) {
    const partner = u.partner;
    if (partner === undefined) continue;
    const found = new Map<string, Finding[]>();
    const note = (cert: Certificate, message: string, holder?: string) => {
      const list = found.get(cert.fingerprint) ?? [];
      // `repair` records a CA whose provenance went with lost state versions as partner "unknown".
      const lost =
        holder === 'unknown'
          ? " (That CA's provenance was lost when the store was repaired: an operator removes it, and its owner uploads it again.)"
          : '';
      if (holder !== undefined) holders?.set(cert.fingerprint, holder);
      list.push({
        code: 'ca.other-partner',
        severity: 'error',
        message: message + lost,
        cert: certRef(cert),
      });
      found.set(cert.fingerprint, list);
    };
    const inUpload = new Map<string, Certificate>();
    for (const { cert } of u.certificates) inUpload.set(cert.subject.key, cert);
    for (const { cert } of u.certificates) {
      const same = byFingerprint.get(cert.fingerprint);
      if (same) {
        if (same.partner !== partner)
          note(
            cert,
            retiredNote(same)
              ? `This CA is another partner's. ${retiredNote(same)}`
              : `This CA is already in the truststore for another partner: its clients are that partner's at the door, and uploading it again changes nothing. If it is ${partner}'s CA, an operator must first remove it from the other partner (trustroll remove --fingerprint ${same.fingerprint}); otherwise do not upload it.`,
            same.partner,
          );
        continue;
      }
      const namesake = (bySubject.get(cert.subject.key) ?? []).find((e) => e.partner !== partner);
      if (namesake) {
        note(
          cert,
          retiredNote(namesake)
            ? `Another partner had a CA named "${cert.subject.text}" (${short(namesake)}). ${retiredNote(namesake)}`
            : `Another partner already has a CA named "${cert.subject.text}" in the truststore (${short(namesake)}): a CA's name is what identifies it at the door and in CRLs, so ${partner} cannot add another CA with that name. Give your CA a name of its own; if that name is rightfully ${partner}'s, an operator must first remove the other partner's CA (trustroll remove --fingerprint ${namesake.fingerprint}).`,
          namesake.partner,
        );
        continue;
      }
      const also = othersSending(cert.fingerprint, partner);
      if (also.length > 0) {
        note(
          cert,
          `Another partner sent this same CA in the same batch: a CA is held for one partner only, whose clients it issues. The partner whose CA it is uploads it again, alone.`,
          also[0],
        );
        continue;
      }
      // Up the chain: through the upload's own CAs until one the truststore holds.
      let at = cert;
      const seen = new Set<string>();
      for (;;) {
        const key = at.issuer.key;
        if (key === at.subject.key || seen.has(key)) break;
        seen.add(key);
        const above = bySubject.get(key) ?? [];
        if (above.length > 0) {
          const owner = above.find((e) => e.partner === partner) ? undefined : above[0];
          if (owner)
            note(
              cert,
              retiredNote(owner)
                ? `Its issuer ${short(owner)} is another partner's. ${retiredNote(owner)}`
                : `Its issuer ${short(owner)} is in the truststore for another partner: only that partner may add CAs under its own CAs, or its clients would be ${partner}'s at the door. If this CA is that partner's, that partner must upload it (to its own inbox folder); if it is ${partner}'s, have it issued under a CA of ${partner}'s own.`,
              owner.partner,
            );
          break;
        }
        const next = inUpload.get(key);
        if (!next) {
          const issuers = othersNaming(key, partner);
          if (issuers.length > 0)
            note(
              cert,
              `Its issuer "${at.issuer.text}" is uploaded by another partner in the same batch: only that partner may add CAs under its own CAs. If this CA is that partner's, that partner must upload it (to its own inbox folder); if it is ${partner}'s, have it issued under a CA of ${partner}'s own.`,
              issuers[0],
            );
          break;
        }
        at = next;
      }
    }
    if (found.size > 0) out.set(u.id, found);
  }
  return out;
};

/** Existing entries the candidates chain up to (transitively) or share a subject with. */
const relatedEntries = (
  candidates: readonly SourcedCertificate[],
  bySubject: ReadonlyMap<string, readonly Entry[]>,
): Entry[] => {
  const out = new Map<string, Entry>();
  const queue = candidates.flatMap((c) => [c.cert.issuer.key, c.cert.subject.key]);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const entry of bySubject.get(key) ?? []) {
      if (out.has(entry.fingerprint)) continue;
      out.set(entry.fingerprint, entry);
      queue.push(entry.issuerKey);
    }
  }
  return [...out.values()];
};

/**
 * The uploads that do not fit: each upload's new certificates are added, in batch order, to the
 * truststore and to what the uploads before it added; an upload that would take the sum over the
 * limit is refused and adds nothing. Summed, not rendered: rendering sorts every entry, and this
 * runs on every batch (the rendered object is exactly the PEM blocks).
 */
const oversize = (
  entries: readonly Entry[],
  uploads: readonly CandidateUpload[],
  inTruststore: ReadonlySet<string>,
): Map<string, Finding> => {
  const out = new Map<string, Finding>();
  const known = new Set<string>();
  const base = indexOf(entries).bytes;
  let admitted = 0;
  for (const u of uploads) {
    let own = 0;
    const mine = new Set<string>();
    for (const { cert } of u.certificates) {
      if (inTruststore.has(cert.fingerprint) || known.has(cert.fingerprint) || mine.has(cert.fingerprint))
        continue;
      mine.add(cert.fingerprint);
      own += toPem(cert.der).length;
    }
    const total = base + admitted + own;
    if (own > 0 && sizeFindings(total).some(isBlocking)) {
      const kb = (n: number) => `${(n / 1000).toFixed(0)} KB`;
      out.set(u.id, {
        code: 'truststore.too-large',
        severity: 'error',
        message:
          `This upload adds ${kb(own)} of CAs; with the truststore as it stands (${kb(base)})` +
          `${admitted > 0 ? ` and the ${kb(admitted)} admitted before it in this batch` : ''} it would be ` +
          `${kb(total)} (${total} bytes), over API Gateway's limit of about ${kb(MAX_TRUSTSTORE_BYTES)} ` +
          `(${MAX_TRUSTSTORE_BYTES} bytes) for the whole truststore: ` +
          (base + own > MAX_TRUSTSTORE_BYTES
            ? 'send only the CAs your clients need, or have unused CAs removed first.'
            : 'send it again later, or have unused CAs removed first.'),
      });
      continue;
    }
    for (const fp of mine) known.add(fp);
    admitted += own;
  }
  return out;
};

/** What admission looks entries up by, built once per entry set (entry arrays are never changed in place). */
interface EntryIndex {
  readonly byFingerprint: ReadonlySet<string>;
  readonly bySubject: ReadonlyMap<string, Entry[]>;
  /** Rendered size of the set: the sum of its PEM blocks. */
  readonly bytes: number;
}
const indexes = new WeakMap<readonly Entry[], EntryIndex>();
const indexOf = (entries: readonly Entry[]): EntryIndex => {
  let index = indexes.get(entries);
  if (!index) {
    let bytes = 0;
    for (const e of entries) bytes += e.pem.length;
    index = {
      byFingerprint: new Set(entries.map((e) => e.fingerprint)),
      bySubject: entriesBySubject(entries),
      bytes,
    };
    indexes.set(entries, index);
  }
  return index;
};

const alreadyPresent = (cert: Certificate): Finding => ({
  code: 'cert.duplicate',
  severity: 'info',
  message: 'Already in the truststore; nothing changes for it.',
  cert: certRef(cert),
});
