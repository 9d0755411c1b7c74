import { type HistoryLine, historyLines } from './history.js';

export { type HistoryLine, historyLines };

import { createHash } from 'node:crypto';
import { DamagedStoreError, InputError, NotFoundError, readRefused, UpstreamError } from '../errors.js';
import type { Certificate } from '../pki/certificate.js';
import { keyInTexts } from '../pki/key-hunt.js';
import { readInput } from '../pki/read.js';
import type { Notification, StoredObject } from '../ports.js';
import { safeJson } from '../text.js';
import { partnerClaims } from '../truststore/admission.js';
import { lintCertificates } from '../truststore/lint.js';
import { withOrphans } from '../truststore/orphans.js';
import {
  type Entry,
  entryOf,
  findPublished,
  KEYS,
  keepLast,
  latestPublished,
  MAX_PROCESSED,
  pendingRevision,
  type TruststoreState,
  unpublishedNote,
} from '../truststore/state.js';
import { notification } from './notifications.js';
import { durableNotifier, flushOutbox } from './outbox.js';
import { type PublishDeps, publishAndRoll, publishPending } from './publish.js';
import { nextRevision } from './revision.js';
import { RETIRED_DAYS, retiredClaims, revocationOf, revokedCas, revokedKeyFindings } from './revocation.js';
import type { RollReport } from './roll.js';
import { assertIntact, loadState, readTruststoreVersion, updateState } from './state-store.js';
import { keptTag, safeName } from './upload-key.js';

/** A removal request: what to remove, and why (JSON in `requests/`, or `trustroll remove`). */
export interface RemovalRequest {
  /** SHA-256 fingerprints (full, or a unique prefix of at least 12 hex digits). */
  readonly fingerprints?: readonly string[];
  /** RFC 4514 subject, matched case-insensitively. */
  readonly subject?: string;
  /** Every CA of this partner. With `subject`/`fingerprints`, restricts the match to the partner. */
  readonly partner?: string;
  readonly reason: string;
  readonly requestedBy: string;
}

export interface ChangeReport {
  readonly outcome: 'changed' | 'rejected';
  readonly message: string;
  readonly removed: readonly Entry[];
  readonly added: readonly Entry[];
  /** The revision this command committed (or, when it committed none, the store's). */
  readonly revision: number;
  /** The truststore version published for that revision. */
  readonly version?: string;
  /** A concurrent writer's revision that was published first, carrying this one's changes. */
  readonly supersededBy?: number;
  readonly roll?: RollReport;
  readonly errors: readonly string[];
}

const REQUEST_FIELDS = ['fingerprints', 'subject', 'partner', 'reason', 'requestedBy'] as const;

/**
 * Parses and checks a removal request (from a JSON file or the command line) against its schema:
 * an object with only the known fields, each of the right type; every problem is named at once.
 */
export const parseRemovalRequest = (value: unknown): RemovalRequest => {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new InputError('a removal request is a JSON object');
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(v).filter((k) => !(REQUEST_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0)
    problems.push(
      `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')} (known: ${REQUEST_FIELDS.join(', ')})`,
    );
  const text = (name: string, max: number): boolean => {
    const x = v[name];
    if (x === undefined) return false;
    if (typeof x !== 'string' || x.trim() === '' || x.length > max) {
      problems.push(`${name} must be a non-empty string of at most ${max} characters`);
      return false;
    }
    return true;
  };
  const hasSubject = text('subject', 1024);
  const hasPartner = text('partner', 63);
  for (const [name, max] of [
    ['reason', 1000],
    ['requestedBy', 200],
  ] as const) {
    if (v[name] === undefined) problems.push(`${name} is required`);
    else text(name, max);
  }
  let hasFingerprints = false;
  if (v.fingerprints !== undefined) {
    const fps = v.fingerprints;
    const hexDigits = (f: string) => f.replace(/:/g, '').length;
    if (
      !Array.isArray(fps) ||
      fps.length === 0 ||
      fps.some(
        (f) => typeof f !== 'string' || !/^[0-9a-f:]+$/i.test(f) || hexDigits(f) < 12 || hexDigits(f) > 64,
      )
    ) {
      problems.push(
        'fingerprints must be a non-empty list of SHA-256 fingerprints in hex (12 to 64 hex digits each, colons allowed)',
      );
    } else hasFingerprints = true;
  }
  if (!hasFingerprints && !hasSubject && !hasPartner && problems.length === 0)
    problems.push('name what to remove: fingerprints, subject or partner');
  // Before anything else is said about it: a key is refused, and none of the text is kept or echoed.
  const key = keyInTexts(Object.values(v).filter((x): x is string => typeof x === 'string'));
  if (key) throw new KeyInRequestError(key);
  if (problems.length > 0) throw new InputError(`invalid removal request: ${problems.join('; ')}`);
  return v as unknown as RemovalRequest;
};

/**
 * A removal request that carries key material: refused, its text kept nowhere (not in the
 * report, the history or the alert), and alerted as a key (critical).
 */
export class KeyInRequestError extends InputError {
  override readonly name = 'KeyInRequestError';
  constructor(what: string) {
    super(
      `the removal request holds ${what}; nothing was removed and its text was not kept. Treat that key as compromised and replace it, then send the request again without it`,
    );
  }
}

/** Every string in a parsed JSON value (keys too), without recursion (a request may be 10,000 deep). */
const stringsOf = (value: unknown): string[] => {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === 'string') out.push(x);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        out.push(k);
        stack.push(v);
      }
    }
  }
  return out;
};

