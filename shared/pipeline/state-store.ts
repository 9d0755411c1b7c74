import { createHash } from 'node:crypto';
import { ConflictError, DamagedStoreError, NotFoundError } from '../errors.js';
import type { Log, ObjectStore, StoredObject } from '../ports.js';
import {
  type IndexStamp,
  indexSourceDigest,
  newerStamp,
  REVOCATION_KEYS,
  stampOfMetadata,
  stampOfState,
} from '../revocation/state.js';
import { assertLintClean } from '../truststore/change-lint.js';
import { renderedOf as renderedBlocks } from '../truststore/render.js';
import {
  type Entry,
  emptyState,
  KEYS,
  latestPublished,
  parseState,
  type Revision,
  serializeState,
  type TruststoreState,
} from '../truststore/state.js';

export interface LoadedState {
  readonly state: TruststoreState;
  /** ETag of the state object, `undefined` when there is none yet. */
  readonly etag: string | undefined;
}

export const loadState = async (store: Pick<ObjectStore, 'get'>): Promise<LoadedState> => {
  let object: Awaited<ReturnType<ObjectStore['get']>>;
  try {
    object = await store.get(KEYS.state);
  } catch (error) {
    if (error instanceof NotFoundError) return { state: emptyState(), etag: undefined };
    throw error;
  }
  try {
    return { state: parseState(object.body), etag: object.etag };
  } catch (error) {
    throw new DamagedStoreError(
      `${KEYS.state} (version ${object.version}) cannot be read: ${(error as Error).message}. ` +
        'The store was damaged (a truncated write, or an edit by hand), and nothing more is written to it until it is repaired: ' +
        'run trustroll repair to restore the newest version of the state that reads and checks out.',
      { cause: error },
    );
  }
};

/**
 * Why a truststore version's bytes are not what was published (truncated or edited in place),
 * or undefined when they are: its SHA-256 against the one the state recorded for its revision,
 * and against the one written with the object.
 */
export const contentProblem = (object: StoredObject, revision?: Revision): string | undefined => {
  const actual = bodyHash(object.body);
  const expected = [revision?.sha256, object.metadata.sha256].find((h) => h !== undefined && h !== actual);
  return expected === undefined
    ? undefined
    : `is not what was published: its content has SHA-256 ${actual.slice(0, 16)}…, published as ${expected.slice(0, 16)}… (truncated or edited by hand)`;
};

/**
 * Reads one truststore version for use (diff, rollback, promotion, the local endpoint), checked
 * against what was published: a version whose bytes changed is damage (DamagedStoreError), never
 * silently used. NotFoundError when it is gone.
 */
export const readTruststoreVersion = async (
  store: Pick<ObjectStore, 'get'>,
  version: string,
  state: TruststoreState,
): Promise<StoredObject> => {
  let object: StoredObject;
  try {
    object = await store.get(KEYS.truststore, { version });
  } catch (error) {
    // Only versions older than the latest published one can have expired (the bucket's
    // noncurrent-version retention); the latest one gone is damage, whoever reads it.
    const latest = latestPublished(state);
    if (error instanceof NotFoundError && latest?.version === version)
      throw new DamagedStoreError(
        `truststore version ${version}, which serves the latest published revision (${latest.revision}), is missing (deleted by hand, or by a lifecycle rule gone wrong). ` +
          'trustroll status explains it; trustroll repair publishes the latest revision again as a new version.',
        { cause: error },
      );
    throw error;
  }
  const revision = [...state.history].reverse().find((r) => r.version === version);
  const problem = contentProblem(object, revision);
  if (problem) {
    throw new DamagedStoreError(
      `truststore version ${version}${revision ? ` (revision ${revision.revision})` : ''} ${problem}. ` +
        'It is not used: run trustroll repair (it marks the version lost, and publishes the latest revision again if it was that one).',
    );
  }
  return object;
};

/**
 * The damage a state reveals in its store, one sentence each (empty when intact):
 * - the state went back: the truststore object carries a newer revision than the state has
 *   (newer state versions deleted, or an older one put back, by hand);
 * - the truststore version it records as the latest published is missing (deleted by hand, or by
 *   a lifecycle rule gone wrong), or its bytes are not what was published (truncated, edited).
 * Reads the current truststore object (and the latest recorded version, when that is another).
 */
export const findDamage = async (
  store: ObjectStore,
  given: TruststoreState,
  /** `false`: leave a state changed since its index was built to the caller, who names the difference (status). */
  options: { readonly source?: boolean } = {},
): Promise<string[]> => (await inspect(store, given, options)).damage;

