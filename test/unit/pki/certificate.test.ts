import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forgetSignatureAnswers,
  parseCertificate,
  publicKeyOf,
  rememberSignatureAnswers,
  signatureAnswers,
  verifySignature,
} from '../../../shared/pki/certificate.js';
import { v1Certificate } from '../../fixtures/der.js';
import { days, intermediate, issue, leaf, NOW, root } from '../../fixtures/pki.js';

const openssl = (args: string[], pem: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'trustroll-cert-'));
  const file = join(dir, 'c.pem');
  writeFileSync(file, pem);
  return execFileSync('openssl', [...args, '-in', file], { encoding: 'utf8' });
};

describe('parseCertificate', () => {
  it('reads the fields API Gateway rules need, agreeing with openssl', async () => {
    const r = await root('CN=Acme Root CA,O=Acme Corp,C=DE', { key: 'rsa2048' });
    const ca = await intermediate('CN=Acme Issuing CA,O=Acme Corp,C=DE', r, {
      key: 'p384',
      serial: '0a1b2c',
    });
    const cert = parseCertificate(ca.der);

    const sslFingerprint = openssl(['x509', '-noout', '-fingerprint', '-sha256'], ca.pem);
    expect(cert.fingerprint).toBe(sslFingerprint.split('=')[1]!.trim().replace(/:/g, '').toLowerCase());
    expect(cert.subject.text).toBe('CN=Acme Issuing CA,O=Acme Corp,C=DE');
    expect(openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], ca.pem).trim()).toBe(
      `subject=${cert.subject.text}`,
    );
    expect(cert.issuer.text).toBe('CN=Acme Root CA,O=Acme Corp,C=DE');
    expect(cert.serial).toBe('0a1b2c');
    expect(cert.version).toBe(3);
    expect(cert.notBefore).toEqual(days(-30));
    expect(cert.notAfter).toEqual(days(3 * 365));
    expect(cert.basicConstraints).toEqual({ ca: true, pathLen: 0, critical: true });
    expect(cert.keyUsage?.critical).toBe(true);
    expect([...(cert.keyUsage?.usages ?? [])].sort()).toEqual(['crlSign', 'keyCertSign']);
    expect(cert.publicKey).toMatchObject({ type: 'ec', curve: 'P-384', bits: 384 });
    expect(cert.signature).toMatchObject({ algorithm: 'sha256WithRSAEncryption', hash: 'sha256' });
    expect(cert.subjectKeyId).toMatch(/^[0-9a-f]{40}$/);
    expect(cert.authorityKeyId).toBe(parseCertificate(r.der).subjectKeyId);
    expect(cert.selfIssued).toBe(false);
  });

  it('reads RSA key size, ECDSA signature hash and extended key usage', async () => {
    const r = await root('CN=EC Root', { key: 'p256' });
    const client = await leaf('CN=client', r, { key: 'rsa3072', hash: 'SHA-384' });
    const cert = parseCertificate(client.der);
    expect(cert.publicKey).toMatchObject({ type: 'rsa', bits: 3072 });
    expect(cert.signature).toMatchObject({ algorithm: 'ecdsa-with-SHA384', hash: 'sha384' });
    expect(cert.extendedKeyUsage).toEqual({ purposes: ['clientAuth'], critical: false });
    expect(cert.basicConstraints).toEqual({ ca: false, critical: true });
  });

  it('verifies a signature against the right issuer and not against another', async () => {
    const r = await root('CN=Verify Root');
    const other = await root('CN=Other Root');
    const child = parseCertificate((await intermediate('CN=Child', r)).der);
    expect(verifySignature(child, parseCertificate(r.der))).toBe(true);
    expect(verifySignature(child, parseCertificate(other.der))).toBe(false);
    const self = parseCertificate(r.der);
    expect(self.selfIssued).toBe(true);
    expect(verifySignature(self, self)).toBe(true);
  });

  it('verifies RSA signatures with SHA-1 and reports the weak hash', async () => {
    const r = await root('CN=SHA1 Root', { key: 'rsa2048', hash: 'SHA-1' });
    const cert = parseCertificate(r.der);
    expect(cert.signature).toMatchObject({ algorithm: 'sha1WithRSAEncryption', hash: 'sha1' });
    expect(verifySignature(cert, cert)).toBe(true);
  });

  it('renders names with escaping, multi-valued RDNs and non-ASCII as RFC 4514 text', async () => {
    const r = await issue({
      subject: [
        { C: ['AT'] },
        { OU: ['x'], '0.9.2342.19200300.100.1.1': ['7'] },
        { O: ['A+B'] },
        { CN: ['Müller, Söhne #1 '] },
      ],
    });
    const cert = parseCertificate(r.der);
    expect(cert.subject.text).toBe('CN=Müller\\, Söhne #1\\ ,O=A\\+B,UID=7+OU=x,C=AT');
    expect(cert.subject.text).toBe(
      openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'], r.pem)
        .trim()
        .replace(/^subject=/, ''),
    );
  });

  it('matches issuer names case- and whitespace-insensitively, like OpenSSL', async () => {
    const r = await root('CN=Acme  Root,O=ACME');
    const child = await issue({ subject: 'CN=Child CA', issuer: r, issuerName: 'CN=acme root,O=Acme' });
    const [rc, cc] = [parseCertificate(r.der), parseCertificate(child.der)];
    expect(cc.issuer.key).toBe(rc.subject.key);
    expect(cc.issuer.text).not.toBe(rc.subject.text);
  });

  it('keeps the fixture clock', () => {
    expect(NOW.toISOString()).toBe('2026-06-01T00:00:00.000Z');
  });

  it('refuses DER whose signature algorithm fields disagree', async () => {
    const r = await root('CN=Tamper');
    const der = Buffer.from(r.der);
    // The outer AlgorithmIdentifier is the second child of the certificate: flip its last OID byte.
    const outerOid = Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    const last = der.lastIndexOf(outerOid);
    der[last + outerOid.length - 1] = 0x03;
    expect(() => parseCertificate(new Uint8Array(der))).toThrow(/signature algorithm/);
  });
});

