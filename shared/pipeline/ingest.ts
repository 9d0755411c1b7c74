import { createHash } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, readRefused, UpstreamError } from '../errors.js';
import { type Finding, isBlocking } from '../finding.js';
import { mapLimit } from '../limit.js';
import { type Certificate, toPem } from '../pki/certificate.js';
import { readInput } from '../pki/read.js';
import type {
  Clock,
  DomainGateway,
  Log,
  Notification,
  Notifier,
  ObjectStore,
  StoredObject,
} from '../ports.js';
import { safeJson } from '../text.js';
import { admit, type CandidateUpload, type UploadDecision } from '../truststore/admission.js';
import { renderedOf } from '../truststore/render.js';
import {
  type Entry,
  entryOf,
  KEYS,
  keepLast,
  latestPublished,
  MAX_PROCESSED,
  pendingRevision,
  type TruststoreState,
  type UploadOutcome,
} from '../truststore/state.js';
import {
  type CrlDecision,
  type CrlRead,
  crlNotification,
  crlSummary,
  DEFAULT_MAX_CRL_BYTES,
  isCrlUpload,
  judgeCrlUploads,
  readCrlUpload,
  withCrls,
  writeCrlRecords,
} from './crl-uploads.js';
import { daysUntil } from './expiry.js';
import { describeCertificate, describeFindings, notification } from './notifications.js';
import { deliverOutbox, withoutDelivered } from './outbox.js';
import { publishAndRoll } from './publish.js';
import { nextRevision } from './revision.js';
import { publishIndex, retiredClaims, revocationOf, revokedKeyFindings } from './revocation.js';
import type { RollConfig, RollReport } from './roll.js';
import { assertIntact, type LoadedState, loadState, publishTruststore, saveState } from './state-store.js';
import { keptKeys, parseUploadKey, type UploadKey } from './upload-key.js';

export interface IngestConfig {
  /** Warn about CAs expiring within this many days. Default 30. */
  readonly expiringDays?: number;
  /** Uploads larger than this are rejected unread. Default 2 MB. */
  readonly maxUploadBytes?: number;
  /** The same for CRL uploads (`inbox/<partner>/crl/`). Default 50 MB (ALB's limit per CRL file). */
  readonly maxCrlBytes?: number;
  /**
   * How long an upload that only lacks its issuer (an intermediate before its root) waits in the
   * inbox for it, judged again with every batch, before it is rejected. Default 24 h.
   */
  readonly pendingWindowMs?: number;
  readonly roll: RollConfig;
}

export interface IngestDeps {
  readonly store: ObjectStore;
  readonly gateway: DomainGateway;
  readonly notifier: Notifier;
  readonly clock: Clock;
  readonly log: Log;
  readonly config: IngestConfig;
  /** What the report names the store (`s3://bucket/`, a data folder); default `the trustroll store`. */
  readonly label?: string;
  /** The expiry scan's thresholds (days), marked in the report; default 60, 30, 14, 7, 3, 1. */
  readonly expiryThresholds?: readonly number[];
}

/** An object that landed in the inbox (from an S3 event or a folder scan). */
export interface UploadRef {
  readonly key: string;
  /** The object version the event names, when known. */
  readonly version?: string;
  /** Replace the truststore's CAs with the same subjects (also: uploads under inbox/<partner>/replace/). */
  readonly replace?: boolean;
}

export type UploadResult = UploadOutcome | 'pending' | 'duplicate' | 'missing';

export interface ReportedFinding {
  readonly code: string;
  readonly severity: Finding['severity'];
  readonly message: string;
}

export interface UploadReport {
  readonly key: string;
  readonly partner?: string;
  readonly version?: string;
  readonly outcome: UploadResult;
  readonly certificates: readonly {
    readonly fingerprint: string;
    readonly subject: string;
    readonly issuer: string;
    readonly notAfter: string;
    readonly verdict: string;
    readonly findings: readonly ReportedFinding[];
  }[];
  readonly findings: readonly ReportedFinding[];
  /** For a CRL upload: each CRL read (issuer, number, dates, revoked entries). */
  readonly crls?: ReturnType<typeof crlSummary>;
  /**
   * Where what was understood of the upload is kept once its inbox object is destroyed: its
   * certificates (canonical PEM) under archive/ or rejected/, or its report when it held none.
   */
  readonly movedTo?: string;
}

