/**
 * CRLs partners drop into `inbox/<partner>/crl/`: read strictly (the same DER walker as
 * certificates, no schema library in the Lambda bundle) and judged against the truststore's CAs
 * before trustroll uses them. Pure: no clock, no store — `now` and the CRL already held are passed in.
 */
import { createHash } from 'node:crypto';
import type { Finding } from '../finding.js';
import {
  type Certificate,
  certRef,
  parseAlgorithm,
  type SignatureInfo,
  verifySignedBy,
} from '../pki/certificate.js';
import {
  bitStringBytes,
  children,
  DerError,
  expectTag,
  readOid,
  readSingle,
  readTime,
  readTlv,
  smallInteger,
  TAG,
  type Tlv,
  toHex,
} from '../pki/der.js';
import { distributionPointUris } from '../pki/extensions.js';
import { type DistinguishedName, parseName } from '../pki/name.js';
import { EXT, WEAK_HASHES } from '../pki/oids.js';
import { longNameAttribute, MAX_NAME_VALUE_CHARS } from '../pki/payload.js';

export type CrlReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

/** CRLReason codes of RFC 5280 §5.3.1, by value (7 is not used). */
const REASONS: Readonly<Record<number, CrlReason>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export interface CrlEntry {
  /** Lowercase hex of the DER INTEGER content, as `Certificate.serial`. */
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason?: CrlReason;
  /** invalidityDate: when the key is known or suspected to have been compromised. */
  readonly invalidityDate?: Date;
  /** certificateIssuer directory names (RFC 4514 text): the entry belongs to another CA (indirect CRL). */
  readonly certificateIssuer?: readonly string[];
}

/** What an issuingDistributionPoint restricts the CRL to; absent = a full CRL. */
export interface CrlScope {
  /** fullName URIs, sorted. */
  readonly uris: readonly string[];
  readonly onlyUser: boolean;
  readonly onlyCA: boolean;
  readonly onlySomeReasons: boolean;
  /** onlyContainsAttributeCerts: the CRL covers no public-key certificate at all. */
  readonly onlyAttribute?: boolean;
  /**
   * The name form of a distribution point named without a URI (`nameRelativeToCRLIssuer`, or a
   * fullName of `directoryName`s, …): such a partition cannot be told from the others, so the
   * CRL is refused (`crl.partition-not-uri`).
   */
  readonly notUri?: string;
}

export interface RevocationList {
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lowercase hex. */
  readonly sha256: string;
  readonly version: 1 | 2;
  readonly issuer: DistinguishedName;
  /** Hex, from the CRL's authorityKeyIdentifier extension. */
  readonly authorityKeyId?: string;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** cRLNumber. */
  readonly number?: bigint;
  /** deltaCRLIndicator's base CRL number: a delta CRL. */
  readonly deltaOf?: bigint;
  /** IDP indirectCRL, or any entry with a certificateIssuer extension. */
  readonly indirect: boolean;
  readonly scope?: CrlScope;
  /** Dotted OIDs of critical extensions (CRL or entry level) trustroll does not understand. */
  readonly unknownCritical: readonly string[];
  /**
   * Dotted OIDs of every critical extension, of the CRL and of its entries (`entry:` before the
   * OID): a server without extended CRL support handles critical ones only for a few (see
   * diagnose's CRL check), whatever trustroll understands.
   */
  readonly critical?: readonly string[];
  readonly signature: SignatureInfo;
  readonly tbs: Uint8Array;
  readonly signatureValue: Uint8Array;
  readonly entries: readonly CrlEntry[];
  /** The input it was read from (file name, and block number when a file holds several). */
  readonly source?: string;
}

/** A file that holds no CRL trustroll can read; the message names the file and what to fix. */
export class CrlReadError extends Error {
  override readonly name = 'CrlReadError';
  /** The finding it becomes: `crl.unparseable`, or `crl.opaque-payload` for data a CRL has no use for. */
  readonly code: 'crl.unparseable' | 'crl.opaque-payload';
  constructor(message: string, options?: ErrorOptions & { readonly code?: CrlReadError['code'] }) {
    super(message, options);
    this.code = options?.code ?? 'crl.unparseable';
  }
}

/**
 * A CRL that carries data no CRL needs (a name attribute longer than certificates may have):
 * refused before anything of it is kept, and the message never repeats what it carries.
 */
class OpaquePayload extends DerError {}

/** The longest CRL issuer name taken (RFC 4514 text): real CA names are well under 300 characters. */
const MAX_NAME_CHARS = 1024;

