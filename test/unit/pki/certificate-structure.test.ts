import { constants, createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_RSA_BITS,
  type PublicKeyInfo,
  parseCertificate,
  pemToDer,
  publicKeyObject,
  publicKeyOf,
  sniff,
  toPem,
  unsupportedKey,
  verifySignature,
  verifySignatures,
} from '../../../shared/pki/certificate.js';
import { DerError } from '../../../shared/pki/der.js';
import { oid, rsaSpki, tlv } from '../../fixtures/der.js';

/**
 * Certificates assembled field by field, for the shapes the builder never makes: other versions,
 * unique identifiers, PSS parameters, every key type, and each malformed part refused by name.
 */
const u8 = (...b: number[]) => new Uint8Array(b);
const seq = (...p: Uint8Array[]) => tlv(0x30, ...p);
const name = (cn: string) => seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, new Uint8Array(Buffer.from(cn))))));
const time = (s: string) => tlv(0x17, new Uint8Array(Buffer.from(s)));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const EC_SPKI = new Uint8Array(ecKey.publicKey.export({ type: 'spki', format: 'der' }));

interface Shape {
  version?: Uint8Array | null;
  alg?: Uint8Array;
  outerAlg?: Uint8Array;
  issuer?: Uint8Array | null;
  subject?: Uint8Array | null;
  validity?: Uint8Array;
  spki?: Uint8Array;
  /** The signature value in place of the BIT STRING made. */
  signatureValue?: Uint8Array;
  after?: Uint8Array[];
  extra?: Uint8Array[];
  /** Keep only the first `cut` fields of the tbsCertificate. */
  cut?: number;
}

/** A certificate signed with a P-256 key (self-signed unless the names differ). */
const cert = (s: Shape = {}): Uint8Array => {
  const alg = s.alg ?? ECDSA_SHA256;
  const fields = [
    ...(s.version === null ? [] : [s.version ?? tlv(0xa0, tlv(0x02, u8(2)))]),
    tlv(0x02, u8(0x01, 0x23)),
    alg,
    ...(s.issuer === null ? [] : [s.issuer ?? name('Structure CA')]),
    s.validity ?? seq(time('260101000000Z'), time('360101000000Z')),
    ...(s.subject === null ? [] : [s.subject ?? name('Structure CA')]),
    s.spki ?? EC_SPKI,
    ...(s.after ?? []),
  ];
  const tbs = seq(...fields.slice(0, s.cut ?? fields.length));
  return seq(
    tbs,
    s.outerAlg ?? alg,
    s.signatureValue ?? tlv(0x03, u8(0), new Uint8Array(sign('sha256', tbs, ecKey.privateKey))),
    ...(s.extra ?? []),
  );
};
const extensions = (...e: Uint8Array[]) => tlv(0xa3, seq(...e));
const bcExt = (critical?: Uint8Array, value: Uint8Array | null = tlv(0x04, seq(tlv(0x01, u8(0xff))))) =>
  seq(oid('2.5.29.19'), ...(critical ? [critical] : []), ...(value ? [value] : []));
const refuses = (der: Uint8Array, message: string) => {
  expect(() => parseCertificate(der)).toThrow(DerError);
  expect(() => parseCertificate(der)).toThrow(message);
};