/** The entries a request names. */
const matching = (entries: readonly Entry[], r: RemovalRequest): Entry[] =>
  entries.filter((e) => {
    if (r.partner && e.partner !== r.partner) return false;
    if (r.fingerprints) {
      const fps = r.fingerprints.map((f) => f.replace(/:/g, '').toLowerCase());
      if (!fps.some((f) => e.fingerprint.startsWith(f))) return false;
    }
    if (r.subject && e.subject.toLowerCase() !== r.subject.toLowerCase()) return false;
    return true;
  });

/**
 * Removes CAs (offboarding a partner, withdrawing a compromised CA).
 * 1. Match the request against the current entries; a request that names nothing, or would leave
 *    the truststore empty (which API Gateway refuses), is rejected.
 * 2. Remove the matches and every CA then left without a path to a root, in one revision
 *    (with the alert in the same commit), kept in `removedEntries` for history and rollback.
 * 3. Publish, roll the domains, deliver the alert.
 */
export const removeCas = async (
  request: RemovalRequest,
  deps: PublishDeps,
  /** A request carried out at most once: its id is recorded with the change it made. */
  opts: { readonly requestId?: string } = {},
): Promise<ChangeReport> => {
  let result: { removed: Entry[]; state?: TruststoreState; already?: boolean; empty?: boolean } = {
    removed: [],
  };
  await assertIntact(deps.store, (await loadState(deps.store)).state);
  await publishPending(deps);
  await updateState(deps.store, (state) => {
    if (opts.requestId && state.processed[opts.requestId]) {
      result = { removed: [], already: true };
      return undefined;
    }
    const named = matching(state.entries, request);
    if (named.length === 0) {
      result = { removed: [] };
      return undefined;
    }
    const removed = withOrphans(state.entries, new Set(named.map((e) => e.fingerprint)));
    if (removed.length === state.entries.length) {
      result = { removed, empty: true };
      return undefined;
    }
    const now = deps.clock.now();
    const next = nextRevision(state, {
      entries: state.entries.filter((e) => !removed.includes(e)),
      removed,
      added: [],
      reason: `removal requested by ${request.requestedBy}: ${request.reason}`,
      at: now,
      alert: removalAlert(request, removed, named, state.revision + 1),
    });
    const processed = opts.requestId
      ? keepLast(
          { ...next.processed, [opts.requestId]: { outcome: 'accepted' as const, at: now.toISOString() } },
          MAX_PROCESSED,
        )
      : next.processed;
    result = { removed, state: { ...next, processed } };
    return result.state;
  });
  if (!result.state) {
    const { state } = await loadState(deps.store);
    return {
      outcome: result.already ? 'changed' : 'rejected',
      message: result.already
        ? 'This request was carried out already (a redelivered event); nothing was changed again.'
        : result.empty
          ? `The request would remove every CA in the truststore (${result.removed.length}), and API Gateway refuses an empty truststore; nothing was removed. Upload the CAs that should stay first, or turn off mutual TLS on the domain instead.`
          : `The request names no CA in the truststore (${describeRequest(request)}); nothing was removed.`,
      removed: [],
      added: [],
      revision: state.revision,
      errors: [],
    };
  }
  return finish(result.state, result.removed, [], deps, `Removed ${result.removed.length} CA(s).`);
};

/**
 * Restores the CA set of an earlier truststore version as a new version: history is never
 * rewritten. Default: the version before the latest.
 */
export const rollbackTruststore = async (
  to: string | undefined,
  deps: PublishDeps,
): Promise<ChangeReport> => {
  // A committed revision that was never published is published first: it is "the latest".
  await assertIntact(deps.store, (await loadState(deps.store)).state);
  await publishPending(deps);
  const { state } = await loadState(deps.store);
  // Named before the history is read: a state that went back would name the wrong target.
  await assertIntact(deps.store, state);
  const published = state.history.filter((r) => r.version !== undefined);
  const target = to === undefined ? published.at(-2) : findPublished(state, to);
  // Nothing earlier is a refusal (exit 1), not a usage error: the command was right, the store is young.
  if (!target?.version && to === undefined)
    return {
      outcome: 'rejected',
      message: `There is no earlier truststore version to roll back to (the store has ${published.length === 0 ? 'none' : 'one'}), nothing was changed.`,
      removed: [],
      added: [],
      revision: state.revision,
      errors: [],
    };
  if (!target?.version) {
    const note = to === undefined ? undefined : unpublishedNote(state, to);
    throw new InputError(
      note
        ? `${note}: roll back to a published revision instead (see trustroll history)`
        : `${to} is not a truststore version or revision of this store (see trustroll history)`,
    );
  }
  const certs = await certificatesOf(deps.store, state, target.version);
  return replaceSet(certs, new Map(), deps, {
    reason: `rollback to version ${target.version} (revision ${target.revision})`,
    eventType: 'truststore.restored',
    title: `truststore rolled back to revision ${target.revision}`,
    intro: `The truststore was restored to the CA set of version ${target.version} (revision ${target.revision})`,
    same: `The truststore already holds the CA set of version ${target.version}.`,
    done: `Restored the CA set of version ${target.version}.`,
    // "The one before the latest" means before the latest this rollback saw: if another change
    // was committed meanwhile, committing anyway would undo two changes.
    ...(to === undefined ? { basis: state.revision } : {}),
  });
};

