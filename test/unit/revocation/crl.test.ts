import { execFileSync } from 'node:child_process';
import { constants as cryptoConstants, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyUsageFlags } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { DerError } from '../../../shared/pki/der.js';
import { readInput } from '../../../shared/pki/read.js';
import {
  CLOCK_SKEW_MS,
  CrlReadError,
  type CrlScope,
  covers,
  type HeldCrl,
  heldCrl,
  judgeCrl,
  parseRevocationList,
  type RevocationList,
  readRevocationLists,
  scopeKey,
} from '../../../shared/revocation/crl.js';
import { oid, signedData, tlv } from '../../fixtures/der.js';
import {
  type CrlSpec,
  crl,
  days,
  type Issued,
  intermediate,
  issue,
  leaf,
  NOW,
  pemBlock,
  privateKeyObject,
  privateKeyPem,
  type RevokedSpec,
  root,
  toBytes,
} from '../../fixtures/pki.js';

/**
 * The CRL judge: every refusal and warning on a CRL that differs from an accepted one by that one
 * property, CRLs made by the real `openssl ca`, partitions, and what is not a CRL.
 */
let acmeRoot: Issued;
let acme: Issued;
let client: Issued;
let cas: Certificate[];

const noneHeld = () => undefined;
const parse = (der: Uint8Array): RevocationList => parseRevocationList(der);
/** A CRL of the Acme issuing CA, as accepted unless `spec` changes one thing. */
const acmeCrl = async (spec: CrlSpec = {}, revoked: readonly (Issued | RevokedSpec)[] = [client]) =>
  parse(await crl(acme, revoked, { crlNumber: 5, ...spec }));
const judge = (
  list: RevocationList,
  held: (f: string, s: string) => HeldCrl | undefined = noneHeld,
  now = NOW,
) => judgeCrl(list, cas, held, now);
const codes = (j: { findings: readonly { code: string; severity: string }[] }) =>
  j.findings.map((f) => `${f.severity} ${f.code}`);

beforeAll(async () => {
  acmeRoot = await root('CN=Acme Root CA,O=Acme');
  acme = await intermediate('CN=Acme Issuing CA,O=Acme', acmeRoot);
  client = await leaf('CN=client.acme.example,O=Acme', acme);
  cas = [acmeRoot, acme].map((c) => parseCertificate(c.der));
});

describe('an accepted CRL', () => {
  it('is read with its issuer, number, dates, AKI and entries, and judged with no finding', async () => {
    const list = await acmeCrl({}, [{ cert: client, reason: 'keyCompromise', invalidity: days(-3) }]);
    expect(list.version).toBe(2);
    expect(list.issuer.text).toBe('CN=Acme Issuing CA,O=Acme');
    expect(list.number).toBe(5n);
    expect(list.thisUpdate).toEqual(days(-1));
    expect(list.nextUpdate).toEqual(days(30));
    expect(list.authorityKeyId).toBe(cas[1]!.subjectKeyId);
    expect(list.indirect).toBe(false);
    expect(list.scope).toBeUndefined();
    expect(list.unknownCritical).toEqual([]);
    expect(list.entries).toEqual([
      {
        serial: parseCertificate(client.der).serial,
        revokedAt: days(-1),
        reason: 'keyCompromise',
        invalidityDate: days(-3),
      },
    ]);
    const j = judge(list);
    expect(j.findings).toEqual([]);
    expect(j.issuer?.fingerprint).toBe(cas[1]!.fingerprint);
  });

  it('is signed by an RSA, an ECDSA or an Ed25519 CA', async () => {
    const rsaRoot = await root('CN=RSA Root,O=Beta', { key: 'rsa2048' });
    const ecRoot = await root('CN=EC Root,O=Beta', { key: 'p384' });
    const edRoot = await root('CN=Ed Root,O=Beta', { key: 'ed25519' });
    for (const ca of [rsaRoot, ecRoot, edRoot]) {
      const list = parse(await crl(ca, [], { crlNumber: 1 }));
      const j = judgeCrl(list, [parseCertificate(ca.der)], noneHeld, NOW);
      expect(j.findings).toEqual([]);
      expect(j.issuer?.subject.text).toBe(parseCertificate(ca.der).subject.text);
    }
  });
});

describe('an RSA-PSS signed CRL', () => {
  it('verifies with the CA key, as PSS certificates do, and not once tampered with', async () => {
    const ca = await root('CN=PSS Root,O=Beta', { key: 'rsa2048' });
    const sha256 = tlv(0x30, oid('2.16.840.1.101.3.4.2.1'));
    const pss = tlv(
      0x30,
      oid('1.2.840.113549.1.1.10'),
      tlv(
        0x30,
        tlv(0xa0, sha256),
        tlv(0xa1, tlv(0x30, oid('1.2.840.113549.1.1.8'), sha256)),
        tlv(0xa2, tlv(0x02, new Uint8Array([32]))),
      ),
    );
    const tbs = tlv(
      0x30,
      tlv(0x02, new Uint8Array([1])),
      pss,
      new Uint8Array(ca.cert.subjectName.toArrayBuffer()),
      tlv(0x17, toBytes('260531000000Z')),
      tlv(0x17, toBytes('260701000000Z')),
    );
    const signature = sign('sha256', tbs, {
      key: privateKeyObject(ca),
      padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    });
    const der = tlv(0x30, tbs, pss, tlv(0x03, new Uint8Array([0]), signature));
    const list = parse(der);
    expect(list.signature).toMatchObject({
      algorithm: 'rsassaPss(sha256)',
      hash: 'sha256',
      pssSaltLength: 32,
    });
    const trust = [parseCertificate(ca.der)];
    // (Hand-made without a cRLNumber.)
    expect(codes(judgeCrl(list, trust, noneHeld, NOW))).toEqual(['warning crl.unnumbered']);
    const tampered = new Uint8Array(der);
    tampered[tampered.length - 1]! ^= 1;
    expect(codes(judgeCrl(parse(tampered), trust, noneHeld, NOW))).toEqual(['error crl.signature-invalid']);
  });
});

