import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { decodeOid, TAG } from './der.js';
import { CMS_DATA, CMS_SIGNED_DATA } from './oids.js';

/**
 * Looking for private keys where a certificate reader does not look: inside the fields of a
 * certificate (an extension, a name, the signature), in the other parts of a PKCS#7 bundle, in
 * BER (indefinite lengths, as PKCS#12 exporters write), wrapped in OCTET STRINGs, as text (openssl
 * -text, PuTTY, JWK, base64 or hex without armour, base64 of base64). Every look is bounded: at
 * most HUNT_NODES elements per input and HUNT_DEPTH levels of nesting, so a crafted upload costs
 * linear time. Only the finding is reported, never the bytes.
 */

/** Where key material is reported (the reader's collector). */
export interface KeyReporter {
  privateKey(where: string, what: string): void;
}

/**
 * The budget of one input, shared by every look into it: elements read, in proportion to its size.
 * Real certificates cost 0.12 elements per byte on average and 0.27 at worst (the system CA bundle
 * and the x509-limbo corpus, wrapped fields included), so one per byte leaves a wide margin. An
 * input that spends it is built to be slow, and is refused whole (`BudgetSpent`).
 */
export class HuntBudget {
  nodes = 0;
  readonly maxNodes: number;
  constructor(size: number, perByte = 1) {
    this.maxNodes = 10_000 + Math.ceil(perByte * size);
  }
  spend(): void {
    if (++this.nodes > this.maxNodes) throw new BudgetSpent();
  }
}
export class BudgetSpent extends Error {
  constructor() {
    super('too deeply nested to be examined for hidden keys');
  }
}

/**
 * Nesting the hunt follows; an input nested deeper is refused whole (`BudgetSpent`), never passed
 * unexamined. Real certificates nest at most 16 deep, wrapped fields and PKCS#7 included.
 */
const HUNT_DEPTH = 24;
/** Text decoded within text (base64 of base64 …) the hunt follows; deeper is refused whole. */
const TEXT_DEPTH = 8;
/** What a gzip stream inside a certificate field may decompress to, to be looked into. */
const GZIP_LIMIT = 1 << 20;

/** One BER element: definite or indefinite length (then its content ends before `00 00`). */
interface Ber {
  readonly tag: number;
  readonly constructed: boolean;
  readonly content: Uint8Array;
  /** Offset just after the element in the buffer it was read from. */
  readonly end: number;
}

/**
 * Reads one BER element at `offset`; undefined when malformed (no exception: a crafted upload makes
 * this fail at nearly every byte, and an exception costs microseconds).
 */
const readBer = (buf: Uint8Array, offset: number, budget: HuntBudget, depth = 0): Ber | undefined => {
  budget.spend();
  if (depth > HUNT_DEPTH) throw new BudgetSpent();
  if (offset + 2 > buf.length) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  const constructed = (tag & 0x20) !== 0;
  let pos = offset + 1;
  const first = buf[pos++]!;
  if (first === 0x80) {
    if (!constructed) return undefined;
    // Indefinite: children up to the end-of-contents marker.
    const start = pos;
    while (pos + 2 <= buf.length && !(buf[pos] === 0 && buf[pos + 1] === 0)) {
      const child = readBer(buf, pos, budget, depth + 1);
      if (!child) return undefined;
      pos = child.end;
    }
    if (pos + 2 > buf.length) return undefined;
    return { tag, constructed, content: buf.subarray(start, pos), end: pos + 2 };
  }
  let length = first;
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4 || pos + count > buf.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  if (pos + length > buf.length) return undefined;
  return { tag, constructed, content: buf.subarray(pos, pos + length), end: pos + length };
};

/** The children of a constructed element; undefined when its content is not a run of elements. */
const childrenOf = (el: Ber, budget: HuntBudget, depth: number): Ber[] | undefined => {
  const out: Ber[] = [];
  for (let pos = 0; pos < el.content.length; ) {
    const child = readBer(el.content, pos, budget, depth);
    if (!child) return undefined;
    out.push(child);
    pos = child.end;
  }
  return out;
};

const oidOf = (el: Ber | undefined): string => {
  if (!el || el.tag !== TAG.OID) return '';
  try {
    return decodeOid(el.content);
  } catch {
    return '';
  }
};