/**
 * Why a version recorded in the history cannot be read: on AWS, older versions expire after the
 * bucket's noncurrent-version retention, which is not damage (only a missing latest version is).
 */
const goneNote = (version: string, revision?: number) =>
  `truststore version ${version}${revision === undefined ? '' : ` (revision ${revision})`} is no longer in the store: ` +
  "older versions expire after the bucket's noncurrent-version retention (365 days by default), or it was deleted by hand. " +
  'Use a version that remains (trustroll history)';

/** The certificates of one truststore version of `state`'s store, checked against what was published. */
export const certificatesOf = async (
  store: PublishDeps['store'],
  state: TruststoreState,
  version: string,
) => {
  try {
    const object = await readTruststoreVersion(store, version, state);
    return readInput({ name: `truststore@${version}`, bytes: object.body }).certificates.map((c) => c.cert);
  } catch (error) {
    if (error instanceof NotFoundError)
      throw new InputError(goneNote(version, findPublished(state, version)?.revision));
    throw error;
  }
};

/**
 * Makes the truststore hold exactly `certs` in one new revision (rollback, promotion): entries
 * keep their provenance where known (this store's entries, removed entries, or `provenance`),
 * the set is linted as a whole before anything is written, then published, rolled and alerted.
 */
export const replaceSet = async (
  certs: readonly Certificate[],
  provenance: ReadonlyMap<string, Entry>,
  deps: PublishDeps,
  text: {
    reason: string;
    eventType: 'truststore.restored' | 'truststore.promoted';
    title: string;
    intro: string;
    same: string;
    done: string;
    /** Commit only against this revision of the state (UpstreamError when another came first). */
    basis?: number;
  },
): Promise<ChangeReport> => {
  const lint = lintCertificates(
    certs.map((cert) => ({ cert, source: 'candidate set' })),
    { at: deps.clock.now() },
  );
  if (!lint.ok) {
    const { state } = await loadState(deps.store);
    return {
      outcome: 'rejected',
      message: `The CA set fails lint, nothing was changed: ${lint.findings
        .filter((f) => f.severity === 'error' || f.severity === 'critical')
        .map((f) => `${f.code} (${f.cert?.subject ?? 'truststore'})`)
        .join('; ')}.`,
      removed: [],
      added: [],
      revision: state.revision,
      errors: [],
    };
  }
  await assertIntact(deps.store, (await loadState(deps.store)).state);
  await publishPending(deps);
  let outcome: { removed: Entry[]; added: Entry[]; state?: TruststoreState; revision: number } = {
    removed: [],
    added: [],
    revision: 0,
  };
  await updateState(deps.store, (s) => {
    if (text.basis !== undefined && s.revision !== text.basis)
      throw new UpstreamError(
        `the store changed while rolling back (revision ${s.revision} was committed after revision ${text.basis}, the latest this rollback saw), so nothing was rolled back`,
      );
    const now = deps.clock.now();
    // The target's CAs keep their partner; a CA it once removed takes the one given (the promotion
    // showed that partner in its diff).
    const known = new Map([
      ...(s.removedEntries ?? []).map((e) => [e.fingerprint, e] as const),
      ...provenance,
      ...s.entries.map((e) => [e.fingerprint, e] as const),
    ]);
    const wanted = new Set(certs.map((c) => c.fingerprint));
    const entries = certs.map(
      (c) =>
        known.get(c.fingerprint) ??
        entryOf(c, {
          partner: 'restored',
          upload: { key: text.reason, version: '-' },
          addedAt: now.toISOString(),
          findings: [],
        }),
    );
    const current = new Set(s.entries.map((e) => e.fingerprint));
    const removed = s.entries.filter((e) => !wanted.has(e.fingerprint));
    const added = entries.filter((e) => !current.has(e.fingerprint));
    if (removed.length === 0 && added.length === 0) {
      outcome = { removed: [], added: [], revision: s.revision };
      return undefined;
    }
    const next = nextRevision(s, {
      entries,
      removed,
      added,
      reason: text.reason,
      at: now,
      alert: notification(text.eventType, 'warning', `${s.revision + 1}`, text.title, [
        `${text.intro} as revision ${s.revision + 1}.`,
        ...(added.length ? ['In:', ...added.map((e) => `- ${e.subject} (partner ${e.partner})`)] : []),
        ...(removed.length ? ['Out:', ...removed.map((e) => `- ${e.subject} (partner ${e.partner})`)] : []),
      ]),
    });
    outcome = { removed, added, state: next, revision: next.revision };
    return next;
  });
  if (!outcome.state) {
    return {
      outcome: 'rejected',
      message: text.same,
      removed: [],
      added: [],
      revision: outcome.revision,
      errors: [],
    };
  }
  return finish(outcome.state, outcome.removed, outcome.added, deps, text.done);
};

