import { createHash, createPublicKey } from 'node:crypto';
import { bitStringBytes, children, readSingle } from '../pki/der.js';
import { IssuerIndex } from '../truststore/issuer-index.js';
import { certificateOf, type Entry } from '../truststore/state.js';
import { covers } from './coverage.js';
import { findSerial, MANUAL, mergeRecords, RECORD, reasonName, serialKey, toRecords } from './records.js';
import { type ManualRevocation, newerStamp, type PartnerRules, type RevocationState } from './state.js';

/**
 * The revocation index: what the authorizer (and `trustroll authorize`, and the local endpoint)
 * needs to decide about a client certificate, published beside every truststore version.
 *
 * Layout: the 8 bytes `TRXIDX2\n`, the header's length (uint32, big-endian), the header (JSON:
 * the CAs with their partner and issuer, the CRLs each CA issued, manual revocations, partner
 * rules), then tables of revoked-serial records (`records.ts`): one per CRL that lists any, and
 * one per CA for its manual revocations. A CRL's serials count only for the certificates its scope
 * covers (a partition's serials are not another partition's), so each CRL keeps its own table.
 * Loading parses the header only; the tables stay one buffer, searched in place.
 *
 * Version 1 (`TRXIDX1`) merged a CA's CRLs into one table, which applied a partition's serials
 * to every client of the CA; it is not read (a store holding one has it republished by `repair`).
 */
export const MAGIC = Buffer.from('TRXIDX2\n', 'latin1');

/** A table of revoked-serial records in the index's tables: first record and count. */
export interface IndexTable {
  readonly offset: number;
  readonly count: number;
}

export interface IndexCrl {
  readonly scope: string;
  readonly uris: readonly string[];
  readonly onlyUser: boolean;
  readonly onlyCA: boolean;
  readonly thisUpdate: string;
  readonly nextUpdate?: string;
  readonly number?: string;
  readonly entries: number;
  /** The upload it came from. */
  readonly source: string;
  /** Its revoked serials; absent when it lists none. */
  readonly table?: IndexTable;
}

export interface IndexCa {
  readonly fingerprint: string;
  readonly subject: string;
  readonly subjectKey: string;
  readonly ski?: string;
  /** The public key (SPKI DER, base64), only for CAs that share their subject with another CA. */
  readonly spki?: string;
  readonly partner: string;
  readonly notAfter: string;
  /** Position of its issuing CA in `cas`; absent for a root (or an issuer the truststore lacks). */
  readonly issuer?: number;
  /** Listed as revoked by its issuer (CRL or manual): every client under it is denied. */
  readonly revoked?: { readonly reason?: string; readonly source: string };
  /** Positions in its issuer's `crls` of the CRLs that cover this CA. */
  readonly coveredBy?: readonly number[];
  /** The CRLs this CA issued, one per scope (partition). */
  readonly crls: readonly IndexCrl[];
  /** Its table of serials revoked by hand (`trustroll revoke`); its CRLs' are in `crls[].table`. */
  readonly table?: IndexTable;
  /**
   * Fingerprints of earlier certificates of this CA (the same name and key, renewed through
   * `replace/`) whose manual revocations its table carries: `manual` names them by those.
   */
  readonly renews?: readonly string[];
  /**
   * Removed from the truststore recently (a version without it was published, but targets may
   * still serve one with it: a canary rolled back, a wave not reached yet). Its clients are decided
   * as before its removal; the handshake of a target that no longer trusts it refuses them anyway.
   */
  readonly retired?: true;
  /** When a retired CA stops counting (its removal plus the retirement days): after it, unknown. */
  readonly retiredUntil?: string;
}

export interface IndexHeader {
  readonly schema: 2;
  /** The state revision it was built from, and the truststore it speaks for. */
  readonly revision: number;
  /**
   * The state's revocation generation (each revoke, unrevoke, rules change or CRL adds one): with
   * the revision, orders indexes, so that a reader never steps back to an older one. Absent in
   * indexes written before it was recorded.
   */
  readonly generation?: number;
  readonly truststoreSha256: string;
  readonly builtAt: string;
  readonly cas: readonly IndexCa[];
  readonly manual: readonly ManualRevocation[];
  readonly rules: Readonly<Record<string, PartnerRules>>;
  /**
   * Keys (`keyDigest`) of CAs revoked for a reason against the key, per partner: a client
   * certificate of one of them, of that partner, is revoked at the door. Absent when none.
   */
  readonly revokedKeys?: readonly {
    readonly partner: string;
    /** `keyDigest` of the key. */
    readonly keySha256: string;
    readonly reason?: string;
    readonly source: string;
  }[];
  /** Revoked entries over all tables. */
  readonly revoked: number;
}