const smallInt = (el: Ber | undefined): number =>
  el?.tag === TAG.INTEGER && el.content.length === 1 ? el.content[0]! : -1;

/** Key algorithms of PKCS#8: RSA (and PSS), EC, DSA, DH, X/Ed25519/448, SM2, ML-DSA, ML-KEM, SLH-DSA. */
const KEY_ALGORITHM =
  /^(1\.2\.840\.113549\.1\.1\.(1|10)|1\.2\.840\.10045\.2\.1|1\.2\.840\.10040\.4\.1|1\.2\.840\.113549\.1\.3\.1|1\.2\.840\.10046\.2\.1|1\.3\.101\.11[0-3]|1\.2\.156\.10197\.1\.301|2\.16\.840\.1\.101\.3\.4\.(3|4)\.\d+)$/;
/** Password-based encryption of EncryptedPrivateKeyInfo: PKCS#5 (PBES1/2) and PKCS#12 PBE. */
const PBE = /^(1\.2\.840\.113549\.1\.5\.|1\.2\.840\.113549\.1\.12\.1\.)/;

export type KeyKind = 'private-key' | 'pkcs12';

/**
 * What a constructed element is, when it is key material. `loose` (a whole upload that is not a
 * certificate) takes any PKCS#8 algorithm; inside a certificate only known key algorithms and
 * exact shapes count, so that a legitimate extension is never taken for a key.
 */
const keyKind = (
  el: Ber,
  budget: HuntBudget,
  depth: number,
  loose: boolean,
  primes = true,
): KeyKind | undefined => {
  if (el.tag !== TAG.SEQUENCE) return undefined;
  const parts = childrenOf(el, budget, depth);
  const [a, b, c] = parts ?? [];
  if (!a || !parts) return undefined;
  const firstOid = (x: Ber) => oidOf(childrenOf(x, budget, depth + 1)?.[0]);
  const version = smallInt(a);
  // PFX: SEQUENCE { version 3, authSafe ContentInfo { data | signedData }, macData? }
  if (version === 3 && b?.tag === TAG.SEQUENCE && [CMS_DATA, CMS_SIGNED_DATA].includes(firstOid(b)))
    return 'pkcs12';
  // PKCS#8 PrivateKeyInfo / OneAsymmetricKey.
  if (
    (version === 0 || version === 1) &&
    b?.tag === TAG.SEQUENCE &&
    c?.tag === TAG.OCTET_STRING &&
    (loose || KEY_ALGORITHM.test(firstOid(b)))
  )
    return 'private-key';
  // SEC1 EC key: SEQUENCE { version 1, OCTET STRING d, [0] parameters?, [1] public key? }
  if (
    version === 1 &&
    b?.tag === TAG.OCTET_STRING &&
    (loose || (b.content.length >= 20 && b.content.length <= 72))
  )
    return 'private-key';
  // PKCS#1 RSA (9 integers) / DSA (6) private key: version 0, then integers only; version 1 is
  // multi-prime RSA, and any other small version is a key with its version edited.
  const integers = parts.every((p) => p.tag === TAG.INTEGER);
  if (version === 0 && parts.length >= 6 && integers) return 'private-key';
  if (
    version >= 1 &&
    version <= 9 &&
    parts.length >= 6 &&
    integers &&
    parts.some((p) => p.content.length >= 64)
  )
    return 'private-key';
  // An RSA key's two primes alone (the rest follows from them): two integers of 768 bits or more.
  // Not inside a BIT STRING, where an RSA public key { modulus, exponent } stands (a huge exponent
  // is refused as key.unsupported, not taken for a key).
  if (primes && parts.length === 2 && integers && parts.every((p) => p.content.length >= 96))
    return 'private-key';
  // EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier (PBE), OCTET STRING }
  if (a.tag === TAG.SEQUENCE && b?.tag === TAG.OCTET_STRING && parts.length === 2 && PBE.test(firstOid(a)))
    return 'private-key';
  return undefined;
};

const STRING_TAGS = new Set<number>([
  TAG.UTF8_STRING,
  TAG.PRINTABLE_STRING,
  TAG.T61_STRING,
  TAG.IA5_STRING,
  TAG.UNIVERSAL_STRING,
  TAG.BMP_STRING,
  0x1a, // VisibleString
  0x19, // GraphicString
  0x1b, // GeneralString
]);