/**
 * Publishes and rolls a committed change and reports it: the revision this command committed and
 * the version published for it (a concurrent writer's later revision is theirs to report).
 */
const finish = async (
  committed: TruststoreState,
  removed: readonly Entry[],
  added: readonly Entry[],
  deps: PublishDeps,
  message: string,
): Promise<ChangeReport> => {
  let published: Awaited<ReturnType<typeof publishAndRoll>>;
  try {
    published = await publishAndRoll(committed, deps);
  } catch (error) {
    if (!(error instanceof UpstreamError)) throw error;
    // The change is committed: it is not lost, and the next command that writes publishes it.
    throw new UpstreamError(
      `revision ${committed.revision} is committed, but publishing it failed (${error.message}); trustroll repair, or the next change, publishes it`,
      { cause: error.cause ?? error },
    );
  }
  const { roll, errors } = published;
  errors.push(...(await flushOutbox(deps.store, deps.notifier, deps.log)));
  const mine = (await loadState(deps.store)).state.history.find((r) => r.revision === committed.revision);
  return {
    outcome: 'changed',
    message,
    removed,
    added,
    revision: committed.revision,
    ...(mine?.version ? { version: mine.version } : {}),
    ...(mine?.supersededBy === undefined ? {} : { supersededBy: mine.supersededBy }),
    ...(roll ? { roll } : {}),
    errors,
  };
};

const describeRequest = (r: RemovalRequest) =>
  [
    r.fingerprints ? `fingerprints ${r.fingerprints.join(', ')}` : '',
    r.subject ? `subject "${r.subject}"` : '',
    r.partner ? `partner ${r.partner}` : '',
  ]
    .filter(Boolean)
    .join(', ');

const removalAlert = (
  r: RemovalRequest,
  removed: readonly Entry[],
  named: readonly Entry[],
  revision: number,
): Notification => {
  const partners = [...new Set(removed.map((e) => e.partner))];
  return notification(
    'truststore.removed',
    'warning',
    `${revision}`,
    `removed ${removed.length} CA${removed.length === 1 ? '' : 's'} (${partners.join(', ')}): ${r.reason}`,
    [
      `${r.requestedBy} asked to remove ${describeRequest(r)}: ${r.reason}.`,
      `Truststore revision ${revision} no longer holds:`,
      ...removed.map(
        (e) =>
          `- ${e.subject} (partner ${e.partner}, sha256 ${e.fingerprint.slice(0, 16)}…)` +
          (named.includes(e) ? '' : ': no path to a root without the CAs above'),
      ),
      '',
      'Clients whose certificates these CAs issued are refused from the roll of this revision on.',
      `A target still serving an older version (a canary rolled back, a wave not reached) lets them in for ${RETIRED_DAYS} more days: the revocation index keeps these CAs as retired until then (the authorizer answers ca.retired). To deny a client before then: trustroll revoke.`,
      'To undo: trustroll rollback (restores the previous CA set as a new version).',
    ],
    partners.length === 1 ? partners[0] : undefined,
  );
};

/** Versions with what changed, why and when, newest first. */
export const truststoreHistory = async (store: PublishDeps['store']): Promise<HistoryLine[]> =>
  historyLines((await loadState(store)).state);

/**
 * The partner of a CA as of `revision`: what the newest revision up to it that added or removed
 * the CA recorded; else its entry's partner (states written before partners were recorded).
 */
const partnerAt = (
  state: TruststoreState,
  fingerprint: string,
  revision: number | undefined,
): string | undefined => {
  for (const r of [...state.history].reverse()) {
    if (revision !== undefined && r.revision > revision) continue;
    const partner = r.partners?.[fingerprint];
    if (partner !== undefined) return partner;
  }
  return undefined;
};

export interface DiffLine {
  readonly fingerprint: string;
  readonly subject: string;
  readonly partner: string;
  readonly notAfter: string;
}