/** The certificates' bound on name attributes (`cert.opaque-payload`), for a name of a CRL. */
const boundedName = (tlv: Tlv, what: string, parsing = what): DistinguishedName => {
  const name = parseName(tlv, parsing);
  const long = longNameAttribute(tlv);
  if (long)
    throw new OpaquePayload(
      `its ${what} has an attribute (${long.oid}) of ${long.chars} characters, over the ${MAX_NAME_VALUE_CHARS} a name attribute may have`,
    );
  // Short attributes add up too: data split into many of them is as opaque as one long one.
  if (name.text.length > MAX_NAME_CHARS)
    throw new OpaquePayload(
      `its ${what} is ${name.text.length} characters long, over the ${MAX_NAME_CHARS} a CA's name needs`,
    );
  return name;
};

/** The error of one unreadable CRL in `name`: opaque payload said as such, the rest as unreadable. */
const unreadable = (name: string, error: unknown, what: string): CrlReadError =>
  error instanceof OpaquePayload
    ? new CrlReadError(
        `${name} was refused and not kept: ${error.message}. A CRL has no use for such data and trustroll keeps only what it understands: have the CA issue its CRL without it.`,
        { cause: error, code: 'crl.opaque-payload' },
      )
    : new CrlReadError(
        `${name} is not a readable ${what} (${reason(error)}): upload the CRL as the CA published it.`,
        {
          cause: error,
        },
      );

const CRL_EXT = {
  cRLNumber: '2.5.29.20',
  deltaCRLIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCRL: '2.5.29.46',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29',
} as const;

const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/g;
const PEM_ANY = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/**
 * Reads one input file: PEM (one or more `X509 CRL` blocks, text around them allowed) or one DER
 * CRL. Throws `CrlReadError` naming the file and what to fix when nothing readable is there, or
 * when one of its CRL blocks is unreadable (a file is taken whole or not at all).
 */
export const readRevocationLists = (bytes: Uint8Array, name: string): RevocationList[] => {
  if (bytes.length === 0)
    throw new CrlReadError(`${name} is empty: upload the CRL file itself (PEM or DER).`);
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.includes('-----BEGIN ')) {
    if (bytes[0] !== TAG.SEQUENCE) {
      throw new CrlReadError(
        `${name} is not a CRL (it holds neither PEM "X509 CRL" blocks nor a DER CRL): upload the CA's CRL, PEM or DER.`,
      );
    }
    try {
      return [{ ...parseRevocationList(bytes), source: name }];
    } catch (error) {
      throw unreadable(name, error, 'DER CRL');
    }
  }
  const blocks = [...text.matchAll(PEM_CRL)];
  if (blocks.length === 0) {
    const labels = [...new Set([...text.matchAll(PEM_ANY)].map((m) => m[1]!))];
    // A CRL with something appended is a CRL file damaged, not "a certificate".
    if (derCrlFirst(bytes))
      throw new CrlReadError(
        `${name} holds a DER CRL followed by ${labels.includes('CERTIFICATE') ? 'a certificate' : 'other data'} (PEM text after the CRL's bytes): upload the CRL alone, as the CA published it.`,
      );
    const found = labels.includes('X509 CRL')
      ? 'its X509 CRL block never ends: -----END X509 CRL----- is missing or mislabelled'
      : labels.includes('CERTIFICATE')
        ? 'it holds a certificate, not a CRL'
        : labels.length
          ? `it holds ${labels.map((l) => `a ${l} block`).join(' and ')}, no X509 CRL block`
          : 'it holds no X509 CRL block';
    throw new CrlReadError(`${name} is not a CRL (${found}): upload the CA's CRL, PEM or DER.`);
  }
  // Any other block beside the CRLs (a PKCS7 that may carry more CRLs, a key, a request) would be
  // passed over: the file is refused, so that nothing in it goes unjudged. Certificates are named
  // by ingest (crl.holds-certificates), which looks for them first.
  const others = [...new Set([...text.matchAll(PEM_ANY)].map((m) => m[1]!))].filter(
    (l) => l !== 'X509 CRL' && l !== 'CERTIFICATE',
  );
  if (others.length > 0)
    throw new CrlReadError(
      `${name} holds ${others.map((l) => `a ${l} block`).join(' and ')} besides its X509 CRL block(s): a CRL file holds CRLs only (take the CRLs out of a PKCS#7 with openssl pkcs7 -print_certs -in <file> and upload them as X509 CRL blocks).`,
    );
  // A block begun and never ended (a file cut short) is not skipped: the file is taken whole or not at all.
  const begun = text.split('-----BEGIN X509 CRL-----').length - 1;
  if (begun !== blocks.length)
    throw new CrlReadError(
      `${name} is not a readable CRL file: ${begun} X509 CRL block(s) begin but only ${blocks.length} end (a truncated or mislabelled block): upload the CRL file whole.`,
    );
  // What lies outside the blocks may be text (openssl crl -text writes some before the PEM), but
  // nothing a reader could take for more CRL data: binary bytes (a DER CRL before or after), a
  // BEGIN line the strict reader does not take (lower case, four dashes), a run of base64.
  const outside = text.replace(PEM_CRL, '');
  const stray =
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding binary bytes is the point
    /[\u0000-\u0008\u000e-\u001f\u007f-\u00ff]/.test(outside)
      ? 'binary bytes (a DER CRL, or another file joined to it)'
      : /-{3,}\s*BEGIN\b/i.test(outside.replace(PEM_ANY, ''))
        ? 'a BEGIN line it does not read as a PEM block (write -----BEGIN X509 CRL----- exactly)'
        : /^[A-Za-z0-9+/=]{64,}\s*$/m.test(
              outside.replace(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g, ''),
            )
          ? 'a run of base64 outside any PEM block'
          : undefined;
  if (stray)
    throw new CrlReadError(
      `${name} holds ${stray} beside its X509 CRL block(s): upload each CRL as the CA published it, PEM or DER, and nothing else in the file.`,
    );
  return blocks.map((m, i) => {
    const where = blocks.length > 1 ? `${name} (CRL ${i + 1} of ${blocks.length})` : name;
    const b64 = m[1]!.replace(/\s+/g, '');
    try {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new DerError('the PEM block is not base64');
      return { ...parseRevocationList(new Uint8Array(Buffer.from(b64, 'base64'))), source: where };
    } catch (error) {
      throw unreadable(where, error, 'CRL');
    }
  });
};

