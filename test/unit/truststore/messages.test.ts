import { beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../../shared/finding.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { lintCertificates } from '../../../shared/truststore/lint.js';
import { sizeFindings } from '../../../shared/truststore/rules/truststore.too-large.js';
import { rsaSpki } from '../../fixtures/der.js';
import { days, type Issued, intermediate, issue, leaf, NOW, partnerChain, root } from '../../fixtures/pki.js';

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
