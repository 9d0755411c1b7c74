/**
 * A small, strict DER reader: just enough to walk certificates, PKCS#7 and key containers.
 *
 * Why not a general ASN.1 library for the outer structure: lint must stay within 2× of Node's native
 * parse + verify (see bench/), and walking tag-length-value headers over a shared buffer costs
 * microseconds, while schema-driven parsers allocate an object graph per certificate. Extension
 * values, which are small, are decoded by `@peculiar/asn1-x509` (see extensions.ts).
 *
 * Every read is bounds-checked and nesting is limited, so hostile input ends in a `DerError`, never
 * in an out-of-range read or a runaway recursion.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** One TLV element; `bytes` is the whole element (header + content), `content` only the value. */
export interface Tlv {
  readonly tag: number;
  readonly constructed: boolean;
  /** Tag class: 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly tagClass: number;
  /** Tag number within its class (low-tag-number form only; high tags are refused). */
  readonly tagNumber: number;
  readonly bytes: Uint8Array;
  readonly content: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads one element at `offset` of `buf`; the element must end within `end`. */
export const readTlv = (buf: Uint8Array, offset = 0, end = buf.length): Tlv => {
  const tlv = decodeTlv(buf, offset, end);
  if (typeof tlv === 'string') throw new DerError(tlv);
  return tlv;
};

/**
 * `readTlv` for a look that expects to fail often (random bytes read as DER, in the payload
 * check): undefined where `readTlv` throws, without the cost of an exception.
 */
export const tryReadTlv = (buf: Uint8Array, offset = 0, end = buf.length): Tlv | undefined => {
  const tlv = decodeTlv(buf, offset, end);
  return typeof tlv === 'string' ? undefined : tlv;
};

/** One element, or why the bytes are not one. */
const decodeTlv = (buf: Uint8Array, offset: number, end: number): Tlv | string => {
  if (offset + 2 > end) return `truncated: no room for a header at byte ${offset}`;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return `high-tag-number form at byte ${offset} is not supported`;
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0) return `indefinite length at byte ${offset} is not DER`;
    if (count > 4) return `length of ${count} bytes at byte ${offset} is too large`;
    if (pos + count > end) return `truncated length at byte ${offset}`;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  const contentEnd = pos + length;
  if (contentEnd > end)
    return `element at byte ${offset} claims ${length} bytes but only ${end - pos} remain`;
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    tagClass: tag >> 6,
    tagNumber: tag & 0x1f,
    bytes: buf.subarray(offset, contentEnd),
    content: buf.subarray(pos, contentEnd),
  };
};

/** Reads exactly one element spanning the whole buffer (trailing bytes are an error). */
export const readSingle = (buf: Uint8Array): Tlv => {
  const tlv = readTlv(buf);
  if (tlv.bytes.length !== buf.length) {
    throw new DerError(`${buf.length - tlv.bytes.length} unexpected bytes after the DER element`);
  }
  return tlv;
};

/** The children of a constructed element, in order. */
export const children = (parent: Tlv): Tlv[] => {
  if (!parent.constructed) throw new DerError(`tag 0x${hex1(parent.tag)} is not constructed`);
  const out: Tlv[] = [];
  const buf = parent.content;
  let pos = 0;
  while (pos < buf.length) {
    const child = readTlv(buf, pos);
    out.push(child);
    pos += child.bytes.length;
  }
  return out;
};

