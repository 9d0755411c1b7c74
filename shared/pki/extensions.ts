import {
  children,
  DerError,
  decodeOid,
  expectTag,
  readSingle,
  smallInteger,
  TAG,
  type Tlv,
  toHex,
} from './der.js';
import { parseName } from './name.js';
import { EKU_NAMES, EXT } from './oids.js';

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

export interface BasicConstraintsInfo {
  readonly ca: boolean;
  readonly pathLen?: number;
  readonly critical: boolean;
}

export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'crlSign'
  | 'encipherOnly'
  | 'decipherOnly';

/** RFC 5280 §4.2.1.3 bit order. */
const KEY_USAGE_BITS: readonly KeyUsageName[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'crlSign',
  'encipherOnly',
  'decipherOnly',
];

export interface KeyUsageInfo {
  readonly usages: readonly KeyUsageName[];
  readonly critical: boolean;
}

export interface ExtendedKeyUsageInfo {
  /** Purpose names (`clientAuth`, `serverAuth`, …) or dotted OIDs for unnamed purposes. */
  readonly purposes: readonly string[];
  readonly critical: boolean;
}

export interface NameConstraintsInfo {
  readonly permittedDns: readonly string[];
  readonly excludedDns: readonly string[];
  /** IP constraints as `address/mask` hex pairs. */
  readonly permittedIps: readonly { readonly address: string; readonly mask: string }[];
  readonly excludedIps: readonly { readonly address: string; readonly mask: string }[];
  /** directoryName constraints, as the canonical key of the name (see name.ts). */
  readonly permittedDirs: readonly string[];
  readonly excludedDirs: readonly string[];
  /** rfc822Name constraints (a mailbox, a host or a `.domain`), as written (bytes as latin1). */
  readonly permittedEmails: readonly string[];
  readonly excludedEmails: readonly string[];
  /** uniformResourceIdentifier constraints (a host or a `.domain`), as written (bytes as latin1). */
  readonly permittedUris: readonly string[];
  readonly excludedUris: readonly string[];
  /**
   * Constraints of kinds OpenSSL does not match, permitted or excluded, by `nameKind`
   * (`otherName <type-id>`, `x400Address`, `ediPartyName`, `registeredID`): a certificate below
   * with a name of such a kind is refused ("unsupported name constraint type").
   */
  readonly unsupported: readonly string[];
  /** Kinds (`nameKind`) with a subtree that sets a minimum or maximum, which OpenSSL refuses to apply. */
  readonly minMax: readonly string[];
}

/** SmtpUTF8Mailbox (RFC 8398), the otherName OpenSSL matches against rfc822Name constraints. */
export const SMTP_UTF8_MAILBOX = '1.3.6.1.5.5.7.8.9';

/**
 * The kind of a GeneralName as name constraints compare kinds: by tag, and for an otherName by
 * its type-id too.
 */
export const nameKind = (name: Tlv): string => {
  switch (name.tag) {
    case 0xa0:
      return `otherName ${decodeOid(expectTag(children(name)[0], TAG.OID, 'otherName type-id').content)}`;
    case 0x81:
      return 'email';
    case 0x82:
      return 'dns';
    case 0xa3:
      return 'x400Address';
    case 0xa4:
      return 'dir';
    case 0xa5:
      return 'ediPartyName';
    case 0x86:
      return 'uri';
    case 0x87:
      return 'ip';
    case 0x88:
      return 'registeredID';
    default:
      return `GeneralName [${name.tag & 0x1f}]`;
  }
};

/** An SmtpUTF8Mailbox of subjectAltName: its value's bytes (as latin1) and whether it is a UTF8String. */
export interface SmtpUtf8Name {
  readonly value: string;
  readonly utf8: boolean;
}

