import { describe, expect, it } from 'vitest';
import { DerError } from '../../../shared/pki/der.js';
import { decodeExtensions, type RawExtension } from '../../../shared/pki/extensions.js';
import { EXT } from '../../../shared/pki/oids.js';
import { oid, tlv } from '../../fixtures/der.js';

/**
 * The extension decoder on hand-made values: each field present and absent, each malformed form
 * refused with the extension's name. (extensions.test.ts compares it with @peculiar/asn1-x509 on
 * certificates the builder makes.)
 */
const u8 = (...b: number[]) => new Uint8Array(b);
const ext = (id: string, value: Uint8Array, critical = false): RawExtension => ({ oid: id, critical, value });
const decode = (...e: RawExtension[]) => decodeExtensions(e);
const refuses = (e: RawExtension[], message: string) => {
  expect(() => decodeExtensions(e)).toThrow(DerError);
  expect(() => decodeExtensions(e)).toThrow(message);
};
const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const bool = (b: number) => tlv(0x01, u8(b));
const int = (...b: number[]) => tlv(0x02, u8(...b));
const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('basicConstraints', () => {
  it('reads cA, pathLen and criticality, cA defaulting to false', () => {
    expect(decode(ext(EXT.basicConstraints, seq(bool(0xff), int(2)), true)).basicConstraints).toEqual({
      ca: true,
      pathLen: 2,
      critical: true,
    });
    expect(decode(ext(EXT.basicConstraints, seq(bool(0xff)))).basicConstraints).toEqual({
      ca: true,
      critical: false,
    });
    expect(decode(ext(EXT.basicConstraints, seq())).basicConstraints).toEqual({ ca: false, critical: false });
    expect(decode(ext(EXT.basicConstraints, seq(bool(0)))).basicConstraints).toEqual({
      ca: false,
      critical: false,
    });
    expect(decode(ext(EXT.basicConstraints, seq(int(0)))).basicConstraints).toEqual({
      ca: false,
      pathLen: 0,
      critical: false,
    });
  });

  it('refuses a long BOOLEAN, a negative or trailing pathLen', () => {
    refuses(
      [ext(EXT.basicConstraints, seq(tlv(0x01, u8(1, 1))))],
      'extension basicConstraints is malformed (cA is not a one-byte BOOLEAN)',
    );
    refuses([ext(EXT.basicConstraints, seq(tlv(0x01)))], 'cA is not a one-byte BOOLEAN');
    refuses([ext(EXT.basicConstraints, seq(bool(0xff), int(0xff)))], 'pathLenConstraint is negative');
    refuses(
      [ext(EXT.basicConstraints, seq(bool(0xff), int(1, 0, 0, 0, 0, 0, 0)))],
      'pathLenConstraint: integer out of range',
    );
    refuses(
      [ext(EXT.basicConstraints, seq(bool(0xff), int(1), int(1)))],
      'unexpected field after pathLenConstraint',
    );
    refuses([ext(EXT.basicConstraints, seq(tlv(0x04)))], 'unexpected field after pathLenConstraint');
    refuses(
      [ext(EXT.basicConstraints, tlv(0x31))],
      'extension basicConstraints is malformed (basicConstraints: expected tag 0x30, found 0x31)',
    );
    refuses(
      [ext(EXT.basicConstraints, u8(0x30, 0x00, 0x00))],
      'extension basicConstraints is malformed (1 unexpected bytes after the DER element)',
    );
  });
});

describe('keyUsage', () => {
  it('reads every bit in RFC 5280 order, across the byte boundary', () => {
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(7, 0x80)), true)).keyUsage).toEqual({
      usages: ['digitalSignature'],
      critical: true,
    });
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(1, 0x06)))).keyUsage?.usages).toEqual([
      'keyCertSign',
      'crlSign',
    ]);
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(7, 0xff, 0x80)))).keyUsage?.usages).toEqual([
      'digitalSignature',
      'nonRepudiation',
      'keyEncipherment',
      'dataEncipherment',
      'keyAgreement',
      'keyCertSign',
      'crlSign',
      'encipherOnly',
      'decipherOnly',
    ]);
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(0, 0x01, 0x80)))).keyUsage?.usages).toEqual([
      'encipherOnly',
      'decipherOnly',
    ]);
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(0)))).keyUsage?.usages).toEqual([]);
  });

  it('refuses an empty bit string, more than seven unused bits and the wrong type', () => {
    refuses(
      [ext(EXT.keyUsage, tlv(0x03))],
      'extension keyUsage is malformed (keyUsage bit string is malformed)',
    );
    refuses([ext(EXT.keyUsage, tlv(0x03, u8(8, 0x80)))], 'keyUsage bit string is malformed');
    expect(decode(ext(EXT.keyUsage, tlv(0x03, u8(7, 0x80)))).keyUsage?.usages).toEqual(['digitalSignature']);
    refuses([ext(EXT.keyUsage, tlv(0x04, u8(0)))], 'keyUsage: expected tag 0x03');
  });
});

