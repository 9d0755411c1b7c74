import { DamagedStoreError, InputError, NotFoundError } from '../errors.js';
import type { ObjectStore } from '../ports.js';
import { KEYS, parseState, type Revision, type TruststoreState } from '../truststore/state.js';
import { type PublishDeps, publishAndRoll } from './publish.js';
import { contentProblem, loadState, saveState } from './state-store.js';

export interface RepairReport {
  /** What was found damaged and what was done about it, one line each; empty when intact. */
  readonly actions: readonly string[];
  /** The truststore version serving the latest revision after the repair. */
  readonly version?: string;
}

/**
 * Repairs a damaged store, explicitly (`trustroll repair`), never as a side effect:
 * 1. A state that cannot be read, or does not check out, is restored from its newest version that
 *    does, written as a new version (the damaged one stays in the history of the object).
 * 2. Revisions whose truststore version is missing, or whose bytes are not what was published,
 *    are marked as lost: they can no longer be rolled back to, and if the latest was among them
 *    it is published again as a new version (version ids are never reused), and the domains
 *    are rolled to it.
 */
export const repairStore = async (deps: PublishDeps): Promise<RepairReport> => {
  const actions: string[] = [];
  let state: TruststoreState;
  let etag: string | undefined;
  try {
    ({ state, etag } = await loadState(deps.store));
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    ({ state, etag } = await restoreState(deps.store, actions));
  }
  const lost: string[] = [];
  const problems = new Map<string, string | undefined>();
  for (const r of state.history) {
    if (!r.version) continue;
    if (!problems.has(r.version)) problems.set(r.version, await versionProblem(deps.store, r));
    const problem = problems.get(r.version);
    if (!problem) continue;
    if (!lost.includes(r.version)) lost.push(r.version);
    actions.push(
      `revision ${r.revision}: truststore version ${r.version} ${problem}; marked as lost (it can no longer be rolled back to)`,
    );
  }
  if (lost.length > 0) {
    const repaired: TruststoreState = {
      ...state,
      history: state.history.map((r) =>
        r.version && lost.includes(r.version) ? { ...r, version: undefined, lostVersion: r.version } : r,
      ),
    };
    await saveState(deps.store, repaired, etag);
    state = repaired;
  }
  if (actions.length === 0) return { actions };
  // The latest revision, if its version was lost, is published again (and rolled).
  const { version, errors } = await publishAndRoll(state, deps);
  if (version)
    actions.push(`the latest revision (${state.revision}) is served as truststore version ${version}`);
  actions.push(...errors.map((e) => `not done: ${e}`));
  return { actions, ...(version ? { version } : {}) };
};

/** Why a published revision's version cannot serve it any more (gone, or changed), if it cannot. */
const versionProblem = async (store: ObjectStore, r: Revision): Promise<string | undefined> => {
  try {
    return contentProblem(await store.get(KEYS.truststore, { version: r.version! }), r);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return 'is missing';
  }
};

/** The newest readable version of the state, written again as the current one. */
const restoreState = async (
  store: ObjectStore,
  actions: string[],
): Promise<{ state: TruststoreState; etag: string | undefined }> => {
  if (!store.versions) {
    throw new InputError(
      `${KEYS.state} cannot be read and this store keeps no older versions: restore it by hand`,
    );
  }
  const versions = (await store.versions(KEYS.state)).filter((v) => !v.deleted).reverse();
  const unreadable: { version: string; why: string }[] = [];
  for (const { version } of versions) {
    let state: TruststoreState;
    let body: Uint8Array;
    try {
      body = (await store.get(KEYS.state, { version })).body;
      state = parseState(body);
    } catch (error) {
      if (error instanceof NotFoundError) continue;
      unreadable.push({ version, why: (error as Error).message });
      continue;
    }
    const current = await store.head(KEYS.state);
    const written = await store.put(KEYS.state, body, {
      ifMatch: current.etag,
      contentType: 'application/json',
    });
    actions.push(
      `${KEYS.state}: ${describeUnreadable(unreadable)}; ` +
        `restored version ${version} (the newest that reads and checks out) as version ${written.version}`,
    );
    return { state, etag: written.etag };
  }
  throw new InputError(
    `no version of ${KEYS.state} reads and checks out (${describeUnreadable(unreadable)}): restore it by hand`,
  );
};

const describeUnreadable = (unreadable: readonly { version: string; why: string }[]) =>
  unreadable.length === 1
    ? `version ${unreadable[0]!.version} could not be read (${unreadable[0]!.why})`
    : `versions ${unreadable.map((u) => u.version).join(', ')} could not be read (${unreadable.map((u) => `${u.version}: ${u.why}`).join('; ')})`;