export interface IngestReport {
  readonly uploads: readonly UploadReport[];
  /** True when this run added certificates and committed a new revision. */
  readonly changed: boolean;
  /**
   * True when this run committed a change of the CRLs held (an accepted CRL that is not the one
   * held already): the revocation generation moved, and ELB trust stores are behind until synced.
   */
  readonly crlsChanged?: boolean;
  readonly revision: number;
  /** CAs in the truststore after this run. */
  readonly certificates: number;
  /** Size of the truststore after this run (the PEM bundle API Gateway reads), in bytes. */
  readonly truststoreBytes: number;
  /** Days until the first CA of the truststore expires (for the metric); undefined when empty. */
  readonly nearestExpiryDays?: number;
  /** Truststore version id serving the latest revision, when published. */
  readonly version?: string;
  readonly roll?: RollReport;
  /** Steps after the commit that failed (moves, notifications); the commit stands. */
  readonly errors: readonly string[];
  /** The report of the new version could not be written (logged; not an error of the run). */
  readonly reportError?: string;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024;
export const DEFAULT_PENDING_WINDOW_MS = 24 * 3_600_000;
const COMMIT_ATTEMPTS = 20;
/** Uploads read at once: enough to hide S3 latency, far below any open-file limit. */
const FETCH_CONCURRENCY = 16;

interface Fetched {
  readonly ref: UploadRef;
  readonly id: string;
  readonly upload?: UploadKey;
  readonly keyError?: string;
  /** The current inbox object (absent when already moved, or replaced by a newer version). */
  readonly current?: { readonly version: string; readonly size: number };
  /** SHA-256 of what was read (absent for an upload refused unread). */
  readonly sha256?: string;
  readonly candidate?: CandidateUpload;
  readonly privateKey: boolean;
  /** A CRL upload (`inbox/<partner>/crl/`): what was read of it. */
  readonly crl?: CrlRead;
}

/**
 * Ingests a batch of uploads into the truststore.
 * 1. Read every upload once (missing ones are duplicates of an event already handled).
 * 2. Load the state; uploads already processed are duplicates and change nothing.
 * 3. Judge the rest together against the truststore (`admit`): an upload is accepted only if
 *    every certificate in it passes; a partial chain is never admitted.
 * 4. Write a JSON report per upload, then commit one new state for the whole batch with
 *    compare-and-set; on conflict start again from 2 against the fresher state.
 * 5. Publish the truststore object when the certificate set changed (or a committed revision
 *    is still unpublished after a crash).
 * 6. Move accepted uploads to archive/, rejected ones to rejected/; delete private keys.
 * 7. One notification per upload outcome; failures are reported, never undo the commit.
 * 8. Record the version id and take the delivered alerts out of the outbox, in one write.
 * 9. Roll the domains to the new version (once for the batch).
 * The state is read once (step 2): each later write is a compare-and-set on the ETag of the one
 * before, and the state is read again only when another writer changed it in between.
 */
export const ingestUploads = async (batch: readonly UploadRef[], deps: IngestDeps): Promise<IngestReport> =>
  (await ingestRun(batch, deps)).report;

/**
 * ingestUploads, with the state as the run left it and its ETag: a caller that goes on (the
 * batch handler's roll) starts from it instead of reading the state again.
 */
export const ingestRun = async (
  batch: readonly UploadRef[],
  deps: IngestDeps,
): Promise<{ readonly report: IngestReport; readonly known: LoadedState }> => {
  const errors: string[] = [];
  // Uploads waiting for their issuer are judged again with every batch.
  const first = await loadState(deps.store);
  // A damaged store is named and left alone: nothing is judged into it until it is repaired.
  // The truststore object read for it serves the publish below (a compare-and-set on its ETag).
  const { current } = await assertIntact(deps.store, first.state);
  // Each waits as the version that was judged: withdrawn or replaced since, that version is destroyed.
  const waiting = Object.entries(first.state.pending ?? {});
  const refs = [
    ...batch,
    ...waiting
      .filter(([key]) => !batch.some((r) => r.key === key))
      .map(([key, held]) => ({ key, version: held.version })),
  ];
  const fetched = await mapLimit(refs, FETCH_CONCURRENCY, (ref) => fetchUpload(ref, deps));

  let committed:
    | {
        state: TruststoreState;
        etag: string | undefined;
        decisions: Map<string, Decision>;
        changed: boolean;
        crlsChanged?: boolean;
      }
    | undefined;
  for (let attempt = 1; !committed; attempt++) {
    // The state read for the waiting uploads serves the first attempt; a conflict re-reads it.
    const { state, etag } = attempt === 1 ? first : await loadState(deps.store);
    const now = deps.clock.now();
    const keyRevoked = await revokedKeyFindings(
      deps.store,
      state,
      fetched.flatMap((f) =>
        f.candidate
          ? [
              {
                key: f.ref.key,
                ...(f.upload ? { partner: f.upload.partner } : {}),
                certs: f.candidate.certificates.map((c) => c.cert),
              },
            ]
          : [],
      ),
    );
    const decisions = decide(fetched, state, deps, now, keyRevoked);
    const next = nextState(state, fetched, decisions, now);
    await writeReports(fetched, decisions, next?.state ?? state, deps, now);
    if (!next) {
      committed = { state, etag, decisions, changed: false };
      break;
    }
    try {
      const saved = await saveState(deps.store, next.state, etag);
      committed = {
        state: next.state,
        etag: saved.etag,
        decisions,
        changed: next.changed,
        ...(next.crlsChanged ? { crlsChanged: true } : {}),
      };
      deps.log.info('state committed', { revision: next.state.revision, changed: next.changed, attempt });
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= COMMIT_ATTEMPTS) throw error;
      deps.log.info('state changed underneath, judging again', { attempt });
    }
  }