export const expectTag = (tlv: Tlv | undefined, tag: number, what: string): Tlv => {
  if (!tlv) throw new DerError(`${what} is missing`);
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex1(tag)}, found 0x${hex1(tlv.tag)}`);
  return tlv;
};

const hex1 = (n: number): string => n.toString(16).padStart(2, '0');

// A view, not a copy: a CRL of a million entries reads a million of these.
export const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Decodes an OBJECT IDENTIFIER's content to dotted text. */
export const decodeOid = (content: Uint8Array): string => {
  if (content.length === 0) throw new DerError('empty object identifier');
  if (content.length > 64) throw new DerError('object identifier longer than 64 bytes');
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const byte = content[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('object identifier arc too large');
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    } else if (i === content.length - 1) {
      throw new DerError('object identifier ends inside an arc');
    }
  }
  return parts.join('.');
};

export const readOid = (tlv: Tlv | undefined, what: string): string =>
  decodeOid(expectTag(tlv, TAG.OID, what).content);

/** The bits of a BIT STRING's content (first byte = number of unused bits). */
export const bitStringBytes = (tlv: Tlv, what: string): Uint8Array => {
  expectTag(tlv, TAG.BIT_STRING, what);
  if (tlv.content.length === 0) throw new DerError(`${what}: empty bit string`);
  return tlv.content.subarray(1);
};

/** A non-negative INTEGER's magnitude without leading zero bytes (for key sizes and serials). */
export const unsignedMagnitude = (content: Uint8Array): Uint8Array => {
  let i = 0;
  while (i < content.length - 1 && content[i] === 0) i++;
  return content.subarray(i);
};

/** Number of significant bits of an unsigned big-endian magnitude. */
export const bitLength = (magnitude: Uint8Array): number => {
  const first = magnitude[0] ?? 0;
  if (first === 0) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(first));
};

/** Small INTEGER (up to 2^48) as a JS number; larger values are refused. */
export const smallInteger = (tlv: Tlv | undefined, what: string): number => {
  const content = expectTag(tlv, TAG.INTEGER, what).content;
  if (content.length === 0 || content.length > 6) throw new DerError(`${what}: integer out of range`);
  let value = 0;
  for (const byte of content) value = value * 256 + byte;
  if ((content[0]! & 0x80) !== 0) value -= 2 ** (8 * content.length);
  return value;
};

/** UTCTime / GeneralizedTime as a Date (RFC 5280 forms, Z only). */
export const readTime = (tlv: Tlv | undefined, what: string): Date => {
  if (!tlv) throw new DerError(`${what} is missing`);
  const fast = quickTime(tlv);
  if (fast) return fast;
  const { content } = tlv;
  const text = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1');
  let m: RegExpExecArray | null;
  if (tlv.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
    if (!m) throw new DerError(`${what}: malformed UTCTime "${printable(text)}"`);
    const yy = Number(m[1]);
    return utc(yy >= 50 ? 1900 + yy : 2000 + yy, m, what);
  }
  if (tlv.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(text);
    if (!m) throw new DerError(`${what}: malformed GeneralizedTime "${printable(text)}"`);
    return utc(Number(m[1]), m, what);
  }
  throw new DerError(`${what}: expected a time, found tag 0x${hex1(tlv.tag)}`);
};

/**
 * The common forms (`YYMMDDHHMMSSZ`, `YYYYMMDDHHMMSSZ`) read straight from the bytes, for a CRL's
 * million revocation dates; anything else, or out of range, is left to the full reading (and
 * its message).
 */
const quickTime = (tlv: Tlv): Date | undefined => {
  const c = tlv.content;
  const long = tlv.tag === TAG.GENERALIZED_TIME;
  if (!(long ? c.length === 15 : tlv.tag === TAG.UTC_TIME && c.length === 13) || c[c.length - 1] !== 0x5a)
    return undefined;
  const two = (i: number) => {
    const a = c[i]! - 48;
    const b = c[i + 1]! - 48;
    return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
  };
  const o = long ? 2 : 0;
  const yy = two(0);
  const year = long ? yy * 100 + two(2) : yy >= 50 ? 1900 + yy : 2000 + yy;
  const [mo, d, h, mi, s] = [two(o + 2), two(o + 4), two(o + 6), two(o + 8), two(o + 10)] as [
    number,
    number,
    number,
    number,
    number,
  ];
  // Years below 100 (Date.UTC reads them as 19xx) and leap seconds take the full reading.
  if (!(year >= 100 && mo >= 1 && mo <= 12 && d >= 1 && h <= 23 && mi <= 59 && s <= 59)) return undefined;
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  return date.getUTCDate() === d ? date : undefined;
};

const utc = (year: number, m: RegExpExecArray, what: string): Date => {
  const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, Math.min(s, 59), 0);
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) {
    throw new DerError(`${what}: date out of range`);
  }
  // A leap second (:60, only ever at the end of a month) is checked as :59 and read as the next second.
  return s === 60 ? new Date(date.getTime() + 1000) : date;
};

/** Makes arbitrary bytes safe to print in one line of a message. */
export const printable = (text: string, max = 60): string => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
};
