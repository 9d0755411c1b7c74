import type { Clock, Log, ObjectStore } from '../ports.js';
import type { Entry } from '../truststore/state.js';
import { loadState } from './state-store.js';

export interface ScanDeps {
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly log: Log;
}

export interface ExpiryLine {
  readonly fingerprint: string;
  readonly subject: string;
  readonly partner: string;
  readonly notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  readonly days: number;
}

export interface ScanReport {
  readonly certificates: number;
  /** Days until the first CA of the truststore expires; undefined for an empty truststore. */
  readonly nearestExpiryDays?: number;
  /** Every entry, soonest expiry first. */
  readonly entries: readonly ExpiryLine[];
}

const DAY = 86_400_000;

export const daysUntil = (notAfter: string, now: Date): number =>
  Math.floor((Date.parse(notAfter) - now.getTime()) / DAY);

export const expiryLines = (entries: readonly Entry[], now: Date): ExpiryLine[] =>
  entries
    .map((e) => ({
      fingerprint: e.fingerprint,
      subject: e.subject,
      partner: e.partner,
      notAfter: e.notAfter,
      days: daysUntil(e.notAfter, now),
    }))
    .sort((a, b) => a.days - b.days || (a.subject < b.subject ? -1 : 1));

/**
 * Reads the current truststore state and reports, per CA, the days until it expires, soonest
 * first. (Threshold alerts and pruning build on this: see the expiry issue.)
 */
export const scanExpiry = async (deps: ScanDeps): Promise<ScanReport> => {
  const { state } = await loadState(deps.store);
  const entries = expiryLines(state.entries, deps.clock.now());
  const nearest = entries[0]?.days;
  deps.log.info('expiry scanned', { certificates: entries.length, nearestExpiryDays: nearest ?? null });
  return {
    certificates: entries.length,
    ...(nearest === undefined ? {} : { nearestExpiryDays: nearest }),
    entries,
  };
};
