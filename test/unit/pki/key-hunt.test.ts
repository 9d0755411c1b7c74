import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BudgetSpent,
  HuntBudget,
  holdsBinary,
  huntBer,
  huntText,
  keyInTexts,
} from '../../../shared/pki/key-hunt.js';
import { indefinite, oid, tlv } from '../../fixtures/der.js';

/**
 * The key hunt looks where a certificate reader does not. Every shape of key it knows is built here
 * by hand (with just the parts the hunt checks) and also with one part wrong; every bound with the
 * input just inside and just outside it; and where a finding is reported, its place and wording.
 */
const u8 = (...b: number[]) => new Uint8Array(b);
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const int = (v: number) => tlv(0x02, u8(v));
/** An INTEGER of `n` content bytes (not text, not DER). */
const big = (n: number) => tlv(0x02, new Uint8Array(n).fill(0x5a));
/** An OCTET STRING of `n` bytes no hunt reads anything into (0xa5: neither text nor DER). */
const octet = (n: number) => tlv(0x04, new Uint8Array(n).fill(0xa5));
const alg = (dotted: string) => seq(oid(dotted), tlv(0x05));
const EC = '1.2.840.10045.2.1';
const PBES2 = '1.2.840.113549.1.5.13';
const pkcs8 = (algorithm = EC, version = 0) => seq(int(version), alg(algorithm), octet(32));
/** EncryptedPrivateKeyInfo: starts with a SEQUENCE, so only a look at its elements finds it. */
const epki = (algorithm = PBES2) => seq(alg(algorithm), octet(40));
const pkcs1 = (version: number, count: number, size = 1) =>
  seq(int(version), ...Array.from({ length: count - 1 }, () => big(size)));

const DER_KEY = 'a DER private key';
const P12 = 'a PKCS#12 (.p12/.pfx) archive, which bundles a private key';

/** The findings of huntBer over `bytes` (as `where: what`), and what it returned. */
const ber = (bytes: Uint8Array, opts: Parameters<typeof huntBer>[4] = {}) => {
  const found: string[] = [];
  const returned = huntBer(
    bytes,
    'in',
    { privateKey: (where, what) => found.push(`${where}: ${what}`) },
    new HuntBudget(bytes.length),
    opts,
  );
  expect(returned).toBe(found.length > 0);
  return found;
};
/** What the hunt makes of `bytes` inside a certificate (strict shapes). */
const strict = (bytes: Uint8Array) => ber(bytes, { loose: false });
const text = (t: string, depth = 0) => {
  const found: string[] = [];
  huntText(
    t,
    'f',
    { privateKey: (where, what) => found.push(`${where}: ${what}`) },
    new HuntBudget(t.length),
    depth,
  );
  return found;
};

const ecKey = () =>
  new Uint8Array(
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' }),
  );
const KEY = ecKey();
const B64 = Buffer.from(KEY).toString('base64');
/** PEM armour alone (no base64 body to find as well). */
const MARKER = '-----BEGIN PRIVATE KEY-----\n';
const PEM = `-----BEGIN PRIVATE KEY-----\n${B64.replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`;

describe('HuntBudget', () => {
  it('allows 10,000 elements plus one per byte (or the share given), and refuses the next', () => {
    expect(new HuntBudget(10).maxNodes).toBe(10_010);
    expect(new HuntBudget(10, 0.25).maxNodes).toBe(10_003);
    const budget = new HuntBudget(0);
    expect(budget.nodes).toBe(0);
    for (let i = 0; i < 10_000; i++) budget.spend();
    expect(budget.nodes).toBe(10_000);
    expect(() => budget.spend()).toThrow(BudgetSpent);
    expect(() => budget.spend()).toThrow('too deeply nested to be examined for hidden keys');
  });
});

describe('holdsBinary', () => {
  it('finds controls other than tab, line feed, form feed and return, and DEL', () => {
    expect(holdsBinary('plain text ~ \t\n\f\r')).toBe(false);
    for (const c of [0, 8, 11, 14, 0x1f, 0x7f]) expect(holdsBinary(`a${String.fromCharCode(c)}b`)).toBe(true);
    expect(holdsBinary('é€')).toBe(false);
    expect(holdsBinary('')).toBe(false);
  });
});

