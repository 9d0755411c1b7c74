import { describe, expect, it } from 'vitest';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { listedOn, parseCrl } from '../../../shared/pki/crl.js';
import { DerError } from '../../../shared/pki/der.js';
import { keyMatches } from '../../../shared/pki/key-match.js';
import { oid, tlv } from '../../fixtures/der.js';
import { crl, leaf, privateKeyObject, privateKeyPem, root } from '../../fixtures/pki.js';

/** What `diagnose --crl` and `--key` stand on: which serials a CRL lists, whose key a file holds. */
const name = (cn: string) =>
  tlv(0x30, tlv(0x31, tlv(0x30, oid('2.5.4.3'), tlv(0x0c, new Uint8Array(Buffer.from(cn))))));
const time = (s: string) => tlv(0x17, new Uint8Array(Buffer.from(s)));
const alg = tlv(0x30, oid('1.2.840.10045.4.3.2'));
const entry = (...serial: number[]) => tlv(0x30, tlv(0x02, new Uint8Array(serial)), time('260101000000Z'));
/** A CertificateList by hand, signature bytes irrelevant: parseCrl judges no signature. */
const certList = (...tbsFields: Uint8Array[]) =>
  tlv(0x30, tlv(0x30, ...tbsFields), alg, tlv(0x03, new Uint8Array([0, 1])));

describe('parseCrl', () => {
  it('reads the issuer and the revoked serials of a signed CRL', async () => {
    const ca = await root('CN=CRL Root,O=Acme');
    const a = await leaf('CN=a', ca, { serial: '0a01' });
    const b = await leaf('CN=b', ca, { serial: '0b02' });
    const kept = await leaf('CN=kept', ca, { serial: '0c03' });
    const list = parseCrl(await crl(ca, [a, b]));
    expect(list.issuer.text).toBe('CN=CRL Root,O=Acme');
    expect([...list.revoked].sort()).toEqual(['0a01', '0b02']);
    expect(listedOn(parseCertificate(a.der), list)).toBe(true);
    expect(listedOn(parseCertificate(kept.der), list)).toBe(false);
    // The same serial from another issuer is not revoked by this CRL.
    const other = await root('CN=Other Root');
    expect(listedOn(parseCertificate((await leaf('CN=a', other, { serial: '0a01' })).der), list)).toBe(false);
  });

  it('reads v1 and v2 lists, with and without nextUpdate and revoked entries', () => {
    const v2 = parseCrl(
      certList(
        tlv(0x02, new Uint8Array([1])),
        alg,
        name('V2'),
        time('260101000000Z'),
        time('260201000000Z'),
        tlv(0x30, entry(1), entry(0x00, 0x80)),
      ),
    );
    expect(v2.issuer.text).toBe('CN=V2');
    expect([...v2.revoked]).toEqual(['01', '0080']);
    const noNext = parseCrl(certList(alg, name('V1'), time('260101000000Z'), tlv(0x30, entry(7))));
    expect(noNext.issuer.text).toBe('CN=V1');
    expect([...noNext.revoked]).toEqual(['07']);
    const generalized = parseCrl(
      certList(
        alg,
        name('G'),
        time('260101000000Z'),
        tlv(0x18, new Uint8Array(Buffer.from('20260201000000Z'))),
        tlv(0x30, entry(9)),
      ),
    );
    expect([...generalized.revoked]).toEqual(['09']);
    const empty = parseCrl(certList(alg, name('E'), time('260101000000Z'), time('260201000000Z')));
    expect(empty.revoked.size).toBe(0);
    expect(parseCrl(certList(alg, name('T'), time('260101000000Z'))).revoked.size).toBe(0);
    // Extensions ([0]) after an empty list are not read as entries.
    const extOnly = parseCrl(certList(alg, name('X'), time('260101000000Z'), tlv(0xa0, tlv(0x30))));
    expect(extOnly.revoked.size).toBe(0);
  });

  it('refuses what is not a CRL, saying which part is wrong', () => {
    const refuses = (der: Uint8Array, message: string) => {
      expect(() => parseCrl(der)).toThrow(DerError);
      expect(() => parseCrl(der)).toThrow(message);
    };
    refuses(tlv(0x31), 'CRL: expected tag 0x30, found 0x31');
    refuses(tlv(0x30, tlv(0x31)), 'tbsCertList: expected tag 0x30, found 0x31');
    refuses(certList(alg), 'CRL issuer is missing');
    refuses(certList(), 'CRL issuer is missing');
    refuses(certList(tlv(0x02, new Uint8Array([1])), alg), 'CRL issuer is missing');
    refuses(certList(alg, tlv(0x31)), 'CRL issuer: expected tag 0x30');
    refuses(
      certList(alg, name('B'), time('260101000000Z'), tlv(0x30, tlv(0x30, tlv(0x04, new Uint8Array([1]))))),
      'serial: expected tag 0x02, found 0x04',
    );
  });
});

describe('keyMatches', () => {
  it('tells the certificate’s own key (PEM, PKCS#8 DER, PKCS#1, SEC1) from another', async () => {
    const ca = await root('CN=Key Root', { key: 'p256' });
    const rsa = await leaf('CN=rsa client', ca, { key: 'rsa2048' });
    const ec = await leaf('CN=ec client', ca, { key: 'p256' });
    const rsaCert = parseCertificate(rsa.der);
    const ecCert = parseCertificate(ec.der);
    const bytes = (s: string | Buffer) => new Uint8Array(Buffer.from(s));
    expect(keyMatches(rsaCert, bytes(privateKeyPem(rsa)))).toBe(true);
    expect(keyMatches(rsaCert, bytes(privateKeyObject(rsa).export({ type: 'pkcs8', format: 'der' })))).toBe(
      true,
    );
    expect(keyMatches(rsaCert, bytes(privateKeyObject(rsa).export({ type: 'pkcs1', format: 'pem' })))).toBe(
      true,
    );
    expect(keyMatches(ecCert, bytes(privateKeyObject(ec).export({ type: 'sec1', format: 'pem' })))).toBe(
      true,
    );
    expect(keyMatches(ecCert, bytes(privateKeyPem(rsa)))).toBe(false);
    expect(keyMatches(rsaCert, bytes(privateKeyPem(ec)))).toBe(false);
  });

  it('answers undefined, not false, for what is not a readable key', async () => {
    const cert = parseCertificate((await root('CN=Unreadable')).der);
    expect(
      keyMatches(
        cert,
        new Uint8Array(Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')),
      ),
    ).toBe(undefined);
    expect(keyMatches(cert, new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))).toBe(undefined);
  });
});
