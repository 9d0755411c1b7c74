import type { Notification } from '../ports.js';
import { assertLintClean } from '../truststore/change-lint.js';
import { type Entry, MAX_HISTORY, type TruststoreState } from '../truststore/state.js';
import { renderedOf } from './state-store.js';

/** Removed entries kept for provenance (history, diff, rollback). */
export const MAX_REMOVED = 1000;

/**
 * The next revision of a state whose CA set changes outside an upload (removal, rollback,
 * promotion, prune): the new entries, the removed ones kept for provenance, their expiry alerts
 * dropped, a history record, and the alert (if any) committed into the outbox.
 */
export const nextRevision = (
  state: TruststoreState,
  c: {
    readonly entries: readonly Entry[];
    readonly removed: readonly Entry[];
    readonly added: readonly Entry[];
    readonly reason: string;
    readonly at: Date;
    readonly alert?: Notification;
  },
): TruststoreState => {
  // The last gate before a commit (and so before any publish), whatever path the change took.
  assertLintClean(state.entries, c.entries, c.at);
  const revision = state.revision + 1;
  const gone = new Set(c.removed.map((e) => e.fingerprint));
  const keptBy = new Map(c.entries.map((e) => [e.fingerprint, e.partner]));
  return {
    ...state,
    revision,
    entries: c.entries,
    removedEntries: [
      // A CA held again leaves the removed list, unless another partner holds it now: what its
      // partner had revoked of it (its key) must outlive the other partner's copy.
      ...(state.removedEntries ?? []).filter((e) => keptBy.get(e.fingerprint) !== e.partner),
      ...c.removed,
    ].slice(-MAX_REMOVED),
    expiryAlerts: Object.fromEntries(
      Object.entries(state.expiryAlerts ?? {}).filter(([fp]) => !gone.has(fp)),
    ),
    ...(c.alert ? { outbox: [...(state.outbox ?? []), c.alert] } : {}),
    history: [
      ...state.history,
      {
        revision,
        sha256: renderedOf(c.entries).hash,
        at: c.at.toISOString(),
        reason: c.reason,
        added: c.added.map((e) => e.fingerprint),
        removed: c.removed.map((e) => e.fingerprint),
        partners: Object.fromEntries([...c.added, ...c.removed].map((e) => [e.fingerprint, e.partner])),
      },
    ].slice(-MAX_HISTORY),
  };
};