describe('DER and BER key shapes', () => {
  it('reports PKCS#8 and PKCS#12 with what they are, where they are', () => {
    expect(ber(KEY)).toEqual([`in: ${DER_KEY}`]);
    expect(ber(seq(int(3), seq(oid('1.2.840.113549.1.7.1'))))).toEqual([`in: ${P12}`]);
    expect(ber(seq(int(3), seq(oid('1.2.840.113549.1.7.2'))))).toEqual([`in: ${P12}`]);
  });

  it('takes a PFX only with version 3 and a data or signedData ContentInfo', () => {
    expect(ber(seq(int(2), seq(oid('1.2.840.113549.1.7.1'))))).toEqual([]);
    expect(ber(seq(int(3), tlv(0x31, oid('1.2.840.113549.1.7.1'))))).toEqual([]);
    expect(ber(seq(int(3), seq(oid('1.2.840.113549.1.7.3'))))).toEqual([]);
    expect(ber(seq(int(3), seq(octet(2))))).toEqual([]);
  });

  it('takes any PKCS#8 algorithm in a whole upload, only key algorithms inside a certificate', () => {
    expect(ber(pkcs8('1.2.3.4'))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(pkcs8('1.2.3.4', 1))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs8('1.2.3.4'))).toEqual([]);
    // Inside an element, shapes are strict even in a whole upload.
    expect(ber(seq(pkcs8('1.2.3.4')))).toEqual([]);
    expect(ber(seq(pkcs8(EC)))).toEqual([`in: ${DER_KEY}`]);
    for (const known of [
      '1.2.840.113549.1.1.1',
      '1.2.840.113549.1.1.10',
      EC,
      '1.2.840.10040.4.1',
      '1.2.840.113549.1.3.1',
      '1.2.840.10046.2.1',
      '1.3.101.110',
      '1.3.101.113',
      '1.2.156.10197.1.301',
      '2.16.840.1.101.3.4.3.17',
      '2.16.840.1.101.3.4.4.1',
    ])
      expect(strict(pkcs8(known)), known).toEqual([`in: ${DER_KEY}`]);
    for (const other of [
      '1.2.840.113549.1.1.11',
      '1.3.101.114',
      '2.16.840.1.101.3.4.2.1',
      '1.3.1.2.840.10045.2.1',
      '1.2.840.10045.2.1.5',
    ])
      expect(strict(pkcs8(other)), other).toEqual([]);
  });

  it('takes PKCS#8 only with version 0 or 1, an AlgorithmIdentifier and an OCTET STRING', () => {
    expect(strict(pkcs8(EC, 2))).toEqual([]);
    expect(strict(seq(int(0), tlv(0x31, oid(EC)), octet(32)))).toEqual([]);
    expect(strict(seq(int(0), alg(EC), tlv(0x03, u8(0, 1, 2))))).toEqual([]);
    // A version is one byte: two are not read as 0.
    expect(ber(seq(tlv(0x02, u8(0, 0)), alg(EC), octet(32)))).toEqual([]);
    expect(ber(seq(tlv(0x0a, u8(0)), alg(EC), octet(32)))).toEqual([]);
    // Not a SEQUENCE.
    expect(ber(tlv(0x31, int(0), alg(EC), octet(32)))).toEqual([]);
    // An algorithm identifier whose OID does not decode.
    expect(strict(seq(int(0), seq(tlv(0x06, u8(0x81))), octet(32)))).toEqual([]);
  });

  it('takes a SEC1 EC key with a private value of 20 to 72 bytes inside a certificate, any size in an upload', () => {
    const sec1 = (d: number) => seq(int(1), octet(d));
    expect(strict(sec1(20))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(sec1(72))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(sec1(19))).toEqual([]);
    expect(strict(sec1(73))).toEqual([]);
    expect(ber(sec1(5))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(seq(int(0), octet(32)))).toEqual([]);
    expect(ber(seq(int(1), tlv(0x03, new Uint8Array(32))))).toEqual([]);
  });

  it('takes PKCS#1 and DSA keys: version 0 and at least six integers', () => {
    expect(strict(pkcs1(0, 6))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs1(0, 9))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs1(0, 5))).toEqual([]);
    expect(strict(seq(int(0), big(1), big(1), big(1), big(1), tlv(0x05)))).toEqual([]);
  });

  it('takes a version 1 to 9 (multi-prime, or edited) when an integer has 64 bytes or more', () => {
    expect(strict(pkcs1(1, 6, 64))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs1(2, 6, 64))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs1(9, 6, 64))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(pkcs1(10, 6, 64))).toEqual([]);
    expect(strict(pkcs1(2, 6, 63))).toEqual([]);
    expect(strict(pkcs1(2, 5, 64))).toEqual([]);
    expect(strict(seq(int(2), big(64), big(64), big(64), big(64), tlv(0x05)))).toEqual([]);
  });

  it('takes an RSA key’s two primes alone (96 bytes or more each), but not under a BIT STRING', () => {
    const primes = (a: number, b: number) => seq(big(a), big(b));
    expect(strict(primes(96, 96))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(primes(96, 95))).toEqual([]);
    expect(strict(primes(95, 96))).toEqual([]);
    expect(strict(seq(big(96), big(96), big(96)))).toEqual([]);
    expect(strict(seq(big(96), octet(96)))).toEqual([]);
    // An RSA public key { modulus, exponent } in a subjectPublicKeyInfo: not a key's primes.
    expect(strict(seq(tlv(0x03, cat(u8(0), primes(128, 128)))))).toEqual([]);
    expect(strict(seq(tlv(0x03, cat(u8(0), seq(tlv(0x04, primes(128, 128)))))))).toEqual([]);
    expect(strict(seq(tlv(0x04, primes(128, 128))))).toEqual([`in: ${DER_KEY}`]);
  });

  it('takes an EncryptedPrivateKeyInfo with PKCS#5 or PKCS#12 password-based encryption', () => {
    expect(strict(epki())).toEqual([`in: ${DER_KEY}`]);
    expect(strict(epki('1.2.840.113549.1.5.3'))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(epki('1.2.840.113549.1.12.1.3'))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(epki('1.2.840.113549.1.12.10.1.2'))).toEqual([]);
    expect(strict(epki('1.2.840.113549.1.1.1'))).toEqual([]);
    expect(strict(epki('1.3.1.2.840.113549.1.5.13'))).toEqual([]);
    expect(strict(seq(alg(PBES2), octet(40), octet(1)))).toEqual([]);
    expect(strict(seq(alg(PBES2), tlv(0x03, new Uint8Array(40))))).toEqual([]);
    expect(strict(seq(oid(PBES2), octet(40)))).toEqual([]);
  });

  it('reads nothing into an empty SEQUENCE, or one whose content is not a run of elements', () => {
    expect(ber(seq())).toEqual([]);
    expect(ber(tlv(0x30, u8(0x02, 0x05, 0)))).toEqual([]);
    // A key's parts followed by a stray byte, or by a length cut short, are not a key.
    expect(ber(seq(int(0), alg(EC), octet(32), u8(0x05)))).toEqual([]);
    expect(ber(seq(int(0), alg(EC), octet(32), u8(0x30, 0x82, 0)))).toEqual([]);
  });

  it('reads shapes with parts missing as no key, without failing', () => {
    for (const parts of [
      [int(3)],
      [int(0)],
      [int(1)],
      [int(0), alg(EC)],
      [int(3), tlv(0x30, u8(0x02, 0x05, 0))],
    ])
      expect(ber(seq(...parts))).toEqual([]);
    // An algorithm identifier that is empty, or whose first element is not an OID (but holds one).
    expect(strict(seq(int(0), seq(), octet(32)))).toEqual([]);
    expect(strict(seq(int(0), seq(tlv(0x04, oid(EC).subarray(2))), octet(32)))).toEqual([]);
    // An EncryptedPrivateKeyInfo's algorithm is a SEQUENCE, not a SET.
    expect(strict(seq(tlv(0x31, oid(PBES2)), octet(40)))).toEqual([]);
    // Six integers without a version are no key.
    expect(strict(seq(big(64), big(64), big(1), big(1), big(1), big(1)))).toEqual([]);
  });

  it('looks at the elements around and after one that is not a key, and stops at a malformed one', () => {
    expect(ber(cat(int(5), KEY))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(cat(seq(int(5)), epki()))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(cat(u8(0x1f, 0x01, 0x00), epki()))).toEqual([]);
    expect(ber(cat(u8(0x05), epki()))).toEqual([]);
    expect(ber(cat(u8(0x04, 0x80, 0, 0), epki()))).toEqual([]);
  });

  it('skips the top element when asked (a certificate is not a key), never what is inside it', () => {
    expect(ber(pkcs8(), { skipTop: true })).toEqual([]);
    expect(ber(seq(pkcs8()), { skipTop: true, loose: false })).toEqual([`in: ${DER_KEY}`]);
  });
});