/** Mostly printable ASCII: worth reading as text. */
/** Whether text holds a byte no text does (a control other than tab, line feed, form feed, return). */
export const holdsBinary = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 12 && c !== 13) || c === 0x7f) return true;
  }
  return false;
};

const looksLikeText = (bytes: Uint8Array): boolean => {
  let printable = 0;
  for (const b of bytes) if ((b >= 0x20 && b < 0x7f) || b === 9 || b === 10 || b === 13) printable++;
  return printable >= bytes.length * 0.95;
};

/** A context for one look: the reporter, the budget, and whether top-level shapes are loose. */
interface Hunt {
  readonly out: KeyReporter;
  readonly budget: HuntBudget;
  /** How many times text was decoded on the way here (base64 of base64…). */
  readonly textDepth: number;
  /** Below a BIT STRING (a public key, a signature): two big integers are not a key's primes. */
  readonly inBitString?: boolean;
}

/**
 * Looks at every element of `bytes` (a run of BER elements) and into them. Returns true when key
 * material was found (reported once at `where`).
 */
export const huntBer = (
  bytes: Uint8Array,
  where: string,
  out: KeyReporter,
  budget: HuntBudget,
  opts: { readonly loose?: boolean; readonly skipTop?: boolean; readonly textDepth?: number } = {},
): boolean => {
  const hunt = { out, budget, textDepth: opts.textDepth ?? 0 };
  const found = elements(bytes, hunt, 0, opts.loose ?? true, opts.skipTop ?? false);
  if (found)
    out.privateKey(
      where,
      found === 'pkcs12' ? 'a PKCS#12 (.p12/.pfx) archive, which bundles a private key' : 'a DER private key',
    );
  return found !== undefined;
};

const elements = (
  bytes: Uint8Array,
  hunt: Hunt,
  depth: number,
  loose: boolean,
  skipTop = false,
): KeyKind | undefined => {
  for (let pos = 0; pos < bytes.length; ) {
    const el = readBer(bytes, pos, hunt.budget, depth);
    if (!el) return undefined;
    const found = visit(el, hunt, depth, loose, skipTop);
    if (found) return found;
    pos = el.end;
  }
  return undefined;
};

const visit = (el: Ber, hunt: Hunt, depth: number, loose: boolean, skipSelf = false): KeyKind | undefined => {
  if (depth > HUNT_DEPTH) throw new BudgetSpent();
  if (el.constructed) {
    if (!skipSelf) {
      const kind = keyKind(el, hunt.budget, depth, loose, hunt.inBitString !== true);
      if (kind) return kind;
    }
    for (const kid of childrenOf(el, hunt.budget, depth + 1) ?? []) {
      const found = visit(kid, hunt, depth + 1, false);
      if (found) return found;
    }
    return undefined;
  }
  // A primitive: DER wrapped in it (an extension value, a signature, an OCTET STRING), or text.
  const content = el.tag === TAG.BIT_STRING ? el.content.subarray(1) : el.content;
  if (content.length < 16) return undefined;
  if (el.tag !== TAG.INTEGER && el.tag !== TAG.OID) {
    const below = el.tag === TAG.BIT_STRING ? { ...hunt, inBitString: true } : hunt;
    const inner = elements(content, below, depth + 1, false) ?? keyWithin(content, hunt.budget);
    if (inner) return inner;
  }
  let found: KeyKind | undefined;
  const report = { privateKey: () => (found ??= 'private-key') };
  if (STRING_TAGS.has(el.tag)) {
    // Every string is read as the text it is (UTF-8, BMP, Universal), whatever else it holds.
    huntText(stringText(el.tag, content), '', report, hunt.budget, hunt.textDepth + 1);
  } else if ((el.tag === TAG.OCTET_STRING || el.tag === TAG.BIT_STRING) && looksLikeText(content)) {
    huntText(Buffer.from(content).toString('latin1'), '', report, hunt.budget, hunt.textDepth + 1);
  }
  if (!found && content[0] === 0x1f && content[1] === 0x8b) found = inGzip(content, hunt, depth);
  return found;
};

