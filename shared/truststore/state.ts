import type { Finding } from '../finding.js';
import { type Certificate, parseCertificate, pemToDer, signatureAnswers, toPem } from '../pki/certificate.js';
import type { Notification } from '../ports.js';
import type { RevocationState } from '../revocation/state.js';
import { renderBlocks } from './render.js';
import {
  CERTIFICATE_FIELDS,
  certificateFields,
  checkState,
  parsedEntries,
  rememberParsed,
  sealedEntries,
  sealLine,
  sealOfLines,
} from './state-shape.js';

/** Where trustroll keeps its objects, relative to the store (an S3 bucket or a local folder). */
export const KEYS = {
  state: 'state/truststore.json',
  truststore: 'truststore/truststore.pem',
  inbox: 'inbox/',
  archive: 'archive/',
  rejected: 'rejected/',
} as const;

/** One CA in the truststore, with its provenance. */
export interface Entry {
  readonly fingerprint: string;
  readonly subject: string;
  /** Canonical subject name (for issuer matching without parsing). */
  readonly subjectKey: string;
  readonly issuer: string;
  readonly issuerKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly partner: string;
  /** The upload it came from. */
  readonly upload: { readonly key: string; readonly version: string };
  readonly addedAt: string;
  /** Non-blocking findings it had when admitted (warnings, info). */
  readonly findings: readonly Pick<Finding, 'code' | 'severity' | 'message'>[];
  readonly pem: string;
}

export type UploadOutcome = 'accepted' | 'rejected' | 'private-key';

/** One published (or to-be-published) truststore version. */
export interface Revision {
  readonly revision: number;
  /** Object version id, once published. */
  readonly version?: string;
  /**
   * SHA-256 of the rendered truststore: what its version must hold. Always written; a state
   * without it still loads (the object's own recorded hash is checked then).
   */
  readonly sha256?: string;
  readonly at: string;
  readonly reason: string;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /**
   * The partner of each CA added or removed (by fingerprint), as it was at this revision: a CA
   * removed and uploaded again by another partner later keeps its first partner in the history.
   * Absent in states written before it was recorded (the entries' partner is shown then).
   */
  readonly partners?: Readonly<Record<string, string>>;
  /** The version id it was published as, when that version went missing (`trustroll repair`). */
  readonly lostVersion?: string;
  /**
   * Never published: a later revision was published first (this one's run stopped between its
   * commit and its publish), and its changes are served as part of that one.
   */
  readonly supersededBy?: number;
}

/**
 * The source of truth: entries with provenance, and which uploads were processed. The rendered
 * truststore object is derived from it; each state write is a compare-and-set on its ETag.
 */
export interface TruststoreState {
  readonly schema: 1;
  /** Increases by one with every committed change of the certificate set. */
  readonly revision: number;
  readonly entries: readonly Entry[];
  /** Upload id (`key@version`) → outcome, so a duplicate event changes nothing. Most recent last. */
  readonly processed: Readonly<Record<string, { readonly outcome: UploadOutcome; readonly at: string }>>;
  /** Revisions, newest last (bounded). */
  readonly history: readonly Revision[];
  /** When a domain update was last requested (API Gateway allows one per 30 s per account). */
  readonly lastRollAt?: string;
  /**
   * Expiry thresholds already alerted, by fingerprint: the smallest threshold (in days) crossed,
   * 0 once expired. A scan alerts only a crossing beyond what is recorded here.
   */
  readonly expiryAlerts?: Readonly<Record<string, { readonly level: number; readonly at: string }>>;
  /**
   * Notifications committed with the change they report and not yet delivered (a transactional
   * outbox): a crash or a failed publish never loses an alert; each has a stable id, so a
   * re-sent one can be deduplicated.
   */
  readonly outbox?: readonly Notification[];
  /**
   * Uploads held in the inbox because an issuer has not arrived yet (an intermediate before its
   * root), by key: judged again with every batch until `until`, then rejected.
   */
  readonly pending?: Readonly<
    Record<string, { readonly version: string; readonly since: string; readonly until: string }>
  >;
  /** Entries removed (by removal, prune or rollback), newest last, bounded: provenance for diff and rollback. */
  readonly removedEntries?: readonly Entry[];
  /** CRLs held, manual revocations and partner rules: what the revocation index is built from. */
  readonly revocation?: RevocationState;
}

export const MAX_PROCESSED = 2000;
export const MAX_HISTORY = 500;

export const emptyState = (): TruststoreState => ({
  schema: 1,
  revision: 0,
  entries: [],
  processed: {},
  history: [],
});

/**
 * Parses a state document, checking every field trustroll relies on (`checkState`): throws with
 * the path of the first one that is wrong, so a state edited by hand is named, never half-used.
 */