describe('parseCertificate structure', () => {
  it('reads a v3 certificate and verifies its own signature', () => {
    const c = parseCertificate(cert({ after: [extensions(bcExt(tlv(0x01, u8(0xff))))] }));
    expect(c).toMatchObject({ version: 3, serial: '0123', selfIssued: true });
    expect(c.basicConstraints).toEqual({ ca: true, critical: true });
    expect(c.extensions).toEqual([{ oid: '2.5.29.19', critical: true }]);
    expect(c.notBefore.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(c.notAfter.toISOString()).toBe('2036-01-01T00:00:00.000Z');
    expect(verifySignature(c, c)).toBe(true);
  });

  it('reads versions 1 and 2 and refuses others', () => {
    expect(parseCertificate(cert({ version: null })).version).toBe(1);
    expect(parseCertificate(cert({ version: tlv(0xa0, tlv(0x02, u8(0))) })).version).toBe(1);
    expect(parseCertificate(cert({ version: tlv(0xa0, tlv(0x02, u8(1))) })).version).toBe(2);
    refuses(cert({ version: tlv(0xa0, tlv(0x02, u8(3))) }), 'unknown certificate version 4');
    refuses(cert({ version: tlv(0xa0, tlv(0x02, u8(0xff))) }), 'unknown certificate version 0');
  });

  it('reads criticality as written, explicit FALSE included', () => {
    const c = parseCertificate(
      cert({ after: [extensions(bcExt(tlv(0x01, u8(0x00))), seq(oid('1.2.3.4'), tlv(0x04, u8(5))))] }),
    );
    expect(c.extensions).toEqual([
      { oid: '2.5.29.19', critical: false },
      { oid: '1.2.3.4', critical: false },
    ]);
  });

  it('skips unique identifiers and refuses other fields after the key', () => {
    const c = parseCertificate(
      cert({ after: [tlv(0x81, u8(0, 1)), tlv(0x82, u8(0, 2)), extensions(bcExt())] }),
    );
    expect(c.basicConstraints?.ca).toBe(true);
    refuses(cert({ after: [tlv(0xa4, u8())] }), 'unexpected field with tag 0xa4');
    refuses(
      cert({ version: tlv(0xa0, tlv(0x02, u8(1))), after: [extensions(bcExt())] }),
      'extensions are only allowed in version 3 certificates',
    );
  });

  it('refuses each malformed part by name', () => {
    refuses(cert({ extra: [tlv(0x05)] }), 'certificate has more than three top-level fields');
    refuses(
      cert({ outerAlg: seq(oid('1.2.840.10045.4.3.3')) }),
      'the signature algorithm inside the certificate differs from the outer one',
    );
    refuses(cert({ cut: 3 }), 'issuer is missing');
    refuses(cert({ cut: 4 }), 'validity is missing');
    refuses(cert({ cut: 5 }), 'subject is missing');
    refuses(cert({ cut: 6 }), 'subjectPublicKeyInfo is missing');
    refuses(cert({ cut: 2 }), 'tbsCertificate.signature is missing');
    refuses(cert({ cut: 1 }), 'serialNumber is missing');
    refuses(cert({ cut: 0 }), 'serialNumber is missing');
    refuses(cert({ after: [extensions(bcExt(undefined, null))] }), 'extension 2.5.29.19 is missing');
    refuses(
      cert({ after: [extensions(bcExt(tlv(0x01, u8(0xff)), tlv(0x02, u8(1))))] }),
      'extension 2.5.29.19: expected tag 0x04',
    );
    refuses(cert({ after: [tlv(0xa3, tlv(0x31))] }), 'extensions: expected tag 0x30');
    refuses(cert({ after: [extensions(tlv(0x31))] }), 'extension: expected tag 0x30');
    refuses(seq(tlv(0x31), ECDSA_SHA256, tlv(0x03, u8(0))), 'tbsCertificate: expected tag 0x30');
    refuses(tlv(0x31), 'certificate: expected tag 0x30');
  });

  it('names, in each refusal, the part that is wrong', () => {
    const found = (what: string, expected: number, tag: number) =>
      `${what}: expected tag 0x${expected.toString(16).padStart(2, '0')}, found 0x${tag.toString(16).padStart(2, '0')}`;
    refuses(cert({ outerAlg: tlv(0x31) }), found('signatureAlgorithm', 0x30, 0x31));
    refuses(cert({ signatureValue: tlv(0x04, u8(0)) }), found('signature', 0x03, 0x04));
    refuses(cert({ signatureValue: tlv(0x03) }), 'signature: empty bit string');
    refuses(cert({ alg: seq(tlv(0x05)) }), found('algorithm', 0x06, 0x05));
    refuses(cert({ version: tlv(0xa0, tlv(0x04, u8(2))) }), found('version', 0x02, 0x04));
    refuses(cert({ issuer: tlv(0x31) }), found('issuer', 0x30, 0x31));
    refuses(cert({ validity: seq(time('x'), time('360101000000Z')) }), 'notBefore: malformed UTCTime "x"');
    refuses(cert({ validity: seq(time('260101000000Z'), time('x')) }), 'notAfter: malformed UTCTime');
    refuses(cert({ validity: seq(time('260101000000Z')) }), 'notAfter is missing');
    refuses(cert({ subject: tlv(0x31) }), found('subject', 0x30, 0x31));
    refuses(
      cert({ after: [extensions(seq(tlv(0x02, u8(1)), tlv(0x04, u8())))] }),
      found('extension id', 0x06, 0x02),
    );
  });
});

describe('signature algorithms', () => {
  const pssOid = oid('1.2.840.113549.1.1.10');
  const hashAlg = (dotted: string) => tlv(0xa0, seq(oid(dotted)));
  it('reads RSASSA-PSS defaults and explicit hash and salt', () => {
    expect(parseCertificate(cert({ alg: seq(pssOid) })).signature).toEqual({
      algorithmOid: '1.2.840.113549.1.1.10',
      algorithm: 'rsassaPss(sha1)',
      hash: 'sha1',
      pssSaltLength: 20,
    });
    expect(parseCertificate(cert({ alg: seq(pssOid, seq()) })).signature).toMatchObject({
      hash: 'sha1',
      pssSaltLength: 20,
    });
    const explicit = seq(pssOid, seq(hashAlg('2.16.840.1.101.3.4.2.1'), tlv(0xa2, tlv(0x02, u8(32)))));
    expect(parseCertificate(cert({ alg: explicit })).signature).toMatchObject({
      algorithm: 'rsassaPss(sha256)',
      hash: 'sha256',
      pssSaltLength: 32,
    });
    refuses(
      cert({ alg: seq(pssOid, seq(tlv(0xa0, seq(tlv(0x05))))) }),
      'PSS hash: expected tag 0x06, found 0x05',
    );
    refuses(
      cert({ alg: seq(pssOid, seq(tlv(0xa2, tlv(0x04, u8(32))))) }),
      'PSS salt length: expected tag 0x02, found 0x04',
    );
    const unknownHash = seq(pssOid, seq(hashAlg('1.2.3.4')));
    expect(parseCertificate(cert({ alg: unknownHash })).signature).toMatchObject({
      algorithm: 'rsassaPss(unknown)',
      hash: undefined,
    });
  });

  it('verifies an RSASSA-PSS signature with the salt length its parameters give, and no other', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const spki = new Uint8Array(rsa.publicKey.export({ type: 'spki', format: 'der' }));
    const pss = seq(pssOid, seq(hashAlg('2.16.840.1.101.3.4.2.1'), tlv(0xa2, tlv(0x02, u8(32)))));
    const signedWithSalt = (saltLength: number) => {
      const tbs = seq(
        tlv(0xa0, tlv(0x02, u8(2))),
        tlv(0x02, u8(1)),
        pss,
        name('PSS CA'),
        seq(time('260101000000Z'), time('360101000000Z')),
        name('PSS CA'),
        spki,
      );
      const key = { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
      return parseCertificate(seq(tbs, pss, tlv(0x03, u8(0), new Uint8Array(sign('sha256', tbs, key)))));
    };
    const good = signedWithSalt(32);
    expect(verifySignature(good, good)).toBe(true);
    const otherSalt = signedWithSalt(20);
    expect(verifySignature(otherSalt, otherSalt)).toBe(false);
  });

  it('keeps an unknown algorithm as its OID, with no hash, and never verifies it', () => {
    const c = parseCertificate(cert({ alg: seq(oid('1.2.3.4.5')) }));
    expect(c.signature).toEqual({ algorithmOid: '1.2.3.4.5', algorithm: '1.2.3.4.5', hash: undefined });
    expect(verifySignature(c, c)).toBe(false);
  });

  it('reads EdDSA with no hash', () => {
    expect(parseCertificate(cert({ alg: seq(oid('1.3.101.112')) })).signature).toEqual({
      algorithmOid: '1.3.101.112',
      algorithm: 'Ed25519',
      hash: null,
    });
  });
});

describe('public keys', () => {
  const keyOf = (spki: Uint8Array): PublicKeyInfo => parseCertificate(cert({ spki })).publicKey;
  const spkiOf = (algOid: string, params: Uint8Array | null, key: Uint8Array) =>
    seq(seq(oid(algOid), ...(params ? [params] : [])), tlv(0x03, u8(0), key));

  it('reads RSA modulus and exponent sizes and parity', () => {
    const k = keyOf(rsaSpki(2048, 17));
    expect(k).toMatchObject({ type: 'rsa', bits: 2048, exponentBits: 17, exponentOdd: true });
    const even = spkiOf(
      '1.2.840.113549.1.1.1',
      tlv(0x05),
      seq(tlv(0x02, u8(0x00, 0xc1, 0x01)), tlv(0x02, u8(0x01, 0x00))),
    );
    expect(keyOf(even)).toMatchObject({ bits: 16, exponentBits: 9, exponentOdd: false });
    const pss = spkiOf('1.2.840.113549.1.1.10', null, seq(tlv(0x02, u8(0x7f)), tlv(0x02, u8(3))));
    expect(keyOf(pss)).toMatchObject({ type: 'rsa-pss', bits: 7, exponentBits: 2, exponentOdd: true });
  });

  it('reads named, unknown and explicit EC curves', () => {
    expect(keyOf(EC_SPKI)).toMatchObject({ type: 'ec', curve: 'P-256', bits: 256 });
    expect(keyOf(spkiOf('1.2.840.10045.2.1', oid('1.2.3.4'), u8(4)))).toMatchObject({
      type: 'ec',
      curve: '1.2.3.4',
    });
    expect(keyOf(spkiOf('1.2.840.10045.2.1', oid('1.2.3.4'), u8(4))).bits).toBeUndefined();
    expect(keyOf(spkiOf('1.2.840.10045.2.1', seq(tlv(0x02, u8(1))), u8(4)))).toMatchObject({
      curve: 'explicit parameters',
    });
    // No parameters at all (RFC 5480 requires them): no named curve either, read as such, not thrown on.
    expect(keyOf(spkiOf('1.2.840.10045.2.1', null, u8(4)))).toEqual({
      type: 'ec',
      algorithmOid: '1.2.840.10045.2.1',
      spki: spkiOf('1.2.840.10045.2.1', null, u8(4)),
      curve: 'explicit parameters',
    });
  });

  it('gives EdDSA and DSA keys their sizes and unknown algorithms none', () => {
    const ed448 = new Uint8Array(
      generateKeyPairSync('ed448').publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(keyOf(ed448)).toMatchObject({ type: 'ed448', bits: 456 });
    const ed25519 = new Uint8Array(
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }),
    );
    expect(keyOf(ed25519)).toMatchObject({ type: 'ed25519', bits: 256 });
    const p = new Uint8Array(randomBytes(128));
    p[0] = 0x80;
    const dsa = spkiOf(
      '1.2.840.10040.4.1',
      seq(tlv(0x02, u8(0), p), tlv(0x02, u8(5)), tlv(0x02, u8(2))),
      tlv(0x02, u8(7)),
    );
    expect(keyOf(dsa)).toMatchObject({ type: 'dsa', bits: 1024 });
    expect(keyOf(spkiOf('1.2.840.10040.4.1', null, tlv(0x02, u8(7))))).not.toHaveProperty('bits');
    expect(keyOf(spkiOf('1.2.840.10040.4.1', seq(tlv(0x04, u8(1))), tlv(0x02, u8(7))))).not.toHaveProperty(
      'bits',
    );
    const unknown = keyOf(spkiOf('1.2.3.4', null, u8(1)));
    expect(unknown).toMatchObject({ type: 'unknown', algorithmOid: '1.2.3.4' });
    expect(unknown).not.toHaveProperty('bits');
  });

  it('refuses a key without a bit string or algorithm', () => {
    refuses(cert({ spki: seq(seq(oid('1.2.840.10045.2.1'))) }), 'public key is missing');
    refuses(cert({ spki: seq(tlv(0x31), tlv(0x03, u8(0))) }), 'public key algorithm: expected tag 0x30');
    refuses(
      cert({ spki: spkiOf('1.2.840.113549.1.1.1', tlv(0x05), tlv(0x31)) }),
      'RSA public key: expected tag 0x30',
    );
    refuses(
      cert({ spki: seq(seq(tlv(0x05)), tlv(0x03, u8(0))) }),
      'public key algorithm: expected tag 0x06, found 0x05',
    );
    refuses(
      cert({ spki: seq(seq(oid('1.2.840.10045.2.1')), tlv(0x04, u8(0))) }),
      'public key: expected tag 0x03, found 0x04',
    );
    refuses(cert({ spki: seq(seq(oid('1.2.840.10045.2.1')), tlv(0x03)) }), 'public key: empty bit string');
    const rsaKey = (modulus: Uint8Array, exponent: Uint8Array) =>
      cert({ spki: spkiOf('1.2.840.113549.1.1.1', tlv(0x05), seq(modulus, exponent)) });
    refuses(rsaKey(tlv(0x02, u8(0x7f)), tlv(0x04, u8(3))), 'public exponent: expected tag 0x02, found 0x04');
    refuses(rsaKey(tlv(0x04, u8(0x7f)), tlv(0x02, u8(3))), 'modulus: expected tag 0x02, found 0x04');
  });

  it('publicKeyOf names the part that is wrong too', () => {
    const refusesKey = (der: Uint8Array, message: string) => {
      expect(() => publicKeyOf(der)).toThrow(DerError);
      expect(() => publicKeyOf(der)).toThrow(message);
    };
    expect(publicKeyOf(cert())).toEqual(parseCertificate(cert()).publicKey);
    refusesKey(seq(tlv(0x31)), 'tbsCertificate: expected tag 0x30, found 0x31');
    refusesKey(cert({ cut: 6 }), 'subjectPublicKeyInfo is missing');
    refusesKey(cert({ version: null, cut: 5 }), 'subjectPublicKeyInfo is missing');
    refusesKey(seq(seq()), 'subjectPublicKeyInfo is missing');
  });

  it('builds a Node key once per certificate, and null when Node cannot load it', () => {
    const c = parseCertificate(cert());
    const key = publicKeyObject(c);
    expect(key?.asymmetricKeyType).toBe('ec');
    expect(publicKeyObject(c)).toBe(key);
    const odd = parseCertificate(cert({ spki: spkiOf('1.2.3.4', null, u8(1)) }));
    expect(publicKeyObject(odd)).toBeNull();
    expect(publicKeyObject(odd)).toBeNull();
    expect(verifySignature(parseCertificate(cert()), odd)).toBe(false);
  });

  it('verifies nothing with a key no CA should have, and answers false where Node would throw', () => {
    const c = parseCertificate(cert());
    expect(verifySignature(c, parseCertificate(cert({ spki: rsaSpki(2048, 300) })))).toBe(false);
    // MD2 is a known algorithm Node cannot digest: verify() throws, verifySignature says false.
    const md2 = parseCertificate(cert({ alg: seq(oid('1.2.840.113549.1.1.2'), tlv(0x05)) }));
    expect(md2.signature.hash).toBe('md2');
    expect(verifySignature(md2, c)).toBe(false);
  });
});