  // The truststore is published before the uploads leave the inbox: a crash in between leaves
  // them to a re-drive, which finds them processed and finishes (and records the version).
  const pending = pendingRevision(committed.state);
  const published = pending
    ? { version: await publishTruststore(deps.store, committed.state, deps.log, current ?? null) }
    : undefined;
  // The revocation index before the uploads leave the inbox and their alerts go out: an accepted
  // CRL is enforced before anyone is told it is (a crash in between leaves the upload to a re-drive).
  if (latestPublished(committed.state)?.version || published?.version) {
    try {
      await publishIndex(deps.store, committed.state, deps.log);
    } catch (error) {
      errors.push(`publishing the revocation index: ${(error as Error).message}`);
    }
  }
  const reports: UploadReport[] = [];
  for (const f of fetched) {
    const decision = committed.decisions.get(f.id);
    const report = uploadReport(f, decision);
    const movedTo = await finishUpload(f, decision, deps, errors);
    reports.push(movedTo ? { ...report, movedTo } : report);
  }
  // The upload alerts were committed with the state: deliver them (and any a crashed run left),
  // then take them out of the outbox in the write that records the version.
  const delivered = await deliverOutbox(committed.state, deps.notifier, deps.log);
  errors.push(...delivered.errors);
  // Every run makes sure the domains serve the latest version (completing a crashed run's roll).
  const {
    state,
    version,
    roll,
    errors: rollErrors,
    reportError,
    known: after,
  } = await publishAndRoll(
    committed.state,
    { ...deps, roll: deps.config.roll },
    {
      ...(committed.etag === undefined ? {} : { etag: committed.etag }),
      ...(published ? { published } : {}),
      ...(delivered.sent.size > 0 ? { alsoWrite: withoutDelivered(delivered.sent) } : {}),
    },
  );
  errors.push(...rollErrors);

  // The nearest expiry only (the metric): no chain walk, no sort of every entry.
  const soonest = state.entries.reduce<string | undefined>(
    (min, e) => (min === undefined || Date.parse(e.notAfter) < Date.parse(min) ? e.notAfter : min),
    undefined,
  );
  const nearest = soonest === undefined ? undefined : daysUntil(soonest, deps.clock.now());
  return {
    report: {
      uploads: reports,
      changed: committed.changed,
      ...(committed.crlsChanged ? { crlsChanged: true } : {}),
      revision: state.revision,
      certificates: state.entries.length,
      truststoreBytes: renderedOf(state.entries).body.length,
      ...(nearest === undefined ? {} : { nearestExpiryDays: nearest }),
      ...(version ? { version } : {}),
      ...(roll ? { roll } : {}),
      errors,
      ...(reportError ? { reportError } : {}),
    },
    known: after ?? { state, etag: committed.etag },
  };
};

interface Decision {
  readonly outcome: UploadOutcome | 'pending';
  /** For a pending upload: until when it waits for its issuer. */
  readonly until?: string;
  readonly duplicate: boolean;
  readonly admission?: UploadDecision;
  readonly findings: readonly Finding[];
  readonly crl?: CrlDecision;
}

