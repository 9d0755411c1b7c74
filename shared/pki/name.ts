import { children, DerError, decodeOid, expectTag, TAG, type Tlv, toHex } from './der.js';
import { ATTRIBUTE_NAMES } from './oids.js';

/** A distinguished name: RFC 4514 text for people, a canonical key for matching issuers to subjects. */
export interface DistinguishedName {
  /** RFC 4514 string, most specific RDN first (e.g. `CN=Partner CA,O=Acme,C=DE`). */
  readonly text: string;
  /**
   * Canonical form for comparison: attribute OIDs with values case-folded and whitespace collapsed,
   * like OpenSSL's canonical encoding, so that `O=Acme` as UTF8String and PrintableString match.
   */
  readonly key: string;
}

const STRING_TAGS = new Set<number>([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.T61_STRING,
  TAG.IA5_STRING,
  TAG.UNIVERSAL_STRING,
  TAG.BMP_STRING,
  0x12, // NumericString
  0x1a, // VisibleString
]);

/** Parses an X.501 Name (SEQUENCE OF RDN). */
export const parseName = (tlv: Tlv, what: string): DistinguishedName => {
  expectTag(tlv, TAG.SEQUENCE, what);
  const rdns: string[] = [];
  const keys: string[] = [];
  for (const rdn of children(tlv)) {
    expectTag(rdn, TAG.SET, `${what} RDN`);
    const texts: string[] = [];
    const rdnKeys: string[] = [];
    for (const atv of children(rdn)) {
      const [type, value] = children(expectTag(atv, TAG.SEQUENCE, `${what} attribute`));
      const oid = decodeOid(expectTag(type, TAG.OID, `${what} attribute type`).content);
      if (!value) throw new DerError(`${what}: attribute ${oid} has no value`);
      const name = ATTRIBUTE_NAMES[oid];
      if (STRING_TAGS.has(value.tag)) {
        const str = decodeString(value);
        texts.push(`${name ?? oid}=${escapeValue(str)}`);
        rdnKeys.push(`${oid}=${canonical(str)}`);
      } else {
        // RFC 4514 §2.4: values of unknown syntax are written as # followed by the BER in hex.
        const hex = `#${toHex(value.bytes)}`;
        texts.push(`${name ?? oid}=${hex}`);
        rdnKeys.push(`${oid}=${hex}`);
      }
    }
    // Within a multi-valued RDN too, OpenSSL's RFC 2253 output lists the last value first: match it.
    rdns.push(texts.reverse().join('+'));
    keys.push(rdnKeys.sort().join('+'));
  }
  // RFC 4514 writes the last RDN of the sequence first.
  return { text: rdns.reverse().join(','), key: keys.join('/') };
};

/**
 * The values of one attribute type in a Name, in order (every RDN, every value of a multi-valued
 * RDN): the bytes as latin1 and the string tag, as name constraints compare them.
 */
export const attributeValues = (tlv: Tlv, oid: string): { value: string; tag: number }[] =>
  children(tlv)
    .flatMap((rdn) => children(rdn))
    .map((atv) => children(atv))
    .filter(([type]) => type !== undefined && decodeOid(type.content) === oid)
    .map(([, value]) => ({ value: Buffer.from(value!.content).toString('latin1'), tag: value!.tag }));

const decodeString = (tlv: Tlv): string => {
  const bytes = tlv.content;
  switch (tlv.tag) {
    case TAG.BMP_STRING:
      return Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)))
        .swap16()
        .toString('utf16le');
    case TAG.UNIVERSAL_STRING: {
      let out = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) {
        const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
        out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return out;
    }
    case TAG.T61_STRING:
      return Buffer.from(bytes).toString('latin1');
    default:
      // Invalid UTF-8 becomes U+FFFD rather than an error: names are for display and matching only.
      return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }
};

const canonical = (value: string): string => value.trim().replace(/\s+/g, ' ').toLowerCase();

/** RFC 4514 §2.4 escaping. */
export const escapeValue = (value: string): string => {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL must be escaped per RFC 4514
  out = out.replace(/\u0000/g, '\\00');
  // Decided on the value before either escape is added: a lone space is escaped once, not twice.
  const leading = out.startsWith('#') || out.startsWith(' ');
  const trailing = out.length > 1 && out.endsWith(' ');
  if (trailing) out = `${out.slice(0, -1)}\\ `;
  return leading ? `\\${out}` : out;
};
