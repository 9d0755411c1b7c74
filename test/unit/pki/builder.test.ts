import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import { X509Certificate, X509Crl } from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { parseCertificate, verifySignature } from '../../../shared/pki/certificate.js';
import { parseCrl } from '../../../shared/pki/crl.js';
import { readInput } from '../../../shared/pki/read.js';
import {
  crl,
  DAY,
  days,
  intermediate,
  issue,
  leaf,
  NOW,
  partnerChain,
  pemBlock,
  pemOf,
  pkcs7Der,
  pkcs7Pem,
  privateKeyPem,
  root,
  secp256k1Spki,
  toBytes,
} from '../../fixtures/pki.js';

/**
 * The builder makes the test PKIs of `trustroll pki` and `up`'s demo, and every fixture here: its
 * defaults are what people get without options, so each is pinned, read back with trustroll's own
 * parser.
 */
describe('PKI builder defaults', () => {
  it('makes a root: CA, critical basicConstraints and keyUsage, SKI, no AKI, 30 days back, 3 years on', async () => {
    const r = parseCertificate((await root('CN=B Root,O=B,C=DE')).der);
    expect(r.subject.text).toBe('CN=B Root,O=B,C=DE');
    expect(r.issuer.text).toBe('CN=B Root,O=B,C=DE');
    expect(r.basicConstraints).toEqual({ ca: true, critical: true });
    expect(r.keyUsage).toEqual({ usages: ['keyCertSign', 'crlSign'], critical: true });
    expect(r.subjectKeyId).toMatch(/^[0-9a-f]{40}$/);
    expect(r.hasAuthorityKeyIdentifier).toBeUndefined();
    expect(r.extendedKeyUsage).toBeUndefined();
    expect(r.notBefore).toEqual(days(-30));
    expect(r.notAfter).toEqual(days(3 * 365));
    expect(r.publicKey).toMatchObject({ type: 'ec', curve: 'P-256' });
    expect(r.signature.algorithm).toBe('ecdsa-with-SHA256');
    expect(verifySignature(r, r)).toBe(true);
  });

  it('makes an intermediate with pathLen 0 and the issuer’s key id, and a leaf for clientAuth for a year', async () => {
    const r = await root('CN=B2 Root');
    const i = await intermediate('CN=B2 Issuing', r);
    const l = await leaf('CN=b2 client', i);
    const [pr, pi, pl] = [r, i, l].map((x) => parseCertificate(x.der)) as [
      ReturnType<typeof parseCertificate>,
      ReturnType<typeof parseCertificate>,
      ReturnType<typeof parseCertificate>,
    ];
    expect(pi.basicConstraints).toEqual({ ca: true, pathLen: 0, critical: true });
    expect(pi.issuer.text).toBe('CN=B2 Root');
    expect(pi.authorityKeyId).toBe(pr.subjectKeyId);
    expect(verifySignature(pi, pr)).toBe(true);
    expect(pl.basicConstraints).toEqual({ ca: false, critical: true });
    expect(pl.keyUsage).toEqual({ usages: ['digitalSignature'], critical: true });
    expect(pl.extendedKeyUsage).toEqual({ purposes: ['clientAuth'], critical: false });
    expect(pl.notAfter).toEqual(days(365));
    expect(pl.authorityKeyId).toBe(pi.subjectKeyId);
    expect(verifySignature(pl, pi)).toBe(true);
  });

  it('numbers serials in order and keeps a serial given', async () => {
    const a = parseCertificate((await root('CN=Serial A')).der).serial;
    const b = parseCertificate((await root('CN=Serial B')).der).serial;
    expect(a).toMatch(/^[0-9a-f]+$/);
    expect(Number.parseInt(b, 16)).toBe(Number.parseInt(a, 16) + 1);
    expect(parseCertificate((await root('CN=Serial C', { serial: '7f0102' })).der).serial).toBe('7f0102');
  });

  it('gives one key per subject and slot, another for another slot', async () => {
    const spki = async (subject: string, keySlot?: string) =>
      Buffer.from(
        parseCertificate((await root(subject, keySlot ? { keySlot } : {})).der).publicKey.spki,
      ).toString('hex');
    expect(await spki('CN=Same Key')).toBe(await spki('CN=Same Key'));
    expect(await spki('CN=Same Key', 'rotated')).not.toBe(await spki('CN=Same Key'));
    expect(await spki('CN=Same Key', 'rotated')).toBe(await spki('CN=Other Subject', 'rotated'));
  });
});