const fetchUpload = async (ref: UploadRef, deps: IngestDeps): Promise<Fetched> => {
  let upload: UploadKey | undefined;
  let keyError: string | undefined;
  try {
    upload = parseUploadKey(ref.key);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    keyError = error.message;
  }
  // Only the current object is processed: an event naming an older version (replaced since, or
  // already moved out) has nothing left to do, and the newer version brings its own event.
  let current: { version: string; size: number } | undefined;
  try {
    const head = await deps.store.head(ref.key);
    if (!ref.version || head.version === ref.version) current = { version: head.version, size: head.size };
  } catch (error) {
    // A key the store cannot even name (`..` on a folder store) holds nothing to process.
    if (!(error instanceof NotFoundError || error instanceof InputError)) throw error;
  }
  // An upload is its key, its version and (once read) its content: a different file that happens
  // to have the same name, size and time is another upload.
  const seen = `${ref.key}@${ref.version ?? current?.version ?? 'gone'}`;
  const base = { ref, ...(upload ? { upload } : {}), ...(keyError ? { keyError } : {}) };
  if (!current) return { ...base, id: seen, privateKey: false };
  // An upload refused before it could be read: judged on that alone, as itself.
  const refused = (finding: Finding): Fetched => ({
    ...base,
    id: seen,
    current,
    privateKey: false,
    candidate: { id: seen, certificates: [], inputFindings: [finding] },
  });
  const crlUpload = isCrlUpload(upload);
  const uploadMax = deps.config.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const max = crlUpload ? (deps.config.maxCrlBytes ?? DEFAULT_MAX_CRL_BYTES) : uploadMax;
  if (current.size > max) {
    // Refused from its size alone: the object is never read.
    return refused({
      code: 'input.too-large',
      severity: 'error',
      message: crlUpload
        ? `${ref.key} is ${current.size} bytes, over the ${max}-byte limit for one CRL: send the CA's full CRL only (no delta CRLs, no archives).`
        : `${ref.key} is ${current.size} bytes, over the ${max}-byte limit for one upload: send CA certificates only, split into several files if needed.`,
      source: ref.key,
    });
  }
  let object: StoredObject;
  try {
    object = await deps.store.get(ref.key, { version: current.version });
  } catch (error) {
    if (error instanceof NotFoundError) return { ...base, id: seen, privateKey: false };
    // A read that may work next time (throttled, a 5xx, too many open files) fails the run, which
    // is retried with the upload still in place: it is never rejected for it.
    if (!(error instanceof InputError || (error instanceof UpstreamError && readRefused(error)))) throw error;
    // One upload that cannot be read (permissions, a link, not a regular file) is rejected with
    // the reason; it does not stop the others, nor every later run.
    return refused(
      error instanceof InputError
        ? {
            code: 'input.not-a-file',
            severity: 'error',
            message: `${ref.key} was refused: ${error.message}.`,
            source: ref.key,
          }
        : {
            code: 'input.unreadable',
            severity: 'error',
            message: `${ref.key} could not be read: ${describeCause(error)}. Make it a readable regular file and upload it again.`,
            source: ref.key,
          },
    );
  }
  const sha256 = createHash('sha256').update(object.body).digest('hex');
  const id = `${seen}#${sha256.slice(0, 16)}`;
  if (crlUpload) {
    // A CRL is judged as a CRL; the certificate reader only hunts for keys in it (its first
    // bytes, as with any upload), so a key sent along is alerted like anywhere else.
    const hunt = readInput({ name: ref.key, bytes: object.body.subarray(0, uploadMax) });
    const keys = hunt.findings.filter((f) => f.code === 'input.private-key');
    // Certificates beside the CRL would vanish unjudged: the file is refused, saying where they go.
    const read = readCrlUpload(object.body, ref.key);
    const crl: CrlRead =
      read.lists && hunt.certificates.length > 0
        ? {
            error: {
              code: 'crl.holds-certificates',
              severity: 'error',
              message: `${ref.key} holds ${hunt.certificates.length} certificate(s) besides CRLs: CA certificates go to ${KEYS.inbox}${upload?.partner ?? '<partner>'}/ and CRLs alone to its crl/ folder; upload them apart.`,
              source: ref.key,
            },
          }
        : read;
    return {
      ...base,
      id,
      current,
      sha256,
      privateKey: keys.length > 0,
      candidate: {
        id,
        certificates: [],
        inputFindings: keys,
        ...(upload ? { partner: upload.partner } : {}),
      },
      crl,
    };
  }
  const read = readInput({ name: ref.key, bytes: object.body.subarray(0, max) });
  const privateKey = read.findings.some((f) => f.code === 'input.private-key');
  return {
    ...base,
    id,
    current,
    sha256,
    privateKey,
    candidate: {
      id,
      certificates: read.certificates,
      inputFindings: read.findings,
      replace: ref.replace === true || upload?.path.startsWith('replace/') === true,
      ...(upload ? { partner: upload.partner } : {}),
    },
  };
};

/** What went wrong reading an object, with the system's code and path when there is one. */
const describeCause = (error: Error): string => {
  const cause = error.cause as NodeJS.ErrnoException | undefined;
  return cause?.code
    ? `${cause.code}${cause.path ? ` on ${cause.path}` : ''} (${error.message})`
    : error.message;
};