describe('BER as read by the hunt', () => {
  it('reads indefinite lengths, up to the end-of-contents marker, and what follows them', () => {
    expect(ber(indefinite(KEY))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(seq(indefinite(seq(int(7))), indefinite(epki())))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(cat(indefinite(seq(int(7))), epki()))).toEqual([`in: ${DER_KEY}`]);
    // No end-of-contents marker, or a child that is malformed.
    expect(ber(indefinite(epki()).subarray(0, -2))).toEqual([]);
    expect(ber(cat(u8(0x30, 0x80), u8(0x02, 0x05, 0)))).toEqual([]);
    // Only 00 00 ends the content: not another two-byte element at the end, or a child with a 00.
    expect(ber(cat(u8(0x30, 0x80), pkcs8().subarray(2), u8(0x05, 0)))).toEqual([]);
    expect(ber(indefinite(seq(int(0), alg(EC), u8(0x04, 0))))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(cat(indefinite(seq(u8(0, 1, 0xff))), epki()))).toEqual([`in: ${DER_KEY}`]);
  });

  it('reads long lengths of up to four bytes, not five, and not past the end', () => {
    const body = epki().subarray(2);
    expect(ber(cat(u8(0x30, 0x84, 0, 0, 0, body.length), body))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(cat(u8(0x30, 0x85, 0, 0, 0, 0, body.length), body))).toEqual([]);
    expect(ber(u8(0x30, 0x84, 0, 0))).toEqual([]);
    expect(ber(tlv(0x30, new Uint8Array(300).fill(0xa5)))).toEqual([]);
    expect(ber(seq(int(0), alg(EC), tlv(0x04, new Uint8Array(300).fill(0xa5))))).toEqual([`in: ${DER_KEY}`]);
    // An element ending exactly at the end of its parent, with an empty long-form length.
    expect(ber(seq(int(0), alg(EC), u8(0x04, 0x81, 0)))).toEqual([`in: ${DER_KEY}`]);
    expect(ber(seq(int(0), alg(EC), u8(0x04, 0)))).toEqual([`in: ${DER_KEY}`]);
  });

  it('follows 24 levels of nesting and refuses the input whole beyond', () => {
    const nest = (levels: number, inner: Uint8Array) => {
      let der = inner;
      for (let i = 0; i < levels; i++) der = seq(der);
      return der;
    };
    // The key's own children are one level deeper than the key.
    expect(ber(nest(23, pkcs8()))).toEqual([`in: ${DER_KEY}`]);
    expect(() => ber(nest(24, pkcs8()))).toThrow(BudgetSpent);
    // Indefinite lengths are read to their end before anything is judged: a key next to a deep one.
    let deep: Uint8Array = int(1);
    for (let i = 0; i < 24; i++) deep = indefinite(seq(deep));
    expect(ber(seq(int(0), alg(EC), octet(32), deep))).toEqual([`in: ${DER_KEY}`]);
    expect(() => ber(seq(int(0), alg(EC), octet(32), indefinite(seq(deep))))).toThrow(BudgetSpent);
  });

  it('spends the budget element by element', () => {
    const budget = new HuntBudget(0);
    budget.nodes = budget.maxNodes - 3;
    expect(() => huntBer(seq(int(1), int(2), int(3)), 'in', { privateKey: () => {} }, budget)).toThrow(
      BudgetSpent,
    );
  });
});

