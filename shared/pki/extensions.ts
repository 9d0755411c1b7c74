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

/** The extensions trustroll understands. */
export interface DecodedExtensions {
  readonly basicConstraints?: BasicConstraintsInfo;
  readonly keyUsage?: KeyUsageInfo;
  readonly extendedKeyUsage?: ExtendedKeyUsageInfo;
  readonly subjectKeyId?: string;
  readonly authorityKeyId?: string;
}

const NAMES: Record<string, string> = {
  [EXT.basicConstraints]: 'basicConstraints',
  [EXT.keyUsage]: 'keyUsage',
  [EXT.extKeyUsage]: 'extendedKeyUsage',
  [EXT.subjectKeyIdentifier]: 'subjectKeyIdentifier',
  [EXT.authorityKeyIdentifier]: 'authorityKeyIdentifier',
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
          const keyId = children(expectTag(value, TAG.SEQUENCE, name)).find((f) => f.tag === 0x80);
          if (keyId) out.authorityKeyId = toHex(keyId.content);
          break;
        }
      }
    } catch (error) {
      const reason = error instanceof DerError ? error.message : String(error);
      throw new DerError(`extension ${name} is malformed (${reason})`, { cause: error });
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