const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Whether `bytes` start with a DER CRL (and go on with something else: PEM text, a certificate). */
const derCrlFirst = (bytes: Uint8Array): boolean => {
  if (bytes[0] !== TAG.SEQUENCE) return false;
  try {
    parseRevocationList(readTlv(bytes).bytes);
    return true;
  } catch {
    return false;
  }
};

/**
 * Parses one DER CertificateList (RFC 5280 §5.1). Throws `DerError` saying which part is wrong;
 * a certificate is named as such ("this is a certificate, not a CRL").
 */
export const parseRevocationList = (der: Uint8Array): RevocationList => {
  const top = expectTag(readSingle(der), TAG.SEQUENCE, 'CRL');
  const [tbsTlv, algTlv, sigTlv, extra] = children(top);
  // A ContentInfo (PKCS#7, .p7b) starts with its content type's OID where a CRL has tbsCertList.
  if (tbsTlv?.tag === TAG.OID)
    throw new DerError(
      'this is a PKCS#7 bundle (.p7b), not a CRL: take the CRL out of it (openssl pkcs7 -print_certs -inform DER -in <file> writes it as an X509 CRL block) and upload that',
    );
  const tbs = expectTag(tbsTlv, TAG.SEQUENCE, 'tbsCertList');
  const fields = children(tbs);
  if (looksLikeCertificate(fields)) throw new DerError('this is a certificate, not a CRL');
  if (extra) throw new DerError('CRL has more than three top-level fields');
  const signature = parseAlgorithm(expectTag(algTlv, TAG.SEQUENCE, 'CRL signatureAlgorithm'));
  const signatureValue = bitStringBytes(expectTag(sigTlv, TAG.BIT_STRING, 'CRL signature'), 'CRL signature');

  let i = 0;
  let version: 1 | 2 = 1;
  if (fields[0]?.tag === TAG.INTEGER) {
    const v = smallInteger(fields[i++], 'CRL version');
    if (v !== 1) throw new DerError(`unknown CRL version ${v + 1} (only v1 and v2 exist)`);
    version = 2;
  }
  const inner = parseAlgorithm(expectTag(fields[i++], TAG.SEQUENCE, 'tbsCertList.signature'));
  if (inner.algorithmOid !== signature.algorithmOid)
    throw new DerError('the signature algorithm inside the CRL differs from the outer one');
  const issuerTlv = fields[i++];
  if (!issuerTlv) throw new DerError('CRL issuer is missing');
  const issuer = boundedName(issuerTlv, 'issuer', 'CRL issuer');
  const thisUpdate = readTime(fields[i++], 'thisUpdate');
  let nextUpdate: Date | undefined;
  if (fields[i]?.tag === TAG.UTC_TIME || fields[i]?.tag === TAG.GENERALIZED_TIME)
    nextUpdate = readTime(fields[i++], 'nextUpdate');
  if (nextUpdate && nextUpdate.getTime() < thisUpdate.getTime())
    throw new DerError(
      `nextUpdate ${nextUpdate.toISOString()} is before thisUpdate ${thisUpdate.toISOString()}`,
    );

  const unknownCritical = new Set<string>();
  const critical = new Set<string>();
  const entries: CrlEntry[] = [];
  let entryIssuer = false;
  if (fields[i]?.tag === TAG.SEQUENCE) {
    for (const [n, entryTlv] of children(fields[i++]!).entries()) {
      const entry = parseEntry(entryTlv, n + 1, version, unknownCritical, critical);
      if (entry.certificateIssuer) entryIssuer = true;
      entries.push(entry);
    }
  }
  let exts: RawExt[] = [];
  if (fields[i]?.tag === 0xa0) {
    if (version !== 2) throw new DerError('CRL extensions are only allowed in version 2 CRLs');
    exts = extensionList(expectTag(children(fields[i++]!)[0], TAG.SEQUENCE, 'crlExtensions'), 'CRL');
  }
  if (i !== fields.length)
    throw new DerError(`unexpected field with tag 0x${fields[i]!.tag.toString(16)} in tbsCertList`);

  const out: { -readonly [K in keyof RevocationList]: RevocationList[K] } = {
    der,
    sha256: createHash('sha256').update(der).digest('hex'),
    version,
    issuer,
    thisUpdate,
    indirect: entryIssuer,
    unknownCritical: [],
    signature,
    tbs: tbs.bytes,
    signatureValue,
    entries,
  };
  if (nextUpdate) out.nextUpdate = nextUpdate;
  for (const ext of exts) {
    const value = (what: string) => readExtension(ext, what);
    switch (ext.oid) {
      case CRL_EXT.cRLNumber:
        out.number = crlNumber(value('cRLNumber'), 'cRLNumber');
        break;
      case CRL_EXT.deltaCRLIndicator:
        out.deltaOf = crlNumber(value('deltaCRLIndicator'), 'deltaCRLIndicator');
        break;
      case EXT.authorityKeyIdentifier: {
        const keyId = children(
          expectTag(value('authorityKeyIdentifier'), TAG.SEQUENCE, 'authorityKeyIdentifier'),
        ).find((f) => f.tag === 0x80);
        if (keyId) out.authorityKeyId = toHex(keyId.content);
        break;
      }
      case CRL_EXT.issuingDistributionPoint: {
        const idp = issuingDistributionPoint(value('issuingDistributionPoint'));
        if (idp.indirect) out.indirect = true;
        if (idp.scope) out.scope = idp.scope;
        break;
      }
      case EXT.authorityInfoAccess:
        break;
      case CRL_EXT.freshestCRL:
        // RFC 5280 §5.2.6: MUST be non-critical. Critical, it demands the delta CRLs trustroll does not take.
        if (ext.critical) unknownCritical.add(ext.oid);
        break;
      default:
        if (ext.critical) unknownCritical.add(ext.oid);
    }
  }
  out.unknownCritical = [...unknownCritical].sort();
  for (const ext of exts) if (ext.critical) critical.add(ext.oid);
  out.critical = [...critical].sort();
  return out;
};