/** findDamage, with the current truststore object it read (undefined when there is none). */
const inspect = async (
  store: ObjectStore,
  given: TruststoreState,
  options: { readonly source?: boolean } = {},
): Promise<{ damage: string[]; current: StoredObject | undefined }> => {
  let current: StoredObject | undefined;
  try {
    current = await store.get(KEYS.truststore);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
  return { damage: await damageOf(store, given, current, options), current };
};

const damageOf = async (
  store: ObjectStore,
  given: TruststoreState,
  current: StoredObject | undefined,
  options: { readonly source?: boolean } = {},
): Promise<string[]> => {
  let state = given;
  const carried = Number(current?.metadata.revision ?? 0);
  if (current && carried > state.revision) {
    // A run may have committed and published since `given` was read: a state read after the
    // object is at least as new as its revision, unless the state went back.
    state = (await loadState(store)).state;
    if (carried > state.revision) {
      return [
        `${KEYS.state} went back to revision ${state.revision}, but truststore version ${current.version} was published as revision ${carried} ` +
          '(newer versions of the state were deleted, or an older one put back, by hand): ' +
          'run trustroll repair (it rebuilds the missing revisions from the truststore versions that carry them)',
      ];
    }
  }
  const behind = await behindIndex(store, state, options.source !== false);
  if (behind) return [behind];
  const latest = latestPublished(state);
  if (!latest?.version) return [];
  let object = current?.version === latest.version ? current : undefined;
  if (!object) {
    try {
      object = await store.get(KEYS.truststore, { version: latest.version });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return [
        `truststore version ${latest.version} (revision ${latest.revision}), recorded as published, is missing from ${KEYS.truststore}: ` +
          'restore it, or run trustroll repair (it marks the version lost and publishes the latest revision again as a new version; version ids are never reused)',
      ];
    }
  }
  const problem = contentProblem(object, latest);
  return problem
    ? [
        `truststore version ${latest.version} (revision ${latest.revision}) ${problem}: ` +
          'run trustroll repair (it marks the version lost and publishes the latest revision again as a new version; version ids are never reused)',
      ]
    : [];
};

/** How an index stamp is said: `revision 3, revocation generation 2`. */
export const stampText = (s: IndexStamp): string =>
  `revision ${s.revision}, revocation generation ${s.generation}`;

/**
 * The damage of a state behind the index `head` describes (newer state versions deleted, or an
 * older one put back, by hand, after a revoke or a rules change), if it is: the index holds
 * revocations the state lost, and a write now would publish an index without them.
 */
export const wentBehind = (
  head: { readonly version: string; readonly metadata?: Readonly<Record<string, string>> },
  state: TruststoreState,
): string | undefined => {
  const index = stampOfMetadata(head.metadata);
  const mine = stampOfState(state);
  if (!newerStamp(index, mine)) return undefined;
  return `the state went back behind the revocation index (version ${head.version}, built from ${stampText(index)}; the state is at ${stampText(mine)}): a newer version of the state was deleted or an older one put back by hand, so revocations and rules in force are missing from it. Run trustroll repair, which takes them back from the index`;
};

/**
 * The damage of a state edited by hand since the index of the same stamp was built from it (a
 * revocation by hand removed from the latest state version, a CA given to another partner): the
 * digest of what the index was built from, in its metadata, is not the state's. A write now would
 * publish an index without what the edit removed. Costs a hash of the state's CA partners and
 * revocation part, no read; an index published before the digest was recorded is not judged.
 */
export const sourceChanged = (
  head: { readonly version: string; readonly metadata?: Readonly<Record<string, string>> },
  state: TruststoreState,
): string | undefined => {
  const recorded = head.metadata?.source;
  if (recorded === undefined) return undefined;
  const index = stampOfMetadata(head.metadata);
  const mine = stampOfState(state);
  if (index.revision !== mine.revision || index.generation !== mine.generation) return undefined;
  if (recorded === indexSourceDigest(state)) return undefined;
  return `${KEYS.state} was changed by hand after the revocation index (version ${head.version}) was built from it: both are at ${stampText(mine)}, but the state no longer says what the index was built from (its revocations by hand, partner rules, CRLs or the CAs' partners; trustroll status names the difference). Run trustroll repair: it takes back the revocations by hand the index holds and publishes the index again from the state`;
};

/** {@link wentBehind} or {@link sourceChanged} of the published index (one HEAD; nothing when none is published). */
export const behindIndexOf = async (
  store: ObjectStore,
  state: TruststoreState,
  source = true,
): Promise<string | undefined> => {
  try {
    const head = await store.head(REVOCATION_KEYS.index);
    return wentBehind(head, state) ?? (source ? sourceChanged(head, state) : undefined);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return undefined;
  }
};

/** {@link behindIndexOf}, the state read again once when it looks behind (another run may have published since). */
const behindIndex = async (
  store: ObjectStore,
  given: TruststoreState,
  source: boolean,
): Promise<string | undefined> =>
  (await behindIndexOf(store, given, source)) && behindIndexOf(store, (await loadState(store)).state, source);

/**
 * Refuses to go on writing to a damaged store (DamagedStoreError), saying what to do. Returns the
 * current truststore object it read (undefined when there is none yet), so that a publish in the
 * same run need not read it again: its write is a compare-and-set on that object's ETag.
 */
export const assertIntact = async (
  store: ObjectStore,
  state: TruststoreState,
): Promise<{ readonly current: StoredObject | undefined }> => {
  const { damage, current } = await inspect(store, state);
  if (damage.length > 0) {
    throw new DamagedStoreError(
      `${damage.join('; ')}. The store was changed by hand, and nothing more is written to it until it is repaired.`,
    );
  }
  return { current };
};

/** Compare-and-set of the state document: throws ConflictError when someone else wrote first. */
export const saveState = async (store: ObjectStore, next: TruststoreState, etag: string | undefined) =>
  store.put(KEYS.state, serializeState(next), {
    ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
    contentType: 'application/json',
  });

/**
 * Applies `change` to the latest state with compare-and-set, re-reading and re-applying on
 * conflict. `change` returns `undefined` when there is nothing to write.
 */
export const updateState = async (
  store: ObjectStore,
  change: (state: TruststoreState) => TruststoreState | undefined,
  attempts = 20,
): Promise<TruststoreState | undefined> => {
  const known = await loadState(store);
  const after = await changeState(store, known, change, attempts);
  return after.written ? after.state : undefined;
};

/**
 * Applies `change` to `known` (the state as this run last read or wrote it) with compare-and-set
 * on its ETag, so the state is not read again when no one else wrote since; on conflict, re-reads
 * and re-applies. Returns the state and ETag the store holds after it (`known` when `change` had
 * nothing to write), and whether this call wrote.
 */
export const changeState = async (
  store: ObjectStore,
  known: LoadedState,
  change: (state: TruststoreState) => TruststoreState | undefined,
  attempts = 20,
): Promise<LoadedState & { readonly written: boolean }> => {
  let { state, etag } = known;
  for (let attempt = 1; ; attempt++) {
    const next = change(state);
    if (!next) return { state, etag, written: false };
    try {
      const saved = await saveState(store, next, etag);
      return { state: next, etag: saved.etag, written: true };
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= attempts) throw error;
    }
    ({ state, etag } = await loadState(store));
  }
};