describe('refusals, each on a CRL that differs from an accepted one by one property', () => {
  it('crl.issuer-unknown: no truststore CA has the issuer name', async () => {
    const stranger = await root('CN=Stranger CA,O=Elsewhere');
    const j = judge(parse(await crl(stranger, [], { crlNumber: 5 })));
    expect(codes(j)).toEqual(['error crl.issuer-unknown']);
    expect(j.issuer).toBeUndefined();
    expect(j.findings[0]!.message).toContain('CN=Stranger CA,O=Elsewhere');
  });

  it('crl.issuer-unknown: the name matches but the AKI names another key', async () => {
    const other = await intermediate('CN=Acme Issuing CA,O=Acme', acmeRoot, { keySlot: 'acme-rekeyed' });
    const list = await acmeCrl({ signedBy: other });
    expect(list.authorityKeyId).not.toBe(cas[1]!.subjectKeyId);
    const j = judge(list);
    expect(codes(j)).toEqual(['error crl.issuer-unknown']);
    expect(j.findings[0]!.message).toContain(list.authorityKeyId);
  });

  it("crl.issuer-unknown: the CA's key identifier under another spelling of its name, both named", async () => {
    // The same key (its slot is the one the builder gives 'CN=Acme Issuing CA,O=Acme'), the RDNs reversed.
    const reordered = await intermediate('O=Acme,CN=Acme Issuing CA', acmeRoot, {
      keySlot: JSON.stringify('CN=Acme Issuing CA,O=Acme'),
    });
    const list = parse(await crl(reordered, [], { crlNumber: 5 }));
    expect(list.authorityKeyId).toBe(cas[1]!.subjectKeyId);
    const j = judge(list);
    expect(codes(j)).toEqual(['error crl.issuer-unknown']);
    expect(j.findings[0]!.message).toMatch(
      /carries the key identifier [0-9a-f]+ of CN=Acme Issuing CA,O=Acme, a CA of the truststore, but names its issuer "O=Acme,CN=Acme Issuing CA"/,
    );
  });

  it('picks, of a re-keyed CA kept under one name, the one whose key signed (by AKI or by signature)', async () => {
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acmeRoot, { keySlot: 'acme-rekeyed' });
    const both = [...cas, parseCertificate(rekeyed.der)];
    for (const aki of [true, false]) {
      const byNew = await acmeCrl({ signedBy: rekeyed, aki });
      expect(judgeCrl(byNew, both, noneHeld, NOW).issuer?.fingerprint).toBe(both[2]!.fingerprint);
      const byOld = await acmeCrl({ aki });
      const j = judgeCrl(byOld, both, noneHeld, NOW);
      expect(j.findings).toEqual([]);
      expect(j.issuer?.fingerprint).toBe(cas[1]!.fingerprint);
    }
  });

  it('crl.signature-invalid: one bit of the signature changed', async () => {
    const der = await crl(acme, [client], { crlNumber: 5 });
    const forged = new Uint8Array(der);
    forged[forged.length - 1]! ^= 1;
    const j = judge(parse(forged));
    expect(codes(j)).toEqual(['error crl.signature-invalid']);
    expect(j.issuer).toBeUndefined();
    expect(j.findings[0]!.cert?.fingerprint).toBe(cas[1]!.fingerprint);
    // Without an AKI, a signature by another key of the same name is refused the same way.
    const other = await root('CN=Acme Issuing CA,O=Acme', { keySlot: 'impostor' });
    expect(codes(judge(await acmeCrl({ signedBy: other, aki: false })))).toEqual([
      'error crl.signature-invalid',
    ]);
  });

  it('crl.signature-weak: signed with SHA-1', async () => {
    const rsa = await root('CN=Weak Root,O=Acme', { key: 'rsa2048' });
    const trust = [parseCertificate(rsa.der)];
    expect(codes(judgeCrl(parse(await crl(rsa, [])), trust, noneHeld, NOW))).toEqual([
      'warning crl.unnumbered',
    ]);
    const weak = parse(await crl(rsa, [], { hash: 'SHA-1' }));
    expect(weak.signature.algorithm).toBe('sha1WithRSAEncryption');
    const j = judgeCrl(weak, trust, noneHeld, NOW);
    expect(codes(j)).toEqual(['error crl.signature-weak', 'warning crl.unnumbered']);
    expect(j.findings[0]!.message).toContain('SHA-256');
  });

  it('crl.issuer-cannot-sign-crls: the CA has keyUsage without cRLSign (none at all is fine)', async () => {
    const noCrlSign = await intermediate('CN=No CRL Sign CA,O=Acme', acmeRoot, {
      keyUsage: KeyUsageFlags.keyCertSign,
    });
    const noUsage = await intermediate('CN=No Usage CA,O=Acme', acmeRoot, { keyUsage: null });
    const trust = [noCrlSign, noUsage].map((c) => parseCertificate(c.der));
    expect(codes(judgeCrl(parse(await crl(noCrlSign, [])), trust, noneHeld, NOW))).toEqual([
      'error crl.issuer-cannot-sign-crls',
      'warning crl.unnumbered',
    ]);
    expect(codes(judgeCrl(parse(await crl(noUsage, [])), trust, noneHeld, NOW))).toEqual([
      'warning crl.unnumbered',
    ]);
  });

  it('crl.not-yet-valid: thisUpdate beyond five minutes of clock skew', async () => {
    const later = (ms: number) => acmeCrl({ thisUpdate: new Date(NOW.getTime() + ms) });
    expect(codes(judge(await later(CLOCK_SKEW_MS + 60_000)))).toEqual(['error crl.not-yet-valid']);
    expect(judge(await later(CLOCK_SKEW_MS - 60_000)).findings).toEqual([]);
  });

  it('crl.delta: a deltaCRLIndicator', async () => {
    const list = await acmeCrl({ deltaOf: 4 });
    expect(list.deltaOf).toBe(4n);
    const j = judge(list);
    expect(codes(j)).toEqual(['error crl.delta']);
    expect(j.findings[0]!.message).toContain('trustroll takes full CRLs only; upload the base CRL');
  });

  it('crl.indirect: IDP indirectCRL, or an entry with a certificateIssuer', async () => {
    const byIdp = await acmeCrl({ idp: { indirect: true } });
    expect(byIdp.indirect).toBe(true);
    // indirectCRL alone restricts nothing: still a full CRL.
    expect(byIdp.scope).toBeUndefined();
    expect(codes(judge(byIdp))).toEqual(['error crl.indirect']);
    const byEntry = await acmeCrl({}, [{ cert: client, certificateIssuer: 'CN=Other CA,O=Other' }]);
    expect(byEntry.entries[0]!.certificateIssuer).toEqual(['CN=Other CA,O=Other']);
    expect(codes(judge(byEntry))).toEqual(['error crl.indirect']);
  });

  it('crl.critical-extension: an unknown critical extension, CRL or entry level, named by OID', async () => {
    const value = new Uint8Array([0x05, 0x00]);
    const ext = (critical: boolean) => ({ oid: '1.3.6.1.4.1.99999.1', critical, value });
    expect(judge(await acmeCrl({ extraExtensions: [ext(false)] })).findings).toEqual([]);
    const crlLevel = judge(await acmeCrl({ extraExtensions: [ext(true)] }));
    expect(codes(crlLevel)).toEqual(['error crl.critical-extension']);
    expect(crlLevel.findings[0]!.message).toContain('1.3.6.1.4.1.99999.1');
    const entryLevel = await acmeCrl({}, [{ cert: client, extensions: [ext(true)] }]);
    expect(entryLevel.unknownCritical).toEqual(['1.3.6.1.4.1.99999.1']);
    expect(codes(judge(entryLevel))).toEqual(['error crl.critical-extension']);
    // freshestCRL is understood non-critical; critical it would demand delta CRLs.
    const freshest = (critical: boolean) => ({
      oid: '2.5.29.46',
      critical,
      value: tlv(
        0x30,
        tlv(0x30, tlv(0xa0, tlv(0xa0, tlv(0x86, toBytes('http://crl.acme.example/delta.crl'))))),
      ),
    });
    expect(judge(await acmeCrl({ extraExtensions: [freshest(false)] })).findings).toEqual([]);
    expect(codes(judge(await acmeCrl({ extraExtensions: [freshest(true)] })))).toEqual([
      'error crl.critical-extension',
    ]);
  });

  it('crl.attribute-certs: IDP onlyContainsAttributeCerts, which revokes no client', async () => {
    const list = await acmeCrl({ idp: { onlyAttribute: true } });
    expect(list.scope?.onlyAttribute).toBe(true);
    expect(codes(judge(list))).toEqual(['error crl.attribute-certs']);
  });

  it('crl.reasons-partitioned: IDP onlySomeReasons', async () => {
    const list = await acmeCrl({ idp: { onlySomeReasons: true } });
    expect(list.scope?.onlySomeReasons).toBe(true);
    expect(codes(judge(list))).toEqual(['error crl.reasons-partitioned']);
  });

  it('crl.partition-not-uri: a partition named by a relative name or a directoryName, never taken for the full CRL', async () => {
    // IssuingDistributionPoint { distributionPoint [0] { nameRelativeToCRLIssuer [1] | fullName [0] } }
    const atv = tlv(0x30, oid('2.5.4.3'), tlv(0x0c, new TextEncoder().encode('partition 1')));
    const rdn = tlv(0x31, atv);
    const idp = (dpName: Uint8Array) => ({
      oid: '2.5.29.28',
      critical: true,
      value: tlv(0x30, tlv(0xa0, dpName)),
    });
    const relative = await acmeCrl({ extraExtensions: [idp(tlv(0xa1, atv))] });
    const directory = await acmeCrl({ extraExtensions: [idp(tlv(0xa0, tlv(0xa4, tlv(0x30, rdn))))] });
    expect(relative.scope).toMatchObject({ uris: [], notUri: 'nameRelativeToCRLIssuer' });
    expect(directory.scope).toMatchObject({ uris: [], notUri: 'fullName of directoryName' });
    // Never the full CRL's key: one partition must not replace another as "the" CRL.
    expect(scopeKey(relative.scope)).not.toBe('');
    for (const list of [relative, directory]) {
      const j = judge(list);
      expect(codes(j)).toEqual(['error crl.partition-not-uri']);
      expect(j.findings[0]!.message).toMatch(
        /names its point by (nameRelativeToCRLIssuer|fullName of directoryName), not by a URI: .*Send the CA's full CRL, or partitions named by a URI/,
      );
    }
    // A fullName with a URI beside a directoryName is matched by the URI, as before.
    const both = await acmeCrl({
      extraExtensions: [
        idp(
          tlv(
            0xa0,
            tlv(0xa4, tlv(0x30, rdn)),
            tlv(0x86, new TextEncoder().encode('http://crl.acme.example/p1.crl')),
          ),
        ),
      ],
    });
    expect(both.scope).toEqual({
      uris: ['http://crl.acme.example/p1.crl'],
      onlyUser: false,
      onlyCA: false,
      onlySomeReasons: false,
    });
    expect(judge(both).findings).toEqual([]);
  });
});