describe('a key no CA should have', () => {
  it('verifies nothing with it, not even a signature it makes (RSA exponent 1)', () => {
    // With e = 1 the signature is the PKCS#1 v1.5 encoding itself: valid, and free to forge.
    const sha256Rsa = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));
    const tbs = seq(
      tlv(0xa0, tlv(0x02, u8(2))),
      tlv(0x02, u8(1)),
      sha256Rsa,
      name('Exponent One CA'),
      seq(time('260101000000Z'), time('360101000000Z')),
      name('Exponent One CA'),
      rsaSpki(2048, 1),
    );
    const digestInfo = Buffer.concat([
      Buffer.from('3031300d060960864801650304020105000420', 'hex'),
      createHash('sha256').update(tbs).digest(),
    ]);
    const encoded = Buffer.concat([
      u8(0, 1),
      Buffer.alloc(256 - 3 - digestInfo.length, 0xff),
      u8(0),
      digestInfo,
    ]);
    const c = parseCertificate(seq(tbs, sha256Rsa, tlv(0x03, u8(0), new Uint8Array(encoded))));
    expect(unsupportedKey(c.publicKey)).toBe('an RSA public exponent that is even or below 3');
    // Node would take it: only the guard stands between this key and a valid signature.
    expect(verify('sha256', c.tbs, publicKeyObject(c)!, c.signatureValue)).toBe(true);
    expect(verifySignature(c, c)).toBe(false);
  });
});