export const parseState = (bytes: Uint8Array): TruststoreState => {
  // A state is a function of its bytes: the same bytes read again (a warm Lambda or `trustroll
  // up` reading the state it wrote last) give the state known for them, neither parsed nor
  // checked again. States are never changed in place (every change makes a new object).
  const known = recent.find((r) => r.bytes.equals(bytes));
  if (known) {
    // A document this process wrote is checked like any other the first time it is read: a
    // state that a bug made wrong is refused as damage, never used because it was ours.
    if (!known.checked) {
      checkState(known.state, true);
      known.checked = true;
    }
    return known.state;
  }
  const state = checkState(JSON.parse(Buffer.from(bytes).toString('utf8')));
  remember(bytes, state, true);
  return state;
};

/**
 * The last state documents read or written, with the state each holds (copies of the bytes: a
 * caller's buffer may change). A document written is remembered with the state it was made
 * from: its bytes are that state's JSON, what a parse of them would give.
 */
const recent: { readonly bytes: Buffer; readonly state: TruststoreState; checked: boolean }[] = [];
const remember = (bytes: Uint8Array, state: TruststoreState, checked: boolean) => {
  recent.unshift({ bytes: Buffer.from(bytes), state, checked });
  recent.length = Math.min(recent.length, 4);
};

/**
 * The state document: the bytes of `JSON.stringify(state, null, 1)`, made with each entry's JSON kept from
 * the last time that entry was written (entries are immutable, and they are most of the
 * document: a batch writes the state more than once, and most entries stay from one write to
 * the next).
 */
export const serializeState = (state: TruststoreState): Uint8Array => {
  // A seal of the state read is replaced (its entries may have changed since), or left out.
  const { seal, signatures } = sealFor(state);
  const text = JSON.stringify(
    {
      ...state,
      entries: ENTRIES_MARK,
      entriesSeal: seal,
      signatures: seal === undefined ? undefined : signatures,
    },
    null,
    1,
  );
  // The entries' place: the top-level key, one space in (a field of a state edited by hand may hold
  // the mark's text too, but never as the value of a top-level "entries").
  const found = text.indexOf(ENTRIES_AT);
  if (found < 0) throw new Error('state document: no place for the entries');
  const at = found + ENTRIES_AT.length - MARK_JSON.length;
  const parts: Buffer[] = [Buffer.from(text.slice(0, at))];
  if (state.entries.length === 0) parts.push(Buffer.from('[]'));
  else {
    state.entries.forEach((e, i) => {
      parts.push(i === 0 ? FIRST : NEXT, entryJson(e));
    });
    parts.push(LAST);
  }
  parts.push(Buffer.from(`${text.slice(at + MARK_JSON.length)}\n`));
  const bytes = Buffer.concat(parts);
  recent.unshift({ bytes, state, checked: false });
  recent.length = Math.min(recent.length, 4);
  // A copy of its own: the one remembered is never handed out.
  return new Uint8Array(bytes);
};

/**
 * The seal of the state's entries and removed entries (see `sealOf`), or undefined when one of them
 * cannot be vouched for: an entry is vouched for when this process holds its certificate parsed
 * (made from it, or checked against it on reading) and its fingerprint and fields are that
 * certificate's, or when a seal vouched for it on reading and its fields are still the ones it
 * vouched. Each entry's line is taken when its JSON is (both once per entry object: what the
 * document holds is what is sealed). Kept per pair of lists: a batch writes the same lists more
 * than once.
 */
const sealFor = (state: TruststoreState): { readonly seal?: string; readonly signatures?: string } => {
  const removed = state.removedEntries ?? NONE_REMOVED;
  let kept = seals.get(state.entries);
  if (kept?.removed !== removed) {
    const lines = state.entries.map(vouchedLine);
    const removedLines = removed.map(vouchedLine);
    const all = [...state.entries, ...removed];
    kept =
      lines.includes(undefined) || removedLines.includes(undefined)
        ? { removed }
        : {
            removed,
            seal: sealOfLines(lines as string[], removedLines as string[]),
            positions: new Map(all.map((e, i) => [e.fingerprint, i])),
          };
    seals.set(state.entries, kept);
  }
  if (!kept.positions || !kept.seal) return {};
  // The answers are taken at each write (the index verifies signatures between two writes), the
  // seal made again only when they changed.
  const answers = signatureAnswers(kept.positions);
  if (kept.last?.answers !== answers) {
    // Good signatures only: a check that failed may have failed for this machine alone.
    const signatures = answers.flatMap(([cert, issuer, ok]) => (ok ? [`${cert}>${issuer}`] : [])).join(' ');
    kept.last = { answers, signatures, seal: kept.seal(signatures) };
  }
  return { seal: kept.last.seal, signatures: kept.last.signatures };
};
const NONE_REMOVED: readonly Entry[] = [];
const seals = new WeakMap<
  readonly Entry[],
  {
    readonly removed: readonly Entry[];
    readonly seal?: (signatures: string) => string;
    readonly positions?: ReadonlyMap<string, number>;
    last?: { readonly answers: unknown; readonly signatures: string; readonly seal: string };
  }
>();

