import { createHash } from 'node:crypto';

/**
 * What trustroll holds about revocation, kept in the state document beside the entries (one
 * compare-and-set covers a CRL and the upload that brought it). The revoked serials themselves
 * are not in the state: each accepted CRL's serials are an immutable record set at
 * `revocation/serials/<sha256>.bin`, and the published index joins them. An accepted CRL is also
 * kept as the CA signed it, at `revocation/crls/<sha256 of its DER>.pem`: its DER re-encoded as
 * PEM (`X509 CRL`), written once when it is accepted and never changed. It is what was understood
 * — a CRL whose signature was checked against a truststore CA and that was parsed in full, as a
 * certificate is kept as canonical PEM — and ELB trust stores need it (they check the CA's
 * signature: serials alone cannot be sent). Nothing else of an upload's bytes is kept.
 */
/** Where revocation objects live in the store. */
export const REVOCATION_KEYS = {
  index: 'revocation/index.trx',
  serials: 'revocation/serials/',
  crls: 'revocation/crls/',
} as const;

export const serialsKey = (sha256: string): string => `${REVOCATION_KEYS.serials}${sha256}.bin`;

/** Where an accepted CRL is kept as PEM, by the SHA-256 of its DER (`HeldCrlRecord.sha256`). */
export const crlPemKey = (sha256: string): string => `${REVOCATION_KEYS.crls}${sha256}.pem`;

/** PEM text of one CRL (LF line endings, 64-character lines): what ELB trust stores take. */
export const crlToPem = (der: Uint8Array): string => {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
};

/** One accepted CRL: the newest for its issuer and scope (partition). */
export interface HeldCrlRecord {
  /** Fingerprint of the truststore CA that signed it. */
  readonly issuer: string;
  /** `scopeKey` of its issuingDistributionPoint ('' for a full CRL). */
  readonly scope: string;
  readonly uris: readonly string[];
  readonly onlyUser: boolean;
  readonly onlyCA: boolean;
  /** cRLNumber, decimal. */
  readonly number?: string;
  readonly thisUpdate: string;
  readonly nextUpdate?: string;
  /** SHA-256 of the CRL's DER (a re-upload of the same CRL is recognised). */
  readonly sha256: string;
  /** SHA-256 of its record set (`serialsKey`). */
  readonly serials: string;
  readonly entries: number;
  readonly partner: string;
  readonly upload: { readonly key: string; readonly version: string };
  readonly acceptedAt: string;
}

/** A revocation by hand (`trustroll revoke`), for partners without a CRL and for emergencies. */
export interface ManualRevocation {
  /** Fingerprint of the issuing CA (serials are unique per issuer only). */
  readonly issuer: string;
  readonly serial: string;
  readonly reason: string;
  /** Who asked (`--by`, else the user running the command). */
  readonly by: string;
  readonly at: string;
  /** The revoked certificate's subject and SHA-256, when it was given as a file. */
  readonly subject?: string;
  readonly certSha256?: string;
}

/** Who a partner's clients may be and where they may go; an empty or absent list allows all. */
export interface PartnerRules {
  /** SHA-256 (hex) of allowed client certificates (DER) or of their public keys (SPKI DER). */
  readonly pins?: readonly string[];
  /** Allowed routes: `METHOD /path` (method in capitals) with `*` for one non-empty path segment and `**` for any rest (`GET /orders/*`). */
  readonly routes?: readonly string[];
}

export interface RevocationState {
  /** Increases with every change of what follows: the index built from a higher one is newer. */
  readonly generation: number;
  /** By `<issuer fingerprint>/<scope>`. */
  readonly crls: Readonly<Record<string, HeldCrlRecord>>;
  readonly manual: readonly ManualRevocation[];
  readonly rules: Readonly<Record<string, PartnerRules>>;
  /** Staleness already alerted, by CRL key: the smallest threshold (days before nextUpdate) crossed. */
  readonly staleAlerts?: Readonly<Record<string, { readonly level: number; readonly at: string }>>;
  /**
   * The last change of the CRLs held: the state's revision and generation it was committed with.
   * The CRL sync that gives it to ELB trust stores is named after it, so any run can see whether
   * that sync was started (its record) and start it if a crash stopped the run that committed it.
   */
  readonly crlChange?: { readonly revision: number; readonly generation: number };
}

export const emptyRevocation = (): RevocationState => ({ generation: 0, crls: {}, manual: [], rules: {} });

export const crlKey = (issuer: string, scope: string): string => `${issuer}/${scope}`;

/** What a revocation index is built from: the state's revision, then its revocation generation. */
export interface IndexStamp {
  readonly revision: number;
  readonly generation: number;
}

/** Whether stamp `a` is of a newer state than `b`: readers and writers never step back. */
export const newerStamp = (a: IndexStamp, b: IndexStamp): boolean =>
  a.revision > b.revision || (a.revision === b.revision && a.generation > b.generation);

/** The stamp a published index carries in its metadata (-1 where absent: written before it was recorded). */
export const stampOfMetadata = (metadata: Readonly<Record<string, string>> | undefined): IndexStamp => ({
  revision: Number(metadata?.revision ?? -1),
  generation: Number(metadata?.generation ?? -1),
});

/** The stamp of a state (generation 0 while it holds no revocation). */
export const stampOfState = (state: {
  readonly revision: number;
  readonly revocation?: { readonly generation: number };
}): IndexStamp => ({ revision: state.revision, generation: state.revocation?.generation ?? 0 });

