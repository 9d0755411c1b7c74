import type { Certificate } from './certificate.js';
import { children, decodeOid, readSingle, TAG, type Tlv, tryReadTlv } from './der.js';
import { EXT } from './oids.js';

/**
 * A CA certificate may not carry opaque payload it has no use for: whatever trustroll cannot
 * understand in a certificate it publishes is a place to hide a private key (or anything else)
 * that no hunt can promise to find. The bounds are chosen so that every real CA passes (the
 * system CA bundle and the x509-limbo corpus: see `test/unit/pki/payload.test.ts`).
 */

/**
 * Largest value of an extension trustroll does not recognise. The largest such values in the
 * system bundle and the x509-limbo corpus are 49 bytes (2.23.42.7.0 of Chunghwa's ePKI root) and
 * 47 (Microsoft's certificate template); a private key's DER is longer (P-256 PKCS#8 without its
 * public key: 67, SEC1: 121, RSA-2048: about 1,200), let alone its text forms.
 */
export const MAX_UNKNOWN_EXTENSION_BYTES = 64;

/**
 * Longest value of a name attribute, in characters. RFC 5280's upper bounds are 64 for most
 * attributes (CN, O, OU, L, ST) and at most 255 (e-mail), 128 for a serial number; a private key
 * in PEM or base64 is more than 200 characters.
 */
export const MAX_NAME_VALUE_CHARS = 256;

/** Unique identifiers (v2/v3 issuerUniqueID, subjectUniqueID): opaque bits, deprecated by RFC 5280. */
export const MAX_UNIQUE_ID_BYTES = 64;

/** Extensions whose value trustroll decodes or whose contents it knows to be structured data. */
const RECOGNISED = new Set<string>([
  ...Object.values(EXT),
  '2.5.29.9', // subjectDirectoryAttributes
  '2.5.29.16', // privateKeyUsagePeriod
  '2.5.29.18', // issuerAltName
  '2.5.29.46', // freshestCRL
  '1.3.6.1.5.5.7.1.3', // qcStatements
  '1.3.6.1.5.5.7.1.11', // subjectInfoAccess
  '1.3.6.1.5.5.7.1.24', // TLS feature
  '1.3.6.1.4.1.11129.2.4.2', // embedded SCT list
  '1.3.6.1.4.1.11129.2.4.3', // CT precertificate poison
]);

/**
 * Why `cert` carries payload a CA has no use for, or undefined when it does not: an unknown
 * extension larger than `MAX_UNKNOWN_EXTENSION_BYTES`, a name attribute longer than
 * `MAX_NAME_VALUE_CHARS`, or unique identifiers larger than `MAX_UNIQUE_ID_BYTES`.
 */
export const opaquePayload = (cert: Certificate): string | undefined => {
  const fields = children(readSingle(cert.tbs));
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  i += 2; // serialNumber, signature
  const issuer = fields[i++];
  i++; // validity
  const subject = fields[i++];
  i++; // subjectPublicKeyInfo
  for (const [what, name] of [
    ['issuer', issuer],
    ['subject', subject],
  ] as const) {
    const long = name && longNameAttribute(name);
    if (long)
      return `its ${what} has an attribute (${long.oid}) of ${long.chars} characters, over the ${MAX_NAME_VALUE_CHARS} a name attribute may have`;
  }
  for (; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.tag === 0x81 || field.tag === 0x82) {
      if (field.content.length > MAX_UNIQUE_ID_BYTES)
        return `it carries ${field.tag === 0x81 ? 'an issuer' : 'a subject'}UniqueID of ${field.content.length} bytes (over ${MAX_UNIQUE_ID_BYTES})`;
      continue;
    }
    if (field.tag !== 0xa3) continue;
    for (const ext of children(children(field)[0]!)) {
      const parts = children(ext);
      const oid = decodeOid(parts[0]!.content);
      const value = parts.at(-1)!;
      if (!RECOGNISED.has(oid) && value.content.length > MAX_UNKNOWN_EXTENSION_BYTES)
        return `it carries an extension trustroll does not recognise (${oid}) holding ${value.content.length} bytes, over the ${MAX_UNKNOWN_EXTENSION_BYTES} such an extension may hold`;
      const long = longString(value.content, 0);
      if (long !== undefined)
        return `its extension ${oid} holds a text of ${long} characters, over the ${MAX_NAME_VALUE_CHARS} any name, URI or notice in a CA needs`;
    }
  }
  return undefined;
};

/**
 * The first attribute of a Name longer than `MAX_NAME_VALUE_CHARS`, in characters (strings) or
 * bytes (other syntaxes): the certificates' bound, applied to CRL issuers too.
 */
export const longNameAttribute = (name: Tlv): { oid: string; chars: number } | undefined => {
  for (const rdn of children(name)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (!type || !value) continue;
      const chars = charCount(value);
      if (chars > MAX_NAME_VALUE_CHARS) return { oid: decodeOid(type.content), chars };
    }
  }
  return undefined;
};

/** Text elements: the string types, and context-specific primitives (GeneralName's dNSName, URI, …). */
const TEXT_TAGS = new Set<number>([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.T61_STRING,
  TAG.IA5_STRING,
  TAG.UNIVERSAL_STRING,
  TAG.BMP_STRING,
  0x12, // NumericString
  0x1a, // VisibleString
  0x19, // GraphicString
  0x1b, // GeneralString
]);

/**
 * The length in characters of the first text element (at any depth) of `bytes` longer than a
 * name, URI or policy notice needs (RFC 5280: explicitText 200 characters, host names 253).
 * Undefined when none is, or when `bytes` is not a run of DER elements.
 */
const longString = (bytes: Uint8Array, depth: number): number | undefined => {
  if (depth > 8) return undefined;
  for (let pos = 0; pos < bytes.length; ) {
    const tlv = tryReadTlv(bytes, pos);
    if (!tlv) return undefined;
    if (tlv.constructed) {
      const inner = longString(tlv.content, depth + 1);
      if (inner !== undefined) return inner;
    } else if (TEXT_TAGS.has(tlv.tag) || tlv.tagClass === 2) {
      const chars = charCount(tlv);
      if (chars > MAX_NAME_VALUE_CHARS) return chars;
    } else if (tlv.tag === TAG.OCTET_STRING) {
      // Extension values nest DER in OCTET STRINGs (the SCT list, a subjectKeyIdentifier).
      const inner = longString(tlv.content, depth + 1);
      if (inner !== undefined) return inner;
    }
    pos += tlv.bytes.length;
  }
  return undefined;
};

const charCount = (value: Tlv): number => {
  switch (value.tag) {
    case TAG.BMP_STRING:
      return Math.ceil(value.content.length / 2);
    case TAG.UNIVERSAL_STRING:
      return Math.ceil(value.content.length / 4);
    case TAG.UTF8_STRING:
      return [...new TextDecoder('utf-8', { fatal: false }).decode(value.content)].length;
    default:
      return value.content.length;
  }
};