/**
 * The state as the store holds it now: `known` when its ETag is still the current one (a HEAD,
 * which moves no bytes), else read again. For checks after a slow step (a roll) that only need to
 * know whether another writer committed meanwhile.
 */
export const refreshState = async (store: ObjectStore, known: LoadedState): Promise<LoadedState> => {
  if (known.etag !== undefined) {
    try {
      if ((await store.head(KEYS.state)).etag === known.etag) return known;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  return loadState(store);
};

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/**
 * SHA-256 of a truststore object's bytes. The object a run published is what the next run reads
 * back (hashed to check it is intact): recognised by its bytes (a comparison is several times
 * cheaper than the hash), its hash is not computed again.
 */
const bodyHash = (body: Uint8Array): string => {
  const known = hashed.find((h) => h.bytes.equals(body));
  if (known) return known.hash;
  const hash = sha256(body);
  rememberHash(Buffer.from(body), hash);
  return hash;
};
const hashed: { readonly bytes: Buffer; readonly hash: string }[] = [];
const rememberHash = (bytes: Buffer, hash: string) => {
  hashed.unshift({ bytes, hash });
  hashed.length = Math.min(hashed.length, 2);
};

/** The truststore object an entry set renders to, and its SHA-256 (computed once per set). */
export const renderedOf = (entries: readonly Entry[]) => renderedBlocks(entries);

/**
 * Writes the truststore object for `state` unless it is already there or a newer revision has
 * been published. The object carries its revision and hash as metadata, and the write is a
 * compare-and-set on the ETag seen, so a slow writer never overwrites a newer truststore.
 * Returns the version id serving `state`'s certificate set, or `undefined` if superseded.
 */
/**
 * The publish step's own check, behind the commit's (`nextRevision`): the CA set of the latest
 * revision, against the set before it (its history record's changes undone), must not bring an
 * error finding, judged at the time it was committed. A state that reached the store without the
 * commit's check (a bug, or a writer that skipped it) is not published.
 */
const assertPublishable = (state: TruststoreState): void => {
  const record = state.history.find((r) => r.revision === state.revision);
  if (!record) return;
  const added = new Set(record.added);
  const known = new Map((state.removedEntries ?? []).map((e) => [e.fingerprint, e] as const));
  const back = record.removed.map((fp) => known.get(fp));
  // Removed entries are kept for provenance (bounded); without them the change cannot be undone.
  if (back.some((e) => e === undefined)) return;
  const before = [...state.entries.filter((e) => !added.has(e.fingerprint)), ...(back as Entry[])];
  assertLintClean(before, state.entries, new Date(record.at), 'publish');
};

export const publishTruststore = async (
  store: ObjectStore,
  state: TruststoreState,
  log: Log,
  /**
   * The current truststore object as this run already read it (`null`: there was none): the
   * first attempt uses it instead of reading it again. Safe however old it is: the write is a
   * compare-and-set on its ETag, and a conflict reads the object afresh.
   */
  seen?: StoredObject | null,
): Promise<string | undefined> => {
  assertPublishable(state);
  const { body, hash } = renderedOf(state.entries);
  for (let attempt = 1; attempt <= 20; attempt++) {
    let current: StoredObject | undefined;
    if (attempt === 1 && seen !== undefined) {
      current = seen ?? undefined;
    } else {
      try {
        current = await store.get(KEYS.truststore);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    // The current object serves this set only if its bytes are still what they were published as.
    if (current?.metadata.sha256 === hash && bodyHash(current.body) === hash) return current.version;
    if (current && Number(current.metadata.revision ?? 0) > state.revision) {
      log.info('truststore superseded by a newer revision', {
        revision: state.revision,
        current: current.metadata.revision,
      });
      return undefined;
    }
    try {
      const bytes = Buffer.from(body);
      // What is written is exactly `body`, whose hash is known.
      rememberHash(bytes, hash);
      const written = await store.put(KEYS.truststore, new Uint8Array(bytes), {
        ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
        contentType: 'application/x-pem-file',
        metadata: { revision: String(state.revision), sha256: hash },
        // Never an id the history holds, lost or not (a folder store whose `.highest` went too).
        usedVersions: state.history.flatMap((r) => [r.version, r.lostVersion].filter((v) => v !== undefined)),
      });
      log.info('truststore published', {
        revision: state.revision,
        version: written.version,
        certificates: state.entries.length,
      });
      return written.version;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError('could not publish the truststore after 20 attempts: too many concurrent writers');
};

/**
 * Records the version id of a published revision in the state history, and marks the earlier
 * revisions that were never published as superseded by it (a run stopped between its commit and
 * its publish, overtaken by a later one): publishTruststore never publishes an older revision
 * over a newer one, so they never will be.
 */
export const recordVersion = (store: ObjectStore, revision: number, version: string) =>
  updateState(store, (state) => withVersion(state, revision, version));

/** The change recordVersion writes: `undefined` when the state records it already. */
export const withVersion = (
  state: TruststoreState,
  revision: number,
  version: string,
): TruststoreState | undefined => {
  const entry = state.history.find((r) => r.revision === revision);
  const stale = (r: Revision) =>
    r.revision < revision && r.version === undefined && r.supersededBy === undefined && !r.lostVersion;
  if (!entry || (entry.version === version && !state.history.some(stale))) return undefined;
  return {
    ...state,
    history: state.history.map((r) =>
      r.revision === revision ? { ...r, version } : stale(r) ? { ...r, supersededBy: revision } : r,
    ),
  };
};

/** Several changes as one write: each sees the one before; `undefined` when none changes anything. */
export const allOf =
  (...changes: ((state: TruststoreState) => TruststoreState | undefined)[]) =>
  (state: TruststoreState): TruststoreState | undefined => {
    let next: TruststoreState | undefined;
    for (const change of changes) next = change(next ?? state) ?? next;
    return next;
  };