describe('extendedKeyUsage, key identifiers, subjectAltName', () => {
  it('names known purposes and keeps unknown ones as OIDs', () => {
    expect(
      decode(ext(EXT.extKeyUsage, seq(oid('1.3.6.1.5.5.7.3.2'), oid('1.3.6.1.5.5.7.3.1'), oid('1.2.3.4'))))
        .extendedKeyUsage,
    ).toEqual({ purposes: ['clientAuth', 'serverAuth', '1.2.3.4'], critical: false });
    refuses(
      [ext(EXT.extKeyUsage, seq(int(1)))],
      'extension extendedKeyUsage is malformed (key purpose: expected tag 0x06',
    );
    refuses([ext(EXT.extKeyUsage, tlv(0x31))], 'extendedKeyUsage: expected tag 0x30');
  });

  it('reads the subject key identifier as hex', () => {
    expect(decode(ext(EXT.subjectKeyIdentifier, tlv(0x04, u8(0xab, 0x01)))).subjectKeyId).toBe('ab01');
    refuses([ext(EXT.subjectKeyIdentifier, tlv(0x02, u8(1)))], 'subjectKeyIdentifier: expected tag 0x04');
  });

  it('reads the authority key identifier’s three optional fields', () => {
    const dirName = (cn: string) => tlv(0xa4, seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, ascii(cn))))));
    const full = decode(
      ext(
        EXT.authorityKeyIdentifier,
        seq(
          tlv(0x80, u8(0xcd, 0xef)),
          tlv(0xa1, tlv(0x82, ascii('x.example')), dirName('Issuer CA')),
          tlv(0x82, u8(0x01, 0x02)),
        ),
      ),
    );
    expect(full).toMatchObject({
      hasAuthorityKeyIdentifier: true,
      authorityKeyId: 'cdef',
      authorityCertIssuers: ['2.5.4.3=issuer ca'],
      authorityCertSerial: '0102',
    });
    const empty = decode(ext(EXT.authorityKeyIdentifier, seq()));
    expect(empty.hasAuthorityKeyIdentifier).toBe(true);
    expect(empty).not.toHaveProperty('authorityKeyId');
    expect(empty).not.toHaveProperty('authorityCertIssuers');
    expect(empty).not.toHaveProperty('authorityCertSerial');
    expect(decode()).not.toHaveProperty('hasAuthorityKeyIdentifier');
    refuses([ext(EXT.authorityKeyIdentifier, seq(tlv(0xa1, tlv(0xa4))))], 'directoryName is missing');
    refuses(
      [ext(EXT.authorityKeyIdentifier, seq(tlv(0xa1, tlv(0xa4, tlv(0x31)))))],
      'authorityCertIssuer: expected tag 0x30',
    );
    // Without a keyIdentifier, the first field is not taken for one.
    expect(decode(ext(EXT.authorityKeyIdentifier, seq(tlv(0x82, u8(9))))).authorityKeyId).toBeUndefined();
  });

  it('reads every subjectAltName name kind name constraints apply to', () => {
    const san = decode(
      ext(
        EXT.subjectAltName,
        seq(
          tlv(0x82, ascii('a.example')),
          tlv(0x81, ascii('x@y')),
          tlv(0x87, u8(10, 0, 0, 1)),
          tlv(0x86, ascii('https://a.example/')),
          tlv(0xa4, seq(tlv(0x31, seq(oid('2.5.4.10'), tlv(0x0c, ascii('V')))))),
          tlv(0xa0, oid('1.3.6.1.5.5.7.8.9'), tlv(0xa0, tlv(0x0c, ascii('\xc3\xbc@y')))),
          tlv(0xa0, oid('1.3.6.1.5.5.7.8.9'), tlv(0xa0, tlv(0x16, ascii('u@y')))),
          tlv(0xa0, oid('1.2.3.4'), tlv(0xa0, tlv(0x0c, ascii('other')))),
          tlv(0x88, oid('1.2.3.5').subarray(2)),
          tlv(0xa3, seq()),
          tlv(0xa5, seq()),
          tlv(0x82, ascii('b.example')),
        ),
      ),
    );
    expect(san.sanDns).toEqual(['a.example', 'b.example']);
    expect(san.sanIps).toEqual(['0a000001']);
    expect(san.sanEmails).toEqual(['x@y']);
    expect(san.sanUris).toEqual(['https://a.example/']);
    expect(san.sanDirs).toEqual(['2.5.4.10=v']);
    expect(san.sanSmtpUtf8).toEqual([
      { value: '\xc3\xbc@y', utf8: true },
      { value: 'u@y', utf8: false },
    ]);
    expect(san.sanOther).toEqual(['otherName 1.2.3.4', 'registeredID', 'x400Address', 'ediPartyName']);
    // Kinds a certificate does not have are left out.
    const dnsOnly = decode(ext(EXT.subjectAltName, seq(tlv(0x82, ascii('a.example')))));
    expect(Object.keys(dnsOnly).sort()).toEqual(['sanDns', 'sanIps']);
    refuses([ext(EXT.subjectAltName, tlv(0x31))], 'extension subjectAltName is malformed');
    refuses(
      [ext(EXT.subjectAltName, seq(tlv(0xa0, oid('1.3.6.1.5.5.7.8.9'))))],
      'extension subjectAltName is malformed (otherName value is missing)',
    );
  });
});