describe('replay, against the CRL held for the same issuer and scope', () => {
  const heldAs = (h: HeldCrl) => (fingerprint: string, scope: string) =>
    fingerprint === cas[1]!.fingerprint && scope === '' ? h : undefined;

  it('refuses a lower cRLNumber and the same number with other content; takes a higher one', async () => {
    const list = await acmeCrl();
    const at = list.thisUpdate.toISOString();
    expect(codes(judge(list, heldAs({ number: '6', thisUpdate: at, sha256: 'x' })))).toEqual([
      'error crl.replayed',
    ]);
    expect(codes(judge(list, heldAs({ number: '5', thisUpdate: at, sha256: 'x' })))).toEqual([
      'error crl.replayed',
    ]);
    expect(judge(list, heldAs({ number: '4', thisUpdate: at, sha256: 'x' })).findings).toEqual([]);
    // The number wins over the date: a later number issued "earlier" is still newer.
    expect(
      judge(list, heldAs({ number: '4', thisUpdate: days(5).toISOString(), sha256: 'x' })).findings,
    ).toEqual([]);
  });

  it('without numbers, refuses an older thisUpdate and takes a newer one', async () => {
    const list = parse(await crl(acme, [client]));
    expect(list.number).toBeUndefined();
    const held = (d: Date): HeldCrl => ({ thisUpdate: d.toISOString(), sha256: 'x' });
    expect(codes(judge(list, heldAs(held(NOW))))).toEqual(['warning crl.unnumbered', 'error crl.replayed']);
    expect(codes(judge(list, heldAs(held(days(-2)))))).toEqual(['warning crl.unnumbered']);
  });

  it('without numbers, refuses other content at the same thisUpdate, so two CRLs cannot take turns', async () => {
    const revoking = parse(await crl(acme, [client]));
    const clearing = parse(await crl(acme, []));
    expect(revoking.thisUpdate).toEqual(clearing.thisUpdate);
    expect(revoking.sha256).not.toBe(clearing.sha256);
    const second = judge(clearing, heldAs(heldCrl(revoking)));
    expect(codes(second)).toEqual(['warning crl.unnumbered', 'error crl.replayed']);
    expect(second.findings[1]!.message).toMatch(/the thisUpdate of the CRL already held, with other content/);
    expect(codes(judge(revoking, heldAs(heldCrl(clearing))))).toEqual([
      'warning crl.unnumbered',
      'error crl.replayed',
    ]);
    // The same one again is still only unchanged.
    expect(codes(judge(revoking, heldAs(heldCrl(revoking))))).toEqual([
      'warning crl.unnumbered',
      'warning crl.unchanged',
    ]);
    // A numbered CRL held, an unnumbered one of its moment: other content, refused too.
    const numbered = await acmeCrl({}, []);
    expect(codes(judge(revoking, heldAs(heldCrl(numbered))))).toEqual([
      'warning crl.unnumbered',
      'error crl.replayed',
    ]);
    expect(codes(judge(numbered, heldAs(heldCrl(revoking))))).not.toContain('warning crl.unnumbered');
  });

  it('answers the same CRL again with a warning crl.unchanged, not a refusal', async () => {
    const list = await acmeCrl();
    const j = judge(list, heldAs(heldCrl(list)));
    expect(codes(j)).toEqual(['warning crl.unchanged']);
    expect(j.issuer).toBeDefined();
    expect(heldCrl(list)).toEqual({ number: '5', thisUpdate: days(-1).toISOString(), sha256: list.sha256 });
  });

  it('asks for the held CRL by issuer fingerprint and scope key', async () => {
    const asked: string[][] = [];
    const scoped = await acmeCrl({ idp: { uris: ['http://crl.acme.example/p1.crl'] } });
    judge(scoped, (f, s) => {
      asked.push([f, s]);
      return undefined;
    });
    expect(asked).toEqual([[cas[1]!.fingerprint, scopeKey(scoped.scope)]]);
    expect(scopeKey(scoped.scope)).not.toBe('');
  });
});

