import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { parseCrl } from '../../../shared/pki/crl.js';
import { children, readSingle } from '../../../shared/pki/der.js';
import { TrustIndex, type VerifyInput, verifyClient } from '../../../shared/pki/verify.js';
import { oid, rsaSpki, tlv, v1Certificate, withSignature } from '../../fixtures/der.js';
import { crl, days, type Issued, intermediate, leaf, NOW, root, secp256k1Spki } from '../../fixtures/pki.js';

/**
 * diagnose's verdicts in the modes x509-limbo does not exercise (limbo runs as `openssl verify`:
 * no API Gateway rule, security level 0, no CRL checking): each refusal with the message people
 * act on, each bound of validity at its exact instant, and the warnings a stricter validator adds.
 */
const p = (i: Issued): Certificate => parseCertificate(i.der);
const verify = (client: Issued, trusted: Issued[], over: Partial<VerifyInput> = {}) =>
  verifyClient({
    leaf: p(client),
    sent: [],
    trusted: trusted.map(p),
    at: NOW,
    purpose: 'clientAuth',
    ...over,
  });
/** @peculiar/x509's KeyUsageFlags, as the builder takes them. */
const KU = {
  digitalSignature: 1,
  keyEncipherment: 4,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
} as const;
const codes = (xs: readonly { code: string }[]) => xs.map((x) => x.code);

let r: Issued;
let i: Issued;
let c: Issued;

beforeAll(async () => {
  r = await root('CN=V Root,O=V');
  i = await intermediate('CN=V Issuing,O=V', r);
  c = await leaf('CN=client,O=V', i);
});

describe('path building', () => {
  it('accepts a chain held whole in the truststore, leaf first, with no warning', () => {
    const res = verify(c, [r, i]);
    expect(res.verdict).toBe('accept');
    expect(res.reasons).toEqual([]);
    expect(res.warnings).toEqual([]);
    expect(res.path.map((x) => x.subject.text)).toEqual([
      'CN=client,O=V',
      'CN=V Issuing,O=V',
      'CN=V Root,O=V',
    ]);
    // A prebuilt index gives the same answer.
    expect(
      verifyClient({
        leaf: p(c),
        sent: [],
        trusted: new TrustIndex([p(r), p(i)]),
        at: NOW,
        purpose: 'clientAuth',
      }),
    ).toEqual(res);
  });

  it('refuses an intermediate only the client sends in API Gateway mode, and names it', () => {
    const res = verify(c, [r], { sent: [p(i), p(c)] });
    expect(res.verdict).toBe('reject');
    expect(res.reasons).toEqual([
      {
        code: 'intermediate-not-in-truststore',
        message:
          'The client sends CN=V Issuing,O=V, but API Gateway needs every CA of the path in the truststore (a plain TLS server would accept this): add it to the truststore.',
      },
    ]);
    expect(res.path.length).toBe(3);
    expect(verify(c, [r], { sent: [p(i)], apiGateway: false }).verdict).toBe('accept');
  });

  it('says "them" when two intermediates are only sent', async () => {
    const i2 = await intermediate('CN=V Sub,O=V', i, { pathLen: 0 });
    const i1 = await intermediate('CN=V Issuing,O=V', r, { pathLen: 1 });
    const deep = await leaf('CN=deep,O=V', i2);
    const res = verify(deep, [r], { sent: [p(i1), p(i2)] });
    expect(res.reasons[0]!.message).toContain('The client sends CN=V Sub,O=V, CN=V Issuing,O=V,');
    expect(res.reasons[0]!.message).toContain('add them to the truststore');
  });

  it('refuses a self-signed client and a sent chain ending in an untrusted root', async () => {
    const self = await root('CN=self client');
    expect(verify(self, [r]).reasons).toEqual([
      {
        code: 'self-signed',
        message:
          'The client certificate is self-signed and not in the truststore (API Gateway: "self signed certificate").',
      },
    ]);
    const stranger = await root('CN=Stranger Root');
    const sc = await leaf('CN=s', stranger);
    expect(verify(sc, [r], { sent: [p(stranger)] }).reasons).toEqual([
      {
        code: 'self-signed-in-chain',
        message:
          'The chain the client sent ends in the self-signed CN=Stranger Root, which is not in the truststore.',
      },
    ]);
  });

  it('refuses a trusted intermediate whose root is missing', () => {
    expect(verify(c, [i]).reasons).toEqual([
      {
        code: 'chain.issuer-missing',
        message:
          'CN=V Issuing,O=V is in the truststore but its issuer CN=V Root,O=V is not: the truststore must hold every CA up to a self-signed root.',
      },
    ]);
  });

  it('tells a re-keyed issuer from an unknown one', async () => {
    const rekeyed = await root('CN=V Root,O=V', { keySlot: 'other key' });
    const res = verify(c, [rekeyed], { sent: [] });
    expect(codes(res.reasons)).toEqual(['issuer-unknown']);
    const mid = verify(c, [rekeyed, await intermediate('CN=V Issuing,O=V', rekeyed, { keySlot: 'k2' })]);
    expect(codes(mid.reasons)).toEqual(['issuer-key-mismatch']);
    expect(mid.reasons[0]!.message).toContain(
      'the truststore holds a CA named CN=V Issuing,O=V, but a different key signed CN=client,O=V',
    );
    const unknown = verify(c, [await root('CN=Elsewhere')]);
    expect(unknown.reasons[0]!.message).toBe(
      'Could not find issuer for certificate: nothing in the truststore issued CN=client,O=V (issuer CN=V Issuing,O=V). Add that CA to the truststore.',
    );
    const unknownSent = verify(c, [await root('CN=Elsewhere')], { sent: [p(await root('CN=Other'))] });
    expect(unknownSent.reasons[0]!.message).toContain(
      'nothing in the truststore or sent by the client issued',
    );
  });

  it('stops at the allowed depth', () => {
    expect(verify(c, [r, i], { maxDepth: 1 }).verdict).toBe('accept');
    expect(verify(c, [r, i], { maxDepth: 0 }).reasons).toEqual([
      { code: 'chain.too-long', message: 'The path is longer than the 0 intermediate(s) allowed.' },
    ]);
  });

  it('prefers the issuer valid now, else the one that expires last', async () => {
    const key = { keySlot: 'shared root key' };
    const oldRoot = await root('CN=Twin Root', { ...key, notBefore: days(-400), notAfter: days(-10) });
    const newRoot = await root('CN=Twin Root', { ...key, notBefore: days(-5), notAfter: days(400) });
    const tc = await leaf('CN=twin client', newRoot);
    const res = verify(tc, [oldRoot, newRoot]);
    expect(res.verdict).toBe('accept');
    expect(res.path[1]!.fingerprint).toBe(p(newRoot).fingerprint);
    const older = await root('CN=Twin Root', { ...key, notBefore: days(-900), notAfter: days(-100) });
    const both = verify(tc, [older, oldRoot]);
    expect(both.path[1]!.fingerprint).toBe(p(oldRoot).fingerprint);
    expect(both.reasons[0]!.message).toBe(
      `CN=Twin Root expired on ${days(-10).toISOString().replace('.000Z', 'Z')}.`,
    );
  });
});

describe('validity at its exact instants', () => {
  it('accepts from notBefore and until the second before notAfter', async () => {
    const from = days(-1);
    const to = days(10);
    const timed = await leaf('CN=timed', i, { notBefore: from, notAfter: to });
    const at = (t: number) => verify(timed, [r, i], { at: new Date(t) });
    expect(at(from.getTime()).verdict).toBe('accept');
    expect(at(from.getTime() - 1).reasons).toEqual([
      {
        code: 'not-yet-valid',
        message: `The client certificate is not valid before ${from.toISOString().replace('.000Z', 'Z')}.`,
      },
    ]);
    expect(at(to.getTime() - 1).verdict).toBe('accept');
    expect(at(to.getTime()).reasons).toEqual([
      {
        code: 'expired',
        message: `The client certificate expired on ${to.toISOString().replace('.000Z', 'Z')}.`,
      },
    ]);
  });

  it('names the CA, not "the client certificate", when a CA is out of its validity', async () => {
    const late = await intermediate('CN=Late Issuing', r, { notBefore: days(5) });
    const lc = await leaf('CN=late client', late, { notBefore: days(-1) });
    expect(verify(lc, [r, late]).reasons[0]!.message).toMatch(/^CN=Late Issuing is not valid before /);
  });
});

