import { ConflictError, DamagedStoreError, InputError, NotFoundError } from '../errors.js';
import type { Finding } from '../finding.js';
import { type Certificate, certRef } from '../pki/certificate.js';
import type { Log, Notifier, ObjectStore } from '../ports.js';
import { isDotSegment } from '../revocation/authorize.js';
import { covers } from '../revocation/coverage.js';
import {
  buildIndex,
  indexSha256,
  KEY_GOOD,
  keyDigest,
  RevocationIndex,
  revokedKeyOf,
} from '../revocation/index.js';
import { assertRecords, findSerial, RECORD, reasonName, serialKey } from '../revocation/records.js';
import {
  emptyRevocation,
  indexDisagreement,
  indexSourceDigest,
  type ManualRevocation,
  newerStamp,
  type PartnerRules,
  REVOCATION_KEYS,
  type RevocationState,
  serialsKey,
  stampOfMetadata,
  stampOfState,
} from '../revocation/state.js';
import { renderedOf } from '../truststore/render.js';
import { certificateOf, type Entry, type TruststoreState } from '../truststore/state.js';
import { notification } from './notifications.js';
import { durableNotifier } from './outbox.js';
import {
  behindIndexOf,
  changeState,
  type LoadedState,
  loadState,
  sourceChanged,
  stampText,
  wentBehind,
} from './state-store.js';

/**
 * The revocation index as a derived object, like the truststore: built from the state (its CAs
 * and partners, the CRLs held, manual revocations, partner rules) and the record sets of the
 * CRLs, and published whenever what it would hold differs from what the store holds. Versioned
 * like the truststore; its metadata says which state revision and revocation generation built
 * it, so an older writer never replaces a newer index.
 */

export const revocationOf = (state: TruststoreState): RevocationState =>
  state.revocation ?? emptyRevocation();

/**
 * Whether two CA fingerprints (of the entries, or of entries removed since) are one CA: the same
 * certificate, or a renewal of it (same name, same key).
 */
export const sameCa = (state: TruststoreState) => {
  const byFingerprint = new Map<string, Entry>();
  for (const e of [...(state.removedEntries ?? []), ...state.entries]) byFingerprint.set(e.fingerprint, e);
  // Names first (the state check holds each entry's subjectKey to its certificate); a key's digest
  // only for two CAs of one name, once each: most pairs asked about differ by name, and reading
  // every CA's key would cost a key import per CA on every state.
  const digests = new Map<string, string | undefined>();
  const digestOf = (e: Entry) => {
    if (!digests.has(e.fingerprint)) {
      let digest: string | undefined;
      try {
        digest = keyDigest(certificateOf(e).publicKey.spki);
      } catch {
        // An entry whose PEM does not parse was refused by the state check already.
      }
      digests.set(e.fingerprint, digest);
    }
    return digests.get(e.fingerprint);
  };
  return (a: string, b: string): boolean => {
    if (a === b) return true;
    const ea = byFingerprint.get(a);
    const eb = byFingerprint.get(b);
    if (!ea || !eb || ea.subjectKey !== eb.subjectKey) return false;
    const da = digestOf(ea);
    return da !== undefined && da === digestOf(eb);
  };
};

/**
 * The CA of the truststore a recorded issuer fingerprint speaks for: the same certificate, or its
 * renewal (same name and key, e.g. re-issued through `replace/`), whose CRLs stay in force.
 */
export const heldIssuer = (state: TruststoreState) => {
  const same = sameCa(state);
  const byFingerprint = new Map(state.entries.map((e) => [e.fingerprint, e]));
  return (issuer: string) =>
    byFingerprint.get(issuer) ?? state.entries.find((e) => same(issuer, e.fingerprint));
};

/** How long a removed CA stays in the index (`retired`): longer than any rollout takes. */
export const RETIRED_DAYS = 7;

/**
 * The CAs removed in the last {@link RETIRED_DAYS} days (by the revisions' times) and not held
 * again: targets may still serve a version with them (a canary rolled back, a wave not reached),
 * and the index must decide their clients as those versions do, not as the latest one.
 */
export const retiredEntries = (state: TruststoreState, at: Date): Entry[] => {
  const since = at.getTime() - RETIRED_DAYS * 86_400_000;
  const removed = new Set(state.history.filter((r) => Date.parse(r.at) >= since).flatMap((r) => r.removed));
  const held = new Set(state.entries.map((e) => e.fingerprint));
  return (state.removedEntries ?? []).filter((e) => removed.has(e.fingerprint) && !held.has(e.fingerprint));
};

/**
 * Until when a CA removed lately stays retired: its last removal plus {@link RETIRED_DAYS}. The
 * door checks it, so the retirement ends on time even when no index is published after it.
 */
export const retiredUntil = (state: TruststoreState, fingerprint: string): string =>
  new Date(Date.parse(removedAt(state, fingerprint)) + RETIRED_DAYS * 86_400_000).toISOString();

/** The retired CAs (`retiredEntries`) with until when, as admission takes them. */
export const retiredClaims = (state: TruststoreState, at: Date) =>
  retiredEntries(state, at).map((entry) => ({ entry, until: retiredUntil(state, entry.fingerprint) }));

