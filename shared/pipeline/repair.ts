import { DamagedStoreError, InputError, NotFoundError } from '../errors.js';
import { readInput } from '../pki/read.js';
import type { ObjectStore, StoredObject } from '../ports.js';
import { olderIndex } from '../revocation/index.js';
import { indexDisagreement, indexSourceDigest, REVOCATION_KEYS } from '../revocation/state.js';
import {
  type Entry,
  entryOf,
  KEYS,
  latestPublished,
  MAX_HISTORY,
  parseState,
  pendingRevision,
  type Revision,
  renderState,
  type TruststoreState,
} from '../truststore/state.js';
import { type PublishDeps, publishAndRoll } from './publish.js';
import { MAX_REMOVED } from './revision.js';
import { heldIssuer, indexFor, loadIndex, publishIndex, revocationOf } from './revocation.js';
import { contentProblem, loadState, saveState, sha256 } from './state-store.js';

export interface RepairReport {
  /** What was found damaged and what was done about it, one line each; empty when intact. */
  readonly actions: readonly string[];
  /** The truststore version serving the latest revision after the repair. */
  readonly version?: string;
  /** On an intact store: the revision that version serves. */
  readonly revision?: number;
  /** What repair cannot mend, with what does (a CRL's record set: upload that CRL again). */
  readonly unmended?: readonly string[];
}

/**
 * Repairs a damaged store, explicitly (`trustroll repair`), never as a side effect:
 * 1. A state that cannot be read, or does not check out, is restored from its newest version that
 *    does, written as a new version (the damaged one stays in the history of the object).
 * 2. A state behind its truststore (newer state versions deleted, or an older one put back) is
 *    caught up: each revision the truststore versions carry past it is rebuilt from the version
 *    itself (its CA set, with the provenance the state still knows), so nothing a domain may
 *    serve is dropped without a record, and revision numbers never repeat.
 * 3. Revisions whose truststore version is missing, or whose bytes are not what was published,
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
  const caughtUp = await catchUp(state, deps, actions);
  if (caughtUp) {
    etag = (await saveState(deps.store, caughtUp, etag)).etag;
    state = caughtUp;
  }
  const revocationCaughtUp = await catchUpRevocation(state, deps.store, actions);
  if (revocationCaughtUp) {
    etag = (await saveState(deps.store, revocationCaughtUp, etag)).etag;
    state = revocationCaughtUp;
  }
  const reconciled = await reconcileRevocation(state, deps.store, actions);
  if (reconciled) {
    etag = (await saveState(deps.store, reconciled, etag)).etag;
    state = reconciled;
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
  // A run that stopped (or whose write failed) between its commit and its publish.
  const pending = pendingRevision(state);
  if (pending && !pending.lostVersion)
    actions.push(
      `revision ${pending.revision} was committed but never published (its run stopped, or failed, between the commit and the publish)`,
    );
  // Record sets of CRLs changed or deleted by hand: only the partner's CRL can give them back.
  const unmended: string[] = [];
  try {
    await indexFor(deps.store, state, new Date(0));
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    unmended.push(error.message);
  }
  const left = unmended.length > 0 ? { unmended } : {};
  if (actions.length === 0) {
    const latest = latestPublished(state);
    const index = latest?.version && unmended.length === 0 ? await repairIndex(deps, state) : undefined;
    if (index) actions.push(index);
    return {
      actions,
      ...(latest?.version ? { version: latest.version, revision: latest.revision } : {}),
      ...left,
    };
  }
  // The latest revision, if its version was lost, is published again (and rolled).
  const { version, errors } = await publishAndRoll(state, deps);
  if (version)
    actions.push(`the latest revision (${state.revision}) is served as truststore version ${version}`);
  actions.push(...errors.map((e) => `not done: ${e}`));
  const index = version && unmended.length === 0 ? await repairIndex(deps, state) : undefined;
  if (index) actions.push(index);
  return { actions, ...(version ? { version } : {}), ...left };
};

/**
 * The revocation index read back (its bytes against the hash it was written with) and published
 * again when it is damaged, missing or behind the state. What was done, if anything.
 */
