import { createHash } from 'node:crypto';
import { ConflictError } from '../errors.js';
import type { Finding } from '../finding.js';
import type { Certificate } from '../pki/certificate.js';
import type { Notification, ObjectStore } from '../ports.js';
import {
  type CrlJudgement,
  CrlReadError,
  type HeldCrl,
  heldCrl,
  judgeCrl,
  type RevocationList,
  readRevocationLists,
  scopeKey,
} from '../revocation/crl.js';
import { reasonCode, toRecords } from '../revocation/records.js';
import {
  crlKey,
  crlPemKey,
  crlToPem,
  type HeldCrlRecord,
  type RevocationState,
  serialsKey,
} from '../revocation/state.js';
import { certificateOf, type TruststoreState } from '../truststore/state.js';
import { describeFindings, notification } from './notifications.js';
import { removedAt, retiredEntries, retiredUntil, revocationOf, sameCa } from './revocation.js';
import type { UploadKey } from './upload-key.js';

/**
 * CRLs dropped into `inbox/<partner>/crl/`: read, judged against the truststore's CAs (and the
 * CAs this batch admits), and, once accepted, kept as what was understood of them — a record
 * set of their revoked serials, their metadata in the state, and the verified CRL itself as PEM
 * (for ELB trust stores, which check the CA's signature) — never as the upload's bytes. The
 * ingest run treats them as uploads like any other: one outcome each, reported, alerted,
 * destroyed in the inbox once judged.
 */

/** The inbox folder of a partner's CRLs. */
export const CRL_FOLDER = 'crl/';

/** CRLs are larger than CA bundles: ALB takes 50 MB per CRL file; the same here by default. */
export const DEFAULT_MAX_CRL_BYTES = 50 * 1024 * 1024;

export const isCrlUpload = (upload: UploadKey | undefined): boolean =>
  upload?.path.startsWith(CRL_FOLDER) === true;

export interface CrlRead {
  readonly lists?: readonly RevocationList[];
  /** Why nothing could be used (`crl.unparseable`). */
  readonly error?: Finding;
}

export const readCrlUpload = (bytes: Uint8Array, key: string): CrlRead => {
  try {
    return { lists: readRevocationLists(bytes, key) };
  } catch (error) {
    if (!(error instanceof CrlReadError)) throw error;
    return { error: { code: error.code, severity: 'error', message: error.message, source: key } };
  }
};

/** One accepted CRL, ready to be written (its record set) and committed (its record). */
export interface AcceptedCrl {
  readonly key: string;
  readonly record: HeldCrlRecord;
  readonly records: Uint8Array;
  /** The CRL's DER (signature checked, parsed in full), kept as PEM at `crlPemKey(record.sha256)`. */
  readonly der: Uint8Array;
  /** The same CRL as the one held: nothing to write or change. */
  readonly unchanged: boolean;
  /** Keys of CRLs held for the same CA under an earlier certificate of it (renewed, same name and key). */
  readonly replaces: readonly string[];
}

export interface CrlDecision {
  readonly accepted: boolean;
  readonly judgements: readonly CrlJudgement[];
  readonly findings: readonly Finding[];
  readonly crls: readonly AcceptedCrl[];
}

/**
 * Judges the CRL uploads of a batch, in order: each against the truststore's CAs plus `admitted`
 * (the CAs this batch accepts: a partner may send a CA and its CRL together) and against the CRL
 * held for its issuer and scope — or one accepted earlier in the batch. An upload is accepted
 * only when every CRL in it is.
 */