/** CAs added and removed between two truststore versions (version ids or revision numbers). */
export const diffVersions = async (
  store: PublishDeps['store'],
  a: string,
  b: string,
): Promise<{ from: string; to: string; added: DiffLine[]; removed: DiffLine[] }> => {
  const { state } = await loadState(store);
  // A revision superseded before it was published is compared as the revision that carries it.
  const resolve = (v: string) => {
    const r = state.history.find((h) => String(h.revision) === v);
    const ref = r && !r.version && r.supersededBy !== undefined ? String(r.supersededBy) : v;
    return findPublished(state, ref)?.version ?? v;
  };
  const certsOf = async (v: string) => {
    try {
      const object = await readTruststoreVersion(store, resolve(v), state);
      return readInput({ name: v, bytes: object.body }).certificates.map((c) => c.cert);
    } catch (error) {
      if (error instanceof NotFoundError) {
        const published = findPublished(state, resolve(v));
        throw new InputError(
          published?.version
            ? goneNote(published.version, published.revision)
            : (unpublishedNote(state, v) ?? `${v} is not a truststore version or revision of this store`),
        );
      }
      throw error;
    }
  };
  const [from, to] = await Promise.all([certsOf(a), certsOf(b)]);
  const known = new Map([...(state.removedEntries ?? []), ...state.entries].map((e) => [e.fingerprint, e]));
  // An added CA is shown with its partner as of b, a removed one as of a.
  const line =
    (v: string) =>
    (c: (typeof from)[number]): DiffLine => ({
      fingerprint: c.fingerprint,
      subject: c.subject.text,
      partner:
        partnerAt(state, c.fingerprint, findPublished(state, resolve(v))?.revision) ??
        known.get(c.fingerprint)?.partner ??
        '?',
      notAfter: c.notAfter.toISOString(),
    });
  const fromSet = new Set(from.map((c) => c.fingerprint));
  const toSet = new Set(to.map((c) => c.fingerprint));
  return {
    from: resolve(a),
    to: resolve(b),
    added: to.filter((c) => !fromSet.has(c.fingerprint)).map(line(b)),
    removed: from.filter((c) => !toSet.has(c.fingerprint)).map(line(a)),
  };
};

/**
 * Refuses (DamagedStoreError) to take the latest published version as "the latest" while a newer
 * revision is committed but not published: that version is behind what the store holds.
 */
const assertLatestPublished = (state: TruststoreState): void => {
  const pending = pendingRevision(state);
  if (!pending) return;
  const latest = latestPublished(state);
  throw new DamagedStoreError(
    `revision ${pending.revision}, the latest, is committed but not published yet (a run stopped, or failed, between its commit and its publish)` +
      (latest?.version
        ? `, so version ${latest.version} (revision ${latest.revision}) is behind it. Run trustroll repair (or any change) to publish it, or pass --version ${latest.revision} for the older one`
        : '. Run trustroll repair (or any change) to publish it'),
  );
};

export interface ExportedTruststore {
  readonly version: string;
  readonly revision: number;
  /** The bytes of that version, checked against what was published: what a domain rolled to it serves. */
  readonly body: Uint8Array;
}

/**
 * One published truststore version (default: the latest), as the exact bytes a domain rolled to
 * it serves.
 * 1. Resolve `version` (a version id or a revision number) among the published versions; an
 *    unknown one is an InputError that lists the known ones.
 * 2. Read it checked against its recorded SHA-256 (a changed version is DamagedStoreError).
 */
export const exportTruststore = async (
  store: Pick<PublishDeps['store'], 'get'>,
  version?: string,
): Promise<ExportedTruststore> => {
  const { state } = await loadState(store);
  if (version === undefined) assertLatestPublished(state);
  const chosen = version === undefined ? latestPublished(state) : findPublished(state, version);
  if (!chosen?.version) {
    const known = state.history
      .filter((r) => r.version !== undefined)
      .reverse()
      .map((r) => `${r.version} (revision ${r.revision})`);
    throw new InputError(
      version === undefined
        ? 'the store has no published truststore version yet: ingest an upload first (trustroll ingest, or drop it into the inbox)'
        : `${unpublishedNote(state, version) ?? `${version} is not a truststore version or revision of this store`}; ` +
            (known.length > 0
              ? `known versions, newest first: ${known.join(', ')}`
              : 'it has no published version yet'),
    );
  }
  try {
    const object = await readTruststoreVersion(store, chosen.version, state);
    return { version: chosen.version, revision: chosen.revision, body: object.body };
  } catch (error) {
    if (error instanceof NotFoundError) throw new InputError(goneNote(chosen.version, chosen.revision));
    throw error;
  }
};

export interface PromotionPlan {
  readonly version: string;
  readonly revision: number;
  readonly certificates: readonly Certificate[];
  readonly provenance: ReadonlyMap<string, Entry>;
  readonly added: readonly DiffLine[];
  readonly removed: readonly DiffLine[];
  /**
   * Why the promotion would be refused: a CA it adds would belong, in the target, to another
   * partner than the one holding its name or its issuer there (what ingest refuses as
   * `ca.other-partner`). Empty when it may go ahead.
   */
  readonly refused: readonly string[];
  /** CAs the target holds already, for another partner than the source's: they stay the target's. */
  readonly otherPartner: readonly (DiffLine & { readonly sourcePartner: string })[];
  /** What the source holds about the promoted CAs that is not carried (see `notCarried`). */
  readonly notCarried: readonly string[];
}

/**
 * What promoting one environment's truststore version (default: its latest) into another would
 * change: the exact CA set of the source, compared with the target's current one.
 */
