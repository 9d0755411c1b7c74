import type { Entry } from './state.js';

/**
 * The entries to remove so that no CA is left without a path to a self-signed root: `seed` plus,
 * repeatedly, every CA whose issuer (by name) is no longer there.
 */
export const withOrphans = (entries: readonly Entry[], seed: ReadonlySet<string>): Entry[] => {
  const removed = new Set(seed);
  if (removed.size === 0) return [];
  for (let changed = true; changed; ) {
    changed = false;
    const present = new Set(entries.filter((e) => !removed.has(e.fingerprint)).map((e) => e.subjectKey));
    for (const e of entries) {
      if (removed.has(e.fingerprint) || e.issuerKey === e.subjectKey) continue;
      if (!present.has(e.issuerKey)) {
        removed.add(e.fingerprint);
        changed = true;
      }
    }
  }
  return entries.filter((e) => removed.has(e.fingerprint));
};