export const judgeCrlUploads = (
  uploads: readonly {
    readonly id: string;
    readonly read: CrlRead;
    readonly upload: UploadKey;
    readonly version: string;
  }[],
  state: TruststoreState,
  admitted: readonly Certificate[],
  now: Date,
): Map<string, CrlDecision> => {
  const cas = [...state.entries.map((e) => certificateOf(e)), ...admitted];
  const partnerOf = new Map(state.entries.map((e) => [e.fingerprint, e.partner]));
  const rev = revocationOf(state);
  // A CA renewed through replace/ (same name and key, a new certificate) is the same CA: what is
  // held for its earlier certificate (its CRLs, their numbers for replay) holds for the new one.
  const same = sameCa(state);
  const heldFor = (issuer: string, scope: string): HeldCrlRecord | undefined =>
    Object.values(rev.crls)
      .filter((c) => c.scope === scope && same(c.issuer, issuer))
      .sort((a, b) => a.thisUpdate.localeCompare(b.thisUpdate))
      .at(-1);
  const batch = new Map<string, HeldCrlRecord>();
  const decisions = new Map<string, CrlDecision>();
  for (const u of uploads) {
    if (u.read.error || !u.read.lists) {
      const findings = u.read.error ? [u.read.error] : [];
      decisions.set(u.id, { accepted: false, judgements: [], findings, crls: [] });
      continue;
    }
    // Each CRL of a file is judged against the ones before it in the file too: a file holding a
    // newer and then an older CRL of one CA is a replay, not "the last one wins".
    const earlier = new Map<string, HeldCrl>();
    const held = (issuer: string, scope: string): HeldCrl | undefined => {
      const key = crlKey(issuer, scope);
      const before = earlier.get(key);
      if (before) return before;
      const h = batch.get(key) ?? heldFor(issuer, scope);
      return h
        ? { ...(h.number ? { number: h.number } : {}), thisUpdate: h.thisUpdate, sha256: h.sha256 }
        : undefined;
    };
    const judgements = u.read.lists.map((list) => {
      const j = judgeCrl(list, cas, held, now);
      if (!j.issuer) return retiredIssuer(j, state, now);
      earlier.set(crlKey(j.issuer.fingerprint, scopeKey(list.scope)), {
        ...heldCrl(list),
        earlierInFile: true,
      });
      // A CRL of another partner's CA changes that partner's revocations: it comes from its own folder.
      const owner = partnerOf.get(j.issuer.fingerprint);
      if (owner === undefined || owner === u.upload.partner) return j;
      // The first reason given (the alert's headline): the folder is wrong whatever else is.
      return {
        ...j,
        findings: [
          {
            code: 'crl.other-partner',
            severity: 'error' as const,
            message: `The CRL of "${j.list.issuer.text}" was signed by another partner's CA (sha256 ${j.issuer.fingerprint.slice(0, 16)}…), not one of ${u.upload.partner}'s: it belongs in that partner's own crl/ folder (each partner's revocations come from its own folder, and its alerts go to it; trustroll status shows whose CA it is). If that CA is ${u.upload.partner}'s and the other partner uploaded it first, an operator must remove it from that partner (trustroll remove --fingerprint ${j.issuer.fingerprint}); then upload the CA to inbox/${u.upload.partner}/ and this CRL again.`,
            source: j.list.source ?? u.upload.key,
          },
          ...j.findings,
        ],
      };
    });
    const findings = judgements.flatMap((j) => j.findings);
    const accepted = findings.every((f) => f.severity !== 'error' && f.severity !== 'critical');
    const crls: AcceptedCrl[] = [];
    if (accepted) {
      for (const j of judgements) {
        const issuer = j.issuer!;
        const scope = scopeKey(j.list.scope);
        const key = crlKey(issuer.fingerprint, scope);
        const before = batch.get(key) ?? heldFor(issuer.fingerprint, scope);
        const records = toRecords(
          j.list.entries.map((e) => ({ serial: e.serial, reason: reasonCode(e.reason) })),
        );
        const kept = heldCrl(j.list);
        const record: HeldCrlRecord = {
          issuer: issuer.fingerprint,
          scope,
          uris: [...(j.list.scope?.uris ?? [])],
          onlyUser: j.list.scope?.onlyUser ?? false,
          onlyCA: j.list.scope?.onlyCA ?? false,
          ...(kept.number === undefined ? {} : { number: kept.number }),
          thisUpdate: kept.thisUpdate,
          ...(j.list.nextUpdate ? { nextUpdate: j.list.nextUpdate.toISOString() } : {}),
          sha256: kept.sha256,
          serials: createHash('sha256').update(records).digest('hex'),
          entries: records.length / 22,
          // Alerts about it go to the partner whose CA signed it.
          partner: partnerOf.get(issuer.fingerprint) ?? u.upload.partner,
          upload: { key: u.upload.key, version: u.version },
          acceptedAt: now.toISOString(),
        };
        const unchanged = before?.sha256 === record.sha256;
        if (!unchanged) batch.set(key, record);
        const replaces = Object.keys(rev.crls).filter(
          (k) => k !== key && rev.crls[k]!.scope === scope && same(rev.crls[k]!.issuer, issuer.fingerprint),
        );
        crls.push({
          key,
          record,
          records,
          der: j.list.der,
          unchanged: unchanged && replaces.length === 0,
          replaces,
        });
      }
    }
    decisions.set(u.id, { accepted, judgements, findings, crls });
  }
  return decisions;
};

/**
 * A CRL whose issuer is a CA removed in the last days says so: the index still lets that CA's
 * clients in (`ca.retired`, targets may still serve a version with it) and takes no CRL of it,
 * so the way to revoke one of them meanwhile is by hand.
 */