export const planPromotion = async (
  source: PublishDeps['store'],
  target: PublishDeps['store'],
  version?: string,
  /** How the target is named in the commands the plan suggests (`--store`). */
  to = '<target>',
): Promise<PromotionPlan> => {
  const { state } = await loadState(source);
  // "Its latest" is the latest revision, never an older version while a newer one waits.
  if (version === undefined) assertLatestPublished(state);
  const published = state.history.filter((r) => r.version !== undefined);
  const chosen = version === undefined ? published.at(-1) : findPublished(state, version);
  if (!chosen?.version) {
    throw new InputError(
      version === undefined
        ? 'the source store has no published truststore'
        : `${version} is not a version of the source store`,
    );
  }
  const certificates = await certificatesOf(source, state, chosen.version);
  const provenance = new Map(
    [...(state.removedEntries ?? []), ...state.entries].map((e) => [e.fingerprint, e]),
  );
  const targetState = (await loadState(target)).state;
  const current = targetState.entries;
  const inTarget = new Set(current.map((e) => e.fingerprint));
  const wanted = new Set(certificates.map((c) => c.fingerprint));
  const line = (fingerprint: string, subject: string, notAfter: string, partner?: string): DiffLine => ({
    fingerprint,
    subject,
    partner: partner ?? provenance.get(fingerprint)?.partner ?? '?',
    notAfter,
  });
  return {
    version: chosen.version,
    revision: chosen.revision,
    certificates,
    provenance,
    refused: [
      ...partnerMoves(
        certificates.filter((c) => !inTarget.has(c.fingerprint)),
        provenance,
        current,
        retiredClaims(targetState, new Date()),
      ),
      // A CA of a key the target holds revoked: ingest refuses it (ca.key-revoked), so does promote.
      ...[
        ...(
          await revokedKeyFindings(target, targetState, [
            { key: 'the promotion', certs: certificates.filter((c) => !inTarget.has(c.fingerprint)) },
          ])
        ).values(),
      ].map((f) => `${f.cert?.subject ?? '?'}: ${f.message}`),
    ],
    added: certificates
      .filter((c) => !inTarget.has(c.fingerprint))
      .map((c) => line(c.fingerprint, c.subject.text, c.notAfter.toISOString())),
    removed: current
      .filter((e) => !wanted.has(e.fingerprint))
      .map((e) => line(e.fingerprint, e.subject, e.notAfter, e.partner)),
    otherPartner: current
      .filter((e) => wanted.has(e.fingerprint))
      .flatMap((e) => {
        const there = provenance.get(e.fingerprint)?.partner;
        return there === undefined || there === e.partner
          ? []
          : [{ ...line(e.fingerprint, e.subject, e.notAfter, e.partner), sourcePartner: there }];
      }),
    notCarried: [
      ...notCarried(state, targetState, wanted, provenance, to),
      ...(await revokedNotCarried(source, state, target, targetState, certificates, to)),
    ],
  };
};

/**
 * The promoted CAs the source denies the clients of (revoked, below a revoked CA, or of a revoked
 * key: `revokedCas`) that the target would not: each with what makes the target deny them too.
 */
const revokedNotCarried = async (
  source: PublishDeps['store'],
  sourceState: TruststoreState,
  target: PublishDeps['store'],
  targetState: TruststoreState,
  promoted: readonly Certificate[],
  to: string,
): Promise<string[]> => {
  const there = await revokedCas(source, sourceState);
  if (there.size === 0) return [];
  const here = await revokedCas(target, targetState);
  const bySubject = new Map(promoted.map((c) => [c.subject.key, c]));
  return promoted
    .filter((c) => there.has(c.fingerprint) && !here.has(c.fingerprint))
    .map((c) => {
      const issuer = c.selfIssued ? undefined : bySubject.get(c.issuer.key);
      return `${c.subject.text} is revoked in the source (${there.get(c.fingerprint)!.source}): ${
        issuer
          ? `trustroll revoke --store ${to} --serial ${c.serial} --issuer ${issuer.fingerprint} --reason …`
          : `trustroll remove --store ${to} --fingerprint ${c.fingerprint} (a root cannot be revoked)`
      }`;
    });
};

/**
 * What the source holds about the promoted CAs that a promotion does not carry (each store keeps
 * its own revocations and rules): its CRLs of them the target does not hold, its revocations by
 * hand under them, and the identity rules of their partners where the target's differ. Said, so
 * that a client the source denies is not let in by the target unnoticed.
 */
