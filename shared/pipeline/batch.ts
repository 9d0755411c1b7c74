import {
  type IngestDeps,
  type IngestReport,
  ingestRun,
  type UploadRef,
  type UploadReport,
} from './ingest.js';
import { handleRemovalRequests, type RequestOutcome } from './lifecycle.js';
import { publishAndRoll } from './publish.js';
import type { RollReport } from './roll.js';
import { type LoadedState, loadState } from './state-store.js';

/** One item of a batch from the ingest queue, in queue order. */
export type BatchItem =
  | { readonly kind: 'upload'; readonly ref: UploadRef }
  | { readonly kind: 'request'; readonly ref: { readonly key: string; readonly version?: string } }
  /** A request for a run (a roll that did not fit into an earlier invocation, a pending window). */
  | { readonly kind: 'run' };

export interface BatchResult {
  /** Per item, in order: false when it must be retried (an upload whose move did not happen). */
  readonly done: readonly boolean[];
  readonly uploads: readonly UploadReport[];
  readonly requests: readonly RequestOutcome[];
  /** The last ingest run of the batch. */
  readonly ingest: IngestReport;
  readonly roll?: RollReport;
  /** The latest published truststore version after the batch. */
  readonly version?: string;
  /** The revision that version publishes (what a rollout of it is named after). */
  readonly revision?: number;
  /**
   * The last change of the CRLs held (the state's `revocation.crlChange`), whichever run made it:
   * what a CRL sync is named after. Every batch hands it on, so that a sync a crashed run did not
   * start is started by the next one.
   */
  readonly revocation?: { readonly revision: number; readonly generation: number };
  readonly errors: readonly string[];
}

const idOf = (ref: { readonly key: string; readonly version?: string }) => `${ref.key}@${ref.version ?? ''}`;

/**
 * Handles one batch in queue order.
 * 1. Consecutive uploads are judged together (`ingestUploads`); the same object named twice
 *    (a duplicated event) is judged once.
 * 2. A removal request is carried out after the uploads before it and before those after it.
 * 3. Uploads waiting for their issuer are judged again even when the batch brought no upload.
 * 4. One roll at the end: every configured domain to the latest version, within the deadline
 *    of `config.roll` (the domains left are in `roll.deferred`).
 */
export const handleBatch = async (items: readonly BatchItem[], deps: IngestDeps): Promise<BatchResult> => {
  const noRoll = { ...deps, config: { ...deps.config, roll: { domains: [] } } };
  const done = items.map(() => true);
  const uploads: UploadReport[] = [];
  const requests: RequestOutcome[] = [];
  const errors: string[] = [];
  let ingest: IngestReport | undefined;
  /** The state as the last step left it, when that step was an ingest run (it knows its ETag). */
  let known: LoadedState | undefined;
  for (let i = 0; i < items.length; ) {
    const item = items[i]!;
    let end = i + 1;
    while (end < items.length && items[end]!.kind === item.kind) end++;
    const segment = items.slice(i, end);
    if (item.kind === 'upload') {
      const unique = new Map<string, UploadRef>();
      for (const s of segment) if (s.kind === 'upload') unique.set(idOf(s.ref), s.ref);
      const refs = [...unique.values()];
      ({ report: ingest, known } = await ingestRun(refs, noRoll));
      errors.push(...ingest.errors);
      // The report lists the batch's uploads first, then the waiting ones judged again.
      const byId = new Map(refs.map((r, j) => [idOf(r), ingest!.uploads[j]!]));
      uploads.push(...ingest.uploads);
      for (let j = i; j < end; j++) {
        const it = items[j]!;
        const u = it.kind === 'upload' ? byId.get(idOf(it.ref)) : undefined;
        // An upload left in the inbox (its move failed) is retried: the next run finishes the move.
        if (u && u.outcome !== 'missing' && u.outcome !== 'pending' && !u.movedTo) done[j] = false;
      }
    } else if (item.kind === 'request') {
      const refs = segment.flatMap((s) => (s.kind === 'request' ? [s.ref] : []));
      requests.push(...(await handleRemovalRequests(refs, { ...noRoll, roll: noRoll.config.roll })));
      known = undefined;
    }
    i = end;
  }
  // Uploads waiting for their issuer are judged with every run, a batch of requests included.
  if (!ingest) {
    ({ report: ingest, known } = await ingestRun([], noRoll));
    uploads.push(...ingest.uploads);
    errors.push(...ingest.errors);
  }
  // After an ingest run the state it wrote is known: not read again (the roll checks it with a HEAD).
  const latest = known?.etag === undefined ? await loadState(deps.store) : known;
  const published = await publishAndRoll(
    latest.state,
    { ...deps, roll: deps.config.roll },
    latest.etag === undefined ? {} : { etag: latest.etag },
  );
  errors.push(...published.errors);
  const revision = published.version
    ? [...published.state.history].reverse().find((r) => r.version === published.version)?.revision
    : undefined;
  return {
    done,
    uploads,
    requests,
    ingest,
    ...(published.roll ? { roll: published.roll } : {}),
    ...(published.version ? { version: published.version } : {}),
    ...(revision === undefined ? {} : { revision }),
    ...(published.state.revocation?.crlChange ? { revocation: published.state.revocation.crlChange } : {}),
    errors,
  };
};