/** JSON with every object's keys sorted: the same content gives the same text, whatever wrote it. */
const canonicalJson = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
};

/** What the state says of the parts of an index that are not the CAs' own bytes. */
export interface IndexSource {
  readonly entries: readonly { readonly fingerprint: string; readonly partner: string }[];
  readonly revocation?: RevocationState;
}

/**
 * SHA-256 of what the revocation index is built from besides the CA certificates themselves: each
 * CA's partner, the CRLs held, the revocations by hand and the partner rules (not `staleAlerts`,
 * which no index holds). Recorded in the index's metadata (`source`) when it is published, so that
 * a writer's HEAD of the index (which it makes anyway) tells whether the state of the same stamp
 * still says what the index was built from; one pass over the entries, no read.
 */
export const indexSourceDigest = (state: IndexSource): string => {
  const rev = state.revocation ?? emptyRevocation();
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const hash = createHash('sha256');
  hash.update(
    state.entries
      .map((e) => `${e.fingerprint} ${e.partner}`)
      .sort(byText)
      .join('\n'),
  );
  // Fields in a fixed order (what the index takes from each), not generic canonical JSON: at
  // 1,000 CAs, CRLs and revocations by hand this is ~2 ms where a generic walk took ~20 ms.
  const crls = Object.keys(rev.crls)
    .sort(byText)
    .map((key) => {
      const c = rev.crls[key]!;
      return JSON.stringify([
        key,
        c.issuer,
        c.scope,
        c.uris,
        c.onlyUser,
        c.onlyCA,
        c.number ?? null,
        c.thisUpdate,
        c.nextUpdate ?? null,
        c.serials,
        c.entries,
        c.partner,
        c.upload?.key ?? null,
      ]);
    });
  const manual = rev.manual
    .map((m) =>
      JSON.stringify([m.issuer, m.serial, m.reason, m.by, m.at, m.subject ?? null, m.certSha256 ?? null]),
    )
    .sort(byText);
  hash.update(`\n${crls.join('\n')}\n${manual.join('\n')}\n${canonicalJson(rev.rules)}`);
  return hash.digest('hex');
};

const manualKey = (m: ManualRevocation) => `${m.issuer}|${m.serial}`;

/**
 * Where an index's header and the state of the same stamp disagree on what the index takes from
 * the state (the revocations by hand, the partner rules, each CA's partner), one phrase each;
 * empty when they agree. Compares the header already parsed, no read.
 */
export const indexDisagreement = (
  header: {
    readonly cas: readonly {
      readonly fingerprint: string;
      readonly subject: string;
      readonly partner: string;
      readonly retired?: true;
    }[];
    readonly manual: readonly ManualRevocation[];
    readonly rules: Readonly<Record<string, PartnerRules>>;
  },
  state: IndexSource,
): string[] => {
  const rev = state.revocation ?? emptyRevocation();
  const out: string[] = [];
  const mine = new Map(rev.manual.map((m) => [manualKey(m), canonicalJson(m)]));
  const theirs = new Map(header.manual.map((m) => [manualKey(m), canonicalJson(m)]));
  const serialOf = (k: string) => `serial ${k.split('|')[1]} of CA ${k.split('|')[0]!.slice(0, 16)}…`;
  const onlyIndex = [...theirs.keys()].filter((k) => !mine.has(k));
  const onlyState = [...mine.keys()].filter((k) => !theirs.has(k));
  const changed = [...mine.keys()].filter((k) => theirs.has(k) && theirs.get(k) !== mine.get(k));
  if (onlyIndex.length > 0)
    out.push(
      `the index holds ${onlyIndex.length} revocation(s) by hand the state lacks (${onlyIndex.map(serialOf).join(', ')})`,
    );
  if (onlyState.length > 0)
    out.push(
      `the state holds ${onlyState.length} revocation(s) by hand the index lacks (${onlyState.map(serialOf).join(', ')})`,
    );
  if (changed.length > 0)
    out.push(
      `${changed.length} revocation(s) by hand differ in their details (${changed.map(serialOf).join(', ')})`,
    );
  const partners = [...new Set([...Object.keys(rev.rules), ...Object.keys(header.rules)])].sort();
  const rulesDiffer = partners.filter(
    (p) => canonicalJson(rev.rules[p] ?? null) !== canonicalJson(header.rules[p] ?? null),
  );
  if (rulesDiffer.length > 0) out.push(`the rules of partner(s) ${rulesDiffer.join(', ')} differ`);
  const partnerOf = new Map(state.entries.map((e) => [e.fingerprint, e.partner]));
  const cas = new Set(header.cas.map((c) => c.fingerprint));
  for (const ca of header.cas) {
    // A CA removed recently stays in the index while targets may still trust it (not damage).
    if (ca.retired) continue;
    const p = partnerOf.get(ca.fingerprint);
    if (p === undefined)
      out.push(
        `the index holds ${ca.subject} (sha256 ${ca.fingerprint.slice(0, 16)}…), which the state does not`,
      );
    else if (p !== ca.partner)
      out.push(
        `the index gives ${ca.subject} (sha256 ${ca.fingerprint.slice(0, 16)}…) to partner ${ca.partner}, the state to ${p}`,
      );
  }
  const missing = state.entries.filter((e) => !cas.has(e.fingerprint)).length;
  if (missing > 0) out.push(`the index lacks ${missing} CA(s) of the state`);
  return out;
};