const notCarried = (
  source: TruststoreState,
  target: TruststoreState,
  promoted: ReadonlySet<string>,
  provenance: ReadonlyMap<string, Entry>,
  to: string,
): string[] => {
  const src = revocationOf(source);
  const tgt = revocationOf(target);
  const name = (fingerprint: string) => provenance.get(fingerprint)?.subject ?? fingerprint.slice(0, 16);
  const out: string[] = [];
  const heldThere = new Set(Object.values(tgt.crls).map((c) => c.sha256));
  for (const crl of Object.values(src.crls))
    if (promoted.has(crl.issuer) && !heldThere.has(crl.sha256))
      out.push(
        `the CRL of ${name(crl.issuer)} (${crl.number ? `CRL number ${crl.number}, ` : ''}${crl.entries} revoked): upload it to the target's inbox/${crl.partner}/crl/`,
      );
  for (const m of src.manual)
    if (promoted.has(m.issuer) && !tgt.manual.some((t) => t.issuer === m.issuer && t.serial === m.serial))
      out.push(
        `serial ${m.serial} under ${name(m.issuer)}, revoked by hand by ${m.by} (${m.reason}): trustroll revoke --store ${to} --serial ${m.serial} --issuer ${m.issuer} --reason …`,
      );
  const partners = new Set(
    [...promoted].map((f) => provenance.get(f)?.partner).filter((p) => p !== undefined),
  );
  for (const partner of [...partners].sort()) {
    const here = src.rules[partner];
    if (JSON.stringify(here ?? {}) === JSON.stringify(tgt.rules[partner] ?? {})) continue;
    out.push(
      here
        ? `the identity rules of partner ${partner} (${[...(here.pins?.length ? [`${here.pins.length} pin(s)`] : []), ...(here.routes?.length ? [`routes ${here.routes.join(', ')}`] : [])].join('; ')}), which differ in the target: trustroll rules --store ${to} --partner ${partner} …`
        : `the source has no identity rules for partner ${partner}, the target has some (kept)`,
    );
  }
  return out;
};

/**
 * Which CAs a promotion would give to another partner than the one the target knows for their
 * name or their issuer. The partner of a CA decides whose pins, routes and CRLs apply to its
 * clients at the door, so a promotion (like an upload) never moves a CA between partners: the
 * added CAs are judged as uploads of their source partners against the target's current CAs
 * (including those the promotion would remove).
 */
const partnerMoves = (
  added: readonly Certificate[],
  provenance: ReadonlyMap<string, Entry>,
  current: readonly Entry[],
  retired: Parameters<typeof partnerClaims>[3],
): string[] => {
  const byPartner = new Map<string, Certificate[]>();
  for (const cert of added) {
    const partner = provenance.get(cert.fingerprint)?.partner ?? 'restored';
    byPartner.set(partner, [...(byPartner.get(partner) ?? []), cert]);
  }
  const holders = new Map<string, string>();
  const claimed = partnerClaims(
    current,
    [...byPartner].map(([partner, certs]) => ({
      id: partner,
      partner,
      certificates: certs.map((cert) => ({ cert, source: `partner ${partner} in the source` })),
      inputFindings: [],
    })),
    holders,
    retired,
  );
  return [...claimed].flatMap(([partner, byCert]) =>
    [...byCert.values()].flatMap((findings) =>
      findings.map(
        (f) =>
          `${f.cert?.subject ?? '?'} of partner ${partner} in the source (partner ${holders.get(f.cert?.fingerprint ?? '') ?? '?'} in the target): ${f.message}`,
      ),
    ),
  );
};

/** Applies a promotion plan to the target: its own lint, one new version, roll, alert. */
export const applyPromotion = async (
  plan: PromotionPlan,
  from: string,
  deps: PublishDeps,
): Promise<ChangeReport> => {
  if (plan.refused.length > 0)
    return {
      outcome: 'rejected',
      message: promotionRefusal(plan),
      removed: [],
      added: [],
      revision: (await loadState(deps.store)).state.revision,
      errors: [],
    };
  return replaceSet(plan.certificates, plan.provenance, deps, {
    reason: `promotion of ${from} version ${plan.version} (revision ${plan.revision})`,
    eventType: 'truststore.promoted',
    title: `truststore promoted from ${from} revision ${plan.revision}`,
    intro: `The CA set of ${from} version ${plan.version} was promoted here`,
    same: `The target already holds the CA set of ${from} version ${plan.version}.`,
    done: `Promoted the CA set of ${from} version ${plan.version}.`,
  });
};

/** The refusal of a promotion that would move CAs between partners, with what to do. */
export const promotionRefusal = (plan: PromotionPlan): string =>
  `Not promoted, nothing was changed: a promotion never moves a CA to another partner (its clients would lose their partner's pins, routes and CRLs at the door) nor brings back a revoked key. ${plan.refused.map((r, i) => `(${i + 1}) ${r}`).join(' ')} For a CA of another partner: correct the partner in the source (remove the CA there and upload it again to inbox/<owner>/), or remove the target's CA first (trustroll remove on the target), then promote again.`;

export const REQUESTS_PREFIX = 'requests/';
/** The largest removal request read: 64 KiB holds thousands of fingerprints. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface RequestOutcome {
  readonly key: string;
  readonly outcome: 'done' | 'rejected' | 'missing';
  readonly message: string;
  readonly movedTo?: string;
  /** The roll of the change the request made, when it made one. */
  readonly roll?: RollReport;
}

/**
 * Removal requests dropped into `requests/` (JSON: fingerprints or subject or partner, reason,
 * requestedBy). Each is carried out with `removeCas`; the request file then moves to
 * `archive/requests/` (done) or `rejected/requests/` (invalid, or naming nothing in the
 * truststore), with a JSON report beside it.
 */