/** The extensions trustroll understands. */
export interface DecodedExtensions {
  readonly basicConstraints?: BasicConstraintsInfo;
  readonly keyUsage?: KeyUsageInfo;
  readonly extendedKeyUsage?: ExtendedKeyUsageInfo;
  readonly subjectKeyId?: string;
  readonly authorityKeyId?: string;
  /** An authorityKeyIdentifier extension is present (with or without a keyIdentifier). */
  readonly hasAuthorityKeyIdentifier?: boolean;
  /** authorityKeyIdentifier's authorityCertIssuer directory names (canonical keys). */
  readonly authorityCertIssuers?: readonly string[];
  /** authorityKeyIdentifier's authorityCertSerialNumber (hex). */
  readonly authorityCertSerial?: string;
  /** subjectAltName DNS names and IP addresses (hex). */
  readonly sanDns?: readonly string[];
  readonly sanIps?: readonly string[];
  /** subjectAltName email addresses and URIs (bytes as latin1), when there are some. */
  readonly sanEmails?: readonly string[];
  readonly sanUris?: readonly string[];
  /** subjectAltName directory names (canonical keys), when there are some. */
  readonly sanDirs?: readonly string[];
  /** subjectAltName SmtpUTF8Mailbox otherNames, when there are some. */
  readonly sanSmtpUtf8?: readonly SmtpUtf8Name[];
  /** The kinds (`nameKind`) of the other subjectAltName names OpenSSL cannot match, when there are some. */
  readonly sanOther?: readonly string[];
  readonly nameConstraints?: NameConstraintsInfo;
  /** authorityInfoAccess present but not well-formed. */
  readonly malformedAia?: boolean;
  /** cRLDistributionPoints fullName URIs, in the order written (which CRLs cover the certificate). */
  readonly crlDistributionPoints?: readonly string[];
  /**
   * Every distribution point carries `reasons` (its CRLs cover some reasons only): a server
   * without extended CRL support finds no CRL covering all reasons for the certificate.
   */
  readonly crlDistributionPointsByReasons?: boolean;
  /** cRLDistributionPoints present but not well-formed (its URIs are then left out). */
  readonly malformedCrlDistributionPoints?: boolean;
}