describe('security level 1', () => {
  it('refuses an RSA key under 1024 bits at level 1 and warns at level 0; 1024 passes with a warning', async () => {
    const weak = await leaf('CN=weak', i, { spki: rsaSpki(1016, 17) });
    expect(verify(weak, [r, i]).reasons).toEqual([
      {
        code: 'key-too-small',
        message: 'CN=weak has a key too small for TLS (security level 1: RSA 1024, EC 160 bits at least).',
      },
    ]);
    const lenient = verify(weak, [r, i], { securityLevel: 0 });
    expect(lenient.verdict).toBe('accept');
    expect(lenient.warnings).toContainEqual({
      code: 'key.too-weak',
      message: 'The client certificate has an RSA key of 1016 bits; API Gateway documents RSA 2048 or more.',
    });
    const edge = verify(await leaf('CN=edge', i, { spki: rsaSpki(1024, 17) }), [r, i]);
    expect(edge.verdict).toBe('accept');
    expect(codes(edge.warnings)).toEqual(['key.too-weak']);
    const odd = verify(await leaf('CN=odd size', i, { spki: rsaSpki(2052, 17) }), [r, i]);
    expect(odd.warnings).toEqual([
      {
        code: 'key.rsa-odd-size',
        message:
          'The client certificate has an RSA key of 2052 bits, not a multiple of 8: an unusual key strict validators refuse.',
      },
    ]);
  });

  it('refuses SHA-1 below the anchor, naming the certificate, but not the anchor’s own self-signature', async () => {
    const sha1Root = await root('CN=SHA1 Root', { key: 'rsa2048', hash: 'SHA-1' });
    const ok = await leaf('CN=fine', sha1Root);
    const res = verify(ok, [sha1Root]);
    expect(res.verdict).toBe('accept');
    const sha1Leaf = await leaf('CN=sha1 leaf', sha1Root, { hash: 'SHA-1' });
    expect(verify(sha1Leaf, [sha1Root]).reasons).toEqual([
      {
        code: 'insecure-signature',
        message:
          'The client certificate is signed with sha1WithRSAEncryption (API Gateway: "Client cert using an insecure Signature Algorithm"): reissue it with SHA-256 or stronger.',
      },
    ]);
    const sha1Int = await intermediate('CN=SHA1 Issuing', sha1Root, { hash: 'SHA-1' });
    const below = await leaf('CN=below', sha1Int);
    expect(verify(below, [sha1Root, sha1Int]).reasons[0]!.message).toMatch(
      /^CN=SHA1 Issuing is signed with sha1WithRSAEncryption/,
    );
    const warned = verify(sha1Leaf, [sha1Root], { securityLevel: 0 });
    expect(warned.verdict).toBe('accept');
    expect(codes(warned.warnings)).toContain('signature.weak-hash');
  });
});

describe('purpose and CA rules', () => {
  it('refuses a server-only client certificate unless any purpose is asked', async () => {
    const serverOnly = await leaf('CN=server only', i, { eku: ['1.3.6.1.5.5.7.3.1'] });
    expect(verify(serverOnly, [r, i]).reasons).toEqual([
      {
        code: 'wrong-purpose',
        message:
          'The client certificate\'s extended key usage or key usage does not allow clientAuth ("unsuitable certificate purpose"): issue it with extendedKeyUsage clientAuth.',
      },
    ]);
    expect(verify(serverOnly, [r, i], { purpose: 'serverAuth' }).verdict).toBe('accept');
    expect(verify(serverOnly, [r, i], { purpose: 'any' }).verdict).toBe('accept');
  });

  it('reads keyUsage for the purpose: keyEncipherment serves a server, not a client', async () => {
    const enc = await leaf('CN=enc', i, {
      keyUsage: KU.keyEncipherment,
      eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    });
    expect(codes(verify(enc, [r, i]).reasons)).toEqual(['wrong-purpose']);
    expect(verify(enc, [r, i], { purpose: 'serverAuth' }).verdict).toBe('accept');
    const agree = await leaf('CN=agree', i, { keyUsage: KU.keyAgreement });
    expect(verify(agree, [r, i]).verdict).toBe('accept');
  });

  it('refuses a CA whose extended key usage excludes the purpose, listing what it allows', async () => {
    const serverCa = await intermediate('CN=Server CA', r, {
      eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.3'],
    });
    const sc = await leaf('CN=sc', serverCa);
    expect(verify(sc, [r, serverCa]).reasons[0]).toEqual({
      code: 'wrong-purpose',
      message:
        'The CA CN=Server CA restricts extended key usage to serverAuth, codeSigning, which excludes clientAuth.',
    });
  });

  it('refuses an issuer that is not a CA, and accepts a keyUsage-only CA only as the anchor', async () => {
    const notCa = await intermediate('CN=Not CA', r, {
      ca: false,
      pathLen: undefined,
      keyUsage: KU.keyCertSign | KU.cRLSign,
    });
    const nc = await leaf('CN=nc', notCa);
    expect(verify(nc, [r, notCa]).reasons[0]).toEqual({
      code: 'invalid-ca',
      message:
        'CN=Not CA issues certificates in this path but is not a CA (basicConstraints cA or keyUsage keyCertSign missing).',
    });
    const kuOnly = await intermediate('CN=KU Only', r, { ca: null, keyUsage: KU.keyCertSign | KU.cRLSign });
    const kc = await leaf('CN=kc', kuOnly);
    expect(codes(verify(kc, [r, kuOnly]).reasons)).toEqual(['invalid-ca']);
    const kuRoot = await root('CN=KU Root', { ca: null, keyUsage: KU.keyCertSign | KU.cRLSign });
    const kr = await leaf('CN=kr', kuRoot);
    const anchored = verify(kr, [kuRoot]);
    expect(anchored.verdict).toBe('accept');
    expect(codes(anchored.warnings)).toContain('ca.no-basic-constraints');
  });

  it('counts the CAs below a path length constraint', async () => {
    const r0 = await root('CN=Len Root', { pathLen: 0 });
    const i0 = await intermediate('CN=Len Issuing', r0);
    const lc = await leaf('CN=lc', i0);
    expect(verify(lc, [r0, i0]).reasons).toEqual([
      { code: 'path-length-exceeded', message: 'CN=Len Root allows 0 CA(s) below it, but the path has 1.' },
    ]);
    const r1 = await root('CN=Len1 Root', { pathLen: 1 });
    const i1 = await intermediate('CN=Len1 Issuing', r1);
    expect(verify(await leaf('CN=l1', i1), [r1, i1]).verdict).toBe('accept');
  });

  it('refuses a pathLen on a non-CA', async () => {
    const odd = await leaf('CN=odd', i, { ca: false, pathLen: 0 });
    expect(codes(verify(odd, [r, i]).reasons)).toEqual(['invalid-extension']);
  });
});

describe('a client whose serial is not in DER form', () => {
  /** The certificate with its serial INTEGER's content replaced, signed again by its issuer. */
  const withSerial = (cert: Issued, issuer: Issued, serial: number[]): Uint8Array => {
    const c = p(cert);
    const fields = children(readSingle(c.tbs));
    const tbs = tlv(0x30, ...fields.map((f, i) => (i === 1 ? tlv(0x02, new Uint8Array(serial)) : f.bytes)));
    const signature = sign(c.signature.hash!, tbs, KeyObject.from(issuer.keys.privateKey));
    const [, alg] = children(readSingle(cert.der));
    return tlv(0x30, tbs, alg!.bytes, tlv(0x03, new Uint8Array([0]), signature));
  };

  it('refuses one padded with a zero byte (00 06 for 6), which OpenSSL cannot read', async () => {
    const r = await root('CN=Serial Root,O=S');
    const i = await intermediate('CN=Serial Issuing,O=S', r);
    const c = await leaf('CN=serial client,O=S', i);
    const padded = parseCertificate(withSerial(c, i, [0x00, 0x06]));
    expect(padded.serial).toBe('0006');
    const res = verifyClient({
      leaf: padded,
      sent: [],
      trusted: [p(r), p(i)],
      at: NOW,
      purpose: 'clientAuth',
    });
    expect(res.reasons).toEqual([
      {
        code: 'cert.serial-not-der',
        message:
          "The client certificate's serial number is padded with a zero byte DER does not allow (bytes 0006): OpenSSL cannot read the certificate, so the handshake fails. Reissue it with the serial in its shortest encoding.",
      },
    ]);
    const opensslReads = (cert: Certificate) =>
      spawnSync('openssl', ['x509', '-inform', 'DER', '-noout'], { input: cert.der }).status === 0;
    expect(opensslReads(padded)).toBe(false);
    // The same serial in its shortest form, signed the same way, is read and accepted.
    const plain = parseCertificate(withSerial(c, i, [0x06]));
    expect(opensslReads(plain)).toBe(true);
    expect(
      verifyClient({ leaf: plain, sent: [], trusted: [p(r), p(i)], at: NOW, purpose: 'clientAuth' }).verdict,
    ).toBe('accept');
    // A leading zero that DER needs (the next byte has its high bit) is no padding.
    expect(
      verifyClient({
        leaf: parseCertificate(withSerial(c, i, [0x00, 0x86])),
        sent: [],
        trusted: [p(r), p(i)],
        at: NOW,
        purpose: 'clientAuth',
      }).verdict,
    ).toBe('accept');
    // Exactly at the high bit (00 80 is 128, which needs its zero), and a longer padded serial
    // (00 06 12, judged by its second byte, not by its whole value), each as OpenSSL reads them.
    const judged = (serial: number[]) => {
      const cert = parseCertificate(withSerial(c, i, serial));
      const res = verifyClient({
        leaf: cert,
        sent: [],
        trusted: [p(r), p(i)],
        at: NOW,
        purpose: 'clientAuth',
      });
      return { serial: cert.serial, verdict: res.verdict, opensslReads: opensslReads(cert) };
    };
    expect(judged([0x00, 0x80])).toEqual({ serial: '0080', verdict: 'accept', opensslReads: true });
    expect(judged([0x00, 0x7f])).toEqual({ serial: '007f', verdict: 'reject', opensslReads: false });
    expect(judged([0x00, 0x06, 0x12])).toEqual({ serial: '000612', verdict: 'reject', opensslReads: false });
  });
});

