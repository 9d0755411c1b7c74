import type { TruststoreState } from '../truststore/state.js';

export interface HistoryLine {
  readonly revision: number;
  readonly version?: string;
  /** Never published: its changes went out with this later revision. */
  readonly supersededBy?: number;
  /** Its version went missing from the store (marked by trustroll repair). */
  readonly lostVersion?: string;
  readonly at: string;
  readonly reason: string;
  readonly added: readonly { fingerprint: string; subject: string; partner: string }[];
  readonly removed: readonly { fingerprint: string; subject: string; partner: string }[];
}

/** The history of a state as `trustroll history` gives it (newest first), without reading a store. */
export const historyLines = (state: TruststoreState): HistoryLine[] => {
  const known = new Map([...(state.removedEntries ?? []), ...state.entries].map((e) => [e.fingerprint, e]));
  return [...state.history].reverse().map((r) => {
    // The partner as this revision recorded it: the same CA may belong to another partner now.
    const describe = (fp: string) => {
      const e = known.get(fp);
      return {
        fingerprint: fp,
        subject: e?.subject ?? '(unknown)',
        partner: r.partners?.[fp] ?? e?.partner ?? '?',
      };
    };
    return {
      revision: r.revision,
      ...(r.version ? { version: r.version } : {}),
      ...(r.supersededBy !== undefined ? { supersededBy: r.supersededBy } : {}),
      ...(r.lostVersion ? { lostVersion: r.lostVersion } : {}),
      at: r.at,
      reason: r.reason,
      added: r.added.map(describe),
      removed: r.removed.map(describe),
    };
  });
};