const decide = (
  fetched: readonly Fetched[],
  state: TruststoreState,
  deps: IngestDeps,
  now: Date,
  /** `ca.key-revoked` by certificate fingerprint (see `revokedKeyFindings`). */
  keyRevoked: ReadonlyMap<string, Finding> = new Map(),
) => {
  const decisions = new Map<string, Decision>();
  const toJudge: CandidateUpload[] = [];
  const crlUploads: Parameters<typeof judgeCrlUploads>[0][number][] = [];
  for (const f of fetched) {
    if (!f.current) continue;
    const seen = state.processed[f.id];
    if (seen) {
      decisions.set(f.id, { outcome: seen.outcome, duplicate: true, findings: [] });
    } else if (f.privateKey) {
      decisions.set(f.id, {
        outcome: 'private-key',
        duplicate: false,
        findings: f.candidate?.inputFindings ?? [],
      });
    } else if (f.keyError) {
      const finding: Finding = {
        code: 'input.bad-key',
        severity: 'error',
        message: f.keyError,
        source: f.ref.key,
      };
      // A link or unreadable entry is named as such first: that is what to fix.
      const refused = (f.candidate?.inputFindings ?? []).filter(
        (x) => x.code === 'input.not-a-file' || x.code === 'input.unreadable',
      );
      decisions.set(f.id, { outcome: 'rejected', duplicate: false, findings: [...refused, finding] });
    } else if (f.crl) {
      crlUploads.push({ id: f.id, read: f.crl, upload: f.upload!, version: f.current.version });
    } else if (f.candidate) {
      // A certificate of a revoked key refuses its upload before anything else is judged.
      const revoked = f.candidate.certificates.flatMap((c) => keyRevoked.get(c.cert.fingerprint) ?? []);
      toJudge.push(
        revoked.length === 0
          ? f.candidate
          : { ...f.candidate, inputFindings: [...f.candidate.inputFindings, ...revoked] },
      );
    }
  }
  const admitted = admit(state.entries, toJudge, {
    at: now,
    expiringDays: deps.config.expiringDays ?? 30,
    retired: retiredClaims(state, now),
  });
  const window = deps.config.pendingWindowMs ?? DEFAULT_PENDING_WINDOW_MS;
  for (const a of admitted) {
    const key = fetched.find((f) => f.id === a.id)!.ref.key;
    const held = state.pending?.[key];
    const until = held ? Date.parse(held.until) : now.getTime() + window;
    if (a.waitingForIssuer && now.getTime() <= until) {
      decisions.set(a.id, {
        outcome: 'pending',
        until: new Date(until).toISOString(),
        duplicate: false,
        admission: a,
        findings: a.findings,
      });
      continue;
    }
    const expired: Finding[] = a.waitingForIssuer
      ? [
          {
            code: 'chain.issuer-missing',
            severity: 'error',
            message: `Waited until ${new Date(until).toISOString()} for the issuer to arrive; it did not. Upload the issuing CA together with this one.`,
            source: key,
          },
        ]
      : [];
    decisions.set(a.id, {
      outcome: a.accepted ? 'accepted' : 'rejected',
      duplicate: false,
      admission: a,
      findings: [...a.findings, ...expired],
    });
  }
  if (crlUploads.length > 0) {
    // A CA and its CRL may come in one batch: the CRL is judged against the CAs admitted with it.
    const admittedCas = [...decisions.values()].flatMap((d) =>
      d.outcome === 'accepted'
        ? (d.admission?.certificates ?? []).filter((c) => c.verdict === 'added').map((c) => c.cert)
        : [],
    );
    // CAs waiting for their issuer (sent before their root): a CRL of one of them waits with it.
    const waitingCas = fetched.flatMap((f) => {
      const d = decisions.get(f.id);
      return d?.outcome === 'pending' && f.upload
        ? (d.admission?.certificates ?? []).map((c) => ({ cert: c.cert, partner: f.upload!.partner }))
        : [];
    });
    for (const [id, c] of judgeCrlUploads(crlUploads, state, admittedCas, now)) {
      const upload = crlUploads.find((u) => u.id === id)!;
      const key = fetched.find((f) => f.id === id)!.ref.key;
      const held = state.pending?.[key];
      const until = held ? Date.parse(held.until) : now.getTime() + window;
      if (!c.accepted && waitsForCa(c, waitingCas, upload.upload.partner) && now.getTime() <= until) {
        decisions.set(id, {
          outcome: 'pending',
          until: new Date(until).toISOString(),
          duplicate: false,
          findings: c.findings,
        });
        continue;
      }
      decisions.set(id, {
        outcome: c.accepted ? 'accepted' : 'rejected',
        duplicate: false,
        findings: c.findings,
        crl: c,
      });
    }
  }
  return decisions;
};