describe('revocation', () => {
  it('warns in API Gateway mode and refuses when CRLs are checked', async () => {
    const list = parseCrl(await crl(i, [c]));
    const warned = verify(c, [r, i], { crls: [list] });
    expect(warned.verdict).toBe('accept');
    expect(warned.warnings).toContainEqual({
      code: 'revoked',
      message: `CN=client,O=V (serial ${p(c).serial}) is listed on the CRL of CN=V Issuing,O=V: API Gateway checks no revocation and accepts it; use a Lambda authorizer to enforce revocation.`,
    });
    const checked = verify(c, [r, i], { crls: [list], crlCheck: true });
    expect(checked.reasons).toEqual([
      {
        code: 'revoked',
        message: `CN=client,O=V (serial ${p(c).serial}) is revoked by the CRL of CN=V Issuing,O=V ("certificate revoked"): a server that checks CRLs refuses it.`,
      },
    ]);
    expect(codes(checked.warnings)).not.toContain('revoked');
  });

  it('takes the first of two CRLs of one CA whose dates are not known (parseCrl reads none)', async () => {
    const listing = parseCrl(await crl(i, [c]));
    const clear = parseCrl(await crl(i, []));
    const rootClean = parseCrl(await crl(r, []));
    expect(listing.thisUpdate).toBeUndefined();
    expect(codes(verify(c, [r, i], { crls: [listing, clear, rootClean], crlCheck: true }).reasons)).toEqual([
      'revoked',
    ]);
    expect(verify(c, [r, i], { crls: [clear, listing, rootClean], crlCheck: true }).verdict).toBe('accept');
  });

  it('says when a CRL was of no use: nothing listed, or another CA', async () => {
    const clean = parseCrl(await crl(i, []));
    const res = verify(c, [r, i], { crls: [clean] });
    expect(codes(res.warnings)).toEqual(['revocation.not-checked']);
    // A server checking the whole chain needs the root's CRL too (crl-check.test.ts asks OpenSSL).
    expect(codes(verify(c, [r, i], { crls: [clean], crlCheck: true }).reasons)).toEqual(['crl-missing']);
    const rootClean = parseCrl(await crl(r, []));
    expect(verify(c, [r, i], { crls: [clean, rootClean], crlCheck: true }).verdict).toBe('accept');
    const other = parseCrl(await crl(await root('CN=Unrelated CA'), [c]));
    expect(verify(c, [r, i], { crls: [other] }).warnings).toEqual([
      {
        code: 'crl.ignored',
        message:
          "The CRL of CN=Unrelated CA was ignored: that CA issued no certificate on this client's path.",
      },
    ]);
  });
  it('ignores a CRL under the name of a CA of the path that another key signed, and says so', async () => {
    // The caller (diagnose) judges the signature with the key of the CA of that name on the path.
    const list = parseCrl(await crl(i, [c]));
    const forged = { ...list, signedBy: () => false };
    const res = verify(c, [r, i], { crls: [forged] });
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([
      {
        code: 'crl.signature-invalid',
        message:
          "The CRL of CN=V Issuing,O=V was ignored: its signature does not verify with the key of CN=V Issuing,O=V on this client's path (another key signed it under that name, or the CA was re-keyed).",
      },
    ]);
    // A server checking CRLs has no CRL of that CA then (crl-check.test.ts asks OpenSSL).
    expect(codes(verify(c, [r, i], { crls: [forged], crlCheck: true }).reasons)).toEqual(['crl-signature']);
    expect(codes(verify(c, [r, i], { crls: [{ ...list, signedBy: () => true }] }).warnings)).toEqual([
      'revoked',
    ]);
    // The signature is judged with the key of the CA of the CRL's name, not of another on the path.
    const byIssuer = { ...list, signedBy: (ca: Certificate) => ca.fingerprint === p(i).fingerprint };
    expect(codes(verify(c, [r, i], { crls: [byIssuer] }).warnings)).toEqual(['revoked']);
  });
});

describe('warnings a stricter validator would turn into refusals', () => {
  it('flags a CA client, a missing EKU, AKI and SKI, a non-critical basicConstraints and a root with EKU', async () => {
    const ekuRoot = await root('CN=EKU Root', { eku: ['1.3.6.1.5.5.7.3.2'], bcCritical: false });
    const noSki = await intermediate('CN=No SKI', ekuRoot, { ski: false });
    const caClient = await leaf('CN=ca client', noSki, {
      ca: true,
      eku: undefined,
      aki: false,
      keyUsage: KU.digitalSignature | KU.keyCertSign,
    });
    const res = verify(caClient, [ekuRoot, noSki]);
    expect(codes(res.warnings).sort()).toEqual(
      [
        'ca.basic-constraints-not-critical',
        'ca.missing-ski',
        'cert.missing-aki',
        'leaf.is-ca',
        'leaf.no-eku',
        'root.has-eku',
      ].sort(),
    );
    const kcs = await leaf('CN=kcs', i, { keyUsage: KU.digitalSignature | KU.keyCertSign });
    expect(codes(verify(kcs, [r, i]).warnings)).toEqual(['leaf.keycertsign']);
  });

  it('flags keys API Gateway does not document and a leaf with anyExtendedKeyUsage', async () => {
    const ed = await leaf('CN=ed', i, { key: 'ed25519' });
    expect(verify(ed, [r, i]).warnings).toEqual([
      {
        code: 'key.unsupported',
        message: 'The client certificate has a ed25519 key; API Gateway documents RSA and ECDSA only.',
      },
    ]);
    const k1 = await leaf('CN=k1', i, { spki: secp256k1Spki() });
    expect(verify(k1, [r, i]).warnings).toEqual([
      {
        code: 'key.too-weak',
        message:
          'The client certificate has an EC key on secp256k1; API Gateway documents ECDSA P-256 or stronger.',
      },
    ]);
    const any = await leaf('CN=any', i, { eku: ['2.5.29.37.0'] });
    expect(codes(verify(any, [r, i], { purpose: 'any' }).warnings)).toEqual(['leaf.any-eku']);
  });

  it('flags serials RFC 5280 forbids', async () => {
    const long = await leaf('CN=long serial', i, { serial: `01${'ab'.repeat(20)}` });
    expect(verify(long, [r, i]).warnings).toEqual([
      {
        code: 'cert.odd-serial',
        message:
          'The serial number of The client certificate is 21 bytes long (RFC 5280 allows 20); RFC 5280 requires a positive serial of at most 20 bytes.',
      },
    ]);
    const twenty = await leaf('CN=twenty', i, { serial: `01${'ab'.repeat(19)}` });
    expect(verify(twenty, [r, i]).warnings).toEqual([]);
  });
});