const NAMES: Record<string, string> = {
  [EXT.basicConstraints]: 'basicConstraints',
  [EXT.keyUsage]: 'keyUsage',
  [EXT.extKeyUsage]: 'extendedKeyUsage',
  [EXT.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [EXT.authorityKeyIdentifier]: 'authorityKeyIdentifier',
  [EXT.subjectAltName]: 'subjectAltName',
  [EXT.nameConstraints]: 'nameConstraints',
  [EXT.authorityInfoAccess]: 'authorityInfoAccess',
  [EXT.crlDistributionPoints]: 'cRLDistributionPoints',
};

/**
 * Decodes the five extensions trustroll judges, with the same strict DER walker as the rest of
 * the certificate. (It replaced @peculiar/asn1-x509 here, which cost 110 KiB of bundle and a
 * third of the handlers' cold start; that library stays the oracle the decoder is tested
 * against.) A malformed extension is a `DerError` naming it.
 */
export const decodeExtensions = (extensions: readonly RawExtension[]): DecodedExtensions => {
  const out: { -readonly [K in keyof DecodedExtensions]: DecodedExtensions[K] } = {};
  const seen = new Set<string>();
  for (const ext of extensions) {
    if (seen.has(ext.oid)) throw new DerError(`extension ${NAMES[ext.oid] ?? ext.oid} appears twice`);
    seen.add(ext.oid);
    const name = NAMES[ext.oid];
    if (!name) continue;
    if (ext.oid === EXT.authorityInfoAccess) {
      out.malformedAia = !wellFormedAia(ext.value);
      continue;
    }
    if (ext.oid === EXT.crlDistributionPoints) {
      // Like AIA, only informative (which CRL covers the certificate): a malformed one does not
      // make the certificate unreadable.
      const uris = crlDistributionPointUris(ext.value);
      if (uris) out.crlDistributionPoints = uris;
      else out.malformedCrlDistributionPoints = true;
      if (uris && everyPointByReasons(ext.value)) out.crlDistributionPointsByReasons = true;
      continue;
    }
    try {
      const value = readSingle(ext.value);
      switch (ext.oid) {
        case EXT.basicConstraints:
          out.basicConstraints = { ...basicConstraints(value), critical: ext.critical };
          break;
        case EXT.keyUsage:
          out.keyUsage = { usages: keyUsage(value), critical: ext.critical };
          break;
        case EXT.extKeyUsage:
          out.extendedKeyUsage = {
            purposes: children(expectTag(value, TAG.SEQUENCE, name)).map((p) => {
              const oid = decodeOid(expectTag(p, TAG.OID, 'key purpose').content);
              return EKU_NAMES[oid] ?? oid;
            }),
            critical: ext.critical,
          };
          break;
        case EXT.subjectKeyIdentifier:
          out.subjectKeyId = toHex(expectTag(value, TAG.OCTET_STRING, name).content);
          break;
        case EXT.authorityKeyIdentifier: {
          // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, … }
          const fields = children(expectTag(value, TAG.SEQUENCE, name));
          const keyId = fields.find((f) => f.tag === 0x80);
          out.hasAuthorityKeyIdentifier = true;
          if (keyId) out.authorityKeyId = toHex(keyId.content);
          const issuers = fields.find((f) => f.tag === 0xa1);
          if (issuers) {
            out.authorityCertIssuers = children(issuers)
              .filter((g) => g.tag === 0xa4)
              .map((g) => parseName(children(g)[0] ?? fail('directoryName'), 'authorityCertIssuer').key);
          }
          const serial = fields.find((f) => f.tag === 0x82);
          if (serial) out.authorityCertSerial = toHex(serial.content);
          break;
        }
        case EXT.subjectAltName: {
          const names = children(expectTag(value, TAG.SEQUENCE, name));
          out.sanDns = names
            .filter((n) => n.tag === 0x82)
            .map((n) => Buffer.from(n.content).toString('latin1'));
          out.sanIps = names.filter((n) => n.tag === 0x87).map((n) => toHex(n.content));
          const text = (tag: number) =>
            names.filter((n) => n.tag === tag).map((n) => Buffer.from(n.content).toString('latin1'));
          const emails = text(0x81);
          if (emails.length > 0) out.sanEmails = emails;
          const uris = text(0x86);
          if (uris.length > 0) out.sanUris = uris;
          const dirs = names
            .filter((n) => n.tag === 0xa4)
            .map(
              (n) => parseName(children(n)[0] ?? fail('directoryName'), 'subjectAltName directoryName').key,
            );
          if (dirs.length > 0) out.sanDirs = dirs;
          const smtp: SmtpUtf8Name[] = [];
          const other: string[] = [];
          for (const n of names) {
            const kind = nameKind(n);
            if (kind === `otherName ${SMTP_UTF8_MAILBOX}`) {
              // OtherName ::= SEQUENCE { type-id, value [0] EXPLICIT ANY }
              const value =
                children(expectTag(children(n)[1], 0xa0, 'otherName value'))[0] ?? fail('otherName value');
              smtp.push({
                value: Buffer.from(value.content).toString('latin1'),
                utf8: value.tag === TAG.UTF8_STRING,
              });
            } else if (!['email', 'dns', 'dir', 'uri', 'ip'].includes(kind)) other.push(kind);
          }
          if (smtp.length > 0) out.sanSmtpUtf8 = smtp;
          if (other.length > 0) out.sanOther = other;
          break;
        }
        case EXT.nameConstraints:
          out.nameConstraints = nameConstraints(value);
          break;
      }
    } catch (error) {
      const reason = error instanceof DerError ? error.message : String(error);
      throw new DerError(`extension ${name} is malformed (${reason})`, { cause: error });
    }
  }
  return out;
};

/** AuthorityInfoAccessSyntax ::= SEQUENCE OF AccessDescription { accessMethod OID, accessLocation GeneralName } */
const wellFormedAia = (bytes: Uint8Array): boolean => {
  try {
    for (const ad of children(expectTag(readSingle(bytes), TAG.SEQUENCE, 'authorityInfoAccess'))) {
      const [method, location, extra] = children(expectTag(ad, TAG.SEQUENCE, 'access description'));
      decodeOid(expectTag(method, TAG.OID, 'access method').content);
      if (location?.tagClass !== 2 || extra) return false;
    }
    return true;
  } catch {
    return false;
  }
};

/**
 * CRLDistributionPoints ::= SEQUENCE OF DistributionPoint { distributionPoint [0] DistributionPointName
 * OPTIONAL, reasons [1], cRLIssuer [2] }: the fullName URIs of every point, or undefined when malformed.
 */
const crlDistributionPointUris = (bytes: Uint8Array): string[] | undefined => {
  try {
    const uris: string[] = [];
    for (const dp of children(expectTag(readSingle(bytes), TAG.SEQUENCE, 'cRLDistributionPoints'))) {
      const name = children(expectTag(dp, TAG.SEQUENCE, 'DistributionPoint')).find((f) => f.tag === 0xa0);
      if (name) uris.push(...distributionPointUris(name));
    }
    return uris;
  } catch {
    return undefined;
  }
};

/**
 * Whether every distribution point names its CRLs for some reasons only (a `reasons` field). Asked
 * only of an extension `crlDistributionPointUris` read, so its points parse.
 */
const everyPointByReasons = (bytes: Uint8Array): boolean => {
  const points = children(readSingle(bytes));
  return points.length > 0 && points.every((dp) => children(dp).some((f) => f.tag === 0x81));
};

/**
 * The URIs of a DistributionPointName (the `[0]` element that holds it, in cRLDistributionPoints
 * and in a CRL's issuingDistributionPoint): fullName [0] GeneralNames' uniformResourceIdentifier [6]
 * entries; other name forms (directoryName, nameRelativeToCRLIssuer [1]) give none.
 */
export const distributionPointUris = (dpName: Tlv): string[] => {
  const [choice, extra] = children(dpName);
  if (!choice || extra) throw new DerError('DistributionPointName must hold exactly one name form');
  if (choice.tag !== 0xa0) return [];
  return children(choice)
    .filter((n) => n.tag === 0x86)
    .map((n) => Buffer.from(n.content).toString('latin1'));
};

const fail = (what: string): never => {
  throw new DerError(`${what} is missing`);
};

/** NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] … } */
const nameConstraints = (value: Tlv): NameConstraintsInfo => {
  const out = {
    permittedDns: [] as string[],
    excludedDns: [] as string[],
    permittedIps: [] as { address: string; mask: string }[],
    excludedIps: [] as { address: string; mask: string }[],
    permittedDirs: [] as string[],
    excludedDirs: [] as string[],
    permittedEmails: [] as string[],
    excludedEmails: [] as string[],
    permittedUris: [] as string[],
    excludedUris: [] as string[],
    unsupported: [] as string[],
    minMax: [] as string[],
  };
  for (const subtrees of children(expectTag(value, TAG.SEQUENCE, 'nameConstraints'))) {
    const permitted = subtrees.tag === 0xa0;
    if (!permitted && subtrees.tag !== 0xa1) throw new DerError('unexpected field in nameConstraints');
    for (const subtree of children(subtrees)) {
      const [base, ...distance] = children(expectTag(subtree, TAG.SEQUENCE, 'GeneralSubtree'));
      if (!base) throw new DerError('GeneralSubtree without a base');
      const kind = nameKind(base);
      // minimum [0] DEFAULT 0, maximum [1]: OpenSSL applies a subtree only when it has neither (or minimum 0).
      const minimum = distance.find((f) => f.tag === 0x80);
      if (distance.some((f) => f.tag === 0x81) || minimum?.content.some((b) => b !== 0))
        out.minMax.push(kind);
      if (base.tag === 0x82) {
        (permitted ? out.permittedDns : out.excludedDns).push(Buffer.from(base.content).toString('latin1'));
      } else if (base.tag === 0x87) {
        const half = base.content.length / 2;
        const ip = {
          address: toHex(base.content.subarray(0, half)),
          mask: toHex(base.content.subarray(half)),
        };
        (permitted ? out.permittedIps : out.excludedIps).push(ip);
      } else if (base.tag === 0xa4) {
        const name = parseName(children(base)[0] ?? fail('directoryName'), 'nameConstraints directoryName');
        (permitted ? out.permittedDirs : out.excludedDirs).push(name.key);
      } else if (base.tag === 0x81) {
        (permitted ? out.permittedEmails : out.excludedEmails).push(
          Buffer.from(base.content).toString('latin1'),
        );
      } else if (base.tag === 0x86) {
        (permitted ? out.permittedUris : out.excludedUris).push(Buffer.from(base.content).toString('latin1'));
      } else {
        out.unsupported.push(kind);
      }
    }
  }
  return out;
};

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
const basicConstraints = (value: Tlv): { ca: boolean; pathLen?: number } => {
  const fields = children(expectTag(value, TAG.SEQUENCE, 'basicConstraints'));
  let i = 0;
  let ca = false;
  if (fields[i]?.tag === TAG.BOOLEAN) {
    const b = fields[i++]!.content;
    if (b.length !== 1) throw new DerError('cA is not a one-byte BOOLEAN');
    ca = b[0] !== 0;
  }
  let pathLen: number | undefined;
  if (fields[i]?.tag === TAG.INTEGER) {
    pathLen = smallInteger(fields[i++], 'pathLenConstraint');
    if (pathLen < 0) throw new DerError('pathLenConstraint is negative');
  }
  if (i !== fields.length) throw new DerError('unexpected field after pathLenConstraint');
  return pathLen === undefined ? { ca } : { ca, pathLen };
};

/** KeyUsage ::= BIT STRING; the first content byte counts the unused bits. */
const keyUsage = (value: Tlv): KeyUsageName[] => {
  const content = expectTag(value, TAG.BIT_STRING, 'keyUsage').content;
  if (content.length === 0 || content[0]! > 7) throw new DerError('keyUsage bit string is malformed');
  const usages: KeyUsageName[] = [];
  KEY_USAGE_BITS.forEach((usage, bit) => {
    const byte = content[1 + (bit >> 3)];
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) usages.push(usage);
  });
  return usages;
};