describe('keys wrapped in a primitive', () => {
  it('unwraps OCTET STRINGs and BIT STRINGs (after the unused-bits byte), not INTEGERs or OIDs', () => {
    expect(strict(seq(tlv(0x04, epki())))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x03, cat(u8(0), epki()))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x0c, epki())))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x02, epki())))).toEqual([]);
    expect(strict(seq(tlv(0x06, epki())))).toEqual([]);
  });

  it('looks into primitives of 16 bytes or more only', () => {
    expect(strict(seq(tlv(0x0c, Buffer.from('privateExponent:'))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x03, cat(u8(0), Buffer.from('privateExponent:')))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x0c, Buffer.from('privateExponent'))))).toEqual([]);
    expect(strict(seq(tlv(0x0c, Buffer.from('x\npriv:'))))).toEqual([]);
  });

  it('judges what a primitive holds strictly, and follows primitives only 24 deep', () => {
    expect(strict(seq(tlv(0x04, pkcs8('1.2.3.4'))))).toEqual([]);
    expect(strict(seq(tlv(0x04, gzipSync(pkcs8('1.2.3.4')))))).toEqual([]);
    let deep: Uint8Array = epki();
    for (let i = 0; i < 30; i++) deep = tlv(0x04, deep);
    expect(() => strict(deep)).toThrow(BudgetSpent);
  });

  it('finds a key behind a stray byte, whatever the length of its length', () => {
    // After a SEQUENCE that is no key, or one whose length runs past the end.
    expect(strict(seq(tlv(0x04, cat(u8(0), seq(int(0)), pkcs1(0, 6)))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, u8(0, 0x30, 0x7f, 0x02, 0x01, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10))))).toEqual(
      [],
    );
    for (const size of [40, 200, 300])
      expect(strict(seq(tlv(0x04, cat(u8(0), seq(int(0), alg(EC), octet(size))))))).toEqual([
        `in: ${DER_KEY}`,
      ]);
    expect(strict(seq(tlv(0x04, cat(u8(0x30, 0), pkcs1(0, 6)))))).toEqual([`in: ${DER_KEY}`]);
    // BER lengths OpenSSL reads too: indefinite, and long forms with leading zeros (up to four bytes).
    const body = pkcs8().subarray(2);
    for (const header of [
      u8(0x30, 0x81, body.length),
      u8(0x30, 0x83, 0, 0, body.length),
      u8(0x30, 0x84, 0, 0, 0, body.length),
    ])
      expect(strict(seq(tlv(0x04, cat(u8(0), header, body))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, cat(u8(0), indefinite(pkcs8())))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, cat(u8(0, 0x30, 0x85, 0, 0, 0, 0, body.length), body))))).toEqual([]);
    // Only a SEQUENCE starting with version 0, 1 or 2 is read.
    expect(strict(seq(tlv(0x04, cat(u8(0), pkcs1(2, 6, 64)))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, cat(u8(0), pkcs1(3, 6, 64)))))).toEqual([]);
    expect(
      strict(seq(tlv(0x04, cat(u8(0), seq(tlv(0x02, u8(0, 0)), big(1), big(1), big(1), big(1), big(1)))))),
    ).toEqual([]);
    expect(strict(seq(tlv(0x04, cat(u8(0), seq(int(0), alg('1.2.3.4'), octet(40))))))).toEqual([]);
  });

  it('reads strings as text of their type', () => {
    const marker = 'privateExponent:';
    // BMPString (also with an odd byte), UniversalString (a code point past Unicode is replaced).
    const bmp = Buffer.from(marker, 'utf16le').swap16();
    expect(strict(seq(tlv(0x1e, bmp)))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x1e, cat(bmp, u8(0x41)))))).toEqual([`in: ${DER_KEY}`]);
    const universal = (s: string) => cat(...[...s].map((c) => u8(0, 0, 0, c.charCodeAt(0))));
    expect(strict(seq(tlv(0x1c, universal(marker))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x1c, universal('priv:'))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x1c, cat(universal('\npriv:'), u8(0xff, 0xff, 0xff, 0xff)))))).toEqual([]);
    // Bytes that are not UTF-8 are replaced, and what follows is still read.
    expect(strict(seq(tlv(0x0c, cat(u8(0xff), Buffer.from(marker)))))).toEqual([`in: ${DER_KEY}`]);
    // Text that starts with gzip's magic bytes but is no gzip stream.
    expect(strict(seq(tlv(0x0c, cat(u8(0x1f, 0x8b), Buffer.from(marker)))))).toEqual([`in: ${DER_KEY}`]);
    expect(
      strict(seq(tlv(0x1c, cat(u8(0xff, 0xff, 0xff, 0xff, 0, 0x10, 0xff, 0xff), universal(marker))))),
    ).toEqual([`in: ${DER_KEY}`]);
    // An incomplete code point at the end is dropped, not read as a character ending the line.
    expect(strict(seq(tlv(0x1c, cat(universal('xxxx\npriv:'), u8(0, 0, 0)))))).toEqual([`in: ${DER_KEY}`]);
    // UTF-8 counts characters, not bytes: a 21-character label of 42 bytes.
    const label = `-----BEGIN ${'é'.repeat(21)} PRIVATE KEY-----`;
    expect(strict(seq(tlv(0x0c, Buffer.from(label))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x13, Buffer.from(label))))).toEqual([]);
    expect(strict(seq(tlv(0x16, Buffer.from(label.replace(/é/g, 'e')))))).toEqual([`in: ${DER_KEY}`]);
  });

  it('reads an OCTET STRING or BIT STRING as text when 95% of its bytes are printable', () => {
    const marker = Buffer.from('-----BEGIN PRIVATE KEY-----');
    const fill = (pad: string, binary: number) =>
      cat(marker, Buffer.from(pad.repeat(100 - marker.length - binary)), new Uint8Array(binary).fill(0x80));
    expect(strict(seq(tlv(0x04, fill('x', 5))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, fill('x', 6))))).toEqual([]);
    for (const pad of ['\t', '\n', '\r', ' ', '~'])
      expect(strict(seq(tlv(0x04, fill(pad, 5)))), JSON.stringify(pad)).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, cat(fill('x', 4), u8(0x7f)))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, cat(fill('x', 5), u8(0x7f)))))).toEqual([]);
    expect(strict(seq(tlv(0x04, cat(fill('x', 5), u8(0x1f)))))).toEqual([]);
    expect(strict(seq(tlv(0x03, cat(u8(0), fill('x', 5)))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x02, fill('x', 0))))).toEqual([]);
  });

  it('decompresses gzip in a field and looks at its DER, a key behind a byte, and its text', () => {
    expect(strict(seq(tlv(0x04, gzipSync(epki()))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, gzipSync(cat(u8(0), pkcs1(0, 6))))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, gzipSync(PEM))))).toEqual([`in: ${DER_KEY}`]);
    expect(strict(seq(tlv(0x04, gzipSync('nothing to see here, really nothing'))))).toEqual([]);
    expect(strict(seq(tlv(0x04, cat(u8(0x1f, 0x8b), new Uint8Array(30)))))).toEqual([]);
    expect(strict(seq(tlv(0x04, cat(u8(0x1f, 0x8c), gzipSync(epki()).subarray(2)))))).toEqual([]);
  });

  it('spends the budget on what gzip decompresses to, and decompresses no more than 1 MiB', () => {
    const bomb = seq(tlv(0x04, gzipSync(Buffer.alloc(1 << 20, 0x61))));
    expect(() => strict(bomb)).toThrow(BudgetSpent);
    // 0xff: nothing to read in it, only the decompressing costs.
    expect(() => strict(seq(tlv(0x04, gzipSync(Buffer.alloc(1 << 20, 0xff)))))).toThrow(BudgetSpent);
    expect(strict(seq(tlv(0x04, gzipSync(Buffer.alloc(2 << 20, 0xff)))))).toEqual([]);
  });

  it('passes the text depth on to the text it reads', () => {
    const run = seq(tlv(0x0c, Buffer.from('QUJD'.repeat(16))));
    expect(ber(run, { textDepth: 7 })).toEqual([]);
    expect(() => ber(run, { textDepth: 8 })).toThrow(BudgetSpent);
    const octets = seq(tlv(0x04, Buffer.from('QUJD'.repeat(16))));
    expect(ber(octets, { textDepth: 7 })).toEqual([]);
    expect(() => ber(octets, { textDepth: 8 })).toThrow(BudgetSpent);
    const gz = seq(tlv(0x04, gzipSync('QUJD'.repeat(16))));
    expect(ber(gz, { textDepth: 7 })).toEqual([]);
    expect(() => ber(gz, { textDepth: 8 })).toThrow(BudgetSpent);
  });
});