describe('PKI builder options', () => {
  it('leaves extensions out or changes them as asked', async () => {
    const r = await root('CN=Opt Root');
    const c = parseCertificate(
      (
        await issue({
          subject: 'CN=opts',
          issuer: r,
          ca: null,
          keyUsage: null,
          ski: false,
          aki: false,
          now: NOW,
        })
      ).der,
    );
    expect(c.basicConstraints).toBeUndefined();
    expect(c.keyUsage).toBeUndefined();
    expect(c.subjectKeyId).toBeUndefined();
    expect(c.hasAuthorityKeyIdentifier).toBeUndefined();
    const nc = parseCertificate((await root('CN=NC Root', { bcCritical: false, pathLen: 3 })).der);
    expect(nc.basicConstraints).toEqual({ ca: true, pathLen: 3, critical: false });
    const leafNoBc = parseCertificate((await leaf('CN=x', r, { keyUsage: 4 })).der);
    expect(leafNoBc.keyUsage?.usages).toEqual(['keyEncipherment']);
  });

  it('writes SANs, extra extensions, a foreign issuer name and a raw key', async () => {
    const r = await root('CN=SAN Root');
    const c = parseCertificate(
      (
        await leaf('CN=san', r, {
          dns: ['a.example', 'b.example'],
          ips: ['10.0.0.1'],
          extraExtensions: [{ oid: '1.2.3.4', value: new Uint8Array([0x04, 0x01, 0x07]) }],
          issuerName: 'CN=Someone Else,O=X',
        })
      ).der,
    );
    expect(c.sanDns).toEqual(['a.example', 'b.example']);
    expect(c.sanIps).toEqual(['0a000001']);
    expect(c.extensions).toContainEqual({ oid: '1.2.3.4', critical: false });
    expect(c.extensions).toContainEqual({ oid: '2.5.29.17', critical: false });
    expect(c.issuer.text).toBe('CN=Someone Else,O=X');
    const k1 = parseCertificate((await leaf('CN=k1', r, { spki: secp256k1Spki() })).der);
    expect(k1.publicKey).toMatchObject({ type: 'ec', curve: 'secp256k1' });
    expect(verifySignature(k1, parseCertificate(r.der))).toBe(true);
    expect(parseCertificate((await leaf('CN=plain', r)).der).sanDns).toBeUndefined();
  });

  it('writes further subjectAltName kinds, nameConstraints of every kind, and typed name values', async () => {
    const r = await root('CN=NC B Root');
    const ca = parseCertificate(
      (
        await intermediate('CN=NC B', r, {
          nameConstraints: {
            permitted: [
              { dns: 'example.com' },
              { email: '.example.com' },
              { dir: 'O=B' },
              { uri: 'example.com', maximum: 2 },
            ],
            excluded: [{ otherName: '1.2.3.4', utf8: 'x' }, { registeredId: '1.2.3.5' }],
          },
        })
      ).der,
    );
    expect(ca.extensions).toContainEqual({ oid: '2.5.29.30', critical: true });
    expect(ca.nameConstraints).toMatchObject({
      permittedDns: ['example.com'],
      permittedEmails: ['.example.com'],
      permittedDirs: ['2.5.4.10=b'],
      permittedUris: ['example.com'],
      excludedEmails: [],
      unsupported: ['otherName 1.2.3.4', 'registeredID'],
      minMax: ['uri'],
    });
    const der = (
      await issue({
        subject: [{ CN: [{ utf8String: 'typed' }] }, { E: [{ utf8String: 'a@example.com' }] }],
        issuer: r,
        ca: false,
        dns: ['a.example', 'b.example'],
        ips: ['10.0.0.1'],
        altNames: [
          { email: 'a@example.com' },
          { uri: 'https://a.example/' },
          { dir: 'CN=x,O=B' },
          { otherName: '1.3.6.1.5.5.7.8.9', utf8: 'ü@example.com' },
          { otherName: '1.2.3.4', der: new Uint8Array([0x04, 0x01, 0x07]) },
          { otherName: '1.3.6.1.5.5.7.8.9' },
        ],
      })
    ).der;
    const c = parseCertificate(der);
    // Not critical, and in the order given: the DNS names, the IP addresses, then the other names.
    expect(c.extensions).toContainEqual({ oid: '2.5.29.17', critical: false });
    const san = AsnConvert.parse(
      new X509Certificate(der).getExtension('2.5.29.17')!.value,
      asn1X509.SubjectAlternativeName,
    );
    expect(san.map((n) => Object.entries(n).find(([, v]) => v !== undefined)?.[0])).toEqual([
      'dNSName',
      'dNSName',
      'iPAddress',
      'rfc822Name',
      'uniformResourceIdentifier',
      'directoryName',
      'otherName',
      'otherName',
      'otherName',
    ]);
    expect(c.subject.text).toBe('emailAddress=a@example.com,CN=typed');
    expect(c.subjectEmails).toEqual([{ value: 'a@example.com', ia5: false }]);
    expect(c.sanDns).toEqual(['a.example', 'b.example']);
    expect(c.sanIps).toEqual(['0a000001']);
    expect(c.sanEmails).toEqual(['a@example.com']);
    expect(c.sanUris).toEqual(['https://a.example/']);
    expect(c.sanDirs).toEqual(['2.5.4.10=b/2.5.4.3=x']);
    // An otherName given no value holds an empty UTF8String.
    expect(c.sanSmtpUtf8).toEqual([
      { value: Buffer.from('ü@example.com').toString('latin1'), utf8: true },
      { value: '', utf8: true },
    ]);
    expect(c.sanOther).toEqual(['otherName 1.2.3.4']);
    // Text names write emailAddress as an IA5String.
    expect(parseCertificate((await leaf('CN=x,E=b@example.com', r)).der).subjectEmails).toEqual([
      { value: 'b@example.com', ia5: true },
    ]);
  });

  it('signs with the hash and key asked for, RSA with any hash', async () => {
    const rsa = await root('CN=RSA B Root', { key: 'rsa2048', hash: 'SHA-384' });
    const pr = parseCertificate(rsa.der);
    expect(pr.signature.algorithm).toBe('sha384WithRSAEncryption');
    expect(pr.publicKey).toMatchObject({ type: 'rsa', bits: 2048 });
    expect(verifySignature(pr, pr)).toBe(true);
    const child = parseCertificate((await leaf('CN=rsa child', rsa, { hash: 'SHA-512' })).der);
    expect(child.signature.algorithm).toBe('sha512WithRSAEncryption');
    expect(verifySignature(child, pr)).toBe(true);
    const p384 = parseCertificate((await root('CN=P384 B', { key: 'p384', hash: 'SHA-384' })).der);
    expect(p384.publicKey.curve).toBe('P-384');
    expect(p384.signature.algorithm).toBe('ecdsa-with-SHA384');
    const ed = parseCertificate((await root('CN=Ed B', { key: 'ed25519' })).der);
    expect(ed.signature.algorithm).toBe('Ed25519');
    expect(verifySignature(ed, ed)).toBe(true);
  });

  it('reverses RFC 4514 text into DER order, keeping escaped commas, and takes JSON names as given', async () => {
    const escaped = parseCertificate((await root('CN=Acme\\, Inc,O=Acme')).der);
    expect(escaped.subject.text).toBe('CN=Acme\\, Inc,O=Acme');
    const json = parseCertificate(
      (await issue({ subject: [{ C: ['DE'] }, { CN: ['Json'] }], now: NOW })).der,
    );
    expect(json.subject.text).toBe('CN=Json,C=DE');
  });
});