export const handleRemovalRequests = async (
  requests: readonly { readonly key: string; readonly version?: string }[],
  deps: PublishDeps,
): Promise<RequestOutcome[]> => {
  const out: RequestOutcome[] = [];
  for (const { key, version } of requests) {
    // Only the current object is a request to carry out: one replaced or withdrawn before it was
    // handled is not (and is not kept either).
    const current = await deps.store.head(key).catch((error: Error) => {
      if (error instanceof NotFoundError || error instanceof InputError) return undefined;
      throw error;
    });
    if (!current || (version !== undefined && current.version !== version)) {
      if (version !== undefined) await deps.store.destroy(key, { upTo: version });
      out.push({
        key,
        outcome: 'missing',
        message: current
          ? 'replaced by a newer request before it was handled'
          : 'withdrawn, or handled already',
      });
      continue;
    }
    let object: StoredObject | undefined;
    let unreadable: string | undefined;
    try {
      // A request is a few lines of JSON: anything much larger is refused from its size alone.
      if (current.size > MAX_REQUEST_BYTES)
        throw new InputError(
          `it is ${current.size} bytes; a removal request is a small JSON file of at most ${MAX_REQUEST_BYTES} bytes`,
        );
      object = await deps.store.get(key, { version: current.version });
    } catch (error) {
      // One request that cannot be read (a link, not a regular file, permissions) is rejected
      // with the reason; the others go on.
      if (!(error instanceof InputError || (error instanceof UpstreamError && readRefused(error))))
        throw error;
      unreadable = `${key} could not be read: ${error.message}`;
    }
    let outcome: RequestOutcome['outcome'];
    let message: string;
    let report: unknown;
    let roll: RollReport | undefined;
    const upload = {
      key,
      version: object?.version ?? current.version,
      size: object?.body.length ?? current.size,
      ...(object ? { sha256: createHash('sha256').update(object.body).digest('hex') } : {}),
    };
    let keyAlert: Notification | undefined;
    try {
      if (!object) throw new InputError(unreadable ?? `${key} could not be read`);
      // The raw text and every string in it (JSON escapes line breaks), in any field, known or not.
      const raw = Buffer.from(object.body).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = undefined;
      }
      const held = keyInTexts([raw, ...stringsOf(parsed)]);
      if (held) throw new KeyInRequestError(held);
      const request = parseRemovalRequest(parseJson(object.body));
      // A request is its key, version and content: another request of the same name is another.
      const change = await removeCas(request, deps, {
        requestId: `${key}@${object.version}#${upload.sha256?.slice(0, 16)}`,
      });
      outcome = change.outcome === 'changed' ? 'done' : 'rejected';
      message = change.message;
      roll = change.roll;
      report = {
        request,
        ...change,
        removed: change.removed.map((e) => ({
          fingerprint: e.fingerprint,
          subject: e.subject,
          partner: e.partner,
        })),
        added: [],
      };
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      outcome = 'rejected';
      message = error.message;
      report = {
        error: message,
        expected: '{"partner"|"subject"|"fingerprints": …, "reason": "…", "requestedBy": "…"}',
      };
      if (error instanceof KeyInRequestError) {
        keyAlert = notification(
          'upload.private-key',
          'critical',
          `${key}@${upload.version}`,
          'private key received in a removal request and deleted',
          [
            `The removal request ${key} contained a private key (${message.split(';')[0]}).`,
            'It was destroyed in requests/ (every version); only a report without its text was kept, and nothing was removed.',
            '',
            'What to do now:',
            '- Treat that key as compromised: revoke or stop using the certificate it belongs to and issue a new key pair.',
            '- Send the removal request again with fingerprints, subject or partner, a reason and requestedBy only.',
          ],
        );
      }
    }
    // Only what was understood is kept: the report (with the parsed request), never the raw bytes.
    // Tagged like uploads: two requests of one file name are two reports.
    const name = `${safeName(key.slice(REQUESTS_PREFIX.length))}${keptTag(`${key}@${upload.version}@${upload.sha256 ?? ''}`)}`;
    const to = `${outcome === 'done' ? KEYS.archive : KEYS.rejected}requests/${name}.report.json`;
    await deps.store.put(
      to,
      new Uint8Array(Buffer.from(`${safeJson({ ...upload, outcome, message, report }, 2)}\n`)),
      { contentType: 'application/json' },
    );
    // No version of a handled request stays in requests/ (a delete alone would keep it as noncurrent).
    await deps.store.destroy(key, { upTo: upload.version });
    if (keyAlert) {
      deps.log.warn('private key in removal request destroyed', { key });
      // Parked in the state's outbox when delivery fails, like every alert outside a commit.
      await durableNotifier(deps.store, deps.notifier)
        .publish(keyAlert)
        .catch((error: Error) =>
          deps.log.error('notification failed', { id: keyAlert.id, error: error.message }),
        );
    }
    deps.log.info('removal request handled', { key, outcome });
    out.push({ key, outcome, message, movedTo: to, ...(roll ? { roll } : {}) });
  }
  return out;
};

/** JSON that a person wrote: a parse error is bad input, named with what the parser said. */
const parseJson = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new InputError(`not valid JSON (${(error as Error).message})`);
  }
};