describe('keys in text', () => {
  it('finds PEM private key armour, however it is dashed, spaced or labelled', () => {
    const pem = 'f: a PEM private key';
    for (const t of [
      '---BEGIN PRIVATE KEY',
      '-----begin rsa private key-----',
      `-----${' '.repeat(16)}BEGIN PRIVATE KEY`,
      '-----_-BEGIN_PRIVATE_KEY',
      '-----BEGIN\tPRIVATE-KEY',
      `-----BEGIN ${'x'.repeat(39)} PRIVATE KEY`,
      `-----BEGIN${' '.repeat(16)}${'x'.repeat(40)}PRIVATE KEY`,
      `-----BEGIN PRIVATE${' '.repeat(16)}KEY`,
    ])
      expect(text(t), t).toEqual([pem]);
    for (const t of [
      '--BEGIN PRIVATE KEY',
      `-----${' '.repeat(17)}BEGIN PRIVATE KEY`,
      '-----BEGINPRIVATE KEY',
      `-----BEGIN ${'x'.repeat(40)} PRIVATE KEY`,
      `-----BEGIN${' '.repeat(17)}${'x'.repeat(40)}PRIVATE KEY`,
      '-----BEGIN X\nPRIVATE KEY',
      '-----BEGIN X\rPRIVATE KEY',
      '-----BEGIN PRIVATEKEY',
      `-----BEGIN PRIVATE${' '.repeat(17)}KEY`,
      '-----BEGIN CERTIFICATE-----',
    ])
      expect(text(t), t).toEqual([]);
  });

  it('finds a key printed by openssl -text', () => {
    const said = 'f: a private key in text form (openssl -text output)';
    for (const t of [
      'Private-Key: (2048 bit, 2 primes)',
      'private-key:(256bit)',
      'Private-Key: \t(4096 \tbit)',
      'PRIVATEEXPONENT:',
      'x\npriv:\ny',
      'priv:',
      ' \tprime1: \t\r\n',
      'coefficient:',
    ])
      expect(text(t), JSON.stringify(t)).toEqual([said]);
    for (const t of ['Private-Key: (bit)', 'Private-Key: x(2048 bit)', 'x priv:', 'priv: 00:01', 'prime2:'])
      expect(text(t), t).toEqual([]);
  });

  it('finds a PuTTY key file', () => {
    const said = 'f: a PuTTY private key file';
    for (const t of ['PuTTY-User-Key-File-3: ssh-ed25519', 'putty-user-key-file-2:', 'x\nPrivate-Lines: 1'])
      expect(text(t), t).toEqual([said]);
    for (const t of ['PuTTY-User-Key-File-x', 'x Private-Lines: 1', 'Public-Lines: 2'])
      expect(text(t), t).toEqual([]);
  });

  it('finds a JSON Web Key with its private part, not a public one', () => {
    const said = 'f: a JSON Web Key with its private part';
    for (const part of ['d', 'p', 'q', 'dp', 'dq', 'k'])
      expect(text(`{"kty":"EC","${part}":"abc"}`), part).toEqual([said]);
    expect(text('{"kty" \t\r\n: "oct", "k" \t\r\n:\t\r\n "abc"}')).toEqual([said]);
    expect(text('{"kty":"EC","x":"abc","y":"def"}')).toEqual([]);
    expect(text('{"kty":"EC","d":5}')).toEqual([]);
    expect(text('{"kid":"EC","d":"abc"}')).toEqual([]);
  });

  it('finds a key’s DER as base64 without armour, one line or many, from 64 characters', () => {
    expect(text(`label\n${B64}\n`)).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    expect(text(B64.replace(/.{64}/g, '$&\n'))).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    // A 48-byte key (Ed25519, X25519) is 64 characters of base64; shorter runs are not decoded.
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(ed.toString('base64')).toHaveLength(64);
    expect(text(ed.toString('base64'))).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    const short = Buffer.from(seq(int(0), alg(EC), octet(25))).toString('base64');
    expect(short).toHaveLength(60);
    expect(text(short)).toEqual([]);
  });

  it('finds base64url, base64 of base64 and gzip within base64, saying how it was unwrapped', () => {
    let key = KEY;
    while (!/[+/]/.test(Buffer.from(key).toString('base64'))) key = ecKey();
    expect(text(Buffer.from(key).toString('base64url'))).toEqual([
      `f (base64 without PEM armour): ${DER_KEY}`,
    ]);
    expect(text(Buffer.from(B64).toString('base64'))).toEqual([
      `f (base64 without PEM armour) (base64 without PEM armour): ${DER_KEY}`,
    ]);
    expect(text(gzipSync(MARKER).toString('base64'))).toEqual([
      'f (base64 without PEM armour, gzip): a PEM private key',
    ]);
    expect(text(gzipSync(KEY).toString('base64'))).toEqual([
      `f (base64 without PEM armour, gzip): ${DER_KEY}`,
    ]);
    // A truncated stream is read as far as it goes.
    const cut = gzipSync(`${MARKER}${randomBytes(60).toString('hex')}`);
    expect(text(cut.subarray(0, cut.length - 8).toString('base64'))).toEqual([
      'f (base64 without PEM armour, gzip): a PEM private key',
    ]);
    expect(text(cat(u8(0x1f, 0x8b, 8), new Uint8Array(60).fill(7)).toString())).toEqual([]);
    expect(text(Buffer.from(cat(u8(0x1f, 0x8b, 8), new Uint8Array(60).fill(7))).toString('base64'))).toEqual(
      [],
    );
  });

  it('follows text decoded within text 9 times, and refuses encoded text deeper', () => {
    let t = B64;
    for (let i = 0; i < 8; i++) t = Buffer.from(t).toString('base64');
    expect(text(t)).toHaveLength(1);
    expect(() => text(Buffer.from(t).toString('base64'))).toThrow(BudgetSpent);
    expect(text('QUJD'.repeat(16), 8)).toEqual([]);
    expect(() => text('QUJD'.repeat(16), 9)).toThrow(BudgetSpent);
    expect(() => text(`${'QUJD'.repeat(8)} \n${'QUJD'.repeat(8)}`, 9)).toThrow(BudgetSpent);
    expect(text(`QUJD${'QUJD'.repeat(15).slice(1)}`, 9)).toEqual([]);
    expect(text('privateExponent: and -----BEGIN PRIVATE KEY', 9)).toEqual([]);
    expect(text(' \n\t ', 9)).toEqual([]);
  });

  it('finds the DER in hex, without separators or with colons, spaces or dashes', () => {
    const hex = Buffer.from(KEY).toString('hex');
    expect(text(hex)).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(hex.toUpperCase())).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(hex.match(/../g)!.join(':'))).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(hex.match(/../g)!.join(' - '))).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(hex.match(/../g)!.join(':\n'))).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(hex.match(/../g)!.join(': - '))).toEqual([]);
    // 33 bytes with separators are read; 32 are not.
    const small = (n: number) =>
      Buffer.from(seq(int(0), alg(EC), octet(n - 20)))
        .toString('hex')
        .match(/../g)!
        .join(':');
    expect(text(small(33))).toEqual([`f (hex): ${DER_KEY}`]);
    expect(text(small(32))).toEqual([]);
  });

  it('finds base64 out of alignment after a label line, and base64 split into groups', () => {
    const lines = B64.replace(/.{64}/g, '$&\n');
    expect(text(`abcdefghijklmnopq\n${lines}`)).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    expect(text(`abcdefghijklmnopq\n${B64}`)).toEqual([`f (base64 split by spaces or lines): ${DER_KEY}`]);
    expect(text(`abcdefghijklmnopq\n${B64}\n`)).toEqual([`f (base64 split by spaces or lines): ${DER_KEY}`]);
    expect(text(B64.match(/.{1,8}/g)!.join(' '))).toEqual([
      `f (base64 split by spaces or lines): ${DER_KEY}`,
    ]);
    for (const shift of ['a', 'ab', 'abc'])
      expect(text(`${shift}${B64.match(/.{1,8}/g)!.join('\t')}`), shift).toEqual([
        `f (base64 split by spaces or lines): ${DER_KEY}`,
      ]);
  });

  it('finds raw DER (reported once) and gzip streams (behind a false start) among text', () => {
    const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    expect(text(`some text\n${latin1(KEY)}`)).toEqual([`f (binary data): ${DER_KEY}`]);
    expect(text(latin1(cat(KEY, KEY)))).toEqual([`f (binary data): ${DER_KEY}`]);
    expect(text(`some text\n${latin1(gzipSync(MARKER))}`)).toEqual([
      'f (binary data, gzip): a PEM private key',
    ]);
    expect(text(`x\x1f\x8b\x08junk${latin1(gzipSync(MARKER))}`)).toEqual([
      'f (binary data, gzip): a PEM private key',
    ]);
    expect(text(`text\x00\x1f\x8b\x07${latin1(gzipSync(PEM)).slice(3)}`)).toEqual([]);
    expect(text(`text\x00\x1f\x8c${latin1(gzipSync(PEM)).slice(2)}`)).toEqual([]);
  });

  it('finds an Ed25519 key appended to text with a BER length (indefinite, or long with leading zeros)', () => {
    // Nothing inside an Ed25519 PKCS#8 looks like a key of its own: only its outer SEQUENCE can be found.
    const ed = new Uint8Array(
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }),
    );
    const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    const nonMinimal = cat(u8(0x30, 0x83, 0, 0, ed.length - 2), ed.subarray(2));
    for (const key of [ed, indefinite(ed), nonMinimal])
      expect(text(`-----END CERTIFICATE-----\n${latin1(key)}`)).toEqual([`f (binary data): ${DER_KEY}`]);
  });

  it('spends the budget on what gzip in text decompresses to', () => {
    expect(() => text(gzipSync(Buffer.alloc(1 << 20, 0x61)).toString('base64'))).toThrow(BudgetSpent);
    expect(() => text(gzipSync(Buffer.alloc(1 << 20, 0xff)).toString('base64'))).toThrow(BudgetSpent);
  });

  it('reports DER found in text once, and passes the text depth on to it', () => {
    expect(text(`${B64}\n\n${B64}`)).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    const behind = Buffer.from(cat(u8(0xff), pkcs1(0, 6))).toString('base64');
    const run = `${behind}${'A'.repeat(64 - behind.length)}`;
    expect(text(`${run}\n\n${run}`)).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    const inner = Buffer.from(seq(tlv(0x0c, Buffer.from('QUJD'.repeat(16))))).toString('base64');
    expect(text(inner, 7)).toEqual([]);
    expect(() => text(inner, 8)).toThrow(BudgetSpent);
  });

  it('takes decoded bytes for gzip only with both magic bytes', () => {
    for (const head of [u8(0, 0x8b), u8(0x1f, 0)])
      expect(text(Buffer.from(cat(head, KEY)).toString('base64'))).toEqual([
        `f (base64 without PEM armour): ${DER_KEY}`,
      ]);
  });

  it('looks at the base64 in text that also holds binary, and at gzip at its very start', () => {
    expect(text(`\x01\n${B64}`)).toEqual([`f (base64 without PEM armour): ${DER_KEY}`]);
    expect(text(Buffer.from(gzipSync(MARKER)).toString('latin1'))).toEqual([
      'f (binary data, gzip): a PEM private key',
    ]);
  });
});

