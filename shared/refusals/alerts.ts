import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors.js';
import { notification } from '../pipeline/notifications.js';
import type { Log, Notifier, ObjectStore } from '../ports.js';
import { groupRefusals, type Refusal, refusalKey } from './explain.js';

/** Which (certificate, reason) pairs were alerted already: `refusals/alerted.json`. */
export const ALERTED_KEY = 'refusals/alerted.json';
/** The newest pairs kept: a certificate refused again after this many others may be alerted again. */
export const MAX_ALERTED = 10_000;

interface Alerted {
  readonly schema: 1;
  /** `<certificate key>|<reason code>` → when it was first alerted (ISO 8601). */
  readonly alerted: Readonly<Record<string, string>>;
}

const pairOf = (r: Refusal) => `${refusalKey(r)}|${r.code}`;

const read = async (store: ObjectStore, log: Log): Promise<{ alerted: Alerted; etag?: string }> => {
  try {
    const o = await store.get(ALERTED_KEY);
    try {
      const parsed = JSON.parse(new TextDecoder().decode(o.body)) as Alerted;
      if (parsed?.schema === 1 && parsed.alerted && typeof parsed.alerted === 'object')
        return { alerted: parsed, etag: o.etag };
    } catch {
      // below
    }
    // Damaged by hand: start over (at worst a refusal is alerted once more), keep its version in history.
    log.warn('refusals record unreadable, starting a new one', { key: ALERTED_KEY, version: o.version });
    return { alerted: { schema: 1, alerted: {} }, etag: o.etag };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return { alerted: { schema: 1, alerted: {} } };
  }
};

/**
 * Alerts each partner once per refused certificate and reason (`handshake.refused`): the refusals
 * not alerted before are grouped by partner and reason, one notification per group, then recorded.
 * Published before recorded: a crash in between alerts again (at least once), never not at all.
 * Refusals of no known partner go to the operators (no `partner` attribute).
 */
export const alertRefusals = async (
  deps: {
    readonly store: ObjectStore;
    readonly notifier: Notifier;
    readonly log: Log;
    readonly clock: { now(): Date };
  },
  refusals: readonly Refusal[],
): Promise<{ alerted: number; already: number }> => {
  let { alerted, etag } = await read(deps.store, deps.log);
  const fresh = new Map<string, Refusal>();
  for (const r of refusals)
    if (!(pairOf(r) in alerted.alerted) && !fresh.has(pairOf(r))) fresh.set(pairOf(r), r);
  const groups = groupRefusals([...fresh.values()]);
  for (const g of groups) {
    const id = createHash('sha256')
      .update(
        g.certificates
          .map((c) => `${c.key}|${g.code}`)
          .sort()
          .join('\n'),
      )
      .digest('hex')
      .slice(0, 32);
    const lines = [
      `API Gateway refused ${g.certificates.length === 1 ? 'a client certificate' : `${g.certificates.length} client certificates`} of partner ${g.partner} in the mutual TLS handshake (${g.count} request${g.count === 1 ? '' : 's'}${g.first ? `, first at ${g.first}` : ''}).`,
      '',
      `Reason (${g.code}): ${g.message}`,
      '',
      ...g.certificates.flatMap((c) => [
        `- ${c.subject}${c.serial ? ` (serial ${c.serial})` : ''}`,
        ...(/^[0-9a-f]{64}$/.test(c.key) ? [`  sha256 ${c.key}`] : []),
      ]),
      '',
      'Each certificate and reason is alerted once. trustroll refusals --log-file <exported access log> lists them all.',
    ];
    await deps.notifier.publish(
      notification(
        'handshake.refused',
        'warning',
        id,
        `handshake refused: ${g.partner}, ${g.code}`,
        lines,
        g.partner === 'unknown' ? undefined : g.partner,
      ),
    );
  }
  if (fresh.size === 0) return { alerted: 0, already: refusals.length };
  const at = deps.clock.now().toISOString();
  for (let attempt = 1; attempt <= 10; attempt++) {
    const merged = { ...alerted.alerted };
    for (const pair of fresh.keys()) merged[pair] ??= at;
    const kept = Object.entries(merged)
      .sort(([, a], [, b]) => b.localeCompare(a))
      .slice(0, MAX_ALERTED);
    try {
      await deps.store.put(
        ALERTED_KEY,
        new TextEncoder().encode(JSON.stringify({ schema: 1, alerted: Object.fromEntries(kept) })),
        { ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' as const }), contentType: 'application/json' },
      );
      return {
        alerted: fresh.size,
        already: refusals.length - [...refusals].filter((r) => fresh.has(pairOf(r))).length,
      };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      ({ alerted, etag } = await read(deps.store, deps.log));
    }
  }
  throw new ConflictError(
    `could not record the alerted refusals in ${ALERTED_KEY}: too many concurrent writers`,
  );
};