describe('partner chains, bundles and CRLs', () => {
  it('makes root → issuing CA → client for a partner, with the spec passed down', async () => {
    const chain = await partnerChain('Beta', { notAfter: days(100) });
    const [r, i, c] = [chain.root, chain.intermediate, chain.client].map((x) => parseCertificate(x.der));
    expect(r!.subject.text).toBe('CN=Beta Root CA,O=Beta');
    expect(i!.subject.text).toBe('CN=Beta Issuing CA,O=Beta');
    expect(c!.subject.text).toBe('CN=client.beta.example,O=Beta');
    expect(c!.issuer.text).toBe(i!.subject.text);
    expect(r!.notAfter).toEqual(days(100));
    expect(c!.notAfter).toEqual(days(100));
    expect(c!.publicKey.curve).toBe('P-256');
    const rsa = await partnerChain('Gamma', { key: 'rsa2048' });
    expect(parseCertificate(rsa.client.der).publicKey.type).toBe('rsa');
  });

  it('writes PEM with 64-character lines, PKCS#7 that reads back, and PKCS#8 keys', async () => {
    const a = await root('CN=Bundle A');
    const b = await root('CN=Bundle B');
    expect(pemOf(a, b)).toBe(`${a.pem}\n${b.pem}`);
    const block = pemBlock('TEST', new Uint8Array(100).fill(1));
    const lines = block.split('\n');
    expect(lines[0]).toBe('-----BEGIN TEST-----');
    expect(lines[1]!.length).toBe(64);
    expect(lines[2]!.length).toBe(64);
    expect(lines[3]!.length).toBe(136 - 128);
    expect(lines[4]).toBe('-----END TEST-----');
    expect(block.endsWith('-----END TEST-----\n')).toBe(true);
    expect(pemBlock('X', new Uint8Array(48)).split('\n')).toEqual([
      '-----BEGIN X-----',
      'A'.repeat(64),
      '-----END X-----',
      '',
    ]);
    const subjects = (bytes: Uint8Array) =>
      readInput({ name: 'p7', bytes }).certificates.map((c) => c.cert.subject.text);
    expect(subjects(pkcs7Der(a, b))).toEqual(['CN=Bundle A', 'CN=Bundle B']);
    expect(subjects(toBytes(pkcs7Pem(a, b)))).toEqual(['CN=Bundle A', 'CN=Bundle B']);
    expect(privateKeyPem(a)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect([...toBytes('é')]).toEqual([0xc3, 0xa9]);
  });

  it('signs a CRL from a day before now to thirty days on, listing the serials given', async () => {
    const ca = await root('CN=B CRL Root');
    const gone = await leaf('CN=gone', ca);
    const der = await crl(ca, [gone]);
    const list = new X509Crl(der);
    expect(list.thisUpdate).toEqual(days(-1));
    expect(list.nextUpdate).toEqual(days(30));
    expect(await list.verify({ publicKey: await ca.cert.publicKey.export() })).toBe(true);
    expect([...parseCrl(der).revoked]).toEqual([parseCertificate(gone.der).serial]);
  });

  it('counts days from a date', () => {
    expect(days(2, new Date(0)).getTime()).toBe(2 * DAY);
    expect(days(-1, new Date(DAY)).getTime()).toBe(0);
  });
});