describe('keyInTexts (the key check of refusals and removal requests)', () => {
  it('answers undefined for texts without key material, however many', () => {
    expect(keyInTexts([])).toBeUndefined();
    expect(keyInTexts(['CN=client,O=Acme', '', 'serial 01:02:03'])).toBeUndefined();
  });

  it('looks at every text, and answers what the first one holding a key holds', () => {
    expect(keyInTexts(['CN=client,O=Acme', PEM])).toBe('a PEM private key');
    expect(keyInTexts([B64, PEM])).toBe(DER_KEY);
    // The texts after it are not looked at: this one would exhaust the hunt.
    let deep = B64;
    for (let i = 0; i < 9; i++) deep = Buffer.from(deep).toString('base64');
    expect(keyInTexts([PEM, deep])).toBe('a PEM private key');
  });

  it('answers the first finding of a text, not the last', () => {
    // huntText reports the PEM armour before the JSON Web Key.
    const both = `${MARKER}{"kty":"EC","d":"AAAA"}`;
    expect(text(both)).toEqual(['f: a PEM private key', 'f: a JSON Web Key with its private part']);
    expect(keyInTexts([both])).toBe('a PEM private key');
  });

  it('reads the text’s bytes as BER too, as a whole upload is read (any PKCS#8 algorithm)', () => {
    // ASCII-only DER (its UTF-8 bytes are its bytes) that the look for DER within text, which takes
    // only key algorithms, passes over.
    const der = seq(int(0), alg('1.2.3.4'), tlv(0x04, new Uint8Array(32).fill(0x41)));
    const t = Buffer.from(der).toString('latin1');
    expect(text(t)).toEqual([]);
    expect(keyInTexts([t])).toBe(DER_KEY);
  });

  it('does not read the bytes of a text whose text already holds a key', () => {
    // 25 SEQUENCEs deep, beyond what the hunt of BER follows: read as BER it would be refused as
    // built to outlast the look, but the PEM armour inside was found first.
    let der = tlv(0x04, new Uint8Array(Buffer.from(MARKER)));
    for (let i = 0; i < 25; i++) der = seq(der);
    const t = Buffer.from(der).toString('latin1');
    expect(() => huntBer(der, 'in', { privateKey: () => {} }, new HuntBudget(der.length))).toThrow(
      BudgetSpent,
    );
    expect(keyInTexts([t])).toBe('a PEM private key');
  });

  it('answers that text built to exhaust the hunt holds a key', () => {
    let t = B64;
    for (let i = 0; i < 9; i++) t = Buffer.from(t).toString('base64');
    expect(keyInTexts(['CN=client', t])).toBe('text nested too deeply to be examined for keys');
  });

  it('lets an error that is not the hunt’s budget through', () => {
    expect(() => keyInTexts([Symbol('not text') as unknown as string])).toThrow(TypeError);
  });
});
