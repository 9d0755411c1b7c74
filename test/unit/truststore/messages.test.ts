import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../../shared/finding.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { lintCertificates } from '../../../shared/truststore/lint.js';
import { sizeFindings } from '../../../shared/truststore/rules/truststore.too-large.js';
import { oid, rsaSpki } from '../../fixtures/der.js';
import {
  days,
  type Issued,
  intermediate,
  issue,
  leaf,
  NOW,
  partnerChain,
  root,
  secp256k1Spki,
} from '../../fixtures/pki.js';

/**
 * A finding's message is what a partner or an operator acts on: where it carries information (the
 * issuer's name, how many CAs, the other certificates, the size, the key, the usages, the date),
 * that information is asserted, so a rule that says the wrong thing fails a test.
 */
const lint = (...issued: Issued[]) =>
  lintCertificates(
    issued.map((i, n) => ({ cert: parseCertificate(i.der), source: `input ${n + 1}` })),
    { at: NOW },
  ).findings;
const only = (findings: readonly Finding[], code: string): Finding => {
  const matching = findings.filter((f) => f.code === code);
  expect(matching, code).toHaveLength(1);
  return matching[0]!;
};
const fp = (i: Issued) => parseCertificate(i.der).fingerprint;

let good: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  good = await partnerChain('Msg');
});

