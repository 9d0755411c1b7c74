import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { parseCrl } from '../../../shared/pki/crl.js';
import { TrustIndex, type VerifyInput, verifyClient } from '../../../shared/pki/verify.js';
import { rsaSpki } from '../../fixtures/der.js';
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

  it('says when a CRL was of no use: nothing listed, or another CA', async () => {
    const clean = parseCrl(await crl(i, []));
    const res = verify(c, [r, i], { crls: [clean] });
    expect(codes(res.warnings)).toEqual(['revocation.not-checked']);
    expect(verify(c, [r, i], { crls: [clean], crlCheck: true }).verdict).toBe('accept');
    const other = parseCrl(await crl(await root('CN=Unrelated CA'), [c]));
    expect(verify(c, [r, i], { crls: [other] }).warnings).toEqual([
      {
        code: 'crl.ignored',
        message:
          "The CRL of CN=Unrelated CA was ignored: that CA issued no certificate on this client's path.",
      },
    ]);
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
