/**
 * Expiry as the scan, status and the report see it: pure functions of the entries (and the CRLs
 * held) at a moment, with no store and no alert.
 */
import { type Entry, entriesBySubject, type TruststoreState } from '../truststore/state.js';

export interface ExpiryLine {
  readonly fingerprint: string;
  readonly subject: string;
  readonly partner: string;
  readonly notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  readonly days: number;
  /** When clients under this CA stop working: the first expiry on its path to the root. */
  readonly chainBreaksAt: string;
  /** The certificate on the path that expires first (this CA itself, or an ancestor). */
  readonly chainBreaksBecause: string;
}

export interface CrlLine {
  readonly key: string;
  readonly issuer: string;
  readonly partner: string;
  readonly number?: string;
  readonly nextUpdate?: string;
  /** Whole days until nextUpdate (negative once past); absent for a CRL without one. */
  readonly days?: number;
}

/**
 * Days before a CRL's nextUpdate at which it is reported (CRLs are re-issued every few days, so
 * the thresholds are short); 0 once it is past, when the authorizer starts counting its grace.
 */
export const CRL_THRESHOLDS = [3, 1] as const;

const DAY = 86_400_000;

export const daysUntil = (notAfter: string, now: Date): number =>
  Math.floor((Date.parse(notAfter) - now.getTime()) / DAY);

/** Entries by subject key, to walk from a CA to its root without parsing certificates. */

/** The path from an entry up to its root through issuer names (the latest-expiring issuer when several). */
export const pathToRoot = (entry: Entry, bySubject: Map<string, Entry[]>): Entry[] => {
  const path = [entry];
  const seen = new Set([entry.fingerprint]);
  let current = entry;
  while (current.issuerKey !== current.subjectKey) {
    const issuers = (bySubject.get(current.issuerKey) ?? []).filter((e) => !seen.has(e.fingerprint));
    if (issuers.length === 0) break;
    current = issuers.reduce((a, b) => (a.notAfter >= b.notAfter ? a : b));
    seen.add(current.fingerprint);
    path.push(current);
  }
  return path;
};

export const expiryLines = (entries: readonly Entry[], now: Date): ExpiryLine[] => {
  const bySubject = entriesBySubject(entries);
  return entries
    .map((e) => {
      const first = pathToRoot(e, bySubject).reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
      return {
        fingerprint: e.fingerprint,
        subject: e.subject,
        partner: e.partner,
        notAfter: e.notAfter,
        days: daysUntil(e.notAfter, now),
        chainBreaksAt: first.notAfter,
        chainBreaksBecause: first.subject,
      };
    })
    .sort((a, b) => a.days - b.days || (a.subject < b.subject ? -1 : 1));
};

/** The alert level of a CA: the smallest threshold it is within, or 0 once expired. */
export const levelOf = (days: number, thresholds: readonly number[]): number | undefined => {
  if (days < 0) return 0;
  const crossed = thresholds.filter((t) => days <= t);
  return crossed.length === 0 ? undefined : Math.min(...crossed);
};

/** Every CRL held for a CA of the truststore, soonest nextUpdate first, with the days left at `now`. */
export const crlLinesOf = (state: TruststoreState, now: Date): CrlLine[] => {
  const byFingerprint = new Map(state.entries.map((e) => [e.fingerprint, e]));
  return Object.entries(state.revocation?.crls ?? {})
    .filter(([, c]) => byFingerprint.has(c.issuer))
    .map(([key, c]) => ({
      key,
      issuer: byFingerprint.get(c.issuer)!.subject,
      partner: c.partner,
      ...(c.number ? { number: c.number } : {}),
      ...(c.nextUpdate ? { nextUpdate: c.nextUpdate, days: daysUntil(c.nextUpdate, now) } : {}),
    }))
    .sort((a, b) => (a.nextUpdate ?? '9').localeCompare(b.nextUpdate ?? '9'));
};