describe('finding messages say what to act on', () => {
  it('cert.no-keycertsign lists the usages it has, or says they are empty', async () => {
    const crlOnly = await intermediate('CN=Msg CRL Only', good.root, { keyUsage: 64 | 2 });
    expect(only(lint(good.root, crlOnly), 'cert.no-keycertsign')).toMatchObject({
      severity: 'error',
      cert: { fingerprint: fp(crlOnly) },
      message: expect.stringMatching(/^Its keyUsage \(nonRepudiation, crlSign\) lacks keyCertSign/),
    });
    const none = await intermediate('CN=Msg No Usage', good.root, { keyUsage: 0 });
    expect(only(lint(good.root, none), 'cert.no-keycertsign').message).toMatch(
      /^Its keyUsage \(empty\) lacks/,
    );
  });

  it('cert.no-keycertsign is for CAs only: a leaf without keyCertSign is cert.not-ca alone', () => {
    const findings = lint(good.root, good.intermediate, good.client);
    expect(findings.filter((f) => f.code === 'cert.no-keycertsign')).toEqual([]);
    expect(only(findings, 'cert.not-ca').cert?.fingerprint).toBe(fp(good.client));
  });

  it('signature.invalid says whose key failed: its own, the CA, or any of several CAs', async () => {
    const other = await root('CN=Msg Root CA,O=Msg', { keySlot: 'msg-other' });
    const third = await root('CN=Msg Root CA,O=Msg', { keySlot: 'msg-third' });
    const orphan = await intermediate(
      'CN=Msg Orphan',
      await root('CN=Msg Root CA,O=Msg', { keySlot: 'msg-4th' }),
    );
    expect(only(lint(other, orphan), 'signature.invalid')).toMatchObject({
      cert: { fingerprint: fp(orphan) },
      message: expect.stringMatching(
        /^Its signature does not verify with the key of the CA named CN=Msg Root CA,O=Msg in the truststore/,
      ),
    });
    expect(only(lint(other, third, orphan), 'signature.invalid').message).toMatch(
      /with the key of any CA named CN=Msg Root CA,O=Msg in the truststore/,
    );
    const tampered = new Uint8Array(good.root.der);
    tampered[tampered.length - 5]! ^= 1;
    const self = lintCertificates([{ cert: parseCertificate(tampered), source: 'tampered' }], { at: NOW });
    expect(only(self.findings, 'signature.invalid').message).toMatch(
      /with its own key \(it names itself as issuer\)/,
    );
  });

  it('truststore.duplicate-subject names the count, the subject and the other fingerprints, on each', async () => {
    const a = await root('CN=Msg Twin', { keySlot: 'twin-a' });
    const b = await root('CN=Msg Twin', { keySlot: 'twin-b' });
    const c = await root('CN=Msg Twin', { keySlot: 'twin-c' });
    const findings = lint(a, b, c).filter((f) => f.code === 'truststore.duplicate-subject');
    expect(findings.map((f) => f.cert?.fingerprint).sort()).toEqual([fp(a), fp(b), fp(c)].sort());
    for (const f of findings) {
      expect(f.message).toMatch(/^3 different certificates share the subject "CN=Msg Twin"/);
      const others = [a, b, c].map(fp).filter((x) => x !== f.cert?.fingerprint);
      expect(f.message).toContain(`(also ${others.map((o) => o.slice(0, 16)).join(', ')})`);
      expect(f.message).not.toContain(f.cert!.fingerprint.slice(0, 16));
    }
  });

  it('truststore.too-large gives the size in KB and bytes, an error over the limit and a warning over 80%', () => {
    expect(sizeFindings(800_000)).toEqual([]);
    expect(sizeFindings(800_001)).toMatchObject([
      {
        severity: 'warning',
        message: expect.stringMatching(/^The truststore would be 800 KB \(800001 bytes\), over 80%/),
      },
    ]);
    expect(sizeFindings(1_000_000)).toMatchObject([{ severity: 'warning' }]);
    expect(sizeFindings(1_000_001)).toMatchObject([
      {
        code: 'truststore.too-large',
        severity: 'error',
        message: expect.stringMatching(
          /^The truststore would be 1000 KB \(1000001 bytes\), over API Gateway's limit/,
        ),
      },
    ]);
    expect(sizeFindings(1_512_345)[0]!.message).toContain('1512 KB (1512345 bytes)');
  });

  it('truststore.empty is one error that says how to stop mutual TLS instead', () => {
    expect(lintCertificates([], { at: NOW }).findings).toEqual([
      {
        code: 'truststore.empty',
        severity: 'error',
        message: expect.stringMatching(/no CA certificate.*change the domain, not the truststore/),
      },
    ]);
  });

  it('cert.duplicate counts the occurrences and names where each came from', () => {
    const cert = parseCertificate(good.root.der);
    const findings = lintCertificates(
      [
        { cert, source: 'a.pem block 1' },
        { cert, source: 'b.pem block 3' },
        { cert, source: 'c.der' },
      ],
      { at: NOW },
    ).findings;
    expect(only(findings, 'cert.duplicate')).toMatchObject({
      severity: 'info',
      message: 'Appears 3 times (a.pem block 1; b.pem block 3; c.der); it is kept once.',
    });
  });

  it('chain.too-long gives the number of certificates and the limit', async () => {
    const r = await root('CN=Msg Deep Root');
    let prev = r;
    const chain: Issued[] = [r];
    for (let n = 1; n <= 5; n++) {
      prev = await intermediate(`CN=Msg Deep ${n}`, prev, { pathLen: undefined });
      chain.push(prev);
    }
    const long = lint(...chain).filter((f) => f.code === 'chain.too-long');
    expect(long.map((f) => f.message.match(/holds (\d+) certificates/)?.[1])).toEqual(['5', '6']);
    expect(long[0]!.message).toMatch(/API Gateway accepts at most 4 \(root and 3 intermediates\)/);
  });

  it('chain.path-length says "1 CA" in the singular and "2 CAs" in the plural', async () => {
    const r = await root('CN=Msg PL Root', { pathLen: 0 });
    const a = await intermediate('CN=Msg PL A', r, { pathLen: undefined });
    const b = await intermediate('CN=Msg PL B', a, { pathLen: undefined });
    const findings = lint(r, a, b).filter((f) => f.code === 'chain.path-length');
    expect(findings.find((f) => f.cert?.fingerprint === fp(a))?.message).toMatch(/this CA is 1 CA below it/);
    expect(findings.find((f) => f.cert?.fingerprint === fp(b))?.message).toMatch(/this CA is 2 CAs below it/);
  });

  it('key.too-weak names the bits, the curve or the key type', async () => {
    const rsa = await root('CN=Msg RSA 1024', { key: 'rsa1024' });
    expect(only(lint(rsa), 'key.too-weak').message).toMatch(
      /^Its RSA key has 1024 bits, below API Gateway's minimum of 2048: reissue the CA/,
    );
    const ed = await root('CN=Msg Ed', { key: 'ed25519' });
    expect(only(lint(ed), 'key.too-weak').message).toMatch(
      /^Its key type \(ed25519\) is not supported by API Gateway/,
    );
  });

  it('key.unsupported names the odd exponent and is refused before signature work', async () => {
    const odd = await issue({ subject: 'CN=Msg Huge Exponent', issuer: good.root, spki: rsaSpki(2048, 300) });
    const findings = lint(good.root, odd);
    expect(only(findings, 'key.unsupported')).toMatchObject({
      severity: 'error',
      cert: { fingerprint: fp(odd) },
      message: expect.stringMatching(/^Its key has .*exponent.*which no CA should have/),
    });
  });

  it('signature.weak-hash names the algorithm', async () => {
    const sha1 = await root('CN=Msg SHA1', { key: 'rsa2048', hash: 'SHA-1' });
    expect(only(lint(sha1), 'signature.weak-hash').message).toMatch(
      /^It is signed with sha1WithRSAEncryption; API Gateway requires SHA-256/i,
    );
  });

  it('chain.issuer-missing names the missing issuer', () => {
    expect(only(lint(good.intermediate), 'chain.issuer-missing').message).toMatch(
      /^Its issuer "CN=Msg Root CA,O=Msg" is not in the truststore/,
    );
  });

  it('cert.not-yet-valid and cert.expired give the instant and the date', async () => {
    const future = await intermediate('CN=Msg Future', good.root, { notBefore: days(3) });
    expect(only(lint(good.root, future), 'cert.not-yet-valid').message).toContain(
      `Not valid before ${days(3).toISOString()}`,
    );
    const old = await intermediate('CN=Msg Old', good.root, { notBefore: days(-90), notAfter: days(-2) });
    expect(only(lint(good.root, old), 'cert.expired').message).toMatch(
      new RegExp(`^Expired on ${days(-2).toISOString().slice(0, 10)}`),
    );
  });

  it('signature.weak-hash names an algorithm trustroll does not know, by its OID', () => {
    // ecdsa-with-SHA256 (1.2.840.10045.4.3.2) rewritten to the unassigned 1.2.840.10045.4.3.9.
    const der = Buffer.from(good.root.der);
    const oid = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    let at = der.indexOf(oid);
    expect(at).toBeGreaterThan(0);
    for (; at >= 0; at = der.indexOf(oid, at + 1)) der[at + oid.length - 1] = 0x09;
    const cert = parseCertificate(new Uint8Array(der));
    const findings = lintCertificates([{ cert, source: 'odd' }], { at: NOW }).findings;
    expect(only(findings, 'signature.weak-hash')).toMatchObject({
      severity: 'error',
      message: expect.stringMatching(
        /^It is signed with an algorithm trustroll does not know \(1\.2\.840\.10045\.4\.3\.9\)/,
      ),
    });
  });

  it('cert.expired on a leaf speaks of the leaf, on a CA of the clients under it', async () => {
    const oldLeaf = await leaf('CN=msg-old-client', good.intermediate, {
      notBefore: days(-90),
      notAfter: days(-1),
    });
    const leafMessage = only(lint(good.root, good.intermediate, oldLeaf), 'cert.expired').message;
    expect(leafMessage).not.toMatch(/every client certificate under it/);
    const oldCa = await intermediate('CN=Msg Old CA 2', good.root, {
      notBefore: days(-90),
      notAfter: days(-1),
    });
    expect(only(lint(good.root, oldCa), 'cert.expired').message).toMatch(
      /every client certificate under it is refused/,
    );
  });
});