/** The text of a string element, decoded as its type says. */
const stringText = (tag: number, bytes: Uint8Array): string => {
  if (tag === TAG.BMP_STRING)
    return Buffer.from(bytes.subarray(0, bytes.length - (bytes.length % 2)))
      .swap16()
      .toString('utf16le');
  if (tag === TAG.UNIVERSAL_STRING) {
    let out = '';
    for (let i = 0; i + 3 < bytes.length; i += 4) {
      const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
    }
    return out;
  }
  if (tag === TAG.UTF8_STRING) return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return Buffer.from(bytes).toString('latin1');
};

/** A gzip stream in a field (a compressed PEM key): decompressed within bounds and looked into. */
const inGzip = (content: Uint8Array, hunt: Hunt, depth: number): KeyKind | undefined => {
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(gunzipSync(content, { maxOutputLength: GZIP_LIMIT }));
  } catch {
    return undefined;
  }
  for (let i = 0; i < plain.length; i += 64) hunt.budget.spend();
  const inner = elements(plain, hunt, depth + 1, false) ?? keyWithin(plain, hunt.budget);
  if (inner) return inner;
  let found: KeyKind | undefined;
  huntText(
    Buffer.from(plain).toString('latin1'),
    '',
    { privateKey: () => (found ??= 'private-key') },
    hunt.budget,
    hunt.textDepth + 1,
  );
  return found;
};

/**
 * A DER (or BER) private key starting anywhere in `bytes` (behind a stray byte, or base64 decoded
 * out of alignment): only offsets where a key's first bytes stand (a SEQUENCE, then version 0, 1
 * or 2) are read, so the cost stays linear. Its length may take any form `readBer` reads (short,
 * one to four bytes, indefinite): OpenSSL reads a key written with any of them.
 */
const keyWithin = (bytes: Uint8Array, budget: HuntBudget): KeyKind | undefined => {
  for (let i = 1; i + 8 < bytes.length; i++) {
    if (bytes[i] !== TAG.SEQUENCE) continue;
    const first = bytes[i + 1]!;
    // 0x80 (indefinite): the content starts right after it, as after a short length.
    const header = first <= 0x80 ? 2 : first <= 0x84 ? 2 + (first & 0x7f) : 0;
    if (header === 0) continue;
    const v = i + header;
    if (bytes[v] !== TAG.INTEGER || bytes[v + 1] !== 1 || bytes[v + 2]! > 2) continue;
    const el = readBer(bytes, i, budget);
    if (!el) continue;
    const kind = keyKind(el, budget, 1, false);
    if (kind) return kind;
  }
  return undefined;
};

/**
 * Key material in text a certificate reader skips: a PEM private key block, a key's DER as base64
 * (also base64url, or base64 of base64) or hex without armour, a key printed by `openssl … -text`,
 * a PuTTY key file, a JSON Web Key with its private part. Each is reported at `where`.
 */