describe('nameConstraints', () => {
  const subtree = (base: Uint8Array) => seq(base);
  it('sorts subtrees by kind into permitted and excluded, and lists the kinds OpenSSL cannot match', () => {
    const nc = decode(
      ext(
        EXT.nameConstraints,
        seq(
          tlv(
            0xa0,
            subtree(tlv(0x82, ascii('.partner.example'))),
            subtree(tlv(0x87, u8(10, 0, 0, 0, 255, 0, 0, 0))),
            subtree(tlv(0xa4, seq())),
          ),
          tlv(
            0xa1,
            subtree(tlv(0x82, ascii('bad.example'))),
            subtree(tlv(0x87, u8(192, 168, 0, 0, 255, 255, 0, 0))),
            subtree(tlv(0x81, ascii('x'))),
            subtree(tlv(0x86, ascii('.uri.example'))),
            subtree(tlv(0xa0, oid('1.2.3.4'), tlv(0xa0, tlv(0x0c, ascii('v'))))),
            seq(tlv(0x88, oid('1.2.3.5').subarray(2)), tlv(0x80, u8(0))),
            seq(tlv(0x82, ascii('min.example')), tlv(0x80, u8(1))),
            seq(tlv(0x86, ascii('max.example')), tlv(0x81, u8(3))),
          ),
        ),
        true,
      ),
    ).nameConstraints;
    expect(nc).toEqual({
      permittedDns: ['.partner.example'],
      excludedDns: ['bad.example', 'min.example'],
      permittedIps: [{ address: '0a000000', mask: 'ff000000' }],
      excludedIps: [{ address: 'c0a80000', mask: 'ffff0000' }],
      permittedDirs: [''],
      excludedDirs: [],
      permittedEmails: [],
      excludedEmails: ['x'],
      permittedUris: [],
      excludedUris: ['.uri.example', 'max.example'],
      unsupported: ['otherName 1.2.3.4', 'registeredID'],
      // A minimum of 0 is the default; any other minimum, or a maximum, is noted by kind.
      minMax: ['dns', 'uri'],
    });
  });

  it('refuses unknown fields and subtrees without a base', () => {
    refuses(
      [ext(EXT.nameConstraints, seq(tlv(0xa2)))],
      'extension nameConstraints is malformed (unexpected field in nameConstraints)',
    );
    refuses([ext(EXT.nameConstraints, seq(tlv(0xa0, seq())))], 'GeneralSubtree without a base');
    refuses([ext(EXT.nameConstraints, seq(tlv(0xa0, tlv(0x31))))], 'GeneralSubtree: expected tag 0x30');
    refuses([ext(EXT.nameConstraints, tlv(0x31))], 'nameConstraints: expected tag 0x30');
    // A directoryName subtree names what is wrong with its Name.
    refuses(
      [ext(EXT.nameConstraints, seq(tlv(0xa0, seq(tlv(0xa4)))))],
      'extension nameConstraints is malformed (directoryName is missing)',
    );
    refuses(
      [ext(EXT.nameConstraints, seq(tlv(0xa0, seq(tlv(0xa4, tlv(0x31))))))],
      'extension nameConstraints is malformed (nameConstraints directoryName: expected tag 0x30, found 0x31)',
    );
  });
});