describe('whole messages: every sentence of what to do is there', () => {
  const FIX = 'reissue the CA with RSA 2048 bits or more, or ECDSA P-256/P-384.';
  /** A SubjectPublicKeyInfo of another algorithm: the RSA one with its algorithm OID replaced. */
  const spkiWithAlgorithm = (dotted: string): Uint8Array => {
    const spki = Buffer.from(rsaSpki(2048, 17));
    const rsa = Buffer.from(oid('1.2.840.113549.1.1.1'));
    const other = Buffer.from(oid(dotted));
    expect(other.length).toBe(rsa.length);
    other.copy(spki, spki.indexOf(rsa));
    return new Uint8Array(spki);
  };

  it('cert.expired, on a CA and on a leaf', async () => {
    const ca = await intermediate('CN=Msg Whole Old CA', good.root, {
      notBefore: days(-90),
      notAfter: days(-3),
    });
    expect(only(lint(good.root, ca), 'cert.expired').message).toBe(
      `Expired on ${days(-3).toISOString().slice(0, 10)}: every client certificate under it is refused. Upload the renewed CA certificate and remove this one.`,
    );
    const client = await leaf('CN=msg-whole-old', good.intermediate, {
      notBefore: days(-90),
      notAfter: days(-4),
    });
    expect(only(lint(good.root, good.intermediate, client), 'cert.expired').message).toBe(
      `Expired on ${days(-4).toISOString().slice(0, 10)}: this end-entity (client or server) certificate is itself no longer valid, and it does not belong in a truststore. Remove it.`,
    );
  });

  it('signature.weak-hash, for a weak hash and for an algorithm trustroll does not know', async () => {
    const sha1 = await root('CN=Msg Whole SHA1', { key: 'rsa2048', hash: 'SHA-1' });
    const algorithm = parseCertificate(sha1.der).signature.algorithm;
    expect(only(lint(sha1), 'signature.weak-hash').message).toBe(
      `It is signed with ${algorithm}; API Gateway requires SHA-256 or stronger ("insecure Signature Algorithm"): reissue it with a SHA-256 or stronger signature.`,
    );
    // ecdsa-with-SHA256 (1.2.840.10045.4.3.2) rewritten to the unassigned 1.2.840.10045.4.3.9.
    const der = Buffer.from(good.root.der);
    const ecdsaSha256 = Buffer.from(oid('1.2.840.10045.4.3.2'));
    for (let at = der.indexOf(ecdsaSha256); at >= 0; at = der.indexOf(ecdsaSha256, at + 1))
      Buffer.from(oid('1.2.840.10045.4.3.9')).copy(der, at);
    const odd = lintCertificates([{ cert: parseCertificate(new Uint8Array(der)), source: 'odd' }], {
      at: NOW,
    });
    expect(only(odd.findings, 'signature.weak-hash').message).toBe(
      'It is signed with an algorithm trustroll does not know (1.2.840.10045.4.3.9); API Gateway accepts RSA or ECDSA signatures with SHA-256 or stronger: reissue it with one of those.',
    );
  });

  it('key.too-weak: the bits, the curve, the key type or its OID, and the fix', async () => {
    const rsa = await root('CN=Msg Whole RSA 1024', { key: 'rsa1024' });
    expect(only(lint(rsa), 'key.too-weak').message).toBe(
      `Its RSA key has 1024 bits, below API Gateway's minimum of 2048: ${FIX}`,
    );
    const k1 = await issue({ subject: 'CN=Msg Whole k1', issuer: good.root, spki: secp256k1Spki() });
    expect(only(lint(good.root, k1), 'key.too-weak').message).toBe(
      `Its EC key uses the curve ${parseCertificate(k1.der).publicKey.curve}, which API Gateway does not support: ${FIX}`,
    );
    const ed = await root('CN=Msg Whole Ed', { key: 'ed25519' });
    expect(only(lint(ed), 'key.too-weak').message).toBe(
      `Its key type (ed25519) is not supported by API Gateway, which takes RSA and ECDSA: ${FIX}`,
    );
    // A key algorithm trustroll has no name for is named by its OID (1.2.840.113549.1.1.99, as
    // long as rsaEncryption's).
    const unknown = await issue({
      subject: 'CN=Msg Whole Unknown Key',
      issuer: good.root,
      spki: spkiWithAlgorithm('1.2.840.113549.1.1.99'),
    });
    expect(only(lint(good.root, unknown), 'key.too-weak').message).toBe(
      `Its key type (1.2.840.113549.1.1.99) is not supported by API Gateway, which takes RSA and ECDSA: ${FIX}`,
    );
  });

  it('key.too-weak judges an RSA-PSS key by its bits, as an RSA one', async () => {
    const pss = await issue({
      subject: 'CN=Msg Whole PSS',
      issuer: good.root,
      spki: spkiWithAlgorithm('1.2.840.113549.1.1.10'),
    });
    expect(parseCertificate(pss.der).publicKey).toMatchObject({ type: 'rsa-pss', bits: 2048 });
    expect(lint(good.root, pss).filter((f) => f.code === 'key.too-weak')).toEqual([]);
  });

  it('cert.expiring, cert.no-keycertsign, cert.not-yet-valid and chain.issuer-missing, with what to do', async () => {
    const soon = await intermediate('CN=Msg Whole Soon', good.root, { notAfter: days(1) });
    expect(only(lint(good.root, soon), 'cert.expiring').message).toBe(
      `Expires on ${days(1).toISOString().slice(0, 10)} (in 1 day): upload its renewed certificate before then so clients under it keep working.`,
    );
    const crlOnly = await intermediate('CN=Msg Whole CRL Only', good.root, { keyUsage: 64 });
    expect(only(lint(good.root, crlOnly), 'cert.no-keycertsign').message).toBe(
      'Its keyUsage (crlSign) lacks keyCertSign, so certificates it issued are refused: reissue the CA with keyCertSign in keyUsage.',
    );
    const future = await intermediate('CN=Msg Whole Future', good.root, { notBefore: days(5) });
    expect(only(lint(good.root, future), 'cert.not-yet-valid').message).toBe(
      `Not valid before ${days(5).toISOString()}: clients under it are refused until then. Upload it once it is valid, or check the clock of the CA that issued it.`,
    );
    expect(only(lint(good.intermediate), 'chain.issuer-missing').message).toBe(
      'Its issuer "CN=Msg Root CA,O=Msg" is not in the truststore ("Could not find issuer for certificate"): API Gateway needs every CA up to a self-signed root, so add the issuer certificate.',
    );
  });

  it('chain.no-root names the loop itself for a CA that hangs below it', async () => {
    // "Loop A" and "Loop B" sign each other (the same key as "Loop A" signs "Loop B"); "Below"
    // was issued by "Loop A": its path reaches the loop without being part of it.
    const a0 = await root('CN=Msg Loop A', { keySlot: 'msg-loop-a' });
    const b = await intermediate('CN=Msg Loop B', a0, { keySlot: 'msg-loop-b', pathLen: undefined });
    const a = await intermediate('CN=Msg Loop A', b, { keySlot: 'msg-loop-a', pathLen: undefined });
    const below = await intermediate('CN=Msg Below Loop', a, { keySlot: 'msg-loop-c' });
    const findings = lint(a, b, below).filter((f) => f.code === 'chain.no-root');
    expect(findings.find((f) => f.cert?.fingerprint === fp(below))?.message).toBe(
      'Its path never reaches a self-signed root: the CAs sign each other in a loop ("CN=Msg Loop A" → "CN=Msg Loop B" → "CN=Msg Loop A"). Add the self-signed root of this chain.',
    );
  });
});