/** When a CA was last removed (ISO 8601), by the revisions' times. */
export const removedAt = (state: TruststoreState, fingerprint: string): string =>
  new Date(
    Math.max(...state.history.filter((r) => r.removed.includes(fingerprint)).map((r) => Date.parse(r.at))),
  ).toISOString();

/**
 * Reads the record set `serials` into `sets` once, for the checks beside the index build (ingest's
 * `ca.key-revoked`, the report): one missing or damaged is skipped, as the index build reports it
 * (DamagedStoreError).
 */
const readSetInto = async (
  store: Pick<ObjectStore, 'get'>,
  serials: string,
  sets: Map<string, Uint8Array>,
): Promise<void> => {
  if (sets.has(serials)) return;
  const body = await store.get(serialsKey(serials)).then(
    (o) => o.body,
    () => undefined,
  );
  // Only what it was written with (a set changed by hand proves nothing either way).
  if (body && body.length % RECORD === 0 && indexSha256(body) === serials) sets.set(serials, body);
};

/**
 * The CA a recorded issuer fingerprint speaks for, held (`heldIssuer`) or, failing that, removed:
 * what a CA revoked before its issuer was removed keeps revoked of its key (a look-alike CA of that
 * name and key, or another certificate of the key, must not bring the key back).
 */
export const knownIssuer = (state: TruststoreState) => {
  const held = heldIssuer(state);
  const same = sameCa(state);
  const removed = state.removedEntries ?? [];
  // Once per issuer: asked for every revocation of every CA looked at.
  const answers = new Map<string, Entry | undefined>();
  return (issuer: string): Entry | undefined => {
    if (!answers.has(issuer))
      answers.set(
        issuer,
        held(issuer) ??
          removed.find((e) => e.fingerprint === issuer) ??
          removed.find((e) => same(issuer, e.fingerprint)),
      );
    return answers.get(issuer);
  };
};

/**
 * Why the key of `e` (a CA of the state, held or removed) is revoked by a CA held above it: by
 * hand, or listed on a CRL of that CA that covers it, for a reason against the key (not
 * superseded and the like). `sets`: the record sets of the held CRLs, by SHA-256.
 */
const keyRevocation = (
  e: Entry,
  cert: Certificate,
  rev: RevocationState,
  held: ReturnType<typeof heldIssuer>,
  sets: ReadonlyMap<string, Uint8Array>,
  /** `false`: the certificate itself, whatever the CRL's reason (not only its key). */
  keyOnly = true,
): { readonly reason?: string; readonly source: string } | undefined => {
  const by = rev.manual.find((m) => {
    const parent = held(m.issuer);
    return m.serial === cert.serial && parent !== undefined && parent.subjectKey === e.issuerKey;
  });
  if (by)
    return {
      source: `${keyOnly ? 'the key of ' : ''}${e.subject} (serial ${cert.serial}), revoked by hand by ${by.by} on ${by.at.slice(0, 10)}: ${by.reason}`,
    };
  for (const crl of Object.values(rev.crls)) {
    const parent = held(crl.issuer);
    const set = sets.get(crl.serials);
    if (!parent || parent.subjectKey !== e.issuerKey || !set || !covers(crl, cert)) continue;
    const table = Buffer.from(set.buffer, set.byteOffset, set.byteLength);
    const code = findSerial(table, 0, set.length / RECORD, serialKey(cert.serial));
    const reason = code === undefined ? undefined : reasonName(code);
    if (code === undefined || (keyOnly && KEY_GOOD.has(reason ?? ''))) continue;
    return {
      ...(reason ? { reason } : {}),
      source: `${keyOnly ? 'the key of ' : ''}${e.subject} (serial ${cert.serial}), listed on the CRL of ${parent.subject}${reason ? ` (${reason})` : ''}`,
    };
  }
  return undefined;
};

/**
 * The certificates (by fingerprint) of an upload whose key the state already holds revoked: a
 * CA of the same name and key, held or removed, revoked by the CA above it (`keyRevocation`).
 * The door denies the clients of any certificate of that key (`ca.revoked`), so ingest refuses
 * the upload with `ca.key-revoked` instead of accepting CAs whose clients can never get in.
 * The uploader's own CAs are compared whatever their name (the door revokes the key within the
 * partner under any name); another partner's, only of the same name. A CRL's record set is read
 * only for such a CA. Every partner's: a CA of another partner's revoked name and key (a look-alike its
 * issuer signed without the revoked CA's private key) would take the clients of that key for its
 * own partner, where the revocation does not hold. Another partner's revocation is named only by
 * the CA's name, not by who revoked it or why.
 */