describe('authorityInfoAccess and the extension list', () => {
  const ad = (...parts: Uint8Array[]) => seq(...parts);
  const ocsp = oid('1.3.6.1.5.5.7.48.1');
  it('marks authorityInfoAccess malformed unless every description is an OID and one context-tagged name', () => {
    const aia = (value: Uint8Array) => decode(ext(EXT.authorityInfoAccess, value)).malformedAia;
    expect(aia(seq(ad(ocsp, tlv(0x86, ascii('http://ocsp.example')))))).toBe(false);
    expect(aia(seq())).toBe(false);
    expect(aia(seq(ad(ocsp, tlv(0x0c, ascii('http://x')))))).toBe(true);
    expect(aia(seq(ad(ocsp)))).toBe(true);
    expect(aia(seq(ad(ocsp, tlv(0x86, ascii('a')), tlv(0x86, ascii('b')))))).toBe(true);
    expect(aia(seq(ad(int(1), tlv(0x86, ascii('a')))))).toBe(true);
    expect(aia(seq(tlv(0x31)))).toBe(true);
    expect(aia(tlv(0x31))).toBe(true);
    expect(aia(u8(0x30))).toBe(true);
    expect(decode()).not.toHaveProperty('malformedAia');
  });

  it('keeps the decoder’s error as the cause of the refusal', () => {
    let caught: unknown;
    try {
      decodeExtensions([ext(EXT.keyUsage, tlv(0x03))]);
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).cause).toBeInstanceOf(DerError);
    expect(((caught as Error).cause as Error).message).toBe('keyUsage bit string is malformed');
  });

  it('refuses an extension that appears twice, by name or OID, and ignores unknown ones', () => {
    const bc = ext(EXT.basicConstraints, seq());
    refuses([bc, bc], 'extension basicConstraints appears twice');
    const unknown = ext('1.2.3.4', u8(0xff));
    refuses([unknown, unknown], 'extension 1.2.3.4 appears twice');
    expect(decode(unknown, bc)).toEqual({ basicConstraints: { ca: false, critical: false } });
  });
});

describe('cRLDistributionPoints', () => {
  const uri = (s: string) => tlv(0x86, ascii(s));
  /** DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } } */
  const fullName = (...names: Uint8Array[]) => seq(tlv(0xa0, tlv(0xa0, ...names)));
  const cdp = (value: Uint8Array) => decode(ext(EXT.crlDistributionPoints, value));

  it('reads every fullName URI in order, skipping other name forms and points without a name', () => {
    expect(
      cdp(seq(fullName(uri('http://a/1.crl'), tlv(0x82, ascii('dns.example'))), fullName(uri('ldap://b/2')))),
    ).toEqual({ crlDistributionPoints: ['http://a/1.crl', 'ldap://b/2'] });
    // nameRelativeToCRLIssuer [1] and a point with only a cRLIssuer [2] give no URI.
    expect(cdp(seq(seq(tlv(0xa0, tlv(0xa1, tlv(0x30)))), seq(tlv(0xa2, uri('http://issuer')))))).toEqual({
      crlDistributionPoints: [],
    });
    // A point with reasons [1] alone names no CRL; nor does nameRelativeToCRLIssuer, whatever it holds.
    // (Every point naming CRLs by reasons is marked: no server without extended CRL support takes them.)
    expect(cdp(seq(seq(tlv(0x81, u8(0x07, 0x80)))))).toEqual({
      crlDistributionPoints: [],
      crlDistributionPointsByReasons: true,
    });
    // No point at all: not marked either.
    expect(cdp(seq())).toEqual({ crlDistributionPoints: [] });
    // One point for all reasons among them: not marked.
    expect(
      cdp(
        seq(
          seq(tlv(0xa0, tlv(0xa0, uri('http://a/kc.crl'))), tlv(0x81, u8(0x06, 0x40))),
          fullName(uri('http://a/all.crl')),
        ),
      ),
    ).toEqual({
      crlDistributionPoints: ['http://a/kc.crl', 'http://a/all.crl'],
    });
    expect(cdp(seq(seq(tlv(0xa0, tlv(0xa1, uri('http://relative'))))))).toEqual({
      crlDistributionPoints: [],
    });
    expect(decode()).not.toHaveProperty('crlDistributionPoints');
  });

  it('marks a malformed extension instead of refusing the certificate', () => {
    for (const bad of [
      tlv(0x31),
      seq(tlv(0x31)),
      seq(seq(tlv(0xa0))),
      seq(seq(tlv(0xa0, tlv(0xa0), tlv(0xa1)))),
      u8(0x30),
    ]) {
      expect(cdp(bad)).toEqual({ malformedCrlDistributionPoints: true });
    }
  });
});
