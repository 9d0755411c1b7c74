import type { Clock, DomainGateway, Log, Notifier, ObjectStore } from '../ports.js';
import { latestPublished, pendingRevision, type TruststoreState } from '../truststore/state.js';
import { durableNotifier } from './outbox.js';
import { publishReport } from './report.js';
import { publishIndex } from './revocation.js';
import { type RollConfig, type RollReport, rollDomains } from './roll.js';
import {
  allOf,
  changeState,
  type LoadedState,
  loadState,
  publishTruststore,
  refreshState,
  updateState,
  withVersion,
} from './state-store.js';

export interface PublishDeps {
  readonly store: ObjectStore;
  readonly gateway: DomainGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly roll: RollConfig;
  /** What the report names the store (`s3://bucket/`, a data folder); default `the trustroll store`. */
  readonly label?: string;
  /** The expiry scan's thresholds (days), marked in the report; default 60, 30, 14, 7, 3, 1. */
  readonly expiryThresholds?: readonly number[];
}

export interface PublishOptions {
  /**
   * The ETag `committed` was read or written with. With it, the state is not read again: each
   * write is a compare-and-set on the ETag this run last saw (a conflict reads it afresh), and
   * each check for a newer revision is a HEAD of the state. Without it, each step reads the state.
   */
  readonly etag?: string;
  /**
   * The latest revision was published by this run already, as `version` (`undefined`: a newer
   * revision had been published first): only its version id is left to record.
   */
  readonly published?: { readonly version: string | undefined };
  /** A change of the state to make in the same write as the version record (delivered alerts). */
  readonly alsoWrite?: (state: TruststoreState) => TruststoreState | undefined;
}

/**
 * After a committed change: publish the truststore object if the latest revision is not yet
 * published (also completing a crashed run's publish), record its version id, and make every
 * configured domain serve the latest published version — checked fresh before each roll and
 * after it, so a slower concurrent run never takes a domain back. Domains already on it are
 * left alone. The version record, `alsoWrite`, and the time of the last update call are written
 * with compare-and-set; with a known `etag` the state is read again only if another writer
 * changed it meanwhile.
 */
export const publishAndRoll = async (
  committed: TruststoreState,
  deps: PublishDeps,
  options: PublishOptions = {},
): Promise<{
  state: TruststoreState;
  version?: string;
  roll?: RollReport;
  errors: string[];
  /** The report of the new version could not be written (the publish and the roll went on). */
  reportError?: string;
  /** With a known `etag`: the state as this run last read or wrote it, and its ETag. */
  known?: LoadedState;
}> => {
  const errors: string[] = [];
  let known: LoadedState | undefined =
    options.etag === undefined ? undefined : { state: committed, etag: options.etag };
  /** Writes `change` (compare-and-set); returns the state the store holds after it. */
  const write = async (
    change: (s: TruststoreState) => TruststoreState | undefined,
  ): Promise<TruststoreState | undefined> => {
    if (!known) return updateState(deps.store, change);
    known = await changeState(deps.store, known, change);
    return known.state;
  };
  /** The state now, read only if it changed since this run last saw it. */
  const fresh = async (): Promise<TruststoreState> => {
    if (!known) return (await loadState(deps.store)).state;
    known = await refreshState(deps.store, known);
    return known.state;
  };

  let state = committed;
  let version = latestPublished(state)?.version;
  const unpublished = state.history.at(-1);
  let record: ((s: TruststoreState) => TruststoreState | undefined) | undefined;
  /** This run published a new truststore version: its report follows it. */
  let newVersion = false;
  if (unpublished && unpublished.version === undefined && unpublished.revision === state.revision) {
    const written = options.published
      ? options.published.version
      : await publishTruststore(deps.store, state, deps.log);
    if (written) {
      version = written;
      newVersion = true;
      record = (s) => withVersion(s, committed.revision, written);
    }
  }
  const changes = [record, options.alsoWrite].filter((c) => c !== undefined);
  if (changes.length > 0) state = (await write(allOf(...changes))) ?? state;
  // The revocation index speaks for the truststore (which CA is whose): it follows every version,
  // before any domain serves that version. A failure is reported; the authorizer then keeps the
  // older index, which denies the new CAs' clients (fails closed) rather than allowing too much.
  if (version) {
    try {
      await publishIndex(deps.store, state, deps.log);
    } catch (error) {
      errors.push(`publishing the revocation index: ${(error as Error).message}`);
    }
  }

  let roll: RollReport | undefined;
  if (version && deps.roll.domains.length > 0) {
    for (let round = 1; round <= 5; round++) {
      const latestState = await fresh();
      const latest = latestPublished(latestState);
      if (!latest?.version) break;
      version = latest.version;
      const lastRollAt = latestState.lastRollAt ? new Date(latestState.lastRollAt) : undefined;
      roll = await rollDomains(
        latest.version,
        { ...deps, notifier: durableNotifier(deps.store, deps.notifier), config: deps.roll },
        { revision: latest.revision, ...(lastRollAt ? { lastUpdateAt: lastRollAt } : {}) },
      );
      // Deferred domains are a follow-up run's; otherwise roll again if a newer version appeared.
      if (roll.deferred.length > 0) break;
      let after: TruststoreState | undefined;
      if (known) {
        // The roll time is written now, as a compare-and-set: once it is written, no other
        // writer committed during the roll (a conflict re-reads the state, newer revision and
        // all). Without an update call to record, a HEAD tells whether one did.
        const at = roll.lastUpdateAt?.toISOString();
        if (at) {
          try {
            const saved = await changeState(deps.store, known, withRollTime(at));
            known = saved;
            // Only a write proves it: with nothing to write, the state may be older than the roll.
            if (saved.written) after = saved.state;
          } catch (error) {
            errors.push(`recording the roll time: ${(error as Error).message}`);
          }
        }
      }
      if (latestPublished(after ?? (await fresh()))?.version === latest.version) break;
    }
  }
  if (roll) {
    errors.push(...roll.notifyErrors);
    const at = roll.lastUpdateAt?.toISOString();
    if (at && !known) {
      await updateState(deps.store, withRollTime(at)).catch((error: Error) =>
        errors.push(`recording the roll time: ${error.message}`),
      );
    }
  }
  // The report is a view of the new version, written after it (and after the roll, where this
  // call rolls); a failure to write it is logged and returned, never thrown: it fails neither the
  // publish nor the roll, and is no error of the run.
  const reportError = newVersion
    ? await publishReport(deps.store, state, deps.clock.now(), deps.log, deps.label, deps.expiryThresholds)
    : undefined;
  return {
    state,
    ...(version ? { version } : {}),
    ...(roll ? { roll } : {}),
    errors,
    ...(reportError ? { reportError } : {}),
    ...(known ? { known } : {}),
  };
};

/** The state change that records the time of the last update call (`undefined`: a later one is). */
const withRollTime =
  (at: string) =>
  (s: TruststoreState): TruststoreState | undefined =>
    s.lastRollAt && s.lastRollAt >= at ? undefined : { ...s, lastRollAt: at };

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