const repairIndex = async (deps: PublishDeps, state: TruststoreState): Promise<string | undefined> => {
  let before: string | undefined;
  try {
    before = (await deps.store.head(REVOCATION_KEYS.index)).version;
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  try {
    const after = await publishIndex(deps.store, state, deps.log, { verify: true });
    if (after === undefined || after === before) return undefined;
    return before === undefined
      ? `the revocation index was missing; published as version ${after}`
      : `the revocation index (version ${before}) was damaged, behind the state or built by an older trustroll; published again as version ${after}`;
  } catch (error) {
    return `not done: publishing the revocation index: ${(error as Error).message}`;
  }
};

/**
 * A state that went back behind its revocation index (a newer state version lost, an older one
 * restored): the index holds revocations by hand and partner rules the state no longer has. They
 * are taken back from the newest index that reads (it holds them whole), and the generation moves
 * past the index's so the next index is newer than every one published (readers never step
 * back). CRLs accepted after the restored state cannot be (their metadata is in the index, their
 * acceptance record is not): they are named, to be uploaded again.
 */
const catchUpRevocation = async (
  state: TruststoreState,
  store: ObjectStore,
  actions: string[],
): Promise<TruststoreState | undefined> => {
  let loaded: Awaited<ReturnType<typeof loadIndex>>;
  try {
    loaded = await loadIndex(store);
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    return undefined;
  }
  if (!loaded) return undefined;
  const rev = revocationOf(state);
  const header = loaded.index.header;
  if (!olderIndex({ revision: state.revision, generation: rev.generation }, header)) return undefined;
  const held = new Set(rev.manual.map((m) => `${m.issuer}|${m.serial}`));
  const manual = [...rev.manual, ...header.manual.filter((m) => !held.has(`${m.issuer}|${m.serial}`))];
  // The index is the newer: its rules are the ones set last.
  const rules = { ...rev.rules, ...header.rules };
  // Keyed by the CA the index names: a CRL of a CA renewed since is held under the renewed one.
  const issuerOf = heldIssuer(state);
  const heldCrls = new Set(
    Object.values(rev.crls).map(
      (c) => `${issuerOf(c.issuer)?.fingerprint ?? c.issuer}|${c.scope}|${c.number ?? c.thisUpdate}`,
    ),
  );
  const lostCrls = header.cas.flatMap((ca) =>
    ca.crls
      .filter((c) => !heldCrls.has(`${ca.fingerprint}|${c.scope}|${c.number ?? c.thisUpdate}`))
      .map((c) => `${ca.subject}'s CRL${c.number ? ` #${c.number}` : ''} (${c.source})`),
  );
  const taken = manual.length - rev.manual.length;
  const takenRules = Object.keys(header.rules).filter(
    (p) => JSON.stringify(header.rules[p]) !== JSON.stringify(rev.rules[p]),
  );
  actions.push(
    `the state went back behind the revocation index (${loaded.version}: revision ${header.revision}, generation ${header.generation ?? '?'}; the state: revision ${state.revision}, generation ${rev.generation}): ` +
      `${taken} revocation${taken === 1 ? '' : 's'} by hand and the rules of ${takenRules.length} partner${takenRules.length === 1 ? '' : 's'} taken back from it` +
      (lostCrls.length > 0
        ? `; NOT taken back, upload them again to their partner's crl/ folder: ${lostCrls.join(', ')}`
        : ''),
  );
  return {
    ...state,
    revocation: { ...rev, manual, rules, generation: Math.max(rev.generation, header.generation ?? 0) + 1 },
  };
};

/**
 * A state and an index of the same stamp that do not say the same (one edited by hand: a
 * revocation by hand removed from the state, a CA given to another partner in the index, with its
 * SHA-256 made to match). Revocations by hand either holds are kept (a revocation the edit
 * removed is in force again: denying is the safe side); the rules and the CAs' partners are the
 * state's, the record of what was decided. The generation moves on, so the index is published
 * again from the state, newer than the one it replaces.
 */
const reconcileRevocation = async (
  state: TruststoreState,
  store: ObjectStore,
  actions: string[],
): Promise<TruststoreState | undefined> => {
  let loaded: Awaited<ReturnType<typeof loadIndex>>;
  let metadata: Readonly<Record<string, string>> | undefined;
  try {
    metadata = (await store.head(REVOCATION_KEYS.index)).metadata;
    loaded = await loadIndex(store);
  } catch (error) {
    if (!(error instanceof DamagedStoreError) && !(error instanceof NotFoundError)) throw error;
    return undefined;
  }
  if (!loaded) return undefined;
  const rev = revocationOf(state);
  const header = loaded.index.header;
  if (header.revision !== state.revision || (header.generation ?? -1) !== rev.generation) return undefined;
  const differences = indexDisagreement(header, state);
  const edited = metadata?.source !== undefined && metadata.source !== indexSourceDigest(state);
  if (differences.length === 0 && !edited) return undefined;
  const held = new Set(rev.manual.map((m) => `${m.issuer}|${m.serial}`));
  const back = header.manual.filter((m) => !held.has(`${m.issuer}|${m.serial}`));
  actions.push(
    `the state and the revocation index (${loaded.version}) of revision ${state.revision}, generation ${rev.generation} did not say the same` +
      (differences.length > 0
        ? ` (${differences.join('; ')})`
        : ' (the state was changed after the index was built from it)') +
      `: ${back.length} revocation${back.length === 1 ? '' : 's'} by hand taken back from the index; the index is published again from the state (its partner rules and CAs' partners: check them with trustroll rules and trustroll status)`,
  );
  return {
    ...state,
    revocation: { ...rev, manual: [...rev.manual, ...back], generation: rev.generation + 1 },
  };
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

/**
 * The state caught up with its truststore, or undefined when it is not behind. Walks the
 * truststore versions newest first while they carry a revision past the state's, keeps the
 * newest intact one of each revision, and rebuilds one revision from each, oldest first.
 */
const catchUp = async (
  state: TruststoreState,
  deps: PublishDeps,
  actions: string[],
): Promise<TruststoreState | undefined> => {
  let current: StoredObject;
  try {
    current = await deps.store.get(KEYS.truststore);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  const revisionOf = (o: StoredObject) => Number(o.metadata.revision ?? 0);
  if (!(revisionOf(current) > state.revision)) return undefined;
  // Without a version listing only the current object can be read back.
  const ids = deps.store.versions
    ? (await deps.store.versions(KEYS.truststore))
        .filter((v) => !v.deleted)
        .map((v) => v.version)
        .reverse()
    : [current.version];
  const found: { object: StoredObject; revision: number; hash: string }[] = [];
  for (const version of ids) {
    let object: StoredObject;
    try {
      object = version === current.version ? current : await deps.store.get(KEYS.truststore, { version });
    } catch (error) {
      if (error instanceof NotFoundError) continue;
      throw error;
    }
    const revision = revisionOf(object);
    if (!(revision > state.revision)) break;
    const problem = contentProblem(object);
    if (problem) {
      actions.push(
        `truststore version ${version} (revision ${revision}) ${problem}; not used to rebuild the state`,
      );
      continue;
    }
    // Two versions of one revision (a republish): the newer one is what was served last.
    if (found.length > 0 && revision >= found.at(-1)!.revision) continue;
    found.push({ object, revision, hash: sha256(object.body) });
  }
  if (found.length === 0) {
    throw new InputError(
      `${KEYS.state} is at revision ${state.revision}, behind truststore version ${current.version} (revision ${revisionOf(current)}), ` +
        'and no truststore version past the state can be read back to rebuild it: restore the newer versions of the state by hand',
    );
  }
  found.reverse();
  const now = deps.clock.now().toISOString();
  const known = new Map([...(state.removedEntries ?? []), ...state.entries].map((e) => [e.fingerprint, e]));
  let entries: readonly Entry[] = state.entries;
  const removed: Entry[] = [];
  const history: Revision[] = [...state.history];
  const unknown = new Set<string>();
  for (const { object, revision, hash } of found) {
    const next = readInput({ name: `truststore@${object.version}`, bytes: object.body }).certificates.map(
      ({ cert }) => {
        const was = known.get(cert.fingerprint);
        if (!was) unknown.add(cert.fingerprint);
        // Certificate fields from the certificate itself; provenance where the state still has it.
        return entryOf(cert, {
          partner: was?.partner ?? 'unknown',
          upload: was?.upload ?? { key: KEYS.truststore, version: object.version },
          addedAt: was?.addedAt ?? now,
          findings: was?.findings ?? [],
        });
      },
    );
    if (sha256(renderState(next)) !== hash) {
      throw new InputError(
        `truststore version ${object.version} (revision ${revision}) is not a truststore trustroll rendered, so the state cannot be rebuilt from it: restore the newer versions of the state by hand`,
      );
    }
    const before = new Set(entries.map((e) => e.fingerprint));
    const after = new Set(next.map((e) => e.fingerprint));
    removed.push(...entries.filter((e) => !after.has(e.fingerprint)));
    history.push({
      revision,
      version: object.version,
      sha256: hash,
      at: now,
      reason: `rebuilt by trustroll repair from truststore version ${object.version}: the state had gone back to revision ${state.revision}`,
      added: next.filter((e) => !before.has(e.fingerprint)).map((e) => e.fingerprint),
      removed: entries.filter((e) => !after.has(e.fingerprint)).map((e) => e.fingerprint),
      partners: Object.fromEntries(
        [
          ...next.filter((e) => !before.has(e.fingerprint)),
          ...entries.filter((e) => !after.has(e.fingerprint)),
        ].map((e) => [e.fingerprint, e.partner]),
      ),
    });
    entries = next;
  }
  const kept = new Set(entries.map((e) => e.fingerprint));
  const keptBy = new Map(entries.map((e) => [e.fingerprint, e.partner]));
  const last = found.at(-1)!;
  actions.push(
    `${KEYS.state} had gone back to revision ${state.revision} while the truststore carries revision ${last.revision}: ` +
      `rebuilt revision${found.length > 1 ? 's' : ''} ${found.map((f) => `${f.revision} (version ${f.object.version})`).join(', ')} ` +
      `from the truststore versions` +
      (unknown.size > 0
        ? `; ${unknown.size} CA${unknown.size > 1 ? 's' : ''} whose provenance went with the lost state versions ${unknown.size > 1 ? 'are' : 'is'} recorded as partner "unknown"`
        : ''),
  );
  return {
    ...state,
    revision: last.revision,
    entries,
    // Each CA once per partner (removed, re-added and removed again is one record); one another
    // partner holds now stays, as in a commit (its former partner's revocation of its key holds).
    removedEntries: [
      ...new Map(
        [...(state.removedEntries ?? []), ...removed]
          .filter((e) => keptBy.get(e.fingerprint) !== e.partner)
          .map((e) => [`${e.fingerprint}|${e.partner}`, e] as const),
      ).values(),
    ].slice(-MAX_REMOVED),
    expiryAlerts: Object.fromEntries(Object.entries(state.expiryAlerts ?? {}).filter(([fp]) => kept.has(fp))),
    history: history.slice(-MAX_HISTORY),
  };
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