export const huntText = (
  text: string,
  where: string,
  out: KeyReporter,
  budget: HuntBudget,
  depth = 0,
): void => {
  if (text.trim() === '') return;
  if (depth > TEXT_DEPTH) {
    // Text decoded this many times and still holding encoded data was built to outlast the look.
    if (/[A-Za-z0-9+/_-]{64,}/.test(text.replace(/\s+/g, ''))) throw new BudgetSpent();
    return;
  }
  if (/-{3,}[ \t_-]{0,16}BEGIN[ \t_-]{1,16}[^\r\n]{0,40}PRIVATE[ \t_-]{1,16}KEY/i.test(text))
    out.privateKey(where, 'a PEM private key');
  if (
    /Private-Key:[ \t]*\(\d+[ \t]*bit|privateExponent:|^[ \t]*(priv|prime1|coefficient):[ \t]*\r?$/im.test(
      text,
    )
  )
    out.privateKey(where, 'a private key in text form (openssl -text output)');
  if (/PuTTY-User-Key-File-\d|^Private-Lines:/im.test(text))
    out.privateKey(where, 'a PuTTY private key file');
  if (/"kty"[ \t\r\n]*:/.test(text) && /"(d|p|q|dp|dq|k)"[ \t\r\n]*:[ \t\r\n]*"/.test(text))
    out.privateKey(where, 'a JSON Web Key with its private part');
  let reported = false;
  const look = (bytes: Uint8Array, how: string) => {
    if (reported) return;
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) return gzipped(bytes, how);
    if (huntBer(bytes, `${where} (${how})`, out, budget, { textDepth: depth })) {
      reported = true;
      return;
    }
    if (keyWithin(bytes, budget)) {
      reported = true;
      return out.privateKey(`${where} (${how})`, 'a DER private key');
    }
    if (looksLikeText(bytes))
      huntText(Buffer.from(bytes).toString('latin1'), `${where} (${how})`, out, budget, depth + 1);
  };
  /** A gzip stream (a compressed key file, also after base64): decompressed within bounds, looked into. */
  const gzipped = (bytes: Uint8Array, how: string) => {
    let plain: Uint8Array;
    try {
      plain = new Uint8Array(
        gunzipSync(bytes, { maxOutputLength: GZIP_LIMIT, finishFlush: zlibConstants.Z_SYNC_FLUSH }),
      );
    } catch {
      return;
    }
    for (let i = 0; i < plain.length; i += 64) budget.spend();
    look(plain, `${how}, gzip`);
  };
  // Bytes no text holds (controls other than tab and line ends): raw DER or a gzip stream appended
  // to PEM text. A DER key may start at any offset; a gzip stream at its magic bytes.
  if (holdsBinary(text)) {
    const raw = Buffer.from(text, 'latin1');
    if (keyWithin(Buffer.concat([Buffer.of(0), raw]), budget)) {
      reported = true;
      return out.privateKey(`${where} (binary data)`, 'a DER private key');
    }
    for (let i = raw.indexOf(0x1f); i >= 0 && !reported; i = raw.indexOf(0x1f, i + 1))
      if (raw[i + 1] === 0x8b && raw[i + 2] === 8) gzipped(new Uint8Array(raw.subarray(i)), 'binary data');
    if (reported) return;
  }
  // Runs of base64 (or base64url) text, on one line or many: a PEM body without its armour.
  for (const m of text.matchAll(/(?:[A-Za-z0-9+/_-]{16,}={0,2}[ \t]*\r?\n?){1,}/g)) {
    const run = m[0].replace(/\s+/g, '');
    if (run.length < 64) continue;
    const bytes = Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (/^[0-9a-fA-F]+$/.test(run) && run.length % 2 === 0)
      look(new Uint8Array(Buffer.from(run, 'hex')), 'hex');
    look(new Uint8Array(bytes), 'base64 without PEM armour');
    // A line of something else ahead of the base64 (a label) puts it out of alignment.
    const lines = m[0].split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length > 2) {
      const rest = lines.slice(1).join('').replace(/\s+/g, '');
      look(
        new Uint8Array(Buffer.from(rest.replace(/-/g, '+').replace(/_/g, '/'), 'base64')),
        'base64 without PEM armour',
      );
    }
  }
  // Base64 broken into short groups by spaces or line breaks, in any of its four alignments.
  const joined = text.replace(/[ \t\r\n]+/g, '');
  if (joined.length !== text.length) {
    for (const m of joined.matchAll(/[A-Za-z0-9+/]{64,}={0,2}/g)) {
      for (let shift = 0; shift < 4 && !reported; shift++)
        look(new Uint8Array(Buffer.from(m[0].slice(shift), 'base64')), 'base64 split by spaces or lines');
    }
  }
  // Hex with separators (colons, spaces, dashes), as openssl and key tools print bytes.
  for (const m of text.matchAll(/(?:[0-9a-fA-F]{2}[:\s-]{1,3}){32,}[0-9a-fA-F]{2}/g)) {
    const hex = m[0].replace(/[^0-9a-fA-F]/g, '');
    look(new Uint8Array(Buffer.from(hex, 'hex')), 'hex');
  }
};

/**
 * What key material the texts hold (the key hunt of uploads, run over each), if any; text built
 * to exhaust the hunt counts as holding one.
 */
export const keyInTexts = (texts: readonly string[]): string | undefined => {
  let found: string | undefined;
  const out = {
    privateKey: (_where: string, what: string) => {
      found ??= what;
    },
  };
  try {
    for (const text of texts) {
      const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
      const budget = new HuntBudget(bytes.length);
      huntText(text, 'text', out, budget);
      if (!found) huntBer(bytes, 'text', out, budget);
      if (found) return found;
    }
  } catch (error) {
    if (!(error instanceof BudgetSpent)) throw error;
    return 'text nested too deeply to be examined for keys';
  }
  return found;
};