describe('verifySignature remembered across parses', () => {
  it('answers a certificate parsed again as before, pair by pair: each issuer is its own answer', async () => {
    const a = await root('CN=Memo Root A');
    const b = await root('CN=Memo Root B');
    const child = await intermediate('CN=Memo Issuing', a);
    // First answers, on one set of parsed objects.
    expect(verifySignature(parseCertificate(child.der), parseCertificate(a.der))).toBe(true);
    expect(verifySignature(parseCertificate(child.der), parseCertificate(b.der))).toBe(false);
    // The same DERs parsed again (a state read afresh): the same answers for the same pairs, in
    // either order of asking, and none borrowed from another pair.
    const again = parseCertificate(child.der);
    expect(verifySignature(again, parseCertificate(b.der))).toBe(false);
    expect(verifySignature(again, parseCertificate(a.der))).toBe(true);
    expect(verifySignature(parseCertificate(a.der), again)).toBe(false);
    // A certificate whose signature bytes differ (same subject and issuer) is another pair.
    const tampered = new Uint8Array(child.der);
    tampered[tampered.length - 1]! ^= 0x01;
    expect(verifySignature(parseCertificate(tampered), parseCertificate(a.der))).toBe(false);
  });
});

describe('publicKeyOf', () => {
  it('reads the key of a version 3 and of a version 1 certificate (no [0] version field) as parseCertificate does', async () => {
    const v3 = await root('CN=Key Only Root', { key: 'p384' });
    expect(publicKeyOf(v3.der)).toEqual(parseCertificate(v3.der).publicKey);
    const v1 = v1Certificate({ subject: 'Key Only V1', notBefore: days(-1), notAfter: days(10) });
    expect(publicKeyOf(v1.der)).toEqual(parseCertificate(v1.der).publicKey);
    expect(() => publicKeyOf(new Uint8Array([0x02, 0x01, 0x00]))).toThrow(/certificate/);
  });
});

describe('signature answers by fingerprint', () => {
  it('lists what was found for pairs of the given certificates, takes answers given, and forgets them', async () => {
    const r = await root('CN=Answers Root');
    const other = await root('CN=Answers Other');
    const i = await intermediate('CN=Answers Issuing', r);
    const [pr, po, pi] = [r, other, i].map((c) => parseCertificate(c.der));
    const positions = new Map([pr!, po!, pi!].map((c, n) => [c.fingerprint, n]));
    expect(signatureAnswers(positions)).toEqual([]);
    expect(verifySignature(pi!, pr!)).toBe(true);
    expect(verifySignature(pi!, po!)).toBe(false);
    expect(signatureAnswers(positions)).toEqual([
      [2, 0, true],
      [2, 1, false],
    ]);
    // Only pairs of the certificates asked about.
    expect(signatureAnswers(new Map([[pi!.fingerprint, 0]]))).toEqual([]);
    // Answers given by fingerprint are taken; one known already is kept as found.
    rememberSignatureAnswers([
      [po!.fingerprint, po!.fingerprint, true],
      [pi!.fingerprint, po!.fingerprint, true],
    ]);
    expect(signatureAnswers(positions)).toEqual([
      [1, 1, true],
      [2, 0, true],
      [2, 1, false],
    ]);
    // Forgotten for one certificate, then for all: a new object of the same DER is verified again.
    forgetSignatureAnswers(new Set([po!.fingerprint]));
    expect(signatureAnswers(positions)).toEqual([
      [2, 0, true],
      [2, 1, false],
    ]);
    forgetSignatureAnswers();
    expect(signatureAnswers(positions)).toEqual([]);
    expect(verifySignature(parseCertificate(i.der), parseCertificate(r.der))).toBe(true);
    expect(signatureAnswers(positions)).toEqual([[2, 0, true]]);
  });
});