/**
 * A tbsCertificate starts with [0] version (v3) or has a Validity SEQUENCE where a CRL has
 * thisUpdate (v1): told apart so the partner hears "certificate", not "expected a time".
 */
const looksLikeCertificate = (fields: readonly Tlv[]): boolean => {
  if (fields[0]?.tag === 0xa0) return true;
  const i = fields[0]?.tag === TAG.INTEGER ? 1 : 0;
  return (
    fields[i]?.tag === TAG.SEQUENCE &&
    fields[i + 1]?.tag === TAG.SEQUENCE &&
    fields[i + 2]?.tag === TAG.SEQUENCE
  );
};

interface RawExt {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Extensions ::= SEQUENCE OF Extension { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
const extensionList = (seq: Tlv, where: string): RawExt[] => {
  const out: RawExt[] = [];
  for (const ext of children(seq)) {
    const parts = children(expectTag(ext, TAG.SEQUENCE, `${where} extension`));
    const oid = readOid(parts[0], `${where} extension id`);
    let critical = false;
    let valueTlv = parts[1];
    if (valueTlv?.tag === TAG.BOOLEAN) {
      if (valueTlv.content.length !== 1)
        throw new DerError(`${where} extension ${oid}: critical is not a one-byte BOOLEAN`);
      critical = valueTlv.content[0] !== 0;
      valueTlv = parts[2];
    }
    const value = expectTag(valueTlv, TAG.OCTET_STRING, `${where} extension ${oid}`).content;
    if (out.some((e) => e.oid === oid)) throw new DerError(`${where} extension ${oid} appears twice`);
    out.push({ oid, critical, value });
  }
  return out;
};

/** The extension's value as one DER element, a malformed one named. */
const readExtension = (ext: RawExt, what: string): Tlv => {
  try {
    return readSingle(ext.value);
  } catch (error) {
    throw new DerError(`extension ${what} is malformed (${reason(error)})`, { cause: error });
  }
};

/** CRLNumber ::= INTEGER (0..MAX), at most 20 octets (RFC 5280 §5.2.3). */
const crlNumber = (tlv: Tlv, what: string): bigint => {
  const content = expectTag(tlv, TAG.INTEGER, what).content;
  if (content.length === 0 || content.length > 21)
    throw new DerError(`${what} is not an integer of at most 20 octets`);
  if ((content[0]! & 0x80) !== 0) throw new DerError(`${what} is negative`);
  return BigInt(`0x${toHex(content)}`);
};

/**
 * IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0], onlyContainsUserCerts [1],
 * onlyContainsCACerts [2], onlySomeReasons [3], indirectCRL [4], onlyContainsAttributeCerts [5] }
 */
const issuingDistributionPoint = (value: Tlv): { scope?: CrlScope; indirect: boolean } => {
  try {
    let uris: string[] = [];
    let notUri: string | undefined;
    const flags = {
      onlyUser: false,
      onlyCA: false,
      onlySomeReasons: false,
      onlyAttribute: false,
      indirect: false,
    };
    const flag = (f: Tlv, name: string) => {
      if (f.content.length !== 1) throw new DerError(`${name} is not a one-byte BOOLEAN`);
      return f.content[0] !== 0;
    };
    for (const f of children(expectTag(value, TAG.SEQUENCE, 'issuingDistributionPoint'))) {
      if (f.tag === 0xa0) {
        uris = distributionPointUris(f);
        if (uris.length === 0) notUri = nameForm(f);
      } else if (f.tag === 0x81) flags.onlyUser = flag(f, 'onlyContainsUserCerts');
      else if (f.tag === 0x82) flags.onlyCA = flag(f, 'onlyContainsCACerts');
      else if (f.tag === 0x83) flags.onlySomeReasons = true;
      else if (f.tag === 0x84) flags.indirect = flag(f, 'indirectCRL');
      else if (f.tag === 0x85) flags.onlyAttribute = flag(f, 'onlyContainsAttributeCerts');
      else throw new DerError(`unexpected field with tag 0x${f.tag.toString(16)}`);
    }
    const { indirect, onlyAttribute, ...rest } = flags;
    // An IDP that restricts nothing (only indirectCRL, say) leaves a full CRL.
    if (
      uris.length === 0 &&
      notUri === undefined &&
      !rest.onlyUser &&
      !rest.onlyCA &&
      !rest.onlySomeReasons &&
      !onlyAttribute
    )
      return { indirect };
    const scope: CrlScope = {
      uris: [...new Set(uris)].sort(),
      ...rest,
      ...(onlyAttribute ? { onlyAttribute } : {}),
      ...(notUri !== undefined ? { notUri } : {}),
    };
    return { scope, indirect };
  } catch (error) {
    throw new DerError(`extension issuingDistributionPoint is malformed (${reason(error)})`, {
      cause: error,
    });
  }
};

/** GeneralName choices by context tag (RFC 5280 §4.2.1.6), for naming what a point was named by. */
const GENERAL_NAME: Readonly<Record<number, string>> = {
  160: 'otherName',
  129: 'rfc822Name',
  130: 'dNSName',
  163: 'x400Address',
  164: 'directoryName',
  165: 'ediPartyName',
  135: 'iPAddress',
  136: 'registeredID',
};

/** How a DistributionPointName without a URI names its point: the relative name, or fullName's forms. */
const nameForm = (dpName: Tlv): string => {
  const [choice] = children(dpName);
  if (choice?.tag !== 0xa0) return 'nameRelativeToCRLIssuer';
  const forms = [
    ...new Set(children(choice).map((n) => GENERAL_NAME[n.tag] ?? `tag 0x${n.tag.toString(16)}`)),
  ];
  return forms.length > 0 ? `fullName of ${forms.join(', ')}` : 'an empty fullName';
};

/** revokedCertificates entry: SEQUENCE { userCertificate INTEGER, revocationDate Time, crlEntryExtensions OPTIONAL } */
const parseEntry = (
  tlv: Tlv,
  n: number,
  version: 1 | 2,
  unknownCritical: Set<string>,
  critical: Set<string>,
): CrlEntry => {
  const where = `revoked entry ${n}`;
  const [serialTlv, dateTlv, extsTlv, extra] = children(expectTag(tlv, TAG.SEQUENCE, where));
  const content = expectTag(serialTlv, TAG.INTEGER, `${where} serial`).content;
  // DER integers are minimal: a padded one (00 06 for 06) would be a serial no certificate has.
  if (
    content.length > 1 &&
    ((content[0] === 0 && content[1]! < 0x80) || (content[0] === 0xff && content[1]! >= 0x80))
  )
    throw new DerError(`${where} serial is not a DER integer (a padded encoding no certificate carries)`);
  const serial = toHex(content);
  if (serial === '') throw new DerError(`${where} serial: empty integer`);
  // A negative serial matches no certificate trustroll admits (cert.serial-invalid): taken, it
  // would count as a revocation that revokes nothing. It is usually the CA's bug of encoding a
  // serial whose first byte is 80 or more without the 00 that keeps it positive.
  if (content[0]! >= 0x80)
    throw new DerError(
      `${where} serial is negative (${serial}: a DER INTEGER whose first byte is 80 or more): RFC 5280 serials are positive, and no certificate has this one. If the CA meant the certificate with serial ${serial}, it encodes serials without their leading 00 byte: ask it to fix its CRLs`,
    );
  const entry: { -readonly [K in keyof CrlEntry]: CrlEntry[K] } = {
    serial,
    revokedAt: readTime(dateTlv, `${where} revocationDate`),
  };
  if (extra) throw new DerError(`${where} has more than three fields`);
  if (!extsTlv) return entry;
  if (version !== 2) throw new DerError(`${where}: entry extensions are only allowed in version 2 CRLs`);
  for (const ext of extensionList(expectTag(extsTlv, TAG.SEQUENCE, `${where} extensions`), where)) {
    if (ext.critical) critical.add(`entry:${ext.oid}`);
    switch (ext.oid) {
      case CRL_EXT.reasonCode: {
        const value = expectTag(readExtension(ext, 'reasonCode'), 0x0a, `${where} reasonCode`).content;
        const code = value.length === 1 ? REASONS[value[0]!] : undefined;
        if (!code) throw new DerError(`${where} reasonCode ${toHex(value)} is not a reason RFC 5280 defines`);
        entry.reason = code;
        break;
      }
      case CRL_EXT.invalidityDate:
        entry.invalidityDate = readTime(readExtension(ext, 'invalidityDate'), `${where} invalidityDate`);
        break;
      case CRL_EXT.certificateIssuer:
        entry.certificateIssuer = children(
          expectTag(readExtension(ext, 'certificateIssuer'), TAG.SEQUENCE, `${where} certificateIssuer`),
        ).map((g) =>
          g.tag === 0xa4
            ? boundedName(readSingle(g.content), `${where} certificateIssuer`).text
            : `[${g.tag & 0x1f}]`,
        );
        break;
      default:
        if (ext.critical) unknownCritical.add(ext.oid);
    }
  }
  return entry;
};

/**
 * Stable key of a CRL's scope: '' for a full CRL, else `idp-` and 16 hex digits of a hash of the
 * scope (URIs sorted, flags in a fixed order), so CRLs of the same partition share a key.
 */
export const scopeKey = (scope: CrlScope | undefined): string => {
  if (!scope) return '';
  const canonical = JSON.stringify([
    [...scope.uris].sort(),
    scope.onlyUser,
    scope.onlyCA,
    scope.onlySomeReasons,
    scope.onlyAttribute === true,
  ]);
  return `idp-${createHash('sha256').update(canonical).digest('hex').slice(0, 16)}`;
};

export { covers } from './coverage.js';

/** The CRL already held for an (issuer, scope): what a new one is compared with. */
export interface HeldCrl {
  /** cRLNumber, decimal. */
  readonly number?: string;
  /** thisUpdate, ISO 8601. */
  readonly thisUpdate: string;
  readonly sha256: string;
  /** Not held yet: a CRL before this one in the same upload (named so in the messages). */
  readonly earlierInFile?: true;
}

export interface CrlJudgement {
  readonly list: RevocationList;
  /** The truststore CA that signed it, when found and the signature verifies. */
  readonly issuer?: Certificate;
  /** Severity error = refused (at least one error iff refused); warnings = accepted with a note. */
  readonly findings: readonly Finding[];
}

/** How far in the future thisUpdate may be before a CRL is refused: the clocks of CA and trustroll differ. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Judges a CRL against the CAs of the truststore. Steps:
 * 1. the issuer: CAs with the CRL's issuer name (and its AKI, when both have one); of several
 *    (a re-keyed CA), the one whose key verifies the signature;
 * 2. the signature: verifies, SHA-256 or stronger, and the CA may sign CRLs (keyUsage cRLSign);
 * 3. what trustroll takes: full, direct CRLs with no critical extension it does not understand;
 * 4. time: not before thisUpdate (5 minutes of skew), stale or without nextUpdate (warnings);
 * 5. replay: against `held` for (issuer fingerprint, scopeKey): a lower cRLNumber, the same number
 *    with other content, or (unnumbered) an older thisUpdate or the same one with other content is
 *    refused; the same bytes are a warning.
 */
export const judgeCrl = (
  list: RevocationList,
  cas: readonly Certificate[],
  held: (issuerFingerprint: string, scope: string) => HeldCrl | undefined,
  now: Date,
): CrlJudgement => {
  const who = `The CRL of "${list.issuer.text}"${list.source ? ` (${list.source})` : ''}`;
  const findings: Finding[] = [];
  const add = (code: string, severity: 'error' | 'warning', message: string, ca?: Certificate) =>
    findings.push({
      code,
      severity,
      message,
      ...(ca ? { cert: certRef(ca) } : {}),
      ...(list.source ? { source: list.source } : {}),
    });

  const named = cas.filter(
    (ca) =>
      ca.subject.key === list.issuer.key &&
      (list.authorityKeyId === undefined ||
        ca.subjectKeyId === undefined ||
        ca.subjectKeyId === list.authorityKeyId),
  );
  const issuer = named.find((ca) => verifySignedBy(list, ca));
  // A CA with the key identifier the CRL carries but another name: say so, with both names.
  const byKey =
    named.length === 0 && list.authorityKeyId !== undefined
      ? cas.find((ca) => ca.subjectKeyId === list.authorityKeyId)
      : undefined;
  if (named.length === 0 && byKey) {
    add(
      'crl.issuer-unknown',
      'error',
      `${who} carries the key identifier ${list.authorityKeyId} of ${byKey.subject.text}, a CA of the truststore, but names its issuer "${list.issuer.text}": a CRL's issuer name must be the CA's subject name exactly (the same attributes in the same order). Send the CRL as that CA issues it.`,
      byKey,
    );
  } else if (named.length === 0) {
    add(
      'crl.issuer-unknown',
      'error',
      `${who} names no CA in the truststore${list.authorityKeyId ? ` with key identifier ${list.authorityKeyId}` : ''}: add the CA that signed it to the truststore first, or send the CRL of a CA that is in it.`,
    );
  } else if (!issuer) {
    add(
      'crl.signature-invalid',
      'error',
      `${who} does not verify with the key of that CA in the truststore (${list.signature.algorithm}): send the CRL exactly as the CA published it, signed with the CA's current key.`,
      named[0],
    );
  }

  const hash = list.signature.hash;
  if (hash && WEAK_HASHES.has(hash)) {
    add(
      'crl.signature-weak',
      'error',
      `${who} is signed with ${list.signature.algorithm}, below API Gateway's floor of SHA-256: have the CA sign its CRLs with SHA-256 or stronger.`,
      issuer,
    );
  }
  if (issuer?.keyUsage && !issuer.keyUsage.usages.includes('crlSign')) {
    add(
      'crl.issuer-cannot-sign-crls',
      'error',
      `${who} is signed by a CA whose keyUsage lacks cRLSign, so its CRLs are not valid: have the CA re-issued with cRLSign, or send a CRL signed by a key allowed to sign CRLs.`,
      issuer,
    );
  }

  if (list.deltaOf !== undefined) {
    add(
      'crl.delta',
      'error',
      `${who} is a delta CRL (base CRL number ${list.deltaOf}): trustroll takes full CRLs only; upload the base CRL.`,
      issuer,
    );
  }
  // removeFromCRL belongs to delta CRLs ("no longer revoked"); in a full CRL the entry would read
  // as a revocation whose reason says the opposite: the certificate must simply be left out.
  const removals = removalsInFullCrl(list);
  if (removals.length > 0) {
    add(
      'crl.unparseable',
      'error',
      `${who} lists ${
        removals.length === 1
          ? `serial ${removals[0]!.serial}`
          : `${removals.length} serials (${removals
              .slice(0, 5)
              .map((e) => e.serial)
              .join(', ')}${removals.length > 5 ? ', …' : ''})`
      } with reason removeFromCRL, which RFC 5280 allows only in delta CRLs: in a full CRL a certificate that is no longer revoked is simply left out. Send the CRL without those entries.`,
      issuer,
    );
  }
  if (list.indirect) {
    add(
      'crl.indirect',
      'error',
      `${who} is an indirect CRL (it lists certificates of other issuers): send a CRL the issuing CA signed for its own certificates.`,
      issuer,
    );
  }
  for (const oid of list.unknownCritical) {
    add(
      'crl.critical-extension',
      'error',
      `${who} has the critical extension ${oid}, which trustroll does not understand: send a CRL without it.`,
      issuer,
    );
  }
  if (list.scope?.notUri !== undefined) {
    add(
      'crl.partition-not-uri',
      'error',
      `${who} is a partition whose issuingDistributionPoint names its point by ${list.scope.notUri}, not by a URI: trustroll tells a CA's partitions apart by their URIs (as AWS Private CA publishes them) and cannot know which certificates this one covers, so it would take it for the CA's full CRL. Send the CA's full CRL, or partitions named by a URI (fullName uniformResourceIdentifier) as the certificates' cRLDistributionPoints give them.`,
      issuer,
    );
  }
  if (list.scope?.onlyAttribute) {
    add(
      'crl.attribute-certs',
      'error',
      `${who} covers attribute certificates only (issuingDistributionPoint onlyContainsAttributeCerts, which RFC 5280 requires false in a CA's CRL): it revokes no client certificate, so it cannot stand in for the CA's CRL. Send the CA's CRL of certificates.`,
      issuer,
    );
  }
  if (list.scope?.onlySomeReasons) {
    add(
      'crl.reasons-partitioned',
      'error',
      `${who} lists only some revocation reasons (issuingDistributionPoint onlySomeReasons), so it cannot stand in for the full list: send the CA's complete CRL.`,
      issuer,
    );
  }

  if (list.thisUpdate.getTime() > now.getTime() + CLOCK_SKEW_MS) {
    add(
      'crl.not-yet-valid',
      'error',
      `${who} takes effect only at ${list.thisUpdate.toISOString()}, later than now: check the CA's clock and send a CRL already in effect.`,
      issuer,
    );
  }
  if (issuer && list.number === undefined) {
    add(
      'crl.unnumbered',
      'warning',
      `${who} has no cRLNumber (RFC 5280 requires one in every CRL): trustroll orders this CA's CRLs by thisUpdate alone, so one issued in the same second with other content is refused; ask the CA to number its CRLs.`,
      issuer,
    );
  }
  if (!list.nextUpdate) {
    add(
      'crl.no-next-update',
      'warning',
      `${who} has no nextUpdate, so trustroll cannot tell when it goes stale: ask the CA to publish CRLs with a nextUpdate.`,
      issuer,
    );
  } else if (list.nextUpdate.getTime() < now.getTime()) {
    add(
      'crl.stale',
      'warning',
      `${who} was due to be replaced at ${list.nextUpdate.toISOString()} (its nextUpdate): send the CA's current CRL.`,
      issuer,
    );
  }

  const before = issuer ? held(issuer.fingerprint, scopeKey(list.scope)) : undefined;
  if (issuer && before) {
    if (before.sha256 === list.sha256) {
      add(
        'crl.unchanged',
        'warning',
        before.earlierInFile
          ? `${who} appears twice in the upload: the second copy changes nothing.`
          : `${who} is the one already held: nothing changes, there is no need to send it again.`,
        issuer,
      );
    } else {
      const replay = replayed(list, before);
      if (replay) add('crl.replayed', 'error', `${who} ${replay}: send the CA's latest CRL.`, issuer);
    }
  }

  return issuer ? { list, issuer, findings } : { list, findings };
};

/** Why `list` is older than the CRL held, or undefined when it may replace it. */
const replayed = (list: RevocationList, before: HeldCrl): string | undefined => {
  const held = before.earlierInFile ? 'the CRL before it in the same upload' : 'the CRL already held';
  const heldNumber = before.number === undefined ? undefined : BigInt(before.number);
  if (list.number !== undefined && heldNumber !== undefined) {
    if (list.number < heldNumber)
      return `has cRLNumber ${list.number}, lower than the ${heldNumber} of ${held}`;
    if (list.number === heldNumber)
      return `has cRLNumber ${list.number}, the number of ${held}, with other content`;
    return undefined;
  }
  const heldAt = new Date(before.thisUpdate);
  if (list.thisUpdate.getTime() < heldAt.getTime())
    return `was issued at ${list.thisUpdate.toISOString()}, before the ${heldAt.toISOString()} of ${held}`;
  // Without numbers the moment is all that orders CRLs: two of one moment with other content
  // (only called when the content differs) cannot be told apart, and taking either would let
  // them replace each other forever, so the one held stays.
  if (list.thisUpdate.getTime() === heldAt.getTime())
    return `was issued at ${list.thisUpdate.toISOString()}, the thisUpdate of ${held}, with other content (and no cRLNumber tells which is newer)`;
  return undefined;
};

/**
 * The entries of a full (not delta) CRL with reason removeFromCRL, which RFC 5280 allows only in
 * delta CRLs: such a CRL is refused (ingest) or unreadable (`diagnose --crl`).
 */
export const removalsInFullCrl = (list: RevocationList): CrlEntry[] =>
  list.deltaOf === undefined ? list.entries.filter((e) => e.reason === 'removeFromCRL') : [];

/** What to keep of an accepted CRL, for the next `judgeCrl`'s `held`. */
export const heldCrl = (list: RevocationList): HeldCrl => ({
  ...(list.number === undefined ? {} : { number: list.number.toString() }),
  thisUpdate: list.thisUpdate.toISOString(),
  sha256: list.sha256,
});