describe('IP address name constraints', () => {
  /** NameConstraints with one iPAddress subtree (address and mask, 4 bytes each), permitted or excluded. */
  const ipConstraint = (subtree: 'permitted' | 'excluded', address: number[], mask: number[]) => {
    const general = [0x87, 0x08, ...address, ...mask];
    const tree = [0x30, general.length, ...general];
    const tagged = [subtree === 'permitted' ? 0xa0 : 0xa1, tree.length, ...tree];
    return { oid: '2.5.29.30', value: new Uint8Array([0x30, tagged.length, ...tagged]) };
  };

  it('refuses a client whose IP address is outside the permitted subtree or inside an excluded one', async () => {
    const r = await root('CN=NC Root');
    const permitted = await intermediate('CN=NC Ten', r, {
      extraExtensions: [ipConstraint('permitted', [10, 0, 0, 0], [255, 0, 0, 0])],
    });
    const inside = await leaf('CN=inside', permitted, { ips: ['10.1.2.3'] });
    const outside = await leaf('CN=outside', permitted, { ips: ['192.168.1.1'] });
    const v6 = await leaf('CN=v6', permitted, { ips: ['2001:db8::1'] });
    expect(verify(inside, [r, permitted]).verdict).toBe('accept');
    const refused = verify(outside, [r, permitted]);
    expect(refused.verdict).toBe('reject');
    expect(codes(refused.reasons)).toEqual(['name-constraints']);
    expect(refused.reasons[0]!.message).toMatch(
      /an IP address in CN=outside is outside the name constraints of CN=NC Ten/,
    );
    // Constraints of one family say nothing about the other.
    expect(verify(v6, [r, permitted]).verdict).toBe('accept');

    const excluding = await intermediate('CN=NC Not Ten', r, {
      extraExtensions: [ipConstraint('excluded', [10, 0, 0, 0], [255, 0, 0, 0])],
    });
    const banned = await leaf('CN=banned', excluding, { ips: ['10.9.9.9'] });
    const fine = await leaf('CN=fine', excluding, { ips: ['11.0.0.1'] });
    const excluded = verify(banned, [r, excluding]);
    expect(excluded.verdict).toBe('reject');
    expect(excluded.reasons[0]!.message).toMatch(
      /an IP address in CN=banned is excluded by the name constraints of CN=NC Not Ten/,
    );
    expect(verify(fine, [r, excluding]).verdict).toBe('accept');
  });
});

describe('email and URI name constraints (the rest: name-constraints.test.ts)', () => {
  it('are judged, not passed over with a warning: a client without such names is accepted silently', async () => {
    const email = [0x81, 0x0b, ...Buffer.from('example.com')];
    const uri = [0x86, 0x0c, ...Buffer.from('.example.com')];
    const trees = [0x30, email.length, ...email, 0x30, uri.length, ...uri];
    const tagged = [0xa0, trees.length, ...trees];
    const r = await root('CN=NC Mail Root');
    const ca = await intermediate('CN=NC Mail', r, {
      extraExtensions: [{ oid: '2.5.29.30', value: new Uint8Array([0x30, tagged.length, ...tagged]) }],
    });
    const client = await leaf('CN=mail client', ca);
    expect(verify(client, [r, ca])).toMatchObject({ verdict: 'accept', warnings: [] });
    const outside = await leaf('CN=mail outside', ca, { altNames: [{ email: 'a@example.org' }] });
    expect(verify(outside, [r, ca]).reasons).toEqual([
      {
        code: 'name-constraints',
        message:
          'The email address a@example.org (subjectAltName) of CN=mail outside is outside the email addresses CN=NC Mail may issue for (example.com): "permitted subtree violation".',
      },
    ]);
  });
});

/** An EC SubjectPublicKeyInfo on a named curve Node can generate (small curves WebCrypto lacks). */
const ecSpki = (curve: string): Uint8Array =>
  new Uint8Array(
    generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'der' }),
  );
/** An RSA SubjectPublicKeyInfo under the RSASSA-PSS algorithm identifier (no parameters). */
const pssSpki = (modulusBits: number): Uint8Array => {
  const rsa = Buffer.from(rsaSpki(modulusBits, 17));
  const from = Buffer.from(oid('1.2.840.113549.1.1.1'));
  const at = rsa.indexOf(from);
  Buffer.from(oid('1.2.840.113549.1.1.10')).copy(rsa, at);
  return new Uint8Array(rsa);
};
/** A DSA SubjectPublicKeyInfo whose p has `pBits` bits (q, g and y are filler: only p's size is read). */
const dsaSpki = (pBits: number): Uint8Array => {
  const int = (bits: number) => {
    const b = new Uint8Array(Math.ceil(bits / 8)).fill(0x5a);
    b[0] = 0x80 >> ((8 - (bits % 8)) % 8) || 0x80;
    return tlv(0x02, b[0]! & 0x80 ? new Uint8Array([0, ...b]) : b);
  };
  return tlv(
    0x30,
    tlv(0x30, oid('1.2.840.10040.4.1'), tlv(0x30, int(pBits), int(160), int(pBits - 8))),
    tlv(0x03, new Uint8Array([0]), int(pBits - 8)),
  );
};
/** NameConstraints with dNSName subtrees. */
const dnsConstraints = (permitted: readonly string[], excluded: readonly string[] = []) => {
  const subtrees = (tag: number, names: readonly string[]) =>
    names.length === 0
      ? []
      : [tlv(tag, ...names.map((n) => tlv(0x30, tlv(0x82, new Uint8Array(Buffer.from(n, 'latin1'))))))];
  return {
    oid: '2.5.29.30',
    value: tlv(0x30, ...subtrees(0xa0, permitted), ...subtrees(0xa1, excluded)),
  };
};
/** NameConstraints with iPAddress subtrees (address then mask, as bytes). */
const ipConstraints = (permitted: readonly number[][], excluded: readonly number[][] = []) => {
  const subtrees = (tag: number, ranges: readonly number[][]) =>
    ranges.length === 0 ? [] : [tlv(tag, ...ranges.map((r) => tlv(0x30, tlv(0x87, new Uint8Array(r)))))];
  return { oid: '2.5.29.30', value: tlv(0x30, ...subtrees(0xa0, permitted), ...subtrees(0xa1, excluded)) };
};
/**
 * An authorityKeyIdentifier naming its issuer by the issuer's own issuer and serial
 * (authorityCertIssuer, authorityCertSerialNumber), with or without the keyIdentifier.
 */
const akiByIssuer = (issuer: Issued, over: { serial?: string; issuerOf?: Issued; keyId?: boolean } = {}) => {
  const ca = p(issuer);
  const name = new Uint8Array((over.issuerOf ?? issuer).cert.issuerName.toArrayBuffer());
  const fields = [
    ...(over.keyId === false ? [] : [tlv(0x80, new Uint8Array(Buffer.from(ca.subjectKeyId!, 'hex')))]),
    tlv(0xa1, tlv(0xa4, name)),
    tlv(0x82, new Uint8Array(Buffer.from(over.serial ?? ca.serial, 'hex'))),
  ];
  return { oid: '2.5.29.35', value: tlv(0x30, ...fields) };
};