/**
 * Whether a refused CRL upload was refused only because its issuer is a CA still waiting for its
 * own issuer (a partner sending CA, CRL and root in that order): it then waits with that CA, and
 * is judged again once the CA is admitted, instead of being destroyed while the CA gets in.
 */
const waitsForCa = (
  c: CrlDecision,
  waiting: readonly { readonly cert: Certificate; readonly partner: string }[],
  partner: string,
): boolean => {
  const mine = waiting.filter((w) => w.partner === partner);
  if (c.judgements.length === 0 || mine.length === 0) return false;
  const blocking = c.findings.filter((f) => f.severity === 'error' || f.severity === 'critical');
  return (
    blocking.length > 0 &&
    blocking.every((f) => f.code === 'crl.issuer-unknown') &&
    c.judgements.every(
      (j) => j.issuer !== undefined || mine.some((w) => w.cert.subject.key === j.list.issuer.key),
    )
  );
};

const nextState = (
  state: TruststoreState,
  fetched: readonly Fetched[],
  decisions: ReadonlyMap<string, Decision>,
  now: Date,
): { state: TruststoreState; changed: boolean; crlsChanged?: boolean } | undefined => {
  const fresh = fetched.filter((f) => {
    const d = decisions.get(f.id);
    return d && !d.duplicate;
  });
  const pending = { ...(state.pending ?? {}) };
  for (const f of fetched) {
    const d = decisions.get(f.id);
    if (d?.outcome === 'pending' && f.current) {
      const held = pending[f.ref.key];
      pending[f.ref.key] = {
        version: f.current.version,
        since: held?.since ?? now.toISOString(),
        until: held?.until ?? d.until!,
      };
    } else if (d || !f.current) {
      delete pending[f.ref.key];
    }
  }
  const newlyPending = fresh.filter(
    (f) => decisions.get(f.id)!.outcome === 'pending' && !state.pending?.[f.ref.key],
  );
  const settled = fresh.filter((f) => decisions.get(f.id)!.outcome !== 'pending');
  const pendingChanged = JSON.stringify(pending) !== JSON.stringify(state.pending ?? {});
  if (settled.length === 0 && newlyPending.length === 0 && !pendingChanged) return undefined;
  const known = new Set(state.entries.map((e) => e.fingerprint));
  const added: Entry[] = [];
  for (const f of fresh) {
    const d = decisions.get(f.id)!;
    if (d.outcome !== 'accepted' || !d.admission || !f.upload) continue;
    for (const c of d.admission.certificates) {
      if (c.verdict !== 'added' || known.has(c.cert.fingerprint)) continue;
      known.add(c.cert.fingerprint);
      added.push(
        entryOf(c.cert, {
          partner: f.upload.partner,
          upload: { key: f.ref.key, version: f.current!.version },
          addedAt: now.toISOString(),
          findings: c.findings.map(({ code, severity, message }) => ({ code, severity, message })),
        }),
      );
    }
  }
  const processed = { ...state.processed };
  for (const f of settled) {
    const outcome = decisions.get(f.id)!.outcome;
    if (outcome !== 'pending') processed[f.id] = { outcome, at: now.toISOString() };
  }
  const replaced = new Set(
    settled.flatMap((f) => decisions.get(f.id)!.admission?.replaces ?? []).map((e) => e.fingerprint),
  );
  const changed = added.length > 0 || replaced.size > 0;
  const settledState: TruststoreState = {
    ...state,
    pending,
    processed: keepLast(processed, MAX_PROCESSED),
  };
  let next = changed
    ? nextRevision(settledState, {
        entries: [...state.entries.filter((e) => !replaced.has(e.fingerprint)), ...added],
        removed: state.entries.filter((e) => replaced.has(e.fingerprint)),
        added,
        reason: `uploads ${fresh
          .filter((f) => decisions.get(f.id)!.outcome === 'accepted')
          .map((f) => f.ref.key)
          .join(', ')}`,
        at: now,
      })
    : settledState;
  const revocation = withCrls(
    revocationOf(next),
    settled.flatMap((f) => decisions.get(f.id)!.crl ?? []),
  );
  // The sync that gives the CRLs to ELB trust stores is named after this change (any run can see
  // whether it was started, and start it: functions/ingest/handler.ts).
  if (revocation)
    next = {
      ...next,
      revocation: {
        ...revocation,
        crlChange: { revision: next.revision, generation: revocation.generation },
      },
    };
  const notes = [...settled, ...newlyPending].map((f) =>
    uploadNotification(f, decisions.get(f.id)!, next.revision),
  );
  return {
    state: { ...next, outbox: [...(next.outbox ?? []), ...notes] },
    changed,
    ...(revocation ? { crlsChanged: true } : {}),
  };
};