describe('verifySignatures (ahead of time, on the thread pool)', () => {
  it('remembers for verifySignature the answer it would give: good, bad, unsupported key, unknown digest', async () => {
    const good = parseCertificate(cert());
    const tamperedDer = cert();
    tamperedDer[tamperedDer.length - 5]! ^= 0x01;
    const tampered = parseCertificate(tamperedDer);
    const hugeExponent = parseCertificate(cert({ spki: rsaSpki(2048, 300) }));
    const md2 = parseCertificate(cert({ alg: seq(oid('1.2.840.113549.1.1.2'), tlv(0x05)) }));
    await verifySignatures([
      [good, good],
      [tampered, tampered],
      [good, hugeExponent],
      [md2, good],
    ]);
    await verifySignatures([]);
    // Its signed bytes changed in place after the fact: only a remembered answer is still true.
    good.tbs[good.tbs.length - 1]! ^= 0x01;
    expect(verifySignature(good, good)).toBe(true);
    expect(verifySignature(tampered, tampered)).toBe(false);
    expect(verifySignature(good, hugeExponent)).toBe(false);
    expect(verifySignature(md2, good)).toBe(false);
  });
});

describe('unsupportedKey', () => {
  const rsa = (bits: number, exponentBits: number, exponentOdd = true): PublicKeyInfo => ({
    type: 'rsa',
    bits,
    exponentBits,
    exponentOdd,
    algorithmOid: '1.2.840.113549.1.1.1',
    spki: u8(),
  });
  it('draws each line exactly at its limit', () => {
    expect(unsupportedKey(rsa(MAX_RSA_BITS, 17))).toBeUndefined();
    expect(unsupportedKey(rsa(MAX_RSA_BITS + 1, 17))).toBe('an RSA modulus of 16385 bits (at most 16384)');
    expect(unsupportedKey(rsa(2048, 256))).toBeUndefined();
    expect(unsupportedKey(rsa(2048, 257))).toBe(
      'an RSA public exponent of 257 bits (at most 256; 65537 is usual)',
    );
    expect(unsupportedKey(rsa(2048, 2))).toBeUndefined();
    expect(unsupportedKey(rsa(2048, 1))).toBe('an RSA public exponent that is even or below 3');
    expect(unsupportedKey(rsa(2048, 17, false))).toBe('an RSA public exponent that is even or below 3');
    expect(unsupportedKey({ ...rsa(99_999, 999), type: 'rsa-pss' })).toContain(
      'an RSA modulus of 99999 bits',
    );
    expect(unsupportedKey({ ...rsa(99_999, 999), type: 'ec' })).toBeUndefined();
    const { exponentBits: _e, exponentOdd: _o, ...noExponent } = rsa(2048, 17);
    expect(unsupportedKey(noExponent)).toBeUndefined();
    const { bits: _b, ...noBits } = rsa(2048, 17);
    expect(unsupportedKey(noBits)).toBeUndefined();
  });
});

describe('PEM and sniffing', () => {
  it('writes 64-character lines and reads them back', () => {
    for (const n of [1, 47, 48, 49, 96, 300]) {
      const der = new Uint8Array(randomBytes(n));
      const pem = toPem(der);
      const lines = pem.trimEnd().split('\n');
      expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
      expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
      const body = lines.slice(1, -1);
      expect(body.slice(0, -1).every((l) => l.length === 64)).toBe(true);
      expect(body.at(-1)!.length).toBeGreaterThan(0);
      expect(body.at(-1)!.length).toBeLessThanOrEqual(64);
      expect(pem.endsWith('-----\n')).toBe(true);
      expect(Buffer.from(pemToDer(pem)).equals(Buffer.from(der))).toBe(true);
    }
    expect(Buffer.from(pemToDer('-----BEGIN X-----\r\n AQID \r\n-----END X-----')).toString('hex')).toBe(
      '010203',
    );
  });

  it('sniffs the first element or answers undefined', () => {
    expect(sniff(u8(0x30, 0x00, 0xff))?.tag).toBe(0x30);
    expect(sniff(u8(0x30, 0x05))).toBeUndefined();
  });
});