export interface IndexInput {
  readonly entries: readonly Entry[];
  readonly revocation: RevocationState;
  /** The record set of an accepted CRL, by its SHA-256 (read from the store beforehand). */
  readonly serials: (sha256: string) => Uint8Array;
  /** Whether a recorded issuer fingerprint is this CA (a renewal of it counts). Default: equal. */
  readonly same?: (recorded: string, ca: string) => boolean;
  /** CAs removed recently, kept in the index (flagged `retired`) while targets may still trust them. */
  readonly retired?: readonly Entry[];
  /**
   * Public keys of CAs revoked by their issuer that are no longer in the index (a renewal replaced
   * them), by `revokedKeyOf` (partner and SPKI): a CA of that partner in the index with one of these
   * keys is revoked too.
   */
  readonly revokedKeys?: ReadonlyMap<string, { readonly reason?: string; readonly source: string }>;
  /** Until when each retired CA (by fingerprint) counts; the door treats it as unknown after that. */
  readonly retiredUntil?: ReadonlyMap<string, string>;
  readonly revision: number;
  readonly truststoreSha256: string;
  readonly builtAt: string;
}

/** CRL reasons that say nothing against the CA's key: another certificate of that key stays good. */
export const KEY_GOOD: ReadonlySet<string> = new Set([
  'superseded',
  'cessationOfOperation',
  'affiliationChanged',
  'privilegeWithdrawn',
  'certificateHold',
]);

/** The content of a SubjectPublicKeyInfo's BIT STRING (the key itself, e.g. RSAPublicKey). */
const bitStringOf = (spki: Uint8Array): Uint8Array =>
  bitStringBytes(children(readSingle(spki))[1]!, 'subjectPublicKey');

const digests = new WeakMap<Uint8Array, string>();

/**
 * SHA-256 (hex) of a public key in one canonical form, whatever its encoding in the certificate:
 * an EC point compressed or not, the same key (its JWK: kty, crv, x, y / n, e / x). A key Node
 * cannot read is taken by its SPKI bytes.
 */
export const keyDigest = (spki: Uint8Array): string => {
  let digest = digests.get(spki);
  if (digest === undefined) {
    let canonical: string;
    try {
      const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      // RSASSA-PSS names the same RSA key under another algorithm (and Node writes no JWK of it).
      const jwk = (
        key.asymmetricKeyType === 'rsa-pss'
          ? createPublicKey({ key: Buffer.from(bitStringOf(spki)), format: 'der', type: 'pkcs1' })
          : key
      ).export({ format: 'jwk' });
      canonical = JSON.stringify([jwk.kty, jwk.crv, jwk.x, jwk.y, jwk.n, jwk.e]);
    } catch {
      canonical = `spki:${Buffer.from(spki).toString('base64')}`;
    }
    digest = createHash('sha256').update(canonical).digest('hex');
    digests.set(spki, digest);
  }
  return digest;
};

/** The key of `revokedKeys`: a partner's public key (its canonical digest). */
export const revokedKeyOf = (partner: string, spki: Uint8Array): string => `${partner}|${keyDigest(spki)}`;

/** The record set of a CA with nothing revoked by hand. */
const NO_RECORDS = Buffer.alloc(0);