describe('issuer lookup, in file order and at the exact instants', () => {
  it('takes the first trusted issuer in file order that fits, not the last', async () => {
    const key = { keySlot: 'file order root key' };
    const first = await root('CN=Order Root', { ...key, notBefore: days(-5), notAfter: days(400) });
    const second = await root('CN=Order Root', { ...key, notBefore: days(-6), notAfter: days(300) });
    const oc = await leaf('CN=order client', first);
    expect(verify(oc, [first, second]).path[1]!.fingerprint).toBe(p(first).fingerprint);
    expect(verify(oc, [second, first]).path[1]!.fingerprint).toBe(p(second).fingerprint);
  });

  it('counts an issuer valid from its notBefore instant and expired at its notAfter instant', async () => {
    const key = { keySlot: 'instant root key' };
    const t = days(0);
    const oc = await leaf('CN=instant client', await root('CN=Instant Root', key), {
      notBefore: days(-30),
      notAfter: days(30),
    });
    const steady = await root('CN=Instant Root', { ...key, notBefore: days(-10), notAfter: days(50) });
    const starts = await root('CN=Instant Root', { ...key, notBefore: t, notAfter: days(100) });
    const ends = await root('CN=Instant Root', { ...key, notBefore: days(-100), notAfter: t });
    const picked = (trusted: Issued[], at: Date) => verify(oc, trusted, { at }).path[1]!.fingerprint;
    // Valid from notBefore on: picked at that instant, passed over a second before.
    expect(picked([starts, steady], t)).toBe(p(starts).fingerprint);
    expect(picked([starts, steady], new Date(t.getTime() - 1000))).toBe(p(steady).fingerprint);
    // Expired at notAfter: passed over at that instant, picked a millisecond before.
    expect(picked([ends, steady], t)).toBe(p(steady).fingerprint);
    expect(picked([ends, steady], new Date(t.getTime() - 1))).toBe(p(ends).fingerprint);
  });

  it('passes over a namesake without keyCertSign for one that may sign, and says so when none may', async () => {
    const key = { keySlot: 'signing ku key' };
    const noSign = await root('CN=KU Twin', { ...key, keyUsage: KU.cRLSign });
    const signs = await root('CN=KU Twin', key);
    const kc = await leaf('CN=ku twin client', signs);
    const res = verify(kc, [noSign, signs]);
    expect(res.verdict).toBe('accept');
    expect(res.path[1]!.fingerprint).toBe(p(signs).fingerprint);
    expect(codes(verify(kc, [noSign]).reasons)).toEqual(['issuer-key-mismatch']);
  });

  it('matches an authority key identifier by its issuer name and serial too', async () => {
    const good = await leaf('CN=aki full', i, { aki: false, extraExtensions: [akiByIssuer(i)] });
    const res = verify(good, [r, i]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([]);
    const wrongSerial = await leaf('CN=aki serial', i, {
      aki: false,
      extraExtensions: [akiByIssuer(i, { serial: '7e57' })],
    });
    expect(codes(verify(wrongSerial, [r, i]).reasons)).toEqual(['issuer-key-mismatch']);
    const other = await intermediate('CN=Other Issuing', await root('CN=Other Root'));
    const wrongIssuer = await leaf('CN=aki issuer', i, {
      aki: false,
      extraExtensions: [akiByIssuer(i, { issuerOf: other })],
    });
    expect(codes(verify(wrongIssuer, [r, i]).reasons)).toEqual(['issuer-key-mismatch']);
  });

  it('warns of an authority key identifier without a keyIdentifier', async () => {
    const noKeyId = await leaf('CN=aki no keyid', i, {
      aki: false,
      extraExtensions: [akiByIssuer(i, { keyId: false })],
    });
    const res = verify(noKeyId, [r, i]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([
      {
        code: 'cert.missing-aki',
        message:
          'The client certificate has no authority key identifier; RFC 5280 requires one (path building may pick the wrong issuer).',
      },
      {
        code: 'cert.aki-without-keyid',
        message: 'The client certificate has an authority key identifier without a keyIdentifier.',
      },
    ]);
  });

  it('leaves out the client certificate itself when it is also sent', async () => {
    const res = verify(c, [await root('CN=Elsewhere')], { sent: [p(c)] });
    expect(res.reasons[0]!.message).toBe(
      'Could not find issuer for certificate: nothing in the truststore issued CN=client,O=V (issuer CN=V Issuing,O=V). Add that CA to the truststore.',
    );
  });

  it('does not go round two trusted CAs that signed each other', async () => {
    const bFirst = await root('CN=Loop B', { keySlot: 'loop b' });
    const a = await intermediate('CN=Loop A', bFirst, { keySlot: 'loop a' });
    const b = await intermediate('CN=Loop B', a, { keySlot: 'loop b' });
    const lc = await leaf('CN=loop client', a);
    const res = verify(lc, [a, b]);
    expect(res.reasons).toEqual([
      {
        code: 'chain.issuer-missing',
        message:
          'CN=Loop B is in the truststore but its issuer CN=Loop A is not: the truststore must hold every CA up to a self-signed root.',
      },
    ]);
    expect(res.path.map((x) => x.subject.text)).toEqual(['CN=loop client', 'CN=Loop A', 'CN=Loop B']);
  });

  it('counts intermediates against maxDepth', async () => {
    const upper = await intermediate('CN=Depth Upper', r, { pathLen: undefined });
    const sub = await intermediate('CN=Depth Lower', upper);
    const deep = await leaf('CN=deep depth', sub);
    expect(verify(deep, [r, upper, sub], { maxDepth: 2 }).verdict).toBe('accept');
    expect(verify(deep, [r, upper, sub], { maxDepth: 1 }).reasons).toEqual([
      { code: 'chain.too-long', message: 'The path is longer than the 1 intermediate(s) allowed.' },
    ]);
  });

  it('says what to do about a re-keyed issuer', async () => {
    const rekeyed = await root('CN=V Root,O=V', { keySlot: 'other key' });
    const mid = verify(c, [rekeyed, await intermediate('CN=V Issuing,O=V', rekeyed, { keySlot: 'k2' })]);
    expect(mid.reasons[0]!.message).toBe(
      'Could not find issuer for certificate: the truststore holds a CA named CN=V Issuing,O=V, but a different key signed CN=client,O=V (a re-keyed CA, or another CA with the same name). ' +
        'A second CA with that name cannot be added: replace the one in the truststore by uploading the CA that signed it under inbox/<partner>/replace/, or issue the certificate from the CA in the truststore.',
    );
  });
});

describe('checks on the built path', () => {
  it('refuses a critical extension TLS stacks do not know, and passes a known one', async () => {
    const odd = await leaf('CN=odd critical', i, {
      extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', value: tlv(0x05), critical: true }],
    });
    expect(verify(odd, [r, i]).reasons).toEqual([
      {
        code: 'unhandled-critical-extension',
        message:
          'CN=odd critical has a critical extension 1.3.6.1.4.1.99999.1 that TLS stacks do not understand.',
      },
    ]);
    const quiet = await leaf('CN=odd quiet', i, {
      extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', value: tlv(0x05) }],
    });
    expect(verify(quiet, [r, i]).verdict).toBe('accept');
    const pcCritical = await leaf('CN=pc critical', i, {
      extraExtensions: [
        { oid: '2.5.29.36', value: tlv(0x30, tlv(0x80, new Uint8Array([0]))), critical: true },
      ],
    });
    const known = verify(pcCritical, [r, i]);
    expect(known.verdict).toBe('accept');
    expect(known.warnings).toEqual([]);
  });

  it('refuses a signature that does not verify with the issuer’s key, and names both', async () => {
    const forged = parseCertificate(withSignature(c.der, new Uint8Array(72).fill(0x30)));
    const res = verifyClient({
      leaf: forged,
      sent: [],
      trusted: [p(r), p(i)],
      at: NOW,
      purpose: 'clientAuth',
    });
    expect(res.reasons).toEqual([
      {
        code: 'bad-signature',
        message:
          'The signature of CN=client,O=V does not verify with the key of CN=V Issuing,O=V: a re-keyed CA with the same name?',
      },
    ]);
  });

  it('says what is invalid about a pathLen on a non-CA', async () => {
    const odd = await leaf('CN=odd len', i, { ca: false, pathLen: 0 });
    expect(verify(odd, [r, i]).reasons).toEqual([
      {
        code: 'invalid-extension',
        message: 'CN=odd len has a path length constraint without being a CA (an invalid basicConstraints).',
      },
    ]);
  });

  it('refuses an anchor that is no CA at all, whatever the purpose', async () => {
    const bare = await root('CN=Bare Root', { ca: null, keyUsage: null });
    const bc = await leaf('CN=bare client', bare);
    for (const purpose of ['clientAuth', 'any'] as const)
      expect(codes(verify(bc, [bare], { purpose }).reasons)).toEqual(['invalid-ca']);
    const notCa = await root('CN=Not CA Root', { ca: false, keyUsage: null });
    expect(codes(verify(await leaf('CN=nca', notCa), [notCa], { purpose: 'any' }).reasons)).toEqual([
      'invalid-ca',
    ]);
  });

  it('accepts a version 1 root as the anchor, and warns of a version 1 client', () => {
    const v1Root = v1Certificate({ subject: 'V1 Root', notBefore: days(-10), notAfter: days(100) });
    const v1Leaf = v1Certificate({
      subject: 'v1 client',
      notBefore: days(-1),
      notAfter: days(30),
      issuer: { name: 'V1 Root', privateKey: v1Root.privateKey },
    });
    const res = verifyClient({
      leaf: parseCertificate(v1Leaf.der),
      sent: [],
      trusted: [parseCertificate(v1Root.der)],
      at: NOW,
      purpose: 'clientAuth',
    });
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([
      {
        code: 'cert.v1',
        message: 'The client certificate is X.509 version 1; strict validators require version 3.',
      },
      {
        code: 'leaf.no-eku',
        message: 'The client certificate has no extendedKeyUsage; strict validators require clientAuth.',
      },
      {
        code: 'cert.missing-aki',
        message:
          'The client certificate has no authority key identifier; RFC 5280 requires one (path building may pick the wrong issuer).',
      },
      {
        code: 'ca.missing-ski',
        message: 'The CA CN=V1 Root has no subject key identifier; RFC 5280 requires one on CAs.',
      },
      {
        code: 'ca.no-basic-constraints',
        message: 'The CA CN=V1 Root has no basicConstraints extension; RFC 5280 requires it on CAs.',
      },
    ]);
    // A version 1 CA below the anchor is no CA.
    const v1Mid = v1Certificate({
      subject: 'V1 Mid',
      notBefore: days(-1),
      notAfter: days(30),
      issuer: { name: 'V1 Root', privateKey: v1Root.privateKey },
    });
    const belowMid = v1Certificate({
      subject: 'below v1 mid',
      notBefore: days(-1),
      notAfter: days(30),
      issuer: { name: 'V1 Mid', privateKey: v1Mid.privateKey },
    });
    const refused = verifyClient({
      leaf: parseCertificate(belowMid.der),
      sent: [],
      trusted: [parseCertificate(v1Root.der), parseCertificate(v1Mid.der)],
      at: NOW,
      purpose: 'any',
    });
    expect(codes(refused.reasons)).toEqual(['invalid-ca']);
  });

  it('reads a client without keyUsage as fit for any purpose', async () => {
    const bare = await leaf('CN=no ku', i, { keyUsage: null });
    const res = verify(bare, [r, i]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([]);
  });

  it('takes keyAgreement for a server, and one fitting usage among others for a client', async () => {
    const agree = await leaf('CN=agree server', i, { keyUsage: KU.keyAgreement, eku: ['1.3.6.1.5.5.7.3.1'] });
    expect(verify(agree, [r, i], { purpose: 'serverAuth' }).verdict).toBe('accept');
    const kcs = await leaf('CN=kcs too', i, { keyUsage: KU.digitalSignature | KU.keyCertSign });
    expect(verify(kcs, [r, i]).verdict).toBe('accept');
    const kcsOnly = await leaf('CN=kcs only', i, { keyUsage: KU.keyCertSign });
    expect(codes(verify(kcsOnly, [r, i]).reasons)).toEqual(['wrong-purpose']);
  });

  it('counts every CA below a path length constraint, not only the first', async () => {
    const top = await root('CN=Len2 Root', { pathLen: 1 });
    const upper = await intermediate('CN=Len2 Upper', top, { pathLen: undefined });
    const lower = await intermediate('CN=Len2 Lower', upper);
    const lc = await leaf('CN=len2 client', lower);
    expect(verify(lc, [top, upper, lower]).reasons).toEqual([
      { code: 'path-length-exceeded', message: 'CN=Len2 Root allows 1 CA(s) below it, but the path has 2.' },
    ]);
    // A keyUsage-only anchor has no basicConstraints to count against.
    const kuRoot = await root('CN=KU Len Root', { ca: null, keyUsage: KU.keyCertSign | KU.cRLSign });
    const mid = await intermediate('CN=KU Len Mid', kuRoot);
    expect(verify(await leaf('CN=ku len client', mid), [kuRoot, mid]).verdict).toBe('accept');
  });

  it('refuses SHA-1 on a self-issued CA below the anchor (a key rollover), and warns at level 0', async () => {
    const rollRoot = await root('CN=Roll', { key: 'rsa2048' });
    const rolled = await intermediate('CN=Roll', rollRoot, { keySlot: 'rolled key', hash: 'SHA-1' });
    const rc = await leaf('CN=roll client', rolled);
    const res = verify(rc, [rollRoot, rolled]);
    expect(res.path.map((x) => x.fingerprint)).toEqual(
      [p(rc), p(rolled), p(rollRoot)].map((x) => x.fingerprint),
    );
    expect(res.reasons).toEqual([
      {
        code: 'insecure-signature',
        message:
          'CN=Roll is signed with sha1WithRSAEncryption (API Gateway: "Client cert using an insecure Signature Algorithm"): reissue it with SHA-256 or stronger.',
      },
    ]);
    const lenient = verify(rc, [rollRoot, rolled], { securityLevel: 0 });
    expect(lenient.verdict).toBe('accept');
    expect(codes(lenient.warnings)).toEqual(['signature.weak-hash']);
  });

  it('does not warn of the anchor’s own SHA-1 self-signature', async () => {
    const sha1Root = await root('CN=SHA1 Anchor', { key: 'rsa2048', hash: 'SHA-1' });
    const res = verify(await leaf('CN=under sha1 anchor', sha1Root), [sha1Root]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([]);
  });
});

describe('key sizes at security level 1', () => {
  it('refuses EC keys under 160 bits, allows 160, and reads rsa-pss and DSA sizes as RSA', async () => {
    const refused = (spki: Uint8Array, name: string) =>
      leaf(name, i, { spki }).then((x) => verify(x, [r, i]).reasons);
    expect(await refused(ecSpki('secp128r1'), 'CN=ec128')).toEqual([
      {
        code: 'key-too-small',
        message: 'CN=ec128 has a key too small for TLS (security level 1: RSA 1024, EC 160 bits at least).',
      },
    ]);
    const ec160 = verify(await leaf('CN=ec160', i, { spki: ecSpki('secp160r1') }), [r, i]);
    expect(ec160.verdict).toBe('accept');
    expect(ec160.warnings).toEqual([
      {
        code: 'key.too-weak',
        message:
          'The client certificate has an EC key on secp160r1; API Gateway documents ECDSA P-256 or stronger.',
      },
    ]);
    expect(codes(await refused(pssSpki(1016), 'CN=pss1016'))).toEqual(['key-too-small']);
    expect(codes(await refused(dsaSpki(1016), 'CN=dsa1016'))).toEqual(['key-too-small']);
    const dsa = verify(await leaf('CN=dsa1024', i, { spki: dsaSpki(1024) }), [r, i]);
    expect(dsa.verdict).toBe('accept');
    expect(codes(dsa.warnings)).toEqual(['key.unsupported']);
  });

  it('warns of a small rsa-pss key as of an RSA one, and of no other key kind', async () => {
    const pss = verify(await leaf('CN=pss1024', i, { spki: pssSpki(1024) }), [r, i]);
    expect(pss.verdict).toBe('accept');
    expect(pss.warnings).toEqual([
      {
        code: 'key.too-weak',
        message:
          'The client certificate has an RSA key of 1024 bits; API Gateway documents RSA 2048 or more.',
      },
    ]);
    const p521 = verify(await leaf('CN=p521', i, { key: 'p521' }), [r, i]);
    expect(p521.verdict).toBe('accept');
    expect(p521.warnings).toEqual([]);
    const ed = verify(await leaf('CN=ed ok', i, { key: 'ed25519' }), [r, i]);
    expect(ed.verdict).toBe('accept');
  });
});

describe('DNS name constraints', () => {
  const under = async (
    constraints: ReturnType<typeof dnsConstraints>,
    names: string[] | undefined,
    tag: string,
  ) => {
    const ca = await intermediate(`CN=DNS ${tag}`, r, { extraExtensions: [constraints] });
    const cl = await leaf(`CN=${tag} client`, ca, names ? { dns: names } : {});
    return verify(cl, [r, ca]);
  };

  it('permits the name itself and names below it, in any case', async () => {
    const nc = dnsConstraints(['Example.COM']);
    expect((await under(nc, ['example.com'], 'exact')).verdict).toBe('accept');
    expect((await under(nc, ['API.Example.com'], 'below')).verdict).toBe('accept');
    expect((await under(nc, undefined, 'no san')).verdict).toBe('accept');
    const outside = await under(nc, ['example.org', 'notexample.com'], 'outside');
    expect(outside.reasons).toEqual([
      {
        code: 'name-constraints',
        message:
          'example.org in CN=outside client is outside the names CN=DNS outside may issue for (Example.COM): "permitted subtree violation".',
      },
    ]);
    const suffix = await under(dnsConstraints(['example.com', 'example.net']), ['badexample.com'], 'suffix');
    expect(suffix.reasons[0]!.message).toBe(
      'badexample.com in CN=suffix client is outside the names CN=DNS suffix may issue for (example.com, example.net): "permitted subtree violation".',
    );
    expect(
      (await under(dnsConstraints(['example.com', 'example.net']), ['a.example.net'], 'second')).verdict,
    ).toBe('accept');
  });

  it('with a leading dot, permits only names below it (as OpenSSL)', async () => {
    const nc = dnsConstraints(['.example.com']);
    expect((await under(nc, ['a.example.com'], 'dot below')).verdict).toBe('accept');
    expect(codes((await under(nc, ['example.com'], 'dot exact')).reasons)).toEqual(['name-constraints']);
  });

  it('refuses an excluded name, and excluded names alone permit the rest', async () => {
    const nc = dnsConstraints([], ['bad.example.com']);
    expect((await under(nc, ['x.BAD.example.com'], 'excluded')).reasons).toEqual([
      {
        code: 'name-constraints',
        message:
          'x.BAD.example.com in CN=excluded client is excluded by the name constraints of CN=DNS excluded.',
      },
    ]);
    expect((await under(nc, ['good.example.com'], 'not excluded')).verdict).toBe('accept');
  });

  it('reads the client’s common name as a DNS name when it has none, as OpenSSL does', async () => {
    const ca = await intermediate('CN=DNS CN', r, {
      pathLen: undefined,
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    const judged = async (subject: string, spec: Parameters<typeof leaf>[2] = {}) =>
      verify(await leaf(subject, ca, spec), [r, ca]);
    expect((await judged('CN=client.other.org,O=V')).reasons).toEqual([
      {
        code: 'name-constraints',
        message:
          'The common name client.other.org (read as a DNS name: the certificate has none) in CN=client.other.org,O=V is outside the names CN=DNS CN may issue for (example.com): "permitted subtree violation".',
      },
    ]);
    expect((await judged('CN=Client.Example.com')).verdict).toBe('accept');
    // One label, or characters a DNS name cannot hold: not read as a DNS name.
    expect((await judged('CN=client')).verdict).toBe('accept');
    expect((await judged('CN=client .other.org')).verdict).toBe('accept');
    expect((await judged('CN=-a.other.org')).verdict).toBe('accept');
    expect((await judged('CN=a..other.org')).verdict).toBe('accept');
    // Every common name counts; an IP address is no DNS name, a DNS name is.
    expect(codes((await judged('CN=a.example.com+CN=b.other.org')).reasons)).toEqual(['name-constraints']);
    expect(codes((await judged('CN=ip.other.org', { ips: ['10.0.0.1'] })).reasons)).toEqual([
      'name-constraints',
    ]);
    expect((await judged('CN=dns.other.org', { dns: ['a.example.com'] })).verdict).toBe('accept');
    const excluding = await intermediate('CN=DNS CN Ex', r, {
      extraExtensions: [dnsConstraints([], ['other.org'])],
    });
    expect(verify(await leaf('CN=x-y.other.org', excluding), [r, excluding]).reasons[0]!.message).toBe(
      'The common name x-y.other.org (read as a DNS name: the certificate has none) in CN=x-y.other.org is excluded by the name constraints of CN=DNS CN Ex.',
    );
    // Only the client's: a CA below the constraint is judged by its DNS names alone.
    const sub = await intermediate('CN=sub.other.org', ca, { pathLen: undefined });
    expect(verify(await leaf('CN=under sub', sub), [r, ca, sub]).verdict).toBe('accept');
  });

  it('applies a CA’s constraints to the certificates below it, not to itself', async () => {
    const ca = await intermediate('CN=DNS Self', r, {
      dns: ['ca.example.org'],
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    expect(verify(await leaf('CN=self nc client', ca, { dns: ['a.example.com'] }), [r, ca]).verdict).toBe(
      'accept',
    );
  });
});

describe('IP address name constraints, byte by byte', () => {
  const under = async (
    constraints: ReturnType<typeof ipConstraints>,
    ips: string[] | undefined,
    tag: string,
  ) => {
    const ca = await intermediate(`CN=IP ${tag}`, r, { extraExtensions: [constraints] });
    const cl = await leaf(`CN=${tag} client`, ca, ips ? { ips } : {});
    return verify(cl, [r, ca]);
  };

  it('masks each byte: 10.0.0.0/255.254.0.0 holds 10.1.x.x but not 10.2.x.x', async () => {
    const nc = ipConstraints([[10, 0, 0, 0, 255, 254, 0, 0]]);
    expect((await under(nc, ['10.1.200.7'], 'mask in')).verdict).toBe('accept');
    expect((await under(nc, ['10.2.0.1'], 'mask out')).reasons).toEqual([
      {
        code: 'name-constraints',
        message: 'an IP address in CN=mask out client is outside the name constraints of CN=IP mask out.',
      },
    ]);
    expect((await under(nc, ['11.1.0.1'], 'first byte')).verdict).toBe('reject');
    expect((await under(nc, undefined, 'no ip')).verdict).toBe('accept');
  });

  it('permits an address in any of the ranges', async () => {
    const nc = ipConstraints([
      [192, 168, 0, 0, 255, 255, 0, 0],
      [10, 0, 0, 0, 255, 0, 0, 0],
    ]);
    expect((await under(nc, ['10.3.3.3'], 'second range')).verdict).toBe('accept');
    expect((await under(nc, ['192.168.9.9'], 'first range')).verdict).toBe('accept');
  });

  it('holds IPv6 ranges to all 16 bytes, and never matches one family against the other', async () => {
    const v6 = [
      0x20,
      0x01,
      0x0d,
      0xb8,
      ...new Array(12).fill(0),
      ...new Array(8).fill(0xff),
      ...new Array(8).fill(0),
    ];
    const nc = ipConstraints([v6]);
    expect((await under(nc, ['2001:db8::1:2'], 'v6 in')).verdict).toBe('accept');
    expect((await under(nc, ['2001:db9::1'], 'v6 out')).verdict).toBe('reject');
    expect((await under(nc, ['2001:db8:0:1::1'], 'v6 late byte')).verdict).toBe('reject');
    // An IPv6 address that begins with the bytes of an excluded IPv4 range is not in it.
    const excluded = ipConstraints([], [[10, 0, 0, 0, 255, 0, 0, 0]]);
    expect((await under(excluded, ['a00::1'], 'v6 vs v4')).verdict).toBe('accept');
    expect((await under(excluded, ['10.0.0.1'], 'v4 excluded')).reasons[0]!.message).toBe(
      'an IP address in CN=v4 excluded client is excluded by the name constraints of CN=IP v4 excluded.',
    );
  });
});

describe('warnings, word for word', () => {
  it('says what is wrong with a CA client, a missing EKU and AKI, a non-critical basicConstraints and a root with EKU', async () => {
    const ekuRoot = await root('CN=EKU Root W', { eku: ['1.3.6.1.5.5.7.3.2'], bcCritical: false });
    const caClient = await leaf('CN=ca client w', ekuRoot, { ca: true, eku: undefined, aki: false });
    const w = verify(caClient, [ekuRoot]).warnings;
    expect(w).toContainEqual({
      code: 'leaf.is-ca',
      message:
        'The client certificate is a CA certificate (basicConstraints cA=TRUE): issue a separate end-entity certificate for the client.',
    });
    expect(w).toContainEqual({
      code: 'leaf.no-eku',
      message: 'The client certificate has no extendedKeyUsage; strict validators require clientAuth.',
    });
    expect(w).toContainEqual({
      code: 'ca.basic-constraints-not-critical',
      message:
        'The CA CN=EKU Root W has a non-critical basicConstraints extension; RFC 5280 requires it critical.',
    });
    expect(w).toContainEqual({
      code: 'root.has-eku',
      message:
        'The root CN=EKU Root W carries an extendedKeyUsage extension, which the Web PKI rules forbid on roots.',
    });
  });

  it('says a keyCertSign client without basicConstraints is inconsistent', async () => {
    const kcs = await leaf('CN=kcs no bc', i, { ca: null, keyUsage: KU.digitalSignature | KU.keyCertSign });
    const res = verify(kcs, [r, i]);
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([
      {
        code: 'leaf.keycertsign',
        message:
          'The client certificate has keyUsage keyCertSign without being a CA: an inconsistent certificate that strict validators refuse.',
      },
    ]);
  });

  it('says what anyExtendedKeyUsage and a non-critical policyConstraints are', async () => {
    const any = await leaf('CN=any w', i, { eku: ['2.5.29.37.0'] });
    expect(verify(any, [r, i], { purpose: 'any' }).warnings).toEqual([
      {
        code: 'leaf.any-eku',
        message:
          'The client certificate uses anyExtendedKeyUsage; strict validators require the specific purpose.',
      },
    ]);
    const pc = await leaf('CN=pc loose', i, {
      extraExtensions: [{ oid: '2.5.29.36', value: tlv(0x30, tlv(0x80, new Uint8Array([0]))) }],
    });
    expect(verify(pc, [r, i]).warnings).toEqual([
      {
        code: 'ca.policy-constraints-not-critical',
        message: 'CN=pc loose has a non-critical policyConstraints extension; RFC 5280 requires it critical.',
      },
    ]);
  });

  it('flags a malformed authorityInfoAccess', async () => {
    const aia = await leaf('CN=bad aia', i, {
      extraExtensions: [{ oid: '1.3.6.1.5.5.7.1.1', value: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) }],
    });
    expect(verify(aia, [r, i]).warnings).toEqual([
      {
        code: 'cert.malformed-aia',
        message: 'The client certificate has a malformed authorityInfoAccess extension.',
      },
    ]);
  });

  it('says the same thing once: two copies of one unrelated CRL give one warning', async () => {
    const other = parseCrl(await crl(await root('CN=Unrelated Twice'), [c]));
    expect(codes(verify(c, [r, i], { crls: [other, other] }).warnings)).toEqual(['crl.ignored']);
  });

  it('checks revocation with no CRL given and accepts', () => {
    const res = verify(c, [r, i], { crlCheck: true });
    expect(res.verdict).toBe('accept');
    expect(res.warnings).toEqual([]);
  });
});

describe('which common names read as DNS names (OpenSSL’s cn2dnsid)', () => {
  it('takes inner hyphen runs in every label, and no name that ends in a hyphen or dot', async () => {
    const ca = await intermediate('CN=DNS CN Syntax', r, {
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    const judged = async (cn: string) => verify(await leaf(`CN=${cn}`, ca), [r, ca]);
    expect(codes((await judged('a--bc.x--yz.other.org')).reasons)).toEqual(['name-constraints']);
    expect(codes((await judged('under_score.other.org')).reasons)).toEqual(['name-constraints']);
    expect((await judged('x.other.org-')).verdict).toBe('accept');
    expect((await judged('x.other.org.')).verdict).toBe('accept');
    expect((await judged('x.-other.org')).verdict).toBe('accept');
  });
});

describe('the default depth', () => {
  it('allows 100 intermediates and says so past them', () => {
    // Path building reads names and key ids only: parsed copies of one CA, renamed into a chain,
    // stand for 101 generated ones (the signature check that would refuse them comes later).
    const ca = p(i);
    const named = (n: number) => ({ text: `CN=Deep ${n}`, key: `2.5.4.3=deep ${n}` });
    const chain = (length: number): Certificate[] => {
      const cas: Certificate[] = [p(r)];
      for (let n = 1; n <= length; n++)
        cas.push({
          ...ca,
          subject: named(n),
          issuer: n === 1 ? p(r).subject : named(n - 1),
          fingerprint: `deep-${n}`,
          authorityKeyId: undefined,
        });
      return cas;
    };
    const client = (length: number) => ({ ...p(c), issuer: named(length), authorityKeyId: undefined });
    const judge = (length: number) =>
      verifyClient({
        leaf: client(length),
        sent: [],
        trusted: chain(length),
        at: NOW,
        purpose: 'clientAuth',
      });
    expect(judge(101).reasons).toEqual([
      { code: 'chain.too-long', message: 'The path is longer than the 100 intermediate(s) allowed.' },
    ]);
    const hundred = judge(100);
    expect(hundred.path.length).toBe(102);
    expect(codes(hundred.reasons)).not.toContain('chain.too-long');
  });
});

describe('directory name constraints, and self-issued CAs under constraints', () => {
  /** A Name of attributes in DER order (most general first), each a UTF8String. */
  const dn = (...atvs: [string, string][]) =>
    tlv(
      0x30,
      ...atvs.map(([type, value]) =>
        tlv(0x31, tlv(0x30, oid(type), tlv(0x0c, new Uint8Array(Buffer.from(value, 'utf8'))))),
      ),
    );
  const O = '2.5.4.10';
  const dirConstraints = (permitted: Uint8Array[], excluded: Uint8Array[] = []) => {
    const subtrees = (tag: number, names: Uint8Array[]) =>
      names.length === 0 ? [] : [tlv(tag, ...names.map((n) => tlv(0x30, tlv(0xa4, n))))];
    return { oid: '2.5.29.30', value: tlv(0x30, ...subtrees(0xa0, permitted), ...subtrees(0xa1, excluded)) };
  };

  it('permits subjects under a permitted name, RDN by RDN, and refuses the rest', async () => {
    const ca = await intermediate('CN=Dir CA,O=V', r, { extraExtensions: [dirConstraints([dn([O, 'V'])])] });
    const judged = async (subject: string) => verify(await leaf(subject, ca), [r, ca]);
    expect((await judged('CN=in,O=V')).verdict).toBe('accept');
    expect((await judged('O=V')).verdict).toBe('accept');
    expect((await judged('CN=out,O=W')).reasons).toEqual([
      {
        code: 'name-constraints',
        message:
          'The subject CN=out,O=W is outside the names CN=Dir CA,O=V may issue for: "permitted subtree violation".',
      },
    ]);
    // An attribute value that only begins like the permitted one is another name.
    expect(codes((await judged('CN=x,O=V/emea')).reasons)).toEqual(['name-constraints']);
    expect(codes((await judged('CN=x,O=Vx')).reasons)).toEqual(['name-constraints']);
    // The order of RDNs counts: O=V must come first.
    expect(codes((await judged('O=V,CN=first')).reasons)).toEqual(['name-constraints']);
  });

  it('refuses subjects under an excluded name; an empty permitted name permits all', async () => {
    const ca = await intermediate('CN=Dir Ex,O=V', r, {
      extraExtensions: [dirConstraints([dn()], [dn([O, 'V'], ['2.5.4.11', 'Banned'])])],
    });
    const judged = async (subject: string) => verify(await leaf(subject, ca), [r, ca]);
    expect((await judged('CN=x,OU=Banned,O=V')).reasons).toEqual([
      {
        code: 'name-constraints',
        message: 'The subject CN=x,OU=Banned,O=V is excluded by the name constraints of CN=Dir Ex,O=V.',
      },
    ]);
    expect((await judged('CN=x,OU=Fine,O=V')).verdict).toBe('accept');
    expect((await judged('CN=x,O=Elsewhere')).verdict).toBe('accept');
  });

  it('permits under any of several names, with any RDN after the permitted ones; a subject-less client is not judged by name', async () => {
    const ca = await intermediate('CN=Dir Two,O=V', r, {
      extraExtensions: [dirConstraints([dn([O, 'V']), dn([O, 'W'])])],
    });
    const judged = async (subject: string, spec: Parameters<typeof leaf>[2] = {}) =>
      verify(await leaf(subject, ca, spec), [r, ca]);
    expect((await judged('CN=x,O=W')).verdict).toBe('accept');
    expect((await judged('CN=x,OU=Sales,O=V')).verdict).toBe('accept');
    const empty = await judged('', { dns: ['a.example.com'] });
    expect(empty.path.length).toBe(3);
    expect(empty.verdict).toBe('accept');
  });

  it('judges a CA below the constraint that is not self-issued, and a self-issued client', async () => {
    const ca = await intermediate('CN=NC Judge', r, {
      pathLen: undefined,
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    const sub = await intermediate('CN=NC Judge Sub', ca, { dns: ['sub.other.org'] });
    const below = await leaf('CN=below sub', sub, { dns: ['a.example.com'] });
    expect(verify(below, [r, ca, sub]).reasons[0]!.message).toBe(
      'sub.other.org in CN=NC Judge Sub is outside the names CN=NC Judge may issue for (example.com): "permitted subtree violation".',
    );
    const selfIssuedClient = await leaf('CN=NC Judge', ca, {
      keySlot: 'nc judge client',
      dns: ['b.other.org'],
    });
    expect(codes(verify(selfIssuedClient, [r, ca]).reasons)).toEqual(['name-constraints']);
  });

  it('does not judge a self-issued CA below the constraint, but judges the client under it', async () => {
    const ca = await intermediate('CN=NC Same', r, {
      pathLen: undefined,
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    const rolled = await intermediate('CN=NC Same', ca, { keySlot: 'nc rolled', dns: ['ca.other.org'] });
    const inside = await leaf('CN=rolled client', rolled, { dns: ['a.example.com'] });
    const res = verify(inside, [r, ca, rolled]);
    expect(res.path.map((x) => x.fingerprint)).toEqual([inside, rolled, ca, r].map((x) => p(x).fingerprint));
    expect(res.verdict).toBe('accept');
    const outside = await leaf('CN=rolled out', rolled, { dns: ['b.other.org'] });
    expect(codes(verify(outside, [r, ca, rolled]).reasons)).toEqual(['name-constraints']);
  });
});

describe('edges no other test reaches', () => {
  it('reads only common names as DNS names, not another attribute that looks like one', async () => {
    const ca = await intermediate('CN=DNS CN Only', r, {
      extraExtensions: [dnsConstraints(['example.com'])],
    });
    const cl = await leaf('CN=client,L=city.other.org,ST=st.other.org', ca);
    expect(verify(cl, [r, ca]).verdict).toBe('accept');
  });

  it('calls a serial negative from a first byte of 0x80 on, not below', async () => {
    const withFirstByte = async (first: number) => {
      const made = await leaf('CN=serial edge', i, { serial: '7eabcdef' });
      const der = Buffer.from(made.der);
      const at = der.indexOf(Buffer.from([0x02, 0x04, 0x7e, 0xab, 0xcd, 0xef]));
      der[at + 2] = first;
      // The signature no longer verifies; the warnings are judged on the path all the same.
      return verifyClient({
        leaf: parseCertificate(new Uint8Array(der)),
        sent: [],
        trusted: [p(r), p(i)],
        at: NOW,
        purpose: 'clientAuth',
      });
    };
    const negative = await withFirstByte(0x80);
    expect(codes(negative.reasons)).toEqual(['bad-signature']);
    expect(negative.warnings).toEqual([
      {
        code: 'cert.odd-serial',
        message:
          'The serial number of The client certificate is negative; RFC 5280 requires a positive serial of at most 20 bytes.',
      },
    ]);
    expect((await withFirstByte(0x7f)).warnings).toEqual([]);
  });
});