describe('warnings', () => {
  it('crl.stale: nextUpdate already past', async () => {
    const j = judge(await acmeCrl({ thisUpdate: days(-10), nextUpdate: days(-1) }));
    expect(codes(j)).toEqual(['warning crl.stale']);
    expect(j.issuer).toBeDefined();
  });

  it('crl.no-next-update: none given', async () => {
    const list = await acmeCrl({ nextUpdate: null });
    expect(list.nextUpdate).toBeUndefined();
    expect(codes(judge(list))).toEqual(['warning crl.no-next-update']);
  });
});

describe('partitioned CRLs (an IDP with a URI, as AWS Private CA publishes)', () => {
  const p1 = 'http://crl.acme.example/p1.crl';

  it('covers a certificate whose CDP has the URI, not one with another URI or none', async () => {
    const list = await acmeCrl({ idp: { uris: [p1] } });
    expect(list.scope).toEqual({ uris: [p1], onlyUser: false, onlyCA: false, onlySomeReasons: false });
    expect(judge(list).findings).toEqual([]);
    const withCdp = async (cdp?: string[]) =>
      parseCertificate(
        (await leaf('CN=p.acme.example', acme, cdp ? { crlDistributionPoints: cdp } : {})).der,
      );
    expect(covers(list.scope, await withCdp(['http://other.example/x.crl', p1]))).toBe(true);
    expect(covers(list.scope, await withCdp(['http://crl.acme.example/p2.crl']))).toBe(false);
    // Scheme and host are case-insensitive (RFC 3986): the same partition; the path is not.
    expect(covers(list.scope, await withCdp([p1.toUpperCase().replace('/P1.CRL', '/p1.crl')]))).toBe(true);
    expect(covers(list.scope, await withCdp([p1.replace('/p1.crl', '/P1.crl')]))).toBe(false);
    expect(covers(list.scope, await withCdp())).toBe(false);
    expect(covers(undefined, await withCdp())).toBe(true);
  });

  it('onlyUser covers no CA, onlyCA only CAs', async () => {
    const user = await acmeCrl({ idp: { onlyUser: true } });
    const ca = await acmeCrl({ idp: { onlyCA: true } });
    const clientCert = parseCertificate(client.der);
    expect([covers(user.scope, clientCert), covers(user.scope, cas[1]!)]).toEqual([true, false]);
    expect([covers(ca.scope, clientCert), covers(ca.scope, cas[1]!)]).toEqual([false, true]);
  });

  it('at the door a CA certificate presented as a client is judged as the end entity it is there', async () => {
    const user = await acmeCrl({ idp: { onlyUser: true } });
    const ca = await acmeCrl({ idp: { onlyCA: true } });
    expect([covers(user.scope, cas[1]!, 'client'), covers(ca.scope, cas[1]!, 'client')]).toEqual([
      true,
      false,
    ]);
    const attributes = { uris: [], onlyUser: false, onlyCA: false, onlyAttribute: true };
    expect([covers(attributes, cas[1]!), covers(attributes, parseCertificate(client.der), 'client')]).toEqual(
      [false, false],
    );
  });

  it('keys scopes stably: empty for a full CRL, the same whatever the URI order, different per partition', () => {
    const s = (uris: string[], more: Partial<CrlScope> = {}): CrlScope => ({
      uris,
      onlyUser: false,
      onlyCA: false,
      onlySomeReasons: false,
      ...more,
    });
    expect(scopeKey(undefined)).toBe('');
    expect(scopeKey(s(['a', 'b']))).toBe(scopeKey(s(['b', 'a'])));
    expect(scopeKey(s(['a']))).toMatch(/^idp-[0-9a-f]{16}$/);
    const keys = [s(['a']), s(['b']), s(['a'], { onlyUser: true }), s(['a'], { onlyCA: true }), s([])].map(
      scopeKey,
    );
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('CRLs made by openssl ca -gencrl', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trustroll-crl-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are read in PEM and DER and accepted, with the serial, reason, number and dates openssl wrote', async () => {
    const ca = await intermediate('CN=OpenSSL Issuing CA,O=Acme', acmeRoot);
    const revoked = await leaf('CN=revoked.acme.example,O=Acme', ca);
    const f = (name: string) => join(dir, name);
    writeFileSync(f('ca.pem'), ca.pem);
    writeFileSync(f('ca.key'), privateKeyPem(ca));
    writeFileSync(f('revoked.pem'), revoked.pem);
    writeFileSync(f('index.txt'), '');
    writeFileSync(f('crlnumber'), '1000\n');
    writeFileSync(
      f('openssl.cnf'),
      [
        '[ ca ]',
        'default_ca = CA_default',
        '[ CA_default ]',
        `dir = ${dir}`,
        'database = $dir/index.txt',
        'crlnumber = $dir/crlnumber',
        'certificate = $dir/ca.pem',
        'private_key = $dir/ca.key',
        'new_certs_dir = $dir',
        'default_md = sha256',
        'default_crl_days = 30',
        'crl_extensions = crl_ext',
        'policy = policy_any',
        '[ policy_any ]',
        'commonName = supplied',
        '[ crl_ext ]',
        'authorityKeyIdentifier = keyid:always',
        '',
      ].join('\n'),
    );
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl('ca', '-config', f('openssl.cnf'), '-revoke', f('revoked.pem'), '-crl_reason', 'keyCompromise');
    const before = Date.now();
    openssl('ca', '-config', f('openssl.cnf'), '-gencrl', '-out', f('crl.pem'));
    openssl('crl', '-in', f('crl.pem'), '-outform', 'DER', '-out', f('crl.der'));

    const trust = [...cas, parseCertificate(ca.der)];
    const pem = readRevocationLists(new Uint8Array(readFileSync(f('crl.pem'))), 'acme/crl/crl.pem');
    const der = readRevocationLists(new Uint8Array(readFileSync(f('crl.der'))), 'acme/crl/crl.der');
    expect(pem).toHaveLength(1);
    expect(der).toHaveLength(1);
    expect(pem[0]!.sha256).toBe(der[0]!.sha256);
    for (const list of [pem[0]!, der[0]!]) {
      expect(list.version).toBe(2);
      expect(list.number).toBe(0x1000n);
      expect(list.authorityKeyId).toBe(trust[2]!.subjectKeyId);
      expect(Math.abs(list.thisUpdate.getTime() - before)).toBeLessThan(120_000);
      expect(list.nextUpdate!.getTime() - list.thisUpdate.getTime()).toBe(30 * 86_400_000);
      expect(list.entries.map(({ serial, reason }) => ({ serial, reason }))).toEqual([
        { serial: parseCertificate(revoked.der).serial, reason: 'keyCompromise' },
      ]);
      const j = judgeCrl(list, trust, noneHeld, new Date());
      expect(j.findings).toEqual([]);
      expect(j.issuer?.fingerprint).toBe(trust[2]!.fingerprint);
    }
  });
});

describe('what is not a CRL', () => {
  it('reads several CRL blocks with text around them, naming each block', async () => {
    const a = pemBlock('X509 CRL', await crl(acme, [], { crlNumber: 1 }));
    const b = pemBlock('X509 CRL', await crl(acmeRoot, [], { crlNumber: 2 }));
    const lists = readRevocationLists(toBytes(`Acme CRLs\n${a}\r\nand the root's:\n${b}`), 'both.pem');
    expect(lists.map((l) => [l.number, l.source])).toEqual([
      [1n, 'both.pem (CRL 1 of 2)'],
      [2n, 'both.pem (CRL 2 of 2)'],
    ]);
  });

  it('refuses a CRL file with more CRL data outside its strict PEM blocks (a DER CRL, a lower-case or four-dash BEGIN, bare base64), which was passed over', async () => {
    const revoking = await crl(acme, [client], { crlNumber: 21 });
    const ok = pemBlock('X509 CRL', await crl(acme, [], { crlNumber: 20 }));
    const b64 = Buffer.from(revoking).toString('base64').replace(/.{64}/g, '$&\n');
    const variants: [string, Uint8Array, RegExp][] = [
      [
        'der-then-pem',
        new Uint8Array(Buffer.concat([Buffer.from(revoking), Buffer.from(ok)])),
        /binary bytes/,
      ],
      [
        'pem-then-der',
        new Uint8Array(Buffer.concat([Buffer.from(ok), Buffer.from(revoking)])),
        /binary bytes/,
      ],
      [
        'lower-case',
        toBytes(`${ok}-----begin x509 crl-----\n${b64}\n-----end x509 crl-----\n`),
        /a BEGIN line it does not read/,
      ],
      [
        'four dashes',
        toBytes(`${ok}----BEGIN X509 CRL----\n${b64}\n----END X509 CRL----\n`),
        /a BEGIN line it does not read/,
      ],
      ['bare base64', toBytes(`${ok}\n${b64}\n`), /a run of base64 outside any PEM block/],
    ];
    for (const [what, bytes, why] of variants)
      expect(() => readRevocationLists(bytes, `acme/crl/${what}.pem`), what).toThrow(why);
    // Text around the blocks (as openssl crl -text writes) is still fine.
    expect(
      readRevocationLists(toBytes(`Certificate Revocation List (CRL):\n  Version 2\n${ok}`), 'ok.pem'),
    ).toHaveLength(1);
  });

  it('refuses a CRL file that also holds another kind of block (a PKCS7 that may carry more CRLs)', async () => {
    const a = pemBlock('X509 CRL', await crl(acme, [], { crlNumber: 5 }));
    const p7 = pemBlock(
      'PKCS7',
      signedData(undefined, [], { crls: [await crl(acme, [client], { crlNumber: 6 })] }),
    );
    expect(() => readRevocationLists(toBytes(`${a}${p7}`), 'acme/crl/partner.pem')).toThrow(
      /acme\/crl\/partner\.pem holds a PKCS7 block besides its X509 CRL block\(s\): a CRL file holds CRLs only/,
    );
  });

  it('refuses a PKCS#7 bundle carrying a CRL: in the CA folder whole (never the CA taken and the CRL dropped), in crl/ saying how to take the CRL out', async () => {
    const crlDer = await crl(acme, [client], { crlNumber: 9 });
    const bundle = signedData(undefined, [acme.der], { crls: [crlDer] });
    const read = readInput({ name: 'acme/ca-and-crl.p7b', bytes: bundle });
    expect(read.certificates).toEqual([]);
    expect(read.findings.map((f) => f.code)).toEqual(['input.unparseable']);
    expect(read.findings[0]!.message).toMatch(
      /the PKCS#7 bundle holds a certificate revocation list beside 1 certificate; .*put the CRLs into inbox\/<partner>\/crl\/ and the certificates into inbox\/<partner>\/ \(openssl pkcs7 -print_certs/,
    );
    // The certificates alone are still a bundle like any other.
    expect(
      readInput({ name: 'acme/ca.p7b', bytes: signedData(undefined, [acme.der]) }).certificates,
    ).toHaveLength(1);
    expect(() => readRevocationLists(bundle, 'acme/crl/ca-and-crl.p7b')).toThrow(
      /this is a PKCS#7 bundle \(\.p7b\), not a CRL: take the CRL out of it \(openssl pkcs7 -print_certs -inform DER/,
    );
  });

  it('says what to fix for truncated DER, a certificate, PEM without a CRL block, and other bytes', async () => {
    const der = await crl(acme, [client]);
    const refuses = (bytes: Uint8Array, ...parts: string[]) => {
      expect(() => readRevocationLists(bytes, 'acme/crl/x.crl')).toThrow(CrlReadError);
      for (const part of parts) expect(() => readRevocationLists(bytes, 'acme/crl/x.crl')).toThrow(part);
    };
    refuses(der.subarray(0, der.length - 10), 'acme/crl/x.crl is not a readable DER CRL', 'claims');
    refuses(acme.der, 'this is a certificate, not a CRL');
    refuses(toBytes(acme.pem), 'it holds a certificate, not a CRL');
    // A DER CRL with a PEM certificate appended is a damaged CRL file, not a certificate.
    refuses(
      new Uint8Array([...der, ...toBytes(acme.pem)]),
      'acme/crl/x.crl holds a DER CRL followed by a certificate',
    );
    expect(() => readRevocationLists(new Uint8Array([...der, ...toBytes(acme.pem)]), 'x.crl')).not.toThrow(
      /not a CRL/,
    );
    refuses(toBytes(privateKeyPem(acme)), 'a PRIVATE KEY block, no X509 CRL block');
    refuses(toBytes('hello'), 'neither PEM "X509 CRL" blocks nor a DER CRL');
    refuses(new Uint8Array(), 'acme/crl/x.crl is empty');
    const broken = pemBlock('X509 CRL', der.subarray(0, 40));
    refuses(toBytes(broken), 'acme/crl/x.crl is not a readable CRL');
    // A v1 certificate is told apart from a CRL too.
    expect(() => parseRevocationList(v1Cert())).toThrow('this is a certificate, not a CRL');
  });

  it('refuses malformed fields with the part named', () => {
    const refuses = (der: Uint8Array, message: string) => {
      expect(() => parseRevocationList(der)).toThrow(DerError);
      expect(() => parseRevocationList(der)).toThrow(message);
    };
    const ext = (id: string, value: Uint8Array, critical = false) =>
      tlv(0x30, oid(id), ...(critical ? [tlv(0x01, new Uint8Array([0xff]))] : []), tlv(0x04, value));
    const withExts = (...exts: Uint8Array[]) => hand({ exts: tlv(0xa0, tlv(0x30, ...exts)) });
    refuses(withExts(ext('2.5.29.20', tlv(0x02, new Uint8Array([0x80])))), 'cRLNumber is negative');
    refuses(
      withExts(
        ext('2.5.29.20', tlv(0x02, new Uint8Array([1]))),
        ext('2.5.29.20', tlv(0x02, new Uint8Array([2]))),
      ),
      'CRL extension 2.5.29.20 appears twice',
    );
    refuses(
      hand({ entries: tlv(0x30, entry(tlv(0x30, ext('2.5.29.21', tlv(0x0a, new Uint8Array([7])))))) }),
      'revoked entry 1 reasonCode 07 is not a reason RFC 5280 defines',
    );
    refuses(
      hand({ version: false, exts: tlv(0xa0, tlv(0x30)) }),
      'CRL extensions are only allowed in version 2',
    );
    refuses(
      withExts(ext('2.5.29.28', tlv(0x30, tlv(0x86, new Uint8Array([1]))), true)),
      'extension issuingDistributionPoint is malformed',
    );
    // A v1 CRL without extensions is fine.
    const v1 = parseRevocationList(hand({ version: false, entries: tlv(0x30, entry()) }));
    expect([v1.version, v1.entries[0]!.serial, v1.nextUpdate]).toEqual([1, '01', undefined]);
  });
});

const alg = tlv(0x30, oid('1.2.840.10045.4.3.2'));
const cn = (s: string) => tlv(0x30, tlv(0x31, tlv(0x30, oid('2.5.4.3'), tlv(0x0c, toBytes(s)))));
const utc = tlv(0x17, toBytes('260101000000Z'));
const entry = (...exts: Uint8Array[]) => tlv(0x30, tlv(0x02, new Uint8Array([1])), utc, ...exts);
/** A CertificateList by hand (signature bytes irrelevant to parsing). */
const hand = (p: { version?: boolean; entries?: Uint8Array; exts?: Uint8Array }) =>
  tlv(
    0x30,
    tlv(
      0x30,
      ...(p.version === false ? [] : [tlv(0x02, new Uint8Array([1]))]),
      alg,
      cn('Hand CA'),
      utc,
      ...(p.entries ? [p.entries] : []),
      ...(p.exts ? [p.exts] : []),
    ),
    alg,
    tlv(0x03, new Uint8Array([0, 1])),
  );
/** The shape of a v1 certificate: serial, algorithm, issuer, validity, subject, key. */
const v1Cert = () =>
  tlv(
    0x30,
    tlv(0x30, tlv(0x02, new Uint8Array([9])), alg, cn('C'), tlv(0x30, utc, utc), cn('C'), tlv(0x30)),
    alg,
    tlv(0x03, new Uint8Array([0, 1])),
  );

describe('names that carry more than a name', () => {
  it('refuses a CRL whose issuer or entry certificateIssuer has an attribute over 256 characters, never repeating it', async () => {
    const payload = `PAYLOAD-${'y'.repeat(300)}`;
    const carrier = await root('CN=Carrier', { keySlot: 'crl-name-carrier' });
    const named = await crl(carrier, [], { crlNumber: 1 });
    const long = await issue({
      subject: [{ OU: [payload] }, { CN: ['Carrier'] }],
      keySlot: 'crl-name-carrier',
    });
    const entry = await crl(carrier, [{ serial: '05', certificateIssuer: `CN=x,OU=${payload}` }]);
    expect(readRevocationLists(named, 'ok.crl')).toHaveLength(1);
    for (const [bytes, what] of [
      [await crl(long, []), 'issuer'],
      [toBytes(pemBlock('X509 CRL', await crl(long, []))), 'issuer'],
      [entry, 'revoked entry 1 certificateIssuer'],
    ] as const) {
      let error: unknown;
      try {
        readRevocationLists(bytes, 'acme/crl/x.crl');
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CrlReadError);
      expect((error as CrlReadError).code).toBe('crl.opaque-payload');
      expect((error as CrlReadError).message).toContain(
        `acme/crl/x.crl was refused and not kept: its ${what} has an attribute (2.5.4.11) of 308 characters, over the 256`,
      );
      expect((error as CrlReadError).message).not.toContain('PAYLOAD');
    }
  });

  it('refuses an issuer name whose short attributes add up to more than a CA name needs', async () => {
    const pieces = Array.from({ length: 20 }, (_, i) => ({ OU: [`PIECE${i}-${'z'.repeat(190)}`] }));
    const split = await issue({ subject: [...pieces, { CN: ['Carrier'] }], keySlot: 'crl-name-carrier' });
    let error: unknown;
    try {
      readRevocationLists(await crl(split, []), 'acme/crl/split.crl');
    } catch (e) {
      error = e;
    }
    expect((error as CrlReadError).code).toBe('crl.opaque-payload');
    expect((error as CrlReadError).message).toMatch(
      /its issuer is \d+ characters long, over the 1024 a CA's name needs/,
    );
    expect((error as CrlReadError).message).not.toContain('PIECE');
  });

  it('has its fields hunted for a private key by the reader every upload goes through', async () => {
    const carrier = await issue({
      subject: [{ OU: [privateKeyPem(client).trim().replace(/\n/g, '|')] }, { CN: ['Carrier'] }],
      keySlot: 'crl-name-carrier',
    });
    const der = await crl(carrier, []);
    for (const bytes of [der, toBytes(pemBlock('X509 CRL', der))]) {
      const read = readInput({ name: 'acme/crl/x.crl', bytes });
      expect(read.findings.map((f) => f.code)).toContain('input.private-key');
      expect(JSON.stringify(read.findings)).not.toContain('BEGIN');
    }
  });
});

describe('what the reader refuses rather than half-reads', () => {
  it('refuses a negative serial entry (a CA that drops the leading 00), naming it, never counting it as revoked', async () => {
    const der = Buffer.from(await crl(acme, [{ serial: '8001' }], { crlNumber: 7 }));
    const at = der.indexOf(Buffer.from('0203008001', 'hex'));
    expect(at).toBeGreaterThan(0);
    // 02 03 80 80 01: a minimal DER INTEGER, negative (its first byte has the top bit set).
    der[at + 2] = 0x80;
    expect(() => parse(der)).toThrow(
      /revoked entry 1 serial is negative \(808001: .*If the CA meant the certificate with serial 808001, it encodes serials without their leading 00 byte/,
    );
  });

  it('refuses removeFromCRL in a full CRL: the entry would deny the certificate its reason says is not revoked', async () => {
    const j = judge(await acmeCrl({}, [{ cert: client, reason: 'removeFromCRL' }]));
    expect(codes(j)).toEqual(['error crl.unparseable']);
    expect(j.findings[0]!.message).toMatch(
      /lists serial [0-9a-f]+ with reason removeFromCRL, which RFC 5280 allows only in delta CRLs: .*Send the CRL without those entries/,
    );
    expect(codes(judge(await acmeCrl({}, [{ cert: client, reason: 'keyCompromise' }])))).toEqual([]);
  });

  it('refuses a padded (non-DER) serial, which would match no certificate', () => {
    const padded = tlv(0x30, tlv(0x02, new Uint8Array([0, 6])), utc);
    expect(() => parseRevocationList(hand({ entries: tlv(0x30, padded) }))).toThrow(
      /serial is not a DER integer/,
    );
    const negativePadded = tlv(0x30, tlv(0x02, new Uint8Array([0xff, 0x86])), utc);
    expect(() => parseRevocationList(hand({ entries: tlv(0x30, negativePadded) }))).toThrow(
      /not a DER integer/,
    );
    // A positive serial whose first byte has the high bit set keeps its 00.
    const kept = tlv(0x30, tlv(0x02, new Uint8Array([0, 0x86])), utc);
    expect(parseRevocationList(hand({ entries: tlv(0x30, kept) })).entries[0]!.serial).toBe('0086');
  });

  it('refuses a file whose last CRL block begins and never ends', async () => {
    const whole = pemBlock('X509 CRL', await crl(acme, [client]));
    const cut = `${whole}\n${whole.slice(0, 200)}`;
    expect(() => readRevocationLists(toBytes(cut), 'acme/crl/cut.pem')).toThrow(
      /2 X509 CRL block\(s\) begin but only 1 end/,
    );
  });

  it('refuses a nextUpdate before thisUpdate', async () => {
    const der = await crl(acme, [client], { thisUpdate: days(-1), nextUpdate: days(-3) });
    expect(() => parseRevocationList(der)).toThrow(/nextUpdate .* is before thisUpdate/);
  });
});

describe('a CRL block whose end is mislabelled', () => {
  it('says the block never ends, not that there is none', async () => {
    const pem = pemBlock('X509 CRL', await crl(acme, [client])).replace('END X509 CRL', 'END CERTIFICATE');
    expect(() => readRevocationLists(toBytes(pem), 'acme/crl/x.pem')).toThrow(
      /its X509 CRL block never ends: -----END X509 CRL----- is missing or mislabelled/,
    );
  });
});