/**
 * Writes what was understood of each decided upload, before the commit: the certificates it held
 * (canonical PEM) and the report. Never the upload's own bytes: whatever the reader did not
 * understand (a key hidden where it does not look, an archive, a file refused unread) is not kept.
 */
const writeReports = async (
  fetched: readonly Fetched[],
  decisions: ReadonlyMap<string, Decision>,
  state: TruststoreState,
  deps: IngestDeps,
  now: Date,
) => {
  for (const f of fetched) {
    const d = decisions.get(f.id);
    if (!d || d.duplicate || d.outcome === 'pending') continue;
    const keys = keptAs(f, d);
    const body = {
      ...uploadReport(f, d),
      ...(f.current ? { size: f.current.size } : {}),
      ...(f.sha256 ? { sha256: f.sha256 } : {}),
      decidedAt: now.toISOString(),
      truststoreRevision: state.revision,
    };
    // Not caught: what cannot be written stops the run before the commit, and the redelivered
    // event writes it again (it is written before the state, never after).
    if (d.crl && d.outcome === 'accepted') await writeCrlRecords(deps.store, d.crl);
    const certificates = f.candidate?.certificates ?? [];
    if (certificates.length > 0) {
      await deps.store.put(
        keys.certificates,
        new Uint8Array(Buffer.from(certificates.map((c) => toPem(c.cert.der)).join(''))),
        { contentType: 'application/x-pem-file' },
      );
    }
    await deps.store.put(keys.report, new Uint8Array(Buffer.from(`${safeJson(body, 2)}\n`)), {
      contentType: 'application/json',
    });
  }
};

/** Where a decided upload is kept: its own path per upload (the same name twice is two records). */
const keptAs = (f: Fetched, d: Decision) =>
  keptKeys(f.upload, f.ref.key, d.outcome === 'accepted' ? 'archive' : 'rejected', f.id);

const uploadReport = (f: Fetched, d: Decision | undefined): UploadReport => {
  const base = {
    key: f.ref.key,
    ...(f.upload ? { partner: f.upload.partner } : {}),
    ...(f.current ? { version: f.current.version } : {}),
  };
  if (!d) return { ...base, outcome: 'missing', certificates: [], findings: [] };
  if (d.duplicate) return { ...base, outcome: 'duplicate', certificates: [], findings: [] };
  return {
    ...base,
    outcome: d.outcome,
    certificates: (d.admission?.certificates ?? []).map((c) => ({
      fingerprint: c.cert.fingerprint,
      subject: c.cert.subject.text,
      issuer: c.cert.issuer.text,
      notAfter: c.cert.notAfter.toISOString(),
      verdict: c.verdict,
      findings: c.findings.map(plain),
    })),
    findings: d.findings.map(plain),
    ...(d.crl ? { crls: crlSummary(d.crl) } : {}),
  };
};

const plain = ({ code, severity, message }: Finding): ReportedFinding => ({ code, severity, message });

/**
 * Takes a decided upload out of the inbox: what was understood of it is kept already (written
 * before the commit), so the inbox object is destroyed, this version and every older one (on a
 * versioned bucket a delete would leave the bytes, a private key among them, as a noncurrent version).
 */
const finishUpload = async (
  f: Fetched,
  d: Decision | undefined,
  deps: IngestDeps,
  errors: string[],
): Promise<string | undefined> => {
  // A pending upload stays in the inbox until its issuer arrives or its window ends.
  if (d?.outcome === 'pending') return undefined;
  try {
    if (!d || !f.current) {
      // Replaced by a newer version or withdrawn before it was read: the version the event names
      // (and older ones) will never be judged, so they are not kept either.
      if (f.ref.version) await deps.store.destroy(f.ref.key, { upTo: f.ref.version });
      return undefined;
    }
    await deps.store.destroy(f.ref.key, { upTo: f.current.version });
    if (d.outcome === 'private-key') deps.log.warn('private key upload destroyed', { key: f.ref.key });
    const keys = keptAs(f, d);
    return (f.candidate?.certificates.length ?? 0) > 0 ? keys.certificates : keys.report;
  } catch (error) {
    errors.push(`removing ${f.ref.key} from the inbox: ${(error as Error).message}`);
    deps.log.error('removing upload failed', { key: f.ref.key, error: (error as Error).message });
    return undefined;
  }
};