export const revokedKeyFindings = async (
  store: Pick<ObjectStore, 'get'>,
  state: TruststoreState,
  uploads: readonly {
    readonly key: string;
    /** Whose upload: another partner's revocation is not told in detail. */
    readonly partner?: string;
    readonly certs: readonly Certificate[];
  }[],
): Promise<Map<string, Finding>> => {
  const out = new Map<string, Finding>();
  const rev = revocationOf(state);
  if (rev.manual.length === 0 && Object.keys(rev.crls).length === 0) return out;
  const known = [...state.entries, ...(state.removedEntries ?? [])];
  const heldHere = new Set(state.entries.map((e) => e.fingerprint));
  const held = knownIssuer(state);
  const sets = new Map<string, Uint8Array>();
  for (const { key, partner, certs } of uploads)
    for (const cert of certs) {
      const digest = keyDigest(cert.publicKey.spki);
      for (const e of known) {
        // The same certificate held is only present again; removed, its revocation still stands.
        // Of the uploader's own CAs, any name: the door revokes the key within the partner under
        // every name (a renewal under a new name, a root made with it).
        if (
          (e.subjectKey !== cert.subject.key && (partner === undefined || e.partner !== partner)) ||
          (e.fingerprint === cert.fingerprint && heldHere.has(e.fingerprint))
        )
          continue;
        const other = certificateOf(e);
        if (digest !== keyDigest(other.publicKey.spki)) continue;
        for (const crl of Object.values(rev.crls)) {
          if (held(crl.issuer)?.subjectKey === e.issuerKey) await readSetInto(store, crl.serials, sets);
        }
        const by = keyRevocation(e, other, rev, held, sets);
        if (!by) continue;
        const own = partner === undefined || e.partner === partner;
        out.set(cert.fingerprint, {
          code: 'ca.key-revoked',
          severity: 'error',
          message: own
            ? `${cert.subject.text} has a revoked key: ${by.source}. The door denies the clients of every certificate of that key (ca.revoked), so this one is refused. Issue the CA with a new key; if the revocation was a mistake, ${by.source.includes('revoked by hand') ? 'an operator lifts it first (trustroll unrevoke)' : 'the CA above must publish a CRL without it first'}.`
            : `${cert.subject.text} has the name and key of a CA of another partner that was revoked (a reason against its key): admitted, it would let the clients of that key in as yours, so it is refused. Issue your CA with a name and a key of its own; if you believe this is a mistake, ask the platform team.`,
          cert: certRef(cert),
          source: key,
        });
        break;
      }
    }
  return out;
};

/**
 * The CAs of the truststore revoked by the CA above them (by hand, or listed on its CRL), by
 * fingerprint, for the report: their clients are denied at the door. Reads the record sets of the
 * CRLs of CAs that issued other CAs of the truststore only (a root's CRL is short; an issuing
 * CA's CRL of clients, up to a million entries, is never read here). A record set that cannot be
 * read is skipped (the index build reports it).
 */
export const revokedCas = async (
  store: Pick<ObjectStore, 'get'>,
  state: TruststoreState,
): Promise<Map<string, { readonly reason?: string; readonly source: string }>> => {
  const out = new Map<string, { readonly reason?: string; readonly source: string }>();
  const rev = revocationOf(state);
  if (rev.manual.length === 0 && Object.keys(rev.crls).length === 0) return out;
  // A removed issuer's revocations count for the key (as the index carries them).
  const held = knownIssuer(state);
  // Removed CAs count too: one revoked and then removed still revokes its key (as the index carries it).
  const byFingerprint = new Map(state.entries.map((e) => [e.fingerprint, e]));
  // (One held again by another partner still counts for its former partner.)
  const removed = (state.removedEntries ?? []).filter(
    (e) => byFingerprint.get(e.fingerprint)?.partner !== e.partner,
  );
  const issuing = new Set(
    [...state.entries, ...removed].filter((e) => e.issuerKey !== e.subjectKey).map((e) => e.issuerKey),
  );
  const sets = new Map<string, Uint8Array>();
  for (const crl of Object.values(rev.crls)) {
    const parent = held(crl.issuer);
    if (parent && issuing.has(parent.subjectKey)) await readSetInto(store, crl.serials, sets);
  }
  // Only a CA whose issuer revoked something by hand or holds a CRL read above can be revoked.
  const revoking = new Set(
    [
      ...rev.manual.map((m) => m.issuer),
      ...Object.values(rev.crls)
        .filter((c) => sets.has(c.serials))
        .map((c) => c.issuer),
    ]
      .map((f) => held(f)?.subjectKey)
      .filter((k) => k !== undefined),
  );
  for (const e of state.entries) {
    if (e.issuerKey === e.subjectKey || !revoking.has(e.issuerKey)) continue;
    const by = keyRevocation(e, certificateOf(e), rev, held, sets, false);
    if (by) out.set(e.fingerprint, by);
  }
  // Its partner's other CAs of a key revoked for a reason against it (a new name, a root made with it).
  const lost = new Map<string, { readonly reason?: string; readonly source: string }>();
  for (const [fingerprint, by] of out) {
    const e = byFingerprint.get(fingerprint)!;
    if (!KEY_GOOD.has(by.reason ?? ''))
      lost.set(revokedKeyOf(e.partner, certificateOf(e).publicKey.spki), by);
  }
  for (const e of removed) {
    if (e.issuerKey === e.subjectKey || !revoking.has(e.issuerKey)) continue;
    const by = keyRevocation(e, certificateOf(e), rev, held, sets);
    if (by) lost.set(revokedKeyOf(e.partner, certificateOf(e).publicKey.spki), by);
  }
  if (out.size === 0 && lost.size === 0) return out;
  const partners = new Set([...lost.keys()].map((k) => k.slice(0, k.indexOf('|'))));
  for (const e of state.entries) {
    if (out.has(e.fingerprint) || !partners.has(e.partner)) continue;
    const by = lost.get(revokedKeyOf(e.partner, certificateOf(e).publicKey.spki));
    if (by) out.set(e.fingerprint, { ...by, source: `its key is revoked: ${by.source}` });
  }
  // And every CA below a revoked one: its clients are denied too.
  const bySubject = new Map(state.entries.map((e) => [e.subjectKey, e]));
  for (const e of state.entries) {
    const seen = new Set<string>();
    for (let at = bySubject.get(e.issuerKey); at && !seen.has(at.subjectKey) && !out.has(e.fingerprint); ) {
      seen.add(at.subjectKey);
      const above = out.get(at.fingerprint);
      if (above)
        out.set(e.fingerprint, { source: `it is below ${at.subject}, which is revoked (${above.source})` });
      at = at.issuerKey === at.subjectKey ? undefined : bySubject.get(at.issuerKey);
    }
  }
  return out;
};