/** Builds the index bytes. Deterministic: the same input gives the same bytes. */
export const buildIndex = (input: IndexInput): Uint8Array => {
  const held = new Set(input.entries.map((e) => e.fingerprint));
  const retired = (input.retired ?? []).filter((e) => !held.has(e.fingerprint));
  const entries = [...input.entries, ...retired];
  const certs = entries.map((e) => certificateOf(e));
  const issuers = new IssuerIndex(certs);
  const position = new Map(certs.map((c, i) => [c, i]));
  const bySubject = new Map<string, number>();
  for (const c of certs) bySubject.set(c.subject.key, (bySubject.get(c.subject.key) ?? 0) + 1);

  // Each CA's CRLs (sorted by scope) and its table: its CRLs' records and its manual revocations.
  const crlsOf = new Map<string, (IndexCrl & { serials: string })[]>();
  for (const held of Object.values(input.revocation.crls)) {
    const list = crlsOf.get(held.issuer) ?? [];
    list.push({
      scope: held.scope,
      uris: held.uris,
      onlyUser: held.onlyUser,
      onlyCA: held.onlyCA,
      thisUpdate: held.thisUpdate,
      ...(held.nextUpdate ? { nextUpdate: held.nextUpdate } : {}),
      ...(held.number ? { number: held.number } : {}),
      entries: held.entries,
      source: held.upload.key,
      serials: held.serials,
    });
    crlsOf.set(held.issuer, list);
  }
  const manualOf = new Map<string, ManualRevocation[]>();
  for (const m of input.revocation.manual) manualOf.set(m.issuer, [...(manualOf.get(m.issuer) ?? []), m]);

  const tables: Buffer[] = [];
  let offset = 0;
  let revoked = 0;
  /** Appends a sorted record set to the tables; where it stands, or undefined when it is empty. */
  const place = (table: Buffer): IndexTable | undefined => {
    const count = table.length / RECORD;
    if (count === 0) return undefined;
    tables.push(table);
    const at = { offset, count };
    offset += count;
    return at;
  };
  const same = input.same ?? ((a: string, b: string) => a === b);
  const partial = certs.map((cert, i) => {
    const entry = entries[i]!;
    // Most CAs have no CRL and no revocation by hand: nothing to look through for them.
    const mine = <T>(by: Map<string, T[]>) =>
      by.size === 0 ? [] : [...by].flatMap(([fp, list]) => (same(fp, cert.fingerprint) ? list : []));
    const held = mine(crlsOf).sort((a, b) => a.scope.localeCompare(b.scope));
    const sets = held.map((c) => mergeRecords([input.serials(c.serials)]));
    const crls = held.map(({ serials: _, ...c }, j) => {
      const table = place(sets[j]!);
      return { ...c, ...(table ? { table } : {}) };
    });
    const byHand = mine(manualOf);
    const manualRecords =
      byHand.length === 0 ? NO_RECORDS : toRecords(byHand.map((m) => ({ serial: m.serial, reason: MANUAL })));
    const renews =
      manualOf.size === 0
        ? []
        : [...manualOf.keys()].filter((fp) => fp !== cert.fingerprint && same(fp, cert.fingerprint)).sort();
    const table = place(manualRecords);
    // A serial on several of its CRLs (or also revoked by hand) is one revoked certificate.
    revoked +=
      sets.length === 0
        ? manualRecords.length / RECORD
        : mergeRecords([manualRecords, ...sets]).length / RECORD;
    const link = issuers.issuerOf(cert);
    const ca: IndexCa & { crls: IndexCrl[] } = {
      fingerprint: cert.fingerprint,
      subject: cert.subject.text,
      subjectKey: cert.subject.key,
      ...(cert.subjectKeyId ? { ski: cert.subjectKeyId } : {}),
      ...((bySubject.get(cert.subject.key) ?? 0) > 1
        ? { spki: Buffer.from(cert.publicKey.spki).toString('base64') }
        : {}),
      partner: entry.partner,
      notAfter: cert.notAfter.toISOString(),
      ...(link.kind === 'issuer' ? { issuer: position.get(link.issuer)! } : {}),
      crls,
      ...(table ? { table } : {}),
      ...(renews.length > 0 ? { renews } : {}),
      ...(i >= input.entries.length
        ? {
            retired: true as const,
            ...(input.retiredUntil?.get(cert.fingerprint)
              ? { retiredUntil: input.retiredUntil.get(cert.fingerprint)! }
              : {}),
          }
        : {}),
    };
    return ca;
  });
  const all = Buffer.concat(tables, offset * RECORD);

  // A CA listed by its issuer: every client below it is denied, so the index says it once.
  const cas = partial.map((ca, i) => {
    if (ca.issuer === undefined) return ca;
    const parent = partial[ca.issuer]!;
    // A parent with no CRL and nothing revoked by hand lists nothing (most CAs).
    if (parent.crls.length === 0 && parent.table === undefined) return ca;
    const cert = certs[i]!;
    const coveredBy = parent.crls.flatMap((c, j) => (covers(c, cert) ? [j] : []));
    // Listed by hand, or on a CRL of the parent that covers this CA.
    const reason = revokedIn(all, parent, serialKey(cert.serial), (c) => covers(c, cert))?.code;
    return {
      ...ca,
      ...(coveredBy.length > 0 ? { coveredBy } : {}),
      ...(reason === undefined
        ? {}
        : {
            revoked: {
              ...(reasonName(reason) ? { reason: reasonName(reason) } : {}),
              source: sourceOf(input.revocation.manual, parent, cert.serial, reason),
            },
          }),
    };
  });

  // A CA revoked by its issuer revokes its key: another certificate of that key (a renewal through
  // replace/ or promote, same name and key, new serial) must not bring the key back. Keys revoked
  // of CAs no longer in the index come from the state (`revokedKeys`). Within its partner only: a
  // public key is public, and another partner's CA may carry it (a CA of acme's certifying beta's
  // key, then revoked on acme's CRL, must not deny beta's clients).
  const keyOf = (i: number) => revokedKeyOf(partial[i]!.partner, certs[i]!.publicKey.spki);
  const byKey = new Map<string, { readonly reason?: string; readonly source: string }>(
    input.revokedKeys ?? [],
  );
  cas.forEach((ca, i) => {
    // A CA revoked because it was superseded, ceased or changed hands keeps its key good.
    if (ca.revoked && !KEY_GOOD.has(ca.revoked.reason ?? '') && !byKey.has(keyOf(i)))
      byKey.set(keyOf(i), {
        ...(ca.revoked.reason ? { reason: ca.revoked.reason } : {}),
        source: `the key of ${ca.subject} (serial ${certs[i]!.serial}), revoked: ${ca.revoked.source}`,
      });
  });
  // Only the CAs of a partner with a revoked key have their key read (a key import each).
  const partners = new Set([...byKey.keys()].map((k) => k.slice(0, k.indexOf('|'))));
  const withKeys = cas.map((ca, i) => {
    if (ca.revoked || !partners.has(ca.partner)) return ca;
    const key = byKey.get(keyOf(i));
    return key ? { ...ca, revoked: key } : ca;
  });

  const header: IndexHeader = {
    schema: 2,
    revision: input.revision,
    generation: input.revocation.generation,
    truststoreSha256: input.truststoreSha256,
    builtAt: input.builtAt,
    cas: withKeys,
    manual: input.revocation.manual,
    rules: input.revocation.rules,
    ...(byKey.size > 0
      ? {
          revokedKeys: [...byKey]
            .map(([k, v]) => {
              const at = k.indexOf('|');
              return { partner: k.slice(0, at), keySha256: k.slice(at + 1), ...v };
            })
            .sort((a, b) => (a.partner + a.keySha256).localeCompare(b.partner + b.keySha256)),
        }
      : {}),
    revoked,
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return new Uint8Array(Buffer.concat([MAGIC, length, json, all]));
};

/**
 * Why the serial `key` of CA `ca` is revoked, in the tables `all`: by hand (its reason wins), or
 * listed on one of its CRLs that `counts` (those whose scope covers the certificate).
 */
const revokedIn = (
  all: Buffer,
  ca: IndexCa,
  key: Buffer,
  counts: (crl: IndexCrl) => boolean,
): { readonly code: number; readonly crl?: IndexCrl } | undefined => {
  const find = (t: IndexTable | undefined) =>
    t ? findSerial(all, t.offset * RECORD, t.count, key) : undefined;
  const manual = find(ca.table);
  if (manual !== undefined) return { code: manual };
  for (const crl of ca.crls) {
    if (!crl.table || !counts(crl)) continue;
    const code = find(crl.table);
    if (code !== undefined) return { code, crl };
  }
  return undefined;
};

/**
 * The manual revocation of `serial` under `ca`: recorded for this certificate of the CA, or for an
 * earlier one it renews (same name and key), whose revocations stay in force.
 */
export const manualRevocationOf = (
  manual: readonly ManualRevocation[],
  ca: Pick<IndexCa, 'fingerprint' | 'renews'>,
  serial: string,
): ManualRevocation | undefined =>
  manual.find((x) => x.serial === serial && x.issuer === ca.fingerprint) ??
  manual.find((x) => x.serial === serial && ca.renews?.includes(x.issuer) === true);

const sourceOf = (
  manual: readonly ManualRevocation[],
  issuer: IndexCa,
  serial: string,
  code: number,
): string => {
  if (code === MANUAL) {
    const m = manualRevocationOf(manual, issuer, serial);
    return m ? `revoked by hand by ${m.by} on ${m.at.slice(0, 10)}: ${m.reason}` : 'revoked by hand';
  }
  return "listed on its issuer's CRL";
};

export const indexSha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A loaded index: the header parsed, the tables kept as one buffer. */
export class RevocationIndex {
  readonly header: IndexHeader;
  private readonly tables: Buffer;
  private readonly bySubject = new Map<string, number[]>();
  private readonly keys = new Map<string, { readonly reason?: string; readonly source: string }>();

  private constructor(header: IndexHeader, tables: Buffer) {
    this.header = header;
    this.tables = tables;
    for (const k of header.revokedKeys ?? []) this.keys.set(`${k.partner}|${k.keySha256}`, k);
    header.cas.forEach((ca, i) => {
      const list = this.bySubject.get(ca.subjectKey);
      if (list) list.push(i);
      else this.bySubject.set(ca.subjectKey, [i]);
    });
  }

  /** Why partner `partner`'s key `spki` (SPKI DER) is revoked, when one of its CAs lost it. */
  revokedKey(
    partner: string,
    spki: Uint8Array,
  ): { readonly reason?: string; readonly source: string } | undefined {
    if (this.keys.size === 0) return undefined;
    return this.keys.get(revokedKeyOf(partner, spki));
  }

  /** Reads index bytes; throws with what is wrong when they are not an index this code reads. */
  static load(bytes: Uint8Array): RevocationIndex {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC))
      throw new Error(
        buf.subarray(0, 8).equals(Buffer.from('TRXIDX1\n', 'latin1'))
          ? 'revocation index of an older format (TRXIDX1, which applied a partitioned CRL to every client of its CA): publish it again (trustroll repair)'
          : 'not a trustroll revocation index (it does not start with TRXIDX2)',
      );
    const length = buf.readUInt32BE(8);
    if (12 + length > buf.length)
      throw new Error('revocation index is truncated (its header runs past the end)');
    let header: IndexHeader;
    try {
      header = JSON.parse(buf.subarray(12, 12 + length).toString('utf8'));
    } catch {
      throw new Error('revocation index header is not JSON');
    }
    if (header?.schema !== 2 || !Array.isArray(header.cas))
      throw new Error('revocation index header is not schema 2 (written by another trustroll?)');
    const tables = buf.subarray(12 + length);
    const end = (t: IndexTable | undefined) => (t ? t.offset + t.count : 0);
    const total = header.cas.reduce(
      (n, ca) => Math.max(n, end(ca.table), ...(ca.crls ?? []).map((c: IndexCrl) => end(c.table))),
      0,
    );
    if (tables.length !== total * RECORD)
      throw new Error(
        `revocation index is truncated: ${tables.length} bytes of tables, ${total * RECORD} expected`,
      );
    return new RevocationIndex(header, tables);
  }

  /** Positions of the CAs whose subject is the given canonical name. */
  withSubject(subjectKey: string): readonly number[] {
    return this.bySubject.get(subjectKey) ?? [];
  }

  ca(position: number): IndexCa {
    return this.header.cas[position]!;
  }

  /**
   * Whether `serial` of CA `position` is revoked: by hand (reason code MANUAL), or listed on one
   * of its CRLs that `counts` accepts — for a certificate, those whose scope covers it (`covers`):
   * a partitioned CRL speaks only for its partition. Undefined when it is not revoked.
   */
  revoked(
    position: number,
    serial: string,
    counts: (crl: IndexCrl) => boolean,
  ): { readonly code: number; readonly crl?: IndexCrl } | undefined {
    return revokedIn(this.tables, this.ca(position), serialKey(serial), counts);
  }
}

/** Whether index header `a` was built from an older state than `b` (revision, then generation). */
export const olderIndex = (
  a: Pick<IndexHeader, 'revision' | 'generation'>,
  b: Pick<IndexHeader, 'revision' | 'generation'>,
): boolean =>
  newerStamp(
    { revision: b.revision, generation: b.generation ?? -1 },
    { revision: a.revision, generation: a.generation ?? -1 },
  );