const uploadNotification = (f: Fetched, d: Decision, revision: number): Notification => {
  const partner = f.upload?.partner;
  const where = f.ref.key;
  if (d.outcome === 'private-key') {
    return notification(
      'upload.private-key',
      'critical',
      f.id,
      `private key received from ${partner ?? 'an unknown sender'} and deleted`,
      [
        `The upload ${where} contained a private key.`,
        'It was destroyed in the inbox (every version); only the certificates it held and a report were kept: trustroll never keeps or forwards key material.',
        '',
        'What to do now:',
        '- Treat that key as compromised: revoke or stop using the certificate it belongs to and issue a new key pair.',
        `- Upload only CA certificates (PEM, DER or PKCS#7) to ${KEYS.inbox}${partner ?? '<partner>'}/.`,
        '',
        ...describeFindings(d.findings),
      ],
      partner,
    );
  }
  if (d.crl && f.upload) {
    return crlNotification(f.id, f.upload, d.crl, []);
  }
  const certs = d.admission?.certificates ?? [];
  if (d.outcome === 'pending' && f.crl) {
    return notification(
      'upload.pending',
      'info',
      f.id,
      `CRL waiting for its CA: ${partner}/${f.upload?.path}`,
      [
        `The CRL ${where} from ${partner} is signed by a CA that is itself still waiting for its issuer (its root has not arrived).`,
        `It waits in the inbox until ${d.until} and is judged again with every upload; once that CA is admitted, the CRL is judged against it.`,
        'Nothing to do if the root is on its way; otherwise upload it.',
      ],
      partner,
    );
  }
  if (d.outcome === 'pending') {
    const missing = certs.flatMap((c) => c.findings).find((x) => x.code === 'chain.issuer-missing');
    return notification(
      'upload.pending',
      'info',
      f.id,
      `upload waiting for its issuer: ${partner}/${f.upload?.path}`,
      [
        `The upload ${where} from ${partner} is complete except for its issuer: ${missing?.message ?? 'an issuing CA is missing'}`,
        `It waits in the inbox until ${d.until} and is judged again with every upload; if the issuing CA arrives by then, both are admitted together.`,
        'Nothing to do if the root is on its way; otherwise upload it (or re-upload this file together with it).',
      ],
      partner,
    );
  }
  if (d.outcome === 'accepted') {
    const added = certs.filter((c) => c.verdict === 'added');
    const warnings = certs.flatMap((c) => c.findings).filter((x) => x.severity === 'warning');
    return notification(
      'upload.accepted',
      warnings.length > 0 ? 'warning' : 'info',
      f.id,
      `upload accepted: ${partner}/${f.upload?.path} (${added.length} CA${added.length === 1 ? '' : 's'} added)`,
      [
        `The upload ${where} from ${partner} was accepted${added.length > 0 ? ` into truststore revision ${revision}` : ''}.`,
        added.length > 0
          ? 'Clients whose certificates these CAs issued can connect once the domain is rolled (a separate message confirms it).'
          : 'All its certificates were already in the truststore: nothing changes.',
        ...(d.admission?.replaces.length
          ? [
              '',
              'It REPLACES (rotation):',
              ...d.admission.replaces.map(
                (e) =>
                  `- ${e.subject} (sha256 ${e.fingerprint.slice(0, 16)}…, expires ${e.notAfter.slice(0, 10)})`,
              ),
              'Clients issued under the replaced CA fail from the roll of this revision on: reissue them under the new CA.',
            ]
          : []),
        ...(warnings.length > 0 ? ['', 'Mind the warnings below (they do not block, but need action):'] : []),
        '',
        ...certs.flatMap((c) => describeCertificate(c, partner ?? '?')),
      ],
      partner,
    );
  }
  const firstError = [...d.findings, ...certs.flatMap((c) => c.findings)].find(isBlocking);
  return notification(
    'upload.rejected',
    'error',
    f.id,
    `upload rejected: ${partner ?? '?'}/${f.upload?.path ?? where} (${firstError?.code ?? 'error'})`,
    [
      `The upload ${where}${partner ? ` from ${partner}` : ''} was rejected; nothing in it was added to the truststore.`,
      `Its certificates (if any could be read) were kept under ${KEYS.rejected} with a report saying why, per certificate; the file itself was not.`,
      '',
      'What to do next: fix the problems below and upload the corrected file again.',
      '',
      ...describeFindings(d.findings),
      ...certs.flatMap((c) => describeCertificate(c, partner ?? '?')),
    ],
    partner,
  );
};