/**
 * The record sets of the CRLs the index is built with (those of held CAs and of CAs renewed since),
 * each read and checked: one missing or changed by hand is DamagedStoreError, which names the
 * upload that mends it. What `status` checks for damage, without building the index.
 */
export const heldRecordSets = async (
  store: Pick<ObjectStore, 'get'>,
  state: TruststoreState,
): Promise<Map<string, Uint8Array>> => {
  const rev = revocationOf(state);
  const held = heldIssuer(state);
  const sets = new Map<string, Uint8Array>();
  for (const crl of Object.values(rev.crls)) {
    // Every record set the index build may ask for: the CRLs of held CAs and of CAs renewed since.
    if (!held(crl.issuer) || sets.has(crl.serials)) continue;
    let body: Uint8Array;
    try {
      body = (await store.get(serialsKey(crl.serials))).body;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      const ca = held(crl.issuer);
      throw new DamagedStoreError(
        `${serialsKey(crl.serials)}, the revoked serials of the CRL of ${ca?.subject ?? crl.issuer} (partner ${crl.partner}), is missing: it was deleted by hand. No revocation index can be published until you upload that CRL again to inbox/${crl.partner}/crl/ (changes made meanwhile are kept in the state)`,
      );
    }
    try {
      assertRecords(body);
    } catch (error) {
      throw damagedSet(crl, held, (error as Error).message);
    }
    if (indexSha256(body) !== crl.serials)
      throw damagedSet(crl, held, 'its SHA-256 is not the one it was written with');
    sets.set(crl.serials, body);
  }
  return sets;
};

/** The index bytes for a state (reads the record sets of its CRLs). */
export const indexFor = async (store: Pick<ObjectStore, 'get'>, state: TruststoreState, builtAt: Date) => {
  const rev = revocationOf(state);
  const held = heldIssuer(state);
  // A retired CA is kept only with every record set of its CRLs readable (else its clients are
  // decided as unknown, as without it: never let in with a revocation list missing).
  const same = sameCa(state);
  let retired = retiredEntries(state, builtAt).filter((e) => {
    for (const crl of Object.values(rev.crls))
      if (same(crl.issuer, e.fingerprint) && !held(crl.issuer)) return false;
    return true;
  });
  // Nor without the CA above it: one dropped (for its CRL) may have revoked it, and its clients
  // would be let in as if that CRL had never been. They are decided as unknown instead.
  for (let changed = true; changed; ) {
    const present = new Set([...state.entries, ...retired].map((e) => e.subjectKey));
    const kept = retired.filter((e) => e.issuerKey === e.subjectKey || present.has(e.issuerKey));
    changed = kept.length !== retired.length;
    retired = kept;
  }
  const sets = await heldRecordSets(store, state);
  // Removed CAs revoked under a CA still held: their keys stay revoked (a renewal of the same key
  // must not bring it back once the revoked certificate has left the index).
  // By partner too: a CA removed by one partner and uploaded by another keeps its key revoked for
  // the first (another partner's copy of a revoked CA must not lift the first partner's revocation).
  const inIndex = new Set([...state.entries, ...retired].map((e) => `${e.fingerprint}|${e.partner}`));
  const revokedKeys = new Map<string, { readonly reason?: string; readonly source: string }>();
  // Revoked by an issuer removed since: the key stays revoked too (its CRL's records as written; one
  // that cannot be read any more is passed over, as the index holds no such CA).
  const known = knownIssuer(state);
  const carried = (state.removedEntries ?? []).filter((e) => !inIndex.has(`${e.fingerprint}|${e.partner}`));
  if (carried.length > 0)
    for (const crl of Object.values(rev.crls))
      if (!held(crl.issuer)) await readSetInto(store, crl.serials, sets);
  for (const e of carried) {
    const cert = certificateOf(e);
    const by = keyRevocation(e, cert, rev, known, sets);
    if (by) revokedKeys.set(revokedKeyOf(e.partner, cert.publicKey.spki), by);
  }
  return buildIndex({
    entries: state.entries,
    retired,
    revokedKeys,
    retiredUntil: new Map(retired.map((e) => [e.fingerprint, retiredUntil(state, e.fingerprint)])),
    same,
    revocation: rev,
    serials: (h) => sets.get(h)!,
    revision: state.revision,
    truststoreSha256: renderedOf(state.entries).hash,
    builtAt: builtAt.toISOString(),
  });
};

