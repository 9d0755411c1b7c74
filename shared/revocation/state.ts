/**
 * What trustroll holds about revocation, kept in the state document beside the entries (one
 * compare-and-set covers a CRL and the upload that brought it). The revoked serials themselves
 * are not in the state: each accepted CRL's serials are an immutable record set at
 * `revocation/serials/<sha256>.bin` (what was understood of it; the CRL's bytes are not kept),
 * and the published index joins them.
 */
/** Where revocation objects live in the store. */
export const REVOCATION_KEYS = {
  index: 'revocation/index.trx',
  serials: 'revocation/serials/',
} as const;

export const serialsKey = (sha256: string): string => `${REVOCATION_KEYS.serials}${sha256}.bin`;

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
