import type { Clock, DomainGateway, Log, Notifier, ObjectStore } from '../ports.js';
import { latestPublished, pendingRevision, type TruststoreState } from '../truststore/state.js';
import { durableNotifier } from './outbox.js';
import { type RollConfig, type RollReport, rollDomains } from './roll.js';
import { loadState, publishTruststore, recordVersion, updateState } from './state-store.js';

export interface PublishDeps {
  readonly store: ObjectStore;
  readonly gateway: DomainGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly roll: RollConfig;
}

/**
 * After a committed change: publish the truststore object if the latest revision is not yet
 * published (also completing a crashed run's publish), record its version id, and make every
 * configured domain serve the latest published version — read fresh and re-checked, so a slower
 * concurrent run never takes a domain back. Domains already on it are left alone.
 */
export const publishAndRoll = async (
  committed: TruststoreState,
  deps: PublishDeps,
): Promise<{ state: TruststoreState; version?: string; roll?: RollReport; errors: string[] }> => {
  const errors: string[] = [];
  let state = committed;
  let version = latestPublished(state)?.version;
  const unpublished = state.history.at(-1);
  if (unpublished && unpublished.version === undefined && unpublished.revision === state.revision) {
    const written = await publishTruststore(deps.store, state, deps.log);
    if (written) {
      version = written;
      state = (await recordVersion(deps.store, state.revision, written)) ?? state;
    }
  }
  let roll: RollReport | undefined;
  if (version && deps.roll.domains.length > 0) {
    for (let round = 1; round <= 5; round++) {
      const fresh = (await loadState(deps.store)).state;
      const latest = latestPublished(fresh);
      if (!latest?.version) break;
      version = latest.version;
      const lastRollAt = fresh.lastRollAt ? new Date(fresh.lastRollAt) : undefined;
      roll = await rollDomains(
        latest.version,
        { ...deps, notifier: durableNotifier(deps.store, deps.notifier), config: deps.roll },
        { revision: latest.revision, ...(lastRollAt ? { lastUpdateAt: lastRollAt } : {}) },
      );
      // Deferred domains are a follow-up run's; otherwise roll again if a newer version appeared.
      if (roll.deferred.length > 0) break;
      if (latestPublished((await loadState(deps.store)).state)?.version === latest.version) break;
    }
  }
  if (roll) {
    errors.push(...roll.notifyErrors);
    const at = roll.lastUpdateAt?.toISOString();
    if (at) {
      await updateState(deps.store, (s) =>
        s.lastRollAt && s.lastRollAt >= at ? undefined : { ...s, lastRollAt: at },
      ).catch((error: Error) => errors.push(`recording the roll time: ${error.message}`));
    }
  }
  return { state, ...(version ? { version } : {}), ...(roll ? { roll } : {}), errors };
};

/**
 * Publishes (and rolls) the latest revision when it was committed but never published: a run
 * that stopped, or whose write failed, between its commit and its publish. Every command that
 * changes the store calls it first, so a committed change never waits for a later one.
 */
export const publishPending = async (
  deps: PublishDeps,
): Promise<{ revision: number; version?: string; errors: string[] } | undefined> => {
  const { state } = await loadState(deps.store);
  const pending = pendingRevision(state);
  if (!pending) return undefined;
  const { version, errors } = await publishAndRoll(state, deps);
  return { revision: pending.revision, ...(version ? { version } : {}), errors };
};