/** A record set whose bytes changed: damage, with what mends it. */
const damagedSet = (
  crl: RevocationState['crls'][string],
  held: (issuer: string) => { subject: string } | undefined,
  what: string,
) =>
  new DamagedStoreError(
    `${serialsKey(crl.serials)}, the revoked serials of the CRL of ${held(crl.issuer)?.subject ?? crl.issuer} (partner ${crl.partner}), does not hold what it was written with (${what}): it was changed by hand. No revocation index can be published until you upload that CRL again to inbox/${crl.partner}/crl/ (changes made meanwhile are kept in the state)`,
  );

/**
 * Publishes the index for `state` unless the store holds the one of the same state revision and
 * revocation generation (a HEAD: no bytes move when nothing changed) or a newer one. Returns its
 * version id (undefined when a newer index is there). `builtAt` is the time of the state's last
 * change, so the same state always gives the same bytes.
 */
/**
 * The rules the index is built with, numbered: raised whenever the same state would give another
 * index (a revocation judged otherwise), so that an index an older trustroll published is built
 * again by the next run that publishes (trustroll up as it starts, the next ingest, scan or repair)
 * rather than staying in force until the next change. 2: a key revoked before its issuer was
 * removed, and a partner's removed CA another partner holds again, keep the key revoked.
 */
export const INDEX_BUILD = 2;

