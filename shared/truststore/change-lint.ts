import { LintRefusedError } from '../errors.js';
import { type Finding, isBlocking } from '../finding.js';
import { type Certificate, toPem } from '../pki/certificate.js';
import { lintCertificates } from './lint.js';
import { RULES } from './rules/index.js';
import { sizeFindings } from './rules/truststore.too-large.js';
import { certificateOf, type Entry } from './state.js';

/** A certificate of a truststore before or after a change: an entry, or a certificate to add. */
export interface Member {
  readonly fingerprint: string;
  readonly subjectKey: string;
  readonly issuerKey: string;
  /** Rendered size in bytes. */
  readonly bytes: number;
  readonly load: () => Certificate;
}

export const memberOfEntry = (entry: Entry, cache?: Map<string, Certificate>): Member => ({
  fingerprint: entry.fingerprint,
  subjectKey: entry.subjectKey,
  issuerKey: entry.issuerKey,
  bytes: entry.pem.length,
  load: () => {
    let cert = cache?.get(entry.fingerprint);
    if (!cert) {
      cert = certificateOf(entry);
      cache?.set(entry.fingerprint, cert);
    }
    return cert;
  },
});

export const memberOfCertificate = (cert: Certificate): Member => ({
  fingerprint: cert.fingerprint,
  subjectKey: cert.subject.key,
  issuerKey: cert.issuer.key,
  bytes: toPem(cert.der).length,
  load: () => cert,
});

/** Size and emptiness are judged on the whole set below, not on the part that is linted. */
const CHANGE_RULES = RULES.filter(
  (r) => r.id !== 'truststore.too-large' && r.id !== 'truststore.empty' && r.id !== 'cert.duplicate',
);

/**
 * The blocking findings a change of the CA set brings that the set did not have before: what
 * makes the resulting truststore fail trustroll's own lint because of this change (an entry that
 * stays but no longer verifies under a re-keyed root, a stricter pathLenConstraint above it, a
 * size over the limit, an empty set). Findings the set already had (a CA that expired since) are
 * not the change's doing and are left to the scan.
 *
 * Only the part of the set a change can affect is linted, before and after: the certificates
 * added, every certificate that chains (transitively) through a subject added or removed or
 * shares such a subject, and the issuers they chain up to.
 */
export const introducedErrors = (
  before: readonly Member[],
  after: readonly Member[],
  options: { readonly at: Date; readonly expiringDays?: number },
): Finding[] => {
  const beforeFps = new Set(before.map((m) => m.fingerprint));
  const afterFps = new Set(after.map((m) => m.fingerprint));
  const changed = [
    ...before.filter((m) => !afterFps.has(m.fingerprint)),
    ...after.filter((m) => !beforeFps.has(m.fingerprint)),
  ];
  const out: Finding[] = [];
  if (changed.length === 0) return out;
  const sizeOf = (set: readonly Member[]) => set.reduce((n, m) => n + m.bytes, 0);
  const sizeBefore = new Set(
    sizeFindings(sizeOf(before))
      .filter(isBlocking)
      .map((f) => f.code),
  );
  out.push(...sizeFindings(sizeOf(after)).filter((f) => isBlocking(f) && !sizeBefore.has(f.code)));
  // (The set before is not empty: something changed, and nothing is after.)
  if (after.length === 0) {
    out.push({
      code: 'truststore.empty',
      severity: 'error',
      message:
        'The change would leave the truststore without any CA, and API Gateway refuses an empty truststore.',
    });
  }
  const touched = new Set(changed.map((m) => m.subjectKey));
  const affected = affectedIn(after, touched);
  if (affected.length === 0) return out;
  const lint = (set: readonly Member[], of: readonly Member[]) =>
    lintCertificates(
      withIssuers(set, of).map((m) => ({ cert: m.load(), source: 'truststore' })),
      {
        at: options.at,
        rules: CHANGE_RULES,
        ...(options.expiringDays ? { expiringDays: options.expiringDays } : {}),
      },
    ).findings.filter(isBlocking);
  const affectedFps = new Set(affected.map((m) => m.fingerprint));
  const had = new Set(
    lint(
      before,
      before.filter((m) => affectedFps.has(m.fingerprint)),
    ).map((f) => `${f.code} ${f.cert?.fingerprint ?? ''}`),
  );
  for (const f of lint(after, affected)) {
    if (!f.cert || !affectedFps.has(f.cert.fingerprint)) continue;
    if (!had.has(`${f.code} ${f.cert.fingerprint}`)) out.push(f);
  }
  return out;
};

/** The members of `set` a change of the subjects `touched` can affect (see introducedErrors). */
const affectedIn = (set: readonly Member[], touched: ReadonlySet<string>): Member[] => {
  const byIssuer = new Map<string, Member[]>();
  for (const m of set) {
    const list = byIssuer.get(m.issuerKey) ?? [];
    list.push(m);
    byIssuer.set(m.issuerKey, list);
  }
  const out = new Map<string, Member>();
  for (const m of set) if (touched.has(m.subjectKey)) out.set(m.fingerprint, m);
  const queue = [...touched];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const subject = queue.pop()!;
    if (seen.has(subject)) continue;
    seen.add(subject);
    for (const m of byIssuer.get(subject) ?? []) {
      if (out.has(m.fingerprint) && m.subjectKey === subject) continue;
      out.set(m.fingerprint, m);
      queue.push(m.subjectKey);
    }
  }
  return [...out.values()];
};

/** `of` with every member of `set` they chain up to (transitively), by subject. */
const withIssuers = (set: readonly Member[], of: readonly Member[]): Member[] => {
  const bySubject = new Map<string, Member[]>();
  for (const m of set) {
    const list = bySubject.get(m.subjectKey) ?? [];
    list.push(m);
    bySubject.set(m.subjectKey, list);
  }
  const out = new Map(of.map((m) => [m.fingerprint, m] as const));
  const queue = of.flatMap((m) => [m.issuerKey, m.subjectKey]);
  const seen = new Set<string>();
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    for (const m of bySubject.get(key) ?? []) {
      if (out.has(m.fingerprint)) continue;
      out.set(m.fingerprint, m);
      queue.push(m.issuerKey);
    }
  }
  return [...out.values()];
};

/**
 * Throws when the new CA set would fail trustroll's own lint because of the change (see
 * `introducedErrors`): every path that changes the set (uploads, rotation, removal, rollback,
 * promotion, prune) checks its change first; this is the assertion that none got past.
 */
export const assertLintClean = (
  before: readonly Entry[],
  after: readonly Entry[],
  at: Date,
  what = 'commit',
): void => {
  // The same change judged at the same time has the same answer: the publish step's check of a
  // revision this process committed (and checked) a moment ago is not computed twice.
  const key = `${at.getTime()} ${before.map((e) => e.fingerprint).join(',')}`;
  if (passed.get(after) === key) return;
  const cache = new Map();
  const errors = introducedErrors(
    before.map((e) => memberOfEntry(e, cache)),
    after.map((e) => memberOfEntry(e, cache)),
    { at },
  );
  if (errors.length === 0) {
    passed.set(after, key);
    return;
  }
  throw new LintRefusedError(
    `refusing to ${what} a truststore that fails lint: ${errors
      .slice(0, 5)
      .map((f) => `${f.code}${f.cert ? ` (${f.cert.subject})` : ''}: ${f.message}`)
      .join('; ')}`,
  );
};

/** Entry sets that passed `assertLintClean`, with the time and the set before (fingerprints). */
const passed = new WeakMap<readonly Entry[], string>();
