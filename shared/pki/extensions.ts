import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  KeyUsage,
  type KeyUsageType,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { DerError, toHex } from './der.js';
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

export interface KeyUsageInfo {
  readonly usages: readonly KeyUsageType[];
  readonly critical: boolean;
}

export interface ExtendedKeyUsageInfo {
  /** Purpose names (`clientAuth`, `serverAuth`, …) or dotted OIDs for unnamed purposes. */
  readonly purposes: readonly string[];
  readonly critical: boolean;
}

/** The extensions trustroll understands, decoded by @peculiar/asn1-x509. */
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

/** Decodes the extensions trustroll judges; a malformed one is a `DerError` naming it. */
export const decodeExtensions = (extensions: readonly RawExtension[]): DecodedExtensions => {
  const out: {
    -readonly [K in keyof DecodedExtensions]: DecodedExtensions[K];
  } = {};
  const seen = new Set<string>();
  for (const ext of extensions) {
    if (seen.has(ext.oid)) throw new DerError(`extension ${NAMES[ext.oid] ?? ext.oid} appears twice`);
    seen.add(ext.oid);
    try {
      switch (ext.oid) {
        case EXT.basicConstraints: {
          const bc = AsnConvert.parse(ext.value, BasicConstraints);
          out.basicConstraints = {
            ca: bc.cA === true,
            ...(bc.pathLenConstraint === undefined ? {} : { pathLen: bc.pathLenConstraint }),
            critical: ext.critical,
          };
          break;
        }
        case EXT.keyUsage:
          out.keyUsage = { usages: AsnConvert.parse(ext.value, KeyUsage).toJSON(), critical: ext.critical };
          break;
        case EXT.extKeyUsage:
          out.extendedKeyUsage = {
            purposes: [...AsnConvert.parse(ext.value, ExtendedKeyUsage)].map((oid) => EKU_NAMES[oid] ?? oid),
            critical: ext.critical,
          };
          break;
        case EXT.subjectKeyIdentifier:
          out.subjectKeyId = toHex(new Uint8Array(AsnConvert.parse(ext.value, SubjectKeyIdentifier).buffer));
          break;
        case EXT.authorityKeyIdentifier: {
          const aki = AsnConvert.parse(ext.value, AuthorityKeyIdentifier);
          if (aki.keyIdentifier) out.authorityKeyId = toHex(new Uint8Array(aki.keyIdentifier.buffer));
          break;
        }
        default:
          break;
      }
    } catch (error) {
      if (error instanceof DerError) throw error;
      throw new DerError(`extension ${NAMES[ext.oid]} is malformed`, { cause: error });
    }
  }
  return out;
};