const retiredIssuer = (j: CrlJudgement, state: TruststoreState, now: Date): CrlJudgement => {
  const unknown = j.findings.findIndex((f) => f.code === 'crl.issuer-unknown');
  if (unknown < 0) return j;
  const retired = retiredEntries(state, now).find((e) => e.subjectKey === j.list.issuer.key);
  if (!retired) return j;
  const until = retiredUntil(state, retired.fingerprint);
  const findings = [...j.findings];
  findings[unknown] = {
    ...findings[unknown]!,
    message: `${j.list.issuer.text} was removed from the truststore on ${removedAt(state, retired.fingerprint).slice(0, 10)}, so its CRL is not taken; but until ${until.slice(0, 10)} the index still lets its clients in (ca.retired: a target may still serve a version that trusts it). To deny one of them meanwhile, revoke it by hand: trustroll revoke --cert <client.pem> --reason <why>.`,
  };
  return { ...j, findings };
};

/**
 * Writes the record sets of accepted CRLs and the CRLs as PEM (before the commit: the state only
 * points at them). The PEM is written once: its key is its SHA-256, and a CRL already kept is
 * left as it is (an ELB trust store may name its S3 object version).
 */
export const writeCrlRecords = async (store: ObjectStore, decision: CrlDecision): Promise<void> => {
  // The same CRL again writes its record set again too: it mends one deleted by hand.
  for (const c of decision.crls) {
    await store.put(serialsKey(c.record.serials), c.records, { contentType: 'application/octet-stream' });
    try {
      await store.put(crlPemKey(c.record.sha256), new TextEncoder().encode(crlToPem(c.der)), {
        ifNoneMatch: '*',
        contentType: 'application/pkix-crl',
      });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
};

/** The revocation state with the accepted CRLs of a batch, or `undefined` when none changes it. */
export const withCrls = (
  rev: RevocationState,
  decisions: readonly CrlDecision[],
): RevocationState | undefined => {
  const changed = decisions.flatMap((d) => (d.accepted ? d.crls.filter((c) => !c.unchanged) : []));
  if (changed.length === 0) return undefined;
  const crls = { ...rev.crls };
  for (const c of changed) {
    for (const old of c.replaces) delete crls[old];
    crls[c.key] = c.record;
  }
  return { ...rev, crls, generation: rev.generation + 1 };
};

/** What the upload's report says about its CRLs. */
export const crlSummary = (d: CrlDecision) =>
  d.judgements.map((j) => ({
    issuer: j.list.issuer.text,
    ...(j.issuer ? { issuerSha256: j.issuer.fingerprint } : {}),
    ...(j.list.number === undefined ? {} : { number: j.list.number.toString() }),
    thisUpdate: j.list.thisUpdate.toISOString(),
    ...(j.list.nextUpdate ? { nextUpdate: j.list.nextUpdate.toISOString() } : {}),
    revoked: j.list.entries.length,
    ...(j.list.scope ? { scope: j.list.scope.uris } : {}),
    sha256: j.list.sha256,
  }));

export const crlNotification = (
  id: string,
  upload: UploadKey,
  d: CrlDecision,
  extra: readonly Finding[],
): Notification => {
  const lists = crlSummary(d);
  if (d.accepted) {
    const unchanged = d.crls.every((c) => c.unchanged);
    const warnings = d.findings.filter((f) => f.severity === 'warning');
    return notification(
      'crl.accepted',
      warnings.some((w) => w.code !== 'crl.unchanged') ? 'warning' : 'info',
      id,
      `CRL accepted: ${upload.partner}/${upload.path}`,
      [
        `The CRL upload ${upload.key} from ${upload.partner} was accepted${unchanged ? ' (the same CRL as the one held: nothing changes)' : ''}.`,
        ...lists.map(
          (l) =>
            `- ${l.issuer}${l.number ? `, CRL number ${l.number}` : ''}: ${l.revoked} revoked, issued ${l.thisUpdate.slice(0, 10)}${l.nextUpdate ? `, next update due ${l.nextUpdate.slice(0, 10)}` : ''}${l.scope ? `; a partition: it speaks only for certificates whose CRL distribution point is exactly ${l.scope.length > 0 ? l.scope.join(' or ') : '(none named)'}` : ''}`,
        ),
        '',
        unchanged
          ? 'Nothing to do.'
          : 'The authorizer enforces it once the revocation index is published (with this run) and its next refresh.',
        ...(warnings.length > 0 ? ['', ...describeFindings(warnings)] : []),
      ],
      upload.partner,
    );
  }
  const first = [...extra, ...d.findings].find((f) => f.severity === 'error' || f.severity === 'critical');
  return notification(
    'crl.rejected',
    'error',
    id,
    `CRL rejected: ${upload.partner}/${upload.path} (${first?.code ?? 'error'})`,
    [
      `The CRL upload ${upload.key} from ${upload.partner} was rejected; the revocations held are unchanged.`,
      '',
      'What to do next: fix the problems below and upload the CRL again.',
      '',
      ...describeFindings([...extra, ...d.findings]),
    ],
    upload.partner,
  );
};
