import { ConflictError, NotFoundError } from '../errors.js';
import type { Log, ObjectStore } from '../ports.js';
import { groupRefusals, type Refusal, type RefusalGroup } from './explain.js';

/**
 * The refused handshakes of the last days, as the refusals function explained them, for the
 * report the pipeline publishes (`reports/index.html`): `refusals/recent.json`. It holds what was
 * understood of each (names, serial, fingerprint, partner, reason), never a certificate.
 */
export const RECENT_KEY = 'refusals/recent.json';
/** How far back the report looks. */
export const RECENT_DAYS = 30;
/** The newest refusals kept (a flood of one client is still one group in the report). */
export const MAX_RECENT = 2_000;

const DAY = 86_400_000;

interface Recent {
  readonly schema: 1;
  readonly refusals: readonly Refusal[];
}

const isRefusal = (r: unknown): r is Refusal =>
  typeof r === 'object' &&
  r !== null &&
  typeof (r as Refusal).subject === 'string' &&
  typeof (r as Refusal).partner === 'string' &&
  typeof (r as Refusal).code === 'string' &&
  typeof (r as Refusal).message === 'string';

const read = async (
  store: Pick<ObjectStore, 'get'>,
  log: Log,
): Promise<{ refusals: Refusal[]; etag?: string; found: boolean }> => {
  try {
    const o = await store.get(RECENT_KEY);
    try {
      const parsed = JSON.parse(new TextDecoder().decode(o.body)) as Recent;
      if (parsed?.schema === 1 && Array.isArray(parsed.refusals))
        return { refusals: parsed.refusals.filter(isRefusal), etag: o.etag, found: true };
    } catch {
      // below
    }
    // Damaged by hand: start over (the report shows fewer refusals until new ones come).
    log.warn('recent refusals unreadable, starting a new record', { key: RECENT_KEY, version: o.version });
    return { refusals: [], etag: o.etag, found: true };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return { refusals: [], found: false };
  }
};

/** A refusal's moment, or 0 when the log line gave none (such refusals are the first to go). */
const timeOf = (r: Refusal): number => (r.time ? Date.parse(r.time) || 0 : 0);

/** The same refused request logged twice (a retried delivery) is one refusal. */
const identity = (r: Refusal): string =>
  r.requestId ? `id:${r.requestId}` : `${r.certSha256 ?? r.subject}|${r.code}|${r.time ?? ''}`;

/**
 * Adds explained refusals to `refusals/recent.json`: the last {@link RECENT_DAYS} days, at most
 * {@link MAX_RECENT}, the newest kept. A compare-and-set write, read again on a conflict.
 */
export const recordRecentRefusals = async (
  deps: { readonly store: ObjectStore; readonly log: Log; readonly clock: { now(): Date } },
  refusals: readonly Refusal[],
): Promise<number> => {
  if (refusals.length === 0) return 0;
  const since = deps.clock.now().getTime() - RECENT_DAYS * DAY;
  let { refusals: held, etag } = await read(deps.store, deps.log);
  for (let attempt = 1; attempt <= 10; attempt++) {
    const merged = new Map<string, Refusal>();
    for (const r of [...held, ...refusals]) {
      const t = timeOf(r);
      if (t !== 0 && t < since) continue;
      merged.set(identity(r), r);
    }
    const kept = [...merged.values()].sort((a, b) => timeOf(b) - timeOf(a)).slice(0, MAX_RECENT);
    try {
      await deps.store.put(
        RECENT_KEY,
        new TextEncoder().encode(JSON.stringify({ schema: 1, refusals: kept } satisfies Recent)),
        { ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' as const }), contentType: 'application/json' },
      );
      return kept.length;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      ({ refusals: held, etag } = await read(deps.store, deps.log));
    }
  }
  throw new ConflictError(
    `could not record the recent refusals in ${RECENT_KEY}: too many concurrent writers`,
  );
};

/**
 * The report's refusals section from `refusals/recent.json` (those of the last
 * {@link RECENT_DAYS} days at `now`), or undefined when none were ever recorded (or it cannot be
 * read: the report is a view, and leaves the section out rather than fail).
 */
export const recentRefusalGroups = async (
  store: Pick<ObjectStore, 'get'>,
  log: Log,
  now: Date,
): Promise<{ readonly source: string; readonly groups: readonly RefusalGroup[] } | undefined> => {
  let refusals: Refusal[];
  try {
    const recent = await read(store, log);
    // None recorded ever: the refusals are not watched (watchRefusals), so the report says nothing.
    if (!recent.found) return undefined;
    refusals = recent.refusals;
  } catch (error) {
    log.warn('recent refusals not read for the report', { error: (error as Error).message });
    return undefined;
  }
  const since = now.getTime() - RECENT_DAYS * DAY;
  return {
    source: `API Gateway access logs, last ${RECENT_DAYS} days (${RECENT_KEY})`,
    groups: groupRefusals(refusals.filter((r) => timeOf(r) === 0 || timeOf(r) >= since)),
  };
};