/** An entry's seal line when it is vouched for (see sealFor), once per entry object. */
const vouchedLine = (e: Entry): string | undefined => {
  if (vouched.has(e)) return vouched.get(e);
  const line = sealLine(e);
  const cert = certificates.get(e) ?? parsedEntries.get(e);
  const fields = cert && certificateFields(cert);
  const ok = fields
    ? cert.fingerprint === e.fingerprint && CERTIFICATE_FIELDS.every((f) => e[f] === fields[f])
    : sealedEntries.get(e) === line;
  const answer = ok ? line : undefined;
  vouched.set(e, answer);
  return answer;
};
const vouched = new WeakMap<Entry, string | undefined>();

/** Stands for the entries while the rest of the state is stringified (no entry can hold it). */
const ENTRIES_MARK = '\u0000entries\u0000';
const MARK_JSON = JSON.stringify(ENTRIES_MARK);
const ENTRIES_AT = `\n "entries": ${MARK_JSON}`;
/** How JSON.stringify(state, null, 1) opens, separates and closes the entries (at depth 1). */
const FIRST = Buffer.from('[\n  ');
const NEXT = Buffer.from(',\n  ');
const LAST = Buffer.from('\n ]');
const entryJsons = new WeakMap<Entry, Buffer>();
/** An entry as JSON.stringify(state, null, 1) writes it, at depth 2 (UTF-8). */
const entryJson = (e: Entry): Buffer => {
  let json = entryJsons.get(e);
  if (json === undefined) {
    // Every line after the first two spaces further in (JSON strings hold no newline).
    json = Buffer.from(JSON.stringify(e, null, 1).replace(/\n/g, '\n  '));
    entryJsons.set(e, json);
  }
  return json;
};

export const entryOf = (
  cert: Certificate,
  provenance: Pick<Entry, 'partner' | 'upload' | 'addedAt' | 'findings'>,
): Entry => {
  const entry: Entry = {
    fingerprint: cert.fingerprint,
    ...certificateFields(cert),
    ...provenance,
    pem: toPem(cert.der),
  };
  certificates.set(entry, cert);
  // A state read later that holds this CA compares its fields with this certificate.
  rememberParsed(entry.fingerprint, entry.pem, cert);
  return entry;
};

/** The certificate of each entry made in this process: its PEM is that certificate's DER. */
const certificates = new WeakMap<Entry, Certificate>();

/** An entry's certificate if this process holds it parsed already (made or checked here), else undefined. */
export const parsedCertificateOf = (entry: Entry): Certificate | undefined =>
  certificates.get(entry) ?? parsedEntries.get(entry);

/** An entry's certificate, parsed from its PEM unless the entry was made from it here. */
export const certificateOf = (entry: Entry): Certificate => {
  let cert = certificates.get(entry);
  if (!cert) {
    cert = parsedEntries.get(entry);
    if (!cert) {
      cert = parseCertificate(pemToDer(entry.pem));
      rememberParsed(entry.fingerprint, entry.pem, cert);
    }
    certificates.set(entry, cert);
  }
  return cert;
};

/** Entries grouped by canonical subject name, for issuer lookups without parsing certificates. */
export const entriesBySubject = (entries: readonly Entry[]): Map<string, Entry[]> => {
  const map = new Map<string, Entry[]>();
  for (const e of entries) {
    const list = map.get(e.subjectKey);
    if (list) list.push(e);
    else map.set(e.subjectKey, [e]);
  }
  return map;
};

/** The truststore object for a state: deterministic, so the same set renders the same bytes. */
export const renderState = (entries: readonly Entry[]): string => renderBlocks(entries);

/** A published revision named by its version id or its revision number. */
export const findPublished = (state: TruststoreState, ref: string): Revision | undefined =>
  state.history.find((r) => r.version !== undefined && (r.version === ref || String(r.revision) === ref));

/**
 * Explains a revision that was never published, for commands that need a published one: which
 * revision carries its changes, and what to use instead. Undefined for a published revision or
 * one this store does not know.
 */
export const unpublishedNote = (state: TruststoreState, ref: string): string | undefined => {
  const r = state.history.find((h) => String(h.revision) === ref);
  if (!r || r.version) return undefined;
  if (r.supersededBy !== undefined) {
    const by = state.history.find((h) => h.revision === r.supersededBy);
    return `revision ${r.revision} was never published: its changes were published with revision ${r.supersededBy}${by?.version ? ` (version ${by.version})` : ''}, which superseded it`;
  }
  if (r.lostVersion)
    return `revision ${r.revision} was published as version ${r.lostVersion}, which is missing from the store (marked lost by trustroll repair)`;
  return `revision ${r.revision} is not published yet`;
};

/**
 * The latest revision when it is committed but has no truststore version (a run stopped, or its
 * write failed, between the commit and the publish): what the next writing command, or repair,
 * publishes. Until then the latest published version is not what the store holds.
 */
export const pendingRevision = (state: TruststoreState): Revision | undefined => {
  const last = state.history.at(-1);
  return last && last.revision === state.revision && last.version === undefined ? last : undefined;
};

/** The latest published revision (with a version id), if any. */
export const latestPublished = (state: TruststoreState): Revision | undefined =>
  [...state.history].reverse().find((r) => r.version !== undefined);

export const keepLast = <T>(record: Readonly<Record<string, T>>, max: number): Record<string, T> => {
  const entries = Object.entries(record);
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
};