export const publishIndex = async (
  store: ObjectStore,
  state: TruststoreState,
  log: Log,
  /** Also read the current index and publish it again if its bytes are not what was written. */
  options: { readonly verify?: boolean } = {},
): Promise<string | undefined> => {
  const mine = stampOfState(state);
  let bytes: Uint8Array | undefined;
  for (let attempt = 1; attempt <= 20; attempt++) {
    let current: { etag: string; version: string; metadata?: Readonly<Record<string, string>> } | undefined;
    try {
      current = await store.head(REVOCATION_KEYS.index);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const theirs = stampOfMetadata(current?.metadata);
    if (current && theirs.revision === mine.revision && theirs.generation === mine.generation) {
      const build = Number(current.metadata?.build ?? 0);
      // Built by a newer trustroll from the same state: its rules stand (never built back).
      if (build > INDEX_BUILD) return current.version;
      if (build === INDEX_BUILD) {
        if (!options.verify || (await intact(store, current.version, current.metadata?.sha256)))
          return current.version;
        log.warn('revocation index damaged, publishing it again', { version: current.version });
      } else
        log.info('revocation index built by an older trustroll, publishing it again', {
          version: current.version,
          build,
        });
    }
    if (current && newerStamp(theirs, mine)) {
      log.info('revocation index superseded', { ...mine, current: theirs });
      return undefined;
    }
    bytes ??= await indexFor(store, state, lastChange(state));
    try {
      const written = await store.put(REVOCATION_KEYS.index, bytes, {
        ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
        contentType: 'application/octet-stream',
        metadata: {
          sha256: indexSha256(bytes),
          revision: String(mine.revision),
          generation: String(mine.generation),
          // What it was built from: a writer's HEAD tells a state edited by hand since (sourceChanged).
          source: indexSourceDigest(state),
          build: String(INDEX_BUILD),
        },
      });
      log.info('revocation index published', { ...mine, version: written.version, bytes: bytes.length });
      return written.version;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(
    'could not publish the revocation index after 20 attempts: too many concurrent writers',
  );
};

/** Whether the index version holds the bytes it was written with, and reads as an index. */
const intact = async (store: ObjectStore, version: string, sha256: string | undefined): Promise<boolean> =>
  (await readIntact(store, version, sha256)) !== undefined;

/** The index version, loaded, when it holds the bytes it was written with and reads as an index. */
const readIntact = async (
  store: ObjectStore,
  version: string,
  sha256: string | undefined,
): Promise<RevocationIndex | undefined> => {
  const body = (await store.get(REVOCATION_KEYS.index, { version })).body;
  if (indexSha256(body) !== sha256) return undefined;
  try {
    return RevocationIndex.load(body);
  } catch {
    return undefined;
  }
};

/**
 * What is wrong with the published index, for `status`: `damaged` when it is missing although a
 * truststore version is published, or its bytes are not what was written; `behind` when it was
 * built from an older revision (or revocation generation) than the state's (a run that stopped
 * between its publishes, or one in progress). Reads the index's bytes.
 */
export const indexProblem = async (
  store: ObjectStore,
  state: TruststoreState,
): Promise<{ damaged?: string; behind?: string }> => {
  if (!state.history.some((r) => r.version)) return {};
  let current: Awaited<ReturnType<ObjectStore['head']>>;
  try {
    current = await store.head(REVOCATION_KEYS.index);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    return {
      damaged: `${REVOCATION_KEYS.index}, the revocation index, is missing (deleted by hand): the authorizer and the local endpoint cannot decide without it. Run trustroll repair, which publishes it again`,
    };
  }
  const index = await readIntact(store, current.version, current.metadata?.sha256);
  if (!index)
    return {
      damaged: `${REVOCATION_KEYS.index} (version ${current.version}) does not hold what it was written with (truncated or edited by hand): the authorizer keeps the index it had or denies every client. Run trustroll repair, which publishes it again`,
    };
  const stamped = stampOf(current, state);
  if (stamped.damaged || stamped.behind) return stamped;
  // Of the same stamp, index and state must say the same (both may have been edited by hand, the
  // index with its recorded SHA-256 made to match): the header parsed above is compared with the
  // state, no further read.
  const differences = indexDisagreement(index.header, state);
  if (differences.length > 0)
    return {
      damaged: `the revocation index (version ${current.version}) and the state are both at ${stampText(stampOfState(state))} but disagree: ${differences.join('; ')}. One of them was edited by hand. Run trustroll repair: it takes back the revocations by hand the index holds and publishes the index again from the state (check the partner rules and CAs it names afterwards)`,
    };
  const changed = sourceChanged(current, state);
  return changed ? { damaged: changed } : {};
};

const stampOf = (
  current: { readonly version: string; readonly metadata?: Readonly<Record<string, string>> },
  state: TruststoreState,
): { damaged?: string; behind?: string } => {
  const damaged = wentBehind(current, state);
  if (damaged) return { damaged };
  const theirs = stampOfMetadata(current.metadata);
  const mine = stampOfState(state);
  if (newerStamp(mine, theirs))
    return {
      behind: `the revocation index (version ${current.version}) was built from ${stampText(theirs)}, the state is at ${stampText(mine)}: a run stopped between its commit and its publish, one is in progress, or the newest index was deleted by hand. trustroll repair, or the next change, publishes it`,
    };
  return {};
};

/** The time of the state's last change of what the index holds. */
const lastChange = (state: TruststoreState): Date => {
  const rev = revocationOf(state);
  const times = [
    state.history.at(-1)?.at,
    ...Object.values(rev.crls).map((c) => c.acceptedAt),
    ...rev.manual.map((m) => m.at),
  ].filter((x): x is string => x !== undefined);
  return new Date(times.sort().at(-1) ?? 0);
};

/** Reads the published index; `undefined` when none was published yet. */
export const loadIndex = async (
  store: Pick<ObjectStore, 'get'>,
): Promise<{ index: RevocationIndex; version: string } | undefined> => {
  try {
    const object = await store.get(REVOCATION_KEYS.index);
    try {
      return { index: RevocationIndex.load(object.body), version: object.version };
    } catch (error) {
      throw new DamagedStoreError(
        `${REVOCATION_KEYS.index} (version ${object.version}) cannot be read: ${(error as Error).message}. It was changed by hand: run trustroll repair, which publishes it again`,
      );
    }
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
};

export interface RevocationDeps {
  readonly store: ObjectStore;
  readonly log: Log;
  readonly clock: { now(): Date };
  /** Where `revocation.changed` goes (parked in the state's outbox when it cannot be delivered). */
  readonly notifier?: Notifier;
}

/** The CA entry of a fingerprint, held or removed (what an alert names the issuer by). */
const heldOrRemoved = (state: TruststoreState, fingerprint: string): Entry | undefined =>
  state.entries.find((e) => e.fingerprint === fingerprint) ??
  state.removedEntries?.find((e) => e.fingerprint === fingerprint);

/**
 * Tells of a change by hand (a revocation, its taking back, a partner's rules): the audit trail
 * of what no CRL carries. Its failure fails nothing: the change is in force (logged).
 */
const announce = async (
  deps: RevocationDeps,
  state: TruststoreState,
  subject: string,
  lines: readonly string[],
  partner?: string,
): Promise<void> => {
  if (!deps.notifier) return;
  const id = `${state.revision}-${state.revocation?.generation ?? 0}`;
  try {
    await durableNotifier(deps.store, deps.notifier).publish(
      notification('revocation.changed', 'warning', id, subject, lines, partner),
    );
  } catch (error) {
    deps.log.warn('revocation alert not delivered (kept in the outbox)', { error: (error as Error).message });
  }
};

/** A change of the revocation part of the state, committed with compare-and-set, then the index published. */
const changeRevocation = async (
  deps: RevocationDeps,
  change: (rev: RevocationState, state: TruststoreState) => RevocationState | undefined,
): Promise<{ state: TruststoreState; changed: boolean; version?: string }> => {
  let known: LoadedState = await loadState(deps.store);
  // A change that could not be put in force is refused before it is recorded: a record set
  // missing or changed by hand (DamagedStoreError, exit 4) stops every index publish.
  try {
    // A state behind its index (gone back by hand): a change now would be published as
    // "superseded", never. repair takes the index's changes back first. (Read the state again
    // once: another writer may have committed and published since it was read.)
    if (await behindIndexOf(deps.store, known.state)) {
      known = await loadState(deps.store);
      const damaged = await behindIndexOf(deps.store, known.state);
      if (damaged) throw new DamagedStoreError(damaged);
    }
    await indexFor(deps.store, known.state, new Date(0));
  } catch (error) {
    if (!(error instanceof DamagedStoreError)) throw error;
    throw new DamagedStoreError(`nothing was changed (it could not be put in force): ${error.message}`);
  }
  const after = await changeState(deps.store, known, (state) => {
    const before = revocationOf(state);
    const next = change(before, state);
    return next ? { ...state, revocation: { ...next, generation: before.generation + 1 } } : undefined;
  });
  const version = await publishIndex(deps.store, after.state, deps.log);
  return { state: after.state, changed: after.written, ...(version ? { version } : {}) };
};

export interface RevokeRequest {
  /** Fingerprint of the issuing CA (a truststore entry) and the serial (lowercase hex). */
  readonly issuer: string;
  readonly serial: string;
  readonly reason: string;
  readonly by: string;
  readonly subject?: string;
  readonly certSha256?: string;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'ANY', '*'];

const HEX_SERIAL = /^(?:[0-9a-f]{2})+$/;

/** Normalises a serial as people write it (`0x`, colons, odd digits, capitals) to `Certificate.serial`'s form. */
export const normalSerial = (text: string): string => {
  // Colons as openssl prints them; a space is more likely two serials than one.
  let hex = text.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  // A negative serial (`-11`, `-0x11`, as openssl prints one) cannot be given as hex digits.
  if (/^-\s*(0x)?[0-9a-f:]+$/i.test(text.trim()))
    throw new InputError(
      `--serial ${JSON.stringify(text)} is negative, and negative serial numbers are not valid (RFC 5280 requires a positive serial): give the certificate itself with --cert <file.pem>, and trustroll revokes it by the serial bytes it carries`,
    );
  if (!/^[0-9a-f]+$/.test(hex))
    throw new InputError(
      `--serial ${JSON.stringify(text)} is not a hexadecimal serial number (one serial, hex digits and colons only)`,
    );
  if (hex.length % 2 === 1) hex = `0${hex}`;
  // DER INTEGER content: a leading 00 only before a byte with the high bit set.
  while (hex.length > 2 && hex.startsWith('00') && Number.parseInt(hex.slice(2, 4), 16) < 0x80)
    hex = hex.slice(2);
  if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  // RFC 5280: at most 20 octets; longer is a typo (or a fingerprint given as a serial).
  if (hex.length > 42 || (hex.length === 42 && !hex.startsWith('00')))
    throw new InputError(
      `--serial ${JSON.stringify(text)} is longer than a serial number can be (20 bytes): is it a fingerprint?`,
    );
  return hex;
};

/** The entry whose fingerprint is `ref` or starts with it (12+ hex digits), else an InputError saying what exists. */
/**
 * The CA a fingerprint (or prefix) names: one the truststore holds, or one removed in the last
 * {@link RETIRED_DAYS} days, whose clients the index still decides (`ca.retired`) and so may
 * still need to revoke.
 */
const issuerEntry = (state: TruststoreState, ref: string, now: Date) => {
  const fp = ref.toLowerCase().replace(/:/g, '');
  if (!/^[0-9a-f]{12,64}$/.test(fp))
    throw new InputError(
      `--issuer ${JSON.stringify(ref)} is not a SHA-256 fingerprint (or a prefix of 12+ hex digits)`,
    );
  const found = [...state.entries, ...retiredEntries(state, now)].filter((e) => e.fingerprint.startsWith(fp));
  if (found.length === 0) throw new InputError(`no CA of the truststore has the fingerprint ${ref}`);
  if (found.length > 1)
    throw new InputError(`${ref} is the start of ${found.length} fingerprints: give more digits`);
  return found[0]!;
};

/**
 * Revokes a client certificate by hand (serials are unique per issuer: the issuing CA is
 * required). Recorded with who and why; published in the next index at once.
 */
export const revokeCertificate = async (deps: RevocationDeps, request: RevokeRequest) => {
  if (!HEX_SERIAL.test(request.serial))
    throw new InputError(`serial ${request.serial} is not lowercase hex of whole bytes`);
  if (request.reason.trim() === '')
    throw new InputError('give a reason (--reason): it is kept with the revocation');
  // It is shown in every denial: a sentence, not a document.
  if (request.reason.length > 500)
    throw new InputError(
      `--reason is ${request.reason.length} characters: keep it to 500 (it is shown in every denial)`,
    );
  let already = false;
  // As resolved (a prefix, capitals): what the alert names.
  let resolved = request.issuer;
  const result = await changeRevocation(deps, (rev, state) => {
    const ca = issuerEntry(state, request.issuer, deps.clock.now());
    const issuer = ca.fingerprint;
    resolved = issuer;
    // A root (held or retired) under itself: nothing above a root can revoke it.
    if (ca.issuerKey === ca.subjectKey && certificateOf(ca).serial === request.serial)
      throw new InputError(
        `serial ${request.serial} of ${ca.subject} is that root CA itself: no CA above it can revoke it; take it out with trustroll remove --fingerprint ${issuer.slice(0, 16)}`,
      );
    const same = sameCa(state);
    already = rev.manual.some((m) => same(m.issuer, issuer) && m.serial === request.serial);
    if (already) return undefined;
    const entry: ManualRevocation = {
      issuer,
      serial: request.serial,
      reason: request.reason,
      by: request.by,
      at: deps.clock.now().toISOString(),
      ...(request.subject ? { subject: request.subject } : {}),
      ...(request.certSha256 ? { certSha256: request.certSha256 } : {}),
    };
    return { ...rev, manual: [...rev.manual, entry] };
  });
  if (result.changed) {
    const ca = heldOrRemoved(result.state, resolved);
    await announce(
      deps,
      result.state,
      `revoked by hand: serial ${request.serial} of ${ca?.subject ?? resolved.slice(0, 16)}`,
      [
        `${request.by} revoked ${request.subject ?? 'the certificate'} (serial ${request.serial}) issued by ${ca?.subject ?? resolved} (partner ${ca?.partner ?? '?'}): ${request.reason}.`,
        'The door (the authorizer, trustroll up) denies it from the revocation index published with this change on.',
        `To take it back: trustroll unrevoke --serial ${request.serial} --issuer ${resolved}.`,
      ],
      ca?.partner,
    );
  }
  return { ...result, already };
};

/** Takes back a manual revocation. A serial listed on a CRL stays revoked: that needs a new CRL. */
export const unrevokeCertificate = async (
  deps: RevocationDeps,
  request: Pick<RevokeRequest, 'issuer' | 'serial'>,
) => {
  let found = false;
  let resolved = request.issuer;
  const result = await changeRevocation(deps, (rev, state) => {
    const issuer = issuerEntry(state, request.issuer, deps.clock.now()).fingerprint;
    resolved = issuer;
    const same = sameCa(state);
    const manual = rev.manual.filter((m) => !(same(m.issuer, issuer) && m.serial === request.serial));
    found = manual.length < rev.manual.length;
    return found ? { ...rev, manual } : undefined;
  });
  if (result.changed) {
    const ca = heldOrRemoved(result.state, resolved);
    await announce(
      deps,
      result.state,
      `revocation taken back: serial ${request.serial} of ${ca?.subject ?? resolved.slice(0, 16)}`,
      [
        `The revocation by hand of serial ${request.serial} issued by ${ca?.subject ?? resolved} (partner ${ca?.partner ?? '?'}) was taken back (trustroll unrevoke).`,
        'The door lets it in again from the revocation index published with this change on, unless a CRL or a CA above it still revokes it.',
      ],
      ca?.partner,
    );
  }
  return { ...result, found };
};

/** Sets (or with empty lists clears) a partner's identity rules. */
export const setPartnerRules = async (deps: RevocationDeps, partner: string, given: PartnerRules) => {
  for (const pin of given.pins ?? [])
    if (!/^[0-9a-f]{64}$/.test(pin))
      throw new InputError(`pin ${pin} is not a SHA-256 (64 lowercase hex digits)`);
  const routes = (given.routes ?? []).map((route) => {
    const m = /^(?:([A-Za-z*]+) )?(\/\S*)$/.exec(route.trim());
    if (!m)
      throw new InputError(`route ${JSON.stringify(route)} is not "METHOD /path" (e.g. "GET /orders/*")`);
    const [, method, path] = m as unknown as [string, string | undefined, string];
    if (method !== undefined && !METHODS.includes(method.toUpperCase()))
      throw new InputError(
        `route ${JSON.stringify(route)}: ${method} is not an HTTP method (${METHODS.join(', ')})`,
      );
    if (/[?#%\\]/.test(path))
      throw new InputError(
        `route ${JSON.stringify(route)}: a route is a plain path, without query, fragment, %-escapes or backslashes`,
      );
    if (path.split('/').some((s, i, all) => s.includes('**') && (s !== '**' || i !== all.length - 1)))
      throw new InputError(`route ${JSON.stringify(route)}: ** stands only as the last segment (/orders/**)`);
    if (path.split('/').some(isDotSegment))
      throw new InputError(`route ${JSON.stringify(route)}: no . or .. segments (nor ..;params)`);
    // API Gateway route keys, like HTTP methods, are upper case: a request's method is compared exactly.
    return method === undefined ? path : `${method.toUpperCase()} ${path}`;
  });
  const rules: PartnerRules = given.routes === undefined ? given : { ...given, routes: [...new Set(routes)] };
  const result = await changeRevocation(deps, (rev, state) => {
    const empty = (rules.pins ?? []).length === 0 && (rules.routes ?? []).length === 0;
    // A partner removed lately still has clients let in (its CAs retired): rules still apply to
    // them. Rules held for a partner can always be cleared.
    const holders = [...state.entries, ...retiredEntries(state, deps.clock.now())];
    if (!holders.some((e) => e.partner === partner) && !(empty && partner in rev.rules)) {
      const known = [...new Set(holders.map((e) => e.partner))].sort();
      throw new InputError(
        `no CA of the truststore belongs to partner ${partner} (partners: ${known.join(', ') || 'none'}); a partner's name is its inbox folder, inbox/<partner>/`,
      );
    }
    const { [partner]: _, ...others } = rev.rules;
    const next = empty ? others : { ...others, [partner]: rules };
    return JSON.stringify(next) === JSON.stringify(rev.rules) ? undefined : { ...rev, rules: next };
  });
  if (result.changed) {
    const now = result.state.revocation?.rules[partner];
    await announce(
      deps,
      result.state,
      `identity rules of partner ${partner} changed`,
      [
        now
          ? `The clients of partner ${partner} must now match: ${[
              ...(now.pins?.length ? [`one of ${now.pins.length} pinned certificate(s) or key(s)`] : []),
              ...(now.routes?.length ? [`the routes ${now.routes.join(', ')}`] : []),
            ].join('; ')}.`
          : `Partner ${partner} has no identity rules any more: any of its clients may call any route.`,
        'The door applies them from the revocation index published with this change on.',
      ],
      partner,
    );
  }
  return result;
};

/** The certificate of a CA entry by fingerprint (for `revoke --cert`: its issuer). */
export const entryCertificates = (state: TruststoreState): Certificate[] =>
  state.entries.map((e) => certificateOf(e));
