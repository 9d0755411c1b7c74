import { NotFoundError } from '../errors.js';
import type { ObjectStore } from '../ports.js';
import type { Rollout } from './model.js';

/**
 * Where the durable rollout (Step Functions, functions/rollout/handler.ts) writes each rollout's
 * record after every step: `rollouts/<id>.json`, the id URL-encoded (an S3 version id may hold
 * `/`). `rollouts/trust-stores/` beside them is the ELB ledger, not records.
 */
export const ROLLOUTS_PREFIX = 'rollouts/';
export const rolloutKey = (id: string): string => `${ROLLOUTS_PREFIX}${encodeURIComponent(id)}.json`;

/**
 * Whether the store holds the record of rollout (or CRL sync) `id`: it was started and ran at
 * least one step. A HEAD, no bytes read.
 */
export const hasRecord = async (store: Pick<ObjectStore, 'head'>, id: string): Promise<boolean> => {
  try {
    await store.head(rolloutKey(id));
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
};

/** The revision a record's key names (`rollouts/<revision>-<version>.json`), or undefined. */
const revisionOf = (key: string): number | undefined => {
  const m = /^rollouts\/(\d+)-[^/]+\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
};

/**
 * The record of the newest rollout in the store (the highest revision; of one revision, the last
 * started), or undefined when there is none. A record that does not read as one is skipped.
 */
export const latestRollout = async (
  store: Pick<ObjectStore, 'list' | 'get'>,
): Promise<Rollout | undefined> => {
  const keys = (await store.list(ROLLOUTS_PREFIX))
    .map((o) => ({ key: o.key, revision: revisionOf(o.key) }))
    .filter((k): k is { key: string; revision: number } => k.revision !== undefined)
    .sort((a, b) => b.revision - a.revision);
  // Newest revision first; a revision whose records all fail to read gives way to the one before.
  for (const revision of [...new Set(keys.map((k) => k.revision))]) {
    const records: Rollout[] = [];
    for (const { key } of keys.filter((k) => k.revision === revision)) {
      try {
        const parsed = JSON.parse(new TextDecoder().decode((await store.get(key)).body)) as Rollout;
        if (parsed && parsed.schema === 1 && Array.isArray(parsed.targets)) records.push(parsed);
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof SyntaxError)) throw error;
      }
    }
    if (records.length > 0) return records.sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
  }
  return undefined;
};

/** The revision and generation a CRL sync's key names (`rollouts/crl-<revision>-<generation>.json`). */
const syncOf = (key: string): { revision: number; generation: number } | undefined => {
  const m = /^rollouts\/crl-(\d+)-(\d+)\.json$/.exec(key);
  return m ? { revision: Number(m[1]), generation: Number(m[2]) } : undefined;
};

/**
 * The record of the newest CRL sync (shared/rollout/crl-sync.ts: the highest revision, then
 * generation), or undefined when there is none or it does not read as one.
 */
export const latestCrlSync = async (
  store: Pick<ObjectStore, 'list' | 'get'>,
): Promise<Rollout | undefined> => {
  const newest = (await store.list(ROLLOUTS_PREFIX))
    .map((o) => ({ key: o.key, sync: syncOf(o.key) }))
    .filter((k): k is { key: string; sync: { revision: number; generation: number } } => k.sync !== undefined)
    .sort((a, b) => b.sync.revision - a.sync.revision || b.sync.generation - a.sync.generation)[0];
  if (!newest) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode((await store.get(newest.key)).body)) as Rollout;
    return parsed && parsed.schema === 1 && parsed.kind === 'crl-sync' && Array.isArray(parsed.targets)
      ? parsed
      : undefined;
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
};

/** How many rollout records the report reads (newest first): enough to settle every target. */
export const REPORT_ROLLOUT_RECORDS = 10;

/**
 * The newest `limit` rollout records (by revision, then start), newest first; a record that does
 * not read as one is skipped. Empty when there is none (no targets, or no rollout yet).
 */
export const recentRollouts = async (
  store: Pick<ObjectStore, 'list' | 'get'>,
  limit = REPORT_ROLLOUT_RECORDS,
): Promise<Rollout[]> => {
  const keys = (await store.list(ROLLOUTS_PREFIX))
    .map((o) => ({ key: o.key, revision: revisionOf(o.key) }))
    .filter((k): k is { key: string; revision: number } => k.revision !== undefined)
    .sort((a, b) => b.revision - a.revision)
    .slice(0, limit);
  const records: Rollout[] = [];
  for (const { key } of keys) {
    try {
      const parsed = JSON.parse(new TextDecoder().decode((await store.get(key)).body)) as Rollout;
      if (parsed && parsed.schema === 1 && Array.isArray(parsed.targets)) records.push(parsed);
    } catch (error) {
      if (!(error instanceof NotFoundError || error instanceof SyntaxError)) throw error;
    }
  }
  return records.sort((a, b) => b.revision - a.revision || b.startedAt.localeCompare(a.startedAt));
};

/**
 * The rollout records as the report reads them from a store (`rollouts/` of the bucket): a
 * failure to read them is said on the page (`unreadable`), never a reason to fail the report.
 */
export const storeRolloutSources = async (
  store: Pick<ObjectStore, 'list' | 'get'>,
  label: string,
): Promise<{ source: string; records: Rollout[]; unreadable?: string }> => {
  const source = label.startsWith('s3://')
    ? `${label.replace(/\/$/, '')}/${ROLLOUTS_PREFIX}`
    : `${ROLLOUTS_PREFIX} of ${label}`;
  try {
    return { source, records: await recentRollouts(store) };
  } catch (error) {
    return { source, records: [], unreadable: (error as Error).message };
  }
};
