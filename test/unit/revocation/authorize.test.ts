import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { authorize, routeMatches } from '../../../shared/revocation/authorize.js';
import { buildIndex, RevocationIndex } from '../../../shared/revocation/index.js';
import { findSerial, RECORD, reasonCode, serialKey, toRecords } from '../../../shared/revocation/records.js';
import {
  emptyRevocation,
  type HeldCrlRecord,
  type ManualRevocation,
  type RevocationState,
} from '../../../shared/revocation/state.js';
import { type Entry, entryOf } from '../../../shared/truststore/state.js';
import { days, type Issued, intermediate, leaf, NOW, root } from '../../fixtures/pki.js';

/**
 * The revocation index and the decision made from it, without a store: which client is denied,
 * with what reason, and which is allowed with what context.
 */
const cert = (i: Issued): Certificate => parseCertificate(i.der);
const entry = (i: Issued, partner: string): Entry =>
  entryOf(cert(i), {
    partner,
    upload: { key: `inbox/${partner}/ca.pem`, version: '1' },
    addedAt: NOW.toISOString(),
    findings: [],
  });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A held CRL of `issuer` listing `serials`, its record set put in `sets`. */
const held = (
  sets: Map<string, Uint8Array>,
  issuer: Issued,
  serials: readonly { serial: string; reason?: string }[],
  more: Partial<HeldCrlRecord> = {},
): HeldCrlRecord => {
  const records = toRecords(serials.map((s) => ({ serial: s.serial, reason: reasonCode(s.reason) })));
  sets.set(sha(records), records);
  return {
    issuer: cert(issuer).fingerprint,
    scope: '',
    uris: [],
    onlyUser: false,
    onlyCA: false,
    number: '7',
    thisUpdate: days(-1).toISOString(),
    nextUpdate: days(6).toISOString(),
    sha256: 'c'.repeat(64),
    serials: sha(records),
    entries: serials.length,
    partner: 'acme',
    upload: { key: 'inbox/acme/crl/issuing.crl', version: '1' },
    acceptedAt: NOW.toISOString(),
    ...more,
  };
};

const index = (entries: Entry[], rev: RevocationState, sets = new Map<string, Uint8Array>()) =>
  RevocationIndex.load(
    buildIndex({
      entries,
      revocation: rev,
      serials: (h) => {
        const s = sets.get(h);
        if (!s) throw new Error(`no record set ${h}`);
        return s;
      },
      revision: 3,
      truststoreSha256: 'a'.repeat(64),
      builtAt: NOW.toISOString(),
    }),
  );

let acmeRoot: Issued;
let acmeCa: Issued;
let alice: Issued;
let bob: Issued;
let betaRoot: Issued;
let betaCa: Issued;
let carol: Issued;
beforeAll(async () => {
  acmeRoot = await root('CN=Rev Root,O=Acme', { keySlot: 'rev-ar' });
  acmeCa = await intermediate('CN=Rev Issuing,O=Acme', acmeRoot, { keySlot: 'rev-ai' });
  alice = await leaf('CN=alice,O=Acme', acmeCa, { key: 'p256', serial: '0a11ce' });
  bob = await leaf('CN=bob,O=Acme', acmeCa, { key: 'p256', serial: '0b0b' });
  betaRoot = await root('CN=Rev Root,O=Beta', { keySlot: 'rev-br' });
  betaCa = await intermediate('CN=Rev Issuing,O=Beta', betaRoot, { keySlot: 'rev-bi' });
  // The same serial as alice's, under another issuer.
  carol = await leaf('CN=carol,O=Beta', betaCa, { key: 'p256', serial: '0a11ce' });
});

const opts = { now: NOW };
const entries = () => [
  entry(acmeRoot, 'acme'),
  entry(acmeCa, 'acme'),
  entry(betaRoot, 'beta'),
  entry(betaCa, 'beta'),
];

describe('records', () => {
  it('finds every serial of a sorted set exactly and nothing else', () => {
    const serials = Array.from({ length: 500 }, (_, n) => ({
      serial: (n * 7 + 1).toString(16).padStart(4, '0'),
      reason: n % 11,
    }));
    const table = toRecords(serials);
    expect(table.length).toBe(500 * RECORD);
    for (const s of serials) expect(findSerial(table, 0, 500, serialKey(s.serial))).toBe(s.reason);
    expect(findSerial(table, 0, 500, serialKey('0002'))).toBeUndefined();
    // Same value, another length: another serial (DER INTEGER content is compared as encoded).
    expect(findSerial(table, 0, 500, serialKey('000001'))).toBeUndefined();
    expect(findSerial(table, 0, 500, serialKey('01'))).toBeUndefined();
  });

  it('keeps serials longer than 20 bytes apart by their hash, and refuses what is not hex of whole bytes', () => {
    const long = 'ab'.repeat(24);
    const table = toRecords([{ serial: long, reason: 1 }]);
    expect(findSerial(table, 0, 1, serialKey(long))).toBe(1);
    expect(findSerial(table, 0, 1, serialKey(`${'ab'.repeat(23)}ac`))).toBeUndefined();
    expect(() => serialKey('abc')).toThrow(/whole bytes/);
    expect(() => serialKey('AB')).toThrow(/lowercase hex/);
  });
});

describe('authorize', () => {
  it('allows a client of a held CA and passes its partner and identity as context', () => {
    const d = authorize(index(entries(), emptyRevocation()), cert(alice), 'GET /orders/1', opts);
    expect(d).toEqual({
      decision: 'allow',
      partner: 'acme',
      reasons: [],
      context: {
        partner: 'acme',
        certSha256: cert(alice).fingerprint,
        issuerSha256: cert(acmeCa).fingerprint,
        serial: '0a11ce',
        subject: 'CN=alice,O=Acme',
        notAfter: cert(alice).notAfter.toISOString(),
      },
    });
  });

  it('denies a revoked client and allows an unrevoked one of the same CA', () => {
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: { x: held(sets, acmeCa, [{ serial: '0a11ce', reason: 'keyCompromise' }]) },
    };
    const ix = index(entries(), rev, sets);
    const denied = authorize(ix, cert(alice), undefined, opts);
    expect(denied.decision).toBe('deny');
    expect(denied.partner).toBe('acme');
    expect(denied.reasons).toEqual([
      {
        code: 'cert.revoked',
        message:
          "CN=alice,O=Acme (serial 0a11ce) is revoked by CN=Rev Issuing,O=Acme's CRL #7 (keyCompromise).",
      },
    ]);
    expect(authorize(ix, cert(bob), undefined, opts).decision).toBe('allow');
  });

  it('denies a CA certificate presented as a client when its issuer revoked it on a CA-only CRL', async () => {
    const sub = await intermediate('CN=Rev Sub,O=Acme', acmeCa, { keySlot: 'rev-sub', serial: '55' });
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: {
        ca: held(sets, acmeCa, [{ serial: '55', reason: 'keyCompromise' }], { onlyCA: true, scope: 'ca' }),
        users: held(sets, acmeCa, [], { onlyUser: true, scope: 'u' }),
      },
    };
    const d = authorize(index(entries(), rev, sets), cert(sub), undefined, opts);
    expect(d.decision).toBe('deny');
    expect(d.reasons.map((r) => r.code)).toEqual(['cert.revoked']);
    // An end entity is not covered by the CA-only CRL: bob, not listed anywhere, is let in.
    expect(authorize(index(entries(), rev, sets), cert(bob), undefined, opts).decision).toBe('allow');
  });

  it("denies a client of a CA's earlier key: same issuer name, another key identifier", async () => {
    const rekeyed = await intermediate('CN=Rev Issuing,O=Acme', acmeRoot, { keySlot: 'rev-ai-2' });
    const held = [
      entry(acmeRoot, 'acme'),
      entry(rekeyed, 'acme'),
      entry(betaRoot, 'beta'),
      entry(betaCa, 'beta'),
    ];
    // alice was issued by the earlier key, which the index no longer holds.
    expect(cert(alice).authorityKeyId).not.toBe(cert(rekeyed).subjectKeyId);
    const d = authorize(index(held, emptyRevocation()), cert(alice), undefined, opts);
    expect(d.decision).toBe('deny');
    expect(d.reasons[0]!.code).toBe('issuer.unknown');
    expect(d.reasons[0]!.message).toMatch(
      /with another key \(key identifier [0-9a-f]+\).*re-keyed or replaced/,
    );
    const fresh = await leaf('CN=alice2,O=Acme', rekeyed, { key: 'p256' });
    expect(authorize(index(held, emptyRevocation()), cert(fresh), undefined, opts).decision).toBe('allow');
  });

  it('denies a client whose serial is negative or empty, naming it, without reading the index', () => {
    const ix = index(entries(), emptyRevocation());
    for (const serial of ['ef', '80', '']) {
      const d = authorize(ix, { ...cert(alice), serial }, undefined, opts);
      expect(d.decision).toBe('deny');
      expect(d.reasons.map((r) => r.code)).toEqual(['cert.serial-invalid']);
      expect(d.reasons[0]!.message).toMatch(
        serial === '' ? /an empty serial number/ : /a negative serial number/,
      );
    }
    // A positive serial whose first byte has the high bit is written with a leading zero byte.
    expect(authorize(ix, { ...cert(alice), serial: '00ef' }, undefined, opts).decision).toBe('allow');
    expect(authorize(ix, { ...cert(alice), serial: '00' }, undefined, opts).decision).toBe('allow');
  });

  it('denies a client whose serial carries a zero byte DER does not allow: 00 06 would escape a revocation of 06', () => {
    const ix = index(entries(), emptyRevocation());
    for (const serial of ['0006', '007f', '000080']) {
      const d = authorize(ix, { ...cert(alice), serial }, undefined, opts);
      expect(d.reasons).toEqual([
        {
          code: 'cert.serial-invalid',
          message: `CN=alice,O=Acme has a serial number padded with a zero byte DER does not allow (bytes ${serial}), which RFC 5280 does not allow and whose revocation cannot be checked reliably: have the partner issue a certificate with a positive serial in its shortest encoding.`,
        },
      ]);
    }
  });

  it('does not deny the same serial under another issuer', () => {
    const sets = new Map<string, Uint8Array>();
    const ix = index(
      entries(),
      { ...emptyRevocation(), crls: { x: held(sets, acmeCa, [{ serial: '0a11ce' }]) } },
      sets,
    );
    expect(authorize(ix, cert(alice), undefined, opts).decision).toBe('deny');
    const other = authorize(ix, cert(carol), undefined, opts);
    expect(other.decision).toBe('allow');
    expect(other.partner).toBe('beta');
  });

  it('denies every client under an intermediate its root revoked', () => {
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: { x: held(sets, acmeRoot, [{ serial: cert(acmeCa).serial, reason: 'cACompromise' }]) },
    };
    const d = authorize(index(entries(), rev, sets), cert(bob), undefined, opts);
    expect(d.decision).toBe('deny');
    expect(d.reasons.map((r) => r.code)).toEqual(['ca.revoked']);
    expect(d.reasons[0]!.message).toContain(
      'CN=Rev Issuing,O=Acme, which CN=Rev Root,O=Acme revoked (cACompromise)',
    );
  });

  it('denies by a manual revocation and says who revoked it and why', () => {
    const manual: ManualRevocation = {
      issuer: cert(acmeCa).fingerprint,
      serial: '0b0b',
      reason: 'laptop stolen',
      by: 'ops@example.com',
      at: NOW.toISOString(),
    };
    const d = authorize(
      index(entries(), { ...emptyRevocation(), manual: [manual] }),
      cert(bob),
      undefined,
      opts,
    );
    expect(d.reasons).toEqual([
      {
        code: 'cert.revoked',
        message:
          'CN=bob,O=Acme (serial 0b0b) is revoked by CN=Rev Issuing,O=Acme by hand (laptop stolen; ops@example.com, 2026-06-01).',
      },
    ]);
  });

  it('denies a client whose issuer is not in the truststore', async () => {
    const stranger = await root('CN=Stranger', { keySlot: 'rev-s' });
    const s = await leaf('CN=someone', stranger, { key: 'p256' });
    const d = authorize(index(entries(), emptyRevocation()), cert(s), undefined, opts);
    expect(d).toEqual({
      decision: 'deny',
      reasons: [
        {
          code: 'issuer.unknown',
          message:
            'CN=someone was issued by CN=Stranger, which is not a CA of the truststore this index speaks for (revision 3).',
        },
      ],
    });
  });

  it('denies a client whose CRL is stale beyond the grace, allows within it, and allows with a note when told to', () => {
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: { x: held(sets, acmeCa, [], { nextUpdate: days(-2).toISOString() }) },
    };
    const ix = index(entries(), rev, sets);
    const stale = authorize(ix, cert(bob), undefined, opts);
    expect(stale.decision).toBe('deny');
    expect(stale.reasons.map((r) => r.code)).toEqual(['crl.stale']);
    expect(authorize(ix, cert(bob), undefined, { ...opts, graceSeconds: 3 * 86_400 }).decision).toBe('allow');
    // Exactly at the end of the grace it is still fresh.
    expect(authorize(ix, cert(bob), undefined, { ...opts, graceSeconds: 2 * 86_400 }).decision).toBe('allow');
    expect(authorize(ix, cert(bob), undefined, { ...opts, graceSeconds: 2 * 86_400 - 1 }).decision).toBe(
      'deny',
    );
    const let_ = authorize(ix, cert(bob), undefined, { ...opts, staleCrl: 'allow' });
    expect(let_.decision).toBe('allow');
    expect(let_.reasons.map((r) => r.code)).toEqual(['crl.stale']);
    // Another partner's clients are not concerned.
    expect(authorize(ix, cert(carol), undefined, opts).decision).toBe('allow');
  });

  it('applies a stale root CRL that covers the intermediate, and ignores one that covers only end entities', () => {
    const sets = new Map<string, Uint8Array>();
    const stale = { nextUpdate: days(-5).toISOString() };
    const covering = index(
      entries(),
      { ...emptyRevocation(), crls: { x: held(sets, acmeRoot, [], stale) } },
      sets,
    );
    expect(authorize(covering, cert(bob), undefined, opts).reasons.map((r) => r.code)).toEqual(['crl.stale']);
    const userOnly = index(
      entries(),
      {
        ...emptyRevocation(),
        crls: { x: held(sets, acmeRoot, [], { ...stale, onlyUser: true, scope: 'u' }) },
      },
      sets,
    );
    expect(authorize(userOnly, cert(bob), undefined, opts).decision).toBe('allow');
  });

  it('denies a client outside its partner pins and allows one pinned by certificate or by key', () => {
    const rules = (pins: string[]) => ({ ...emptyRevocation(), rules: { acme: { pins } } });
    const spki = sha(cert(bob).publicKey.spki);
    expect(
      authorize(index(entries(), rules([cert(alice).fingerprint])), cert(alice), undefined, opts).decision,
    ).toBe('allow');
    expect(authorize(index(entries(), rules([spki])), cert(bob), undefined, opts).decision).toBe('allow');
    const d = authorize(index(entries(), rules([spki])), cert(alice), undefined, opts);
    expect(d.reasons.map((r) => r.code)).toEqual(['pin.mismatch']);
    expect(d.reasons[0]!.message).toContain('pinned for partner acme');
    // Pins of one partner do not bind another.
    expect(authorize(index(entries(), rules([spki])), cert(carol), undefined, opts).decision).toBe('allow');
  });

  it('denies a route the partner may not call, and a missing route when the partner has route rules', () => {
    const ix = index(entries(), {
      ...emptyRevocation(),
      rules: { acme: { routes: ['GET /orders/*', 'POST /orders'] } },
    });
    expect(authorize(ix, cert(alice), 'GET /orders/42', opts).decision).toBe('allow');
    expect(authorize(ix, cert(alice), 'POST /orders', opts).decision).toBe('allow');
    expect(authorize(ix, cert(alice), 'DELETE /orders/42', opts).reasons).toEqual([
      {
        code: 'route.denied',
        message: 'Partner acme may call only GET /orders/*, POST /orders, not DELETE /orders/42.',
      },
    ]);
    expect(authorize(ix, cert(alice), undefined, opts).reasons.map((r) => r.code)).toEqual(['route.missing']);
    expect(authorize(ix, cert(carol), undefined, opts).decision).toBe('allow');
  });

  it('denies a certificate outside its validity, on both sides', async () => {
    const old = await leaf('CN=old,O=Acme', acmeCa, {
      key: 'p256',
      notBefore: days(-30),
      notAfter: days(-1),
    });
    const early = await leaf('CN=early,O=Acme', acmeCa, {
      key: 'p256',
      notBefore: days(1),
      notAfter: days(30),
    });
    const ix = index(entries(), emptyRevocation());
    expect(authorize(ix, cert(old), undefined, opts).reasons.map((r) => r.code)).toEqual(['cert.expired']);
    expect(authorize(ix, cert(early), undefined, opts).reasons.map((r) => r.code)).toEqual([
      'cert.not-yet-valid',
    ]);
  });

  it("applies a partitioned CRL's serials only to the clients of its partition, and names the CRL that lists one", async () => {
    const p1 = 'http://crl.acme.example/p1.crl';
    const p2 = 'http://crl.acme.example/p2.crl';
    const inP1 = await leaf('CN=dp1,O=Acme', acmeCa, {
      key: 'p256',
      serial: '09',
      crlDistributionPoints: [p1],
    });
    const inP2 = await leaf('CN=dp2,O=Acme', acmeCa, {
      key: 'p256',
      serial: '09',
      crlDistributionPoints: [p2],
    });
    const sets = new Map<string, Uint8Array>();
    const part = (uri: string, serials: string[], number: string) =>
      held(
        sets,
        acmeCa,
        serials.map((serial) => ({ serial, reason: 'keyCompromise' })),
        { scope: `idp-${number}`, uris: [uri], number },
      );
    const onlyP2 = index(entries(), { ...emptyRevocation(), crls: { b: part(p2, ['09'], '4') } }, sets);
    expect(authorize(onlyP2, cert(inP1), undefined, opts).decision).toBe('allow');
    expect(authorize(onlyP2, cert(inP2), undefined, opts).decision).toBe('deny');
    const both = index(
      entries(),
      { ...emptyRevocation(), crls: { a: part(p1, ['0a11ce'], '3'), b: part(p2, ['09'], '4') } },
      sets,
    );
    expect(authorize(both, cert(inP1), undefined, opts).decision).toBe('allow');
    expect(authorize(both, cert(inP2), undefined, opts).reasons).toEqual([
      {
        code: 'cert.revoked',
        message: "CN=dp2,O=Acme (serial 09) is revoked by CN=Rev Issuing,O=Acme's CRL #4 (keyCompromise).",
      },
    ]);
    // Alice names no distribution point: a partition does not cover her, whatever it lists; the
    // allow says her revocation is not checked. A client of a partition held has no such note.
    const aliceDecision = authorize(both, cert(alice), undefined, opts);
    expect(aliceDecision.decision).toBe('allow');
    expect(aliceDecision.reasons).toEqual([
      {
        code: 'crl.not-covered',
        message: `CN=Rev Issuing,O=Acme has 2 CRLs (for ${p1}; for ${p2}), none of which covers ${cert(alice).subject.text} (it names no CRL distribution point): its revocation is not checked by a CRL. Ask the partner for the CRL that covers it.`,
      },
    ]);
    expect(authorize(both, cert(inP1), undefined, opts).reasons).toEqual([]);
    expect(authorize(onlyP2, cert(inP1), undefined, opts).reasons.map((r) => r.code)).toEqual([
      'crl.not-covered',
    ]);
  });

  it("does not take an intermediate for revoked by its root's CRL that covers only end entities", () => {
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: { x: held(sets, acmeRoot, [{ serial: cert(acmeCa).serial }], { onlyUser: true, scope: 'u' }) },
    };
    expect(authorize(index(entries(), rev, sets), cert(bob), undefined, opts).decision).toBe('allow');
  });

  it("judges a client by the CA whose key signed it, not by the key identifier it claims (a retired CA's, beside a new one without an SKI)", async () => {
    const zedRoot = await root('CN=Zed Root,O=Zed', { keySlot: 'zed-root' });
    const i1 = await intermediate('CN=Zed Issuing,O=Zed', zedRoot, { keySlot: 'zed-i1' });
    const i3 = await intermediate('CN=Zed Issuing,O=Zed', zedRoot, { keySlot: 'zed-i3', ski: false });
    // Signed by i3's key, claiming i1's key identifier (which i3, without an SKI, cannot contradict).
    const ski = Buffer.from(cert(i1).subjectKeyId!, 'hex');
    const aki = new Uint8Array([0x30, ski.length + 2, 0x80, ski.length, ...ski]);
    const c5 = await leaf('CN=c5,O=Zed', i3, {
      key: 'p256',
      aki: false,
      extraExtensions: [{ oid: '2.5.29.35', value: aki }],
    });
    expect(cert(c5).authorityKeyId).toBe(cert(i1).subjectKeyId);
    const revoked = {
      ...emptyRevocation(),
      manual: [
        {
          issuer: cert(i3).fingerprint,
          serial: cert(c5).serial,
          reason: 'compromised',
          by: 'ops',
          at: NOW.toISOString(),
        },
      ],
    };
    const ix = RevocationIndex.load(
      buildIndex({
        entries: [entry(zedRoot, 'zed'), entry(i3, 'zed')],
        retired: [entry(i1, 'zed')],
        revocation: revoked,
        serials: () => new Uint8Array(),
        revision: 4,
        truststoreSha256: 'a'.repeat(64),
        builtAt: NOW.toISOString(),
      }),
    );
    const d = authorize(ix, cert(c5), undefined, opts);
    expect(d.decision).toBe('deny');
    expect(d.reasons.map((r) => r.code)).toEqual(['cert.revoked']);
    expect(d.context?.issuerSha256 ?? cert(i3).fingerprint).toBe(cert(i3).fingerprint);
  });

  it('tells two CAs of one name apart by the key that signed the client', async () => {
    const r1 = await root('CN=Twin Root', { keySlot: 'rev-t1', ski: false });
    const r2 = await root('CN=Twin Root', { keySlot: 'rev-t2', ski: false });
    const c2 = await leaf('CN=twin client', r2, { key: 'p256', aki: false });
    const ix = index([entry(r1, 'one'), entry(r2, 'two')], emptyRevocation());
    const d = authorize(ix, cert(c2), undefined, opts);
    expect(d.partner).toBe('two');
    expect(d.context?.issuerSha256).toBe(cert(r2).fingerprint);
  });
});

describe('routeMatches', () => {
  it.each([
    ['GET /orders/*', 'GET /orders/1', true],
    ['GET /orders/*', 'GET /orders/1/items', false],
    ['GET /orders/*', 'POST /orders/1', false],
    ['ANY /orders/**', 'DELETE /orders/1/items', true],
    ['* /health', 'HEAD /health', true],
    ['/health', 'GET /health', true],
    ['get /a.b', 'GET /a.b', true],
    ['GET /a.b', 'GET /axb', false],
    ['GET /v*/x', 'GET /v2/x', true],
    ['GET /health/**', 'GET /health/../admin', false],
    ['GET /health/**', 'GET /health/%2e%2e/admin', false],
    ['GET /health/**', 'GET /health/..%2fadmin', false],
    ['GET /orders/*', 'GET /orders/%2e%2e', false],
    ['GET /orders/*', 'GET /orders/1?x=/admin', true],
    ['GET /a', 'GET /a?b=1', true],
    ['GET /a b', 'GET /a%20b', true],
    ['GET /a', 'GET /a%zz', false],
    // A segment that is a dot segment once its ;params are stripped climbs too (Tomcat, Spring).
    ['* /health/**', 'GET /health/..;/admin', false],
    ['* /health/**', 'GET /health/%2e%2e;/admin', false],
    ['* /health/**', 'GET /health/.;x/admin', false],
    ['* /health/**', 'GET /health/..%3bx/admin', false],
    // Any ;params make the path not plain (/orders/; is /orders/ to Tomcat).
    ['* /health/**', 'GET /health/a;b/c', false],
    ['GET /orders/*', 'GET /orders/;', false],
    ['GET /orders/*', 'GET /orders/%3b', false],
    // Control characters, compatibility forms and runs of dots are another path to some server.
    ['GET /orders/*', 'GET /orders/..%09', false],
    ['GET /orders/*', 'GET /orders/%2e%2e%00', false],
    ['GET /orders/*', 'GET /orders/%00', false],
    ['GET /orders/*', 'GET /orders/．．', false],
    ['GET /orders/*', 'GET /orders/...', false],
    ['GET /orders/*', 'GET /orders/a.b', true],
    // A fragment is never part of a request target: one with it matches no rule.
    ['* /health/**', 'GET /health/x#/../../admin', false],
    ['* /health/**', 'GET /health/x?a=#b', true],
    ['* /health/**', 'GET /health/..%23/admin', false],
    ['* /health/**', 'GET /health/..%3f/admin', false],
    ['* /health/**', 'GET /health/x/..%23', false],
    ['* /health/**', 'GET /health/..%2523/x', false],
    ['* /health/**', 'GET /health/..%253F', false],
    ['* /health/**', 'GET /health/..%2500/x', false],
    // Encoded twice: a backend that decodes once more would climb, split or strip params.
    ['* /health/**', 'GET /health/%252e%252e/admin', false],
    ['* /health/**', 'GET /health/..%252fadmin', false],
    ['* /health/**', 'GET /health/a%255cb', false],
    ['* /health/**', 'GET /health/a%253bb', false],
    ['* /health/**', 'GET /health/100%25', true],
    ['* /health/**', 'GET /health/50%2525', false],
    // A backslash is a slash to some servers: the path is not plain.
    ['* /health/**', 'GET /health/a\\..\\..\\admin', false],
    ['* /health/**', 'GET /health/a%5c..%5cadmin', false],
    // A * is one segment, and a segment is never empty.
    ['GET /orders/*', 'GET /orders/', false],
    ['GET /orders/*/items', 'GET /orders//items', false],
    ['GET /v*/x', 'GET /v/x', true],
    // Methods are case-sensitive: a lower-case one matches only * or ANY.
    ['GET /orders/*', 'get /orders/1', false],
    ['* /orders/*', 'get /orders/1', true],
    ['ANY /orders/*', 'get /orders/1', true],
    // Windows trims a segment's trailing dots and spaces: `..%20` climbs like `..`.
    ['GET /health/**', 'GET /health/..%20/admin', false],
    ['GET /health/**', 'GET /health/..%20%20/admin', false],
    ['GET /health/**', 'GET /health/.%20./admin', false],
    ['GET /health/**', 'GET /health/..%20./admin', false],
    ['GET /health/**', 'GET /health/a%20b', true],
    ['GET /orders/*', 'GET /orders/%20', false],
    // Several stars in one segment: each is any run of characters within it.
    ['GET /reports/*-*.csv', 'GET /reports/2026-12.csv', true],
    ['GET /reports/*-*.csv', 'GET /reports/2026.csv', false],
    ['GET /reports/*-*.csv', 'GET /reports/a-b-c.csv', true],
    ['GET /reports/*.csv', 'GET /reports/.csv', true],
    ['GET /reports/a*b*c', 'GET /reports/abc', true],
    ['GET /reports/a*b*c', 'GET /reports/acb', false],
    ['GET /a/*/**', 'GET /a/b/', true],
    ['GET /a/*/**', 'GET /a/b', false],
    // Invisible characters a backend or a filter may strip: `\u200b..\u200b` would climb there.
    ['GET /health/**', 'GET /health/x/%e2%80%8b..%e2%80%8b/admin', false],
    ['GET /health/**', 'GET /health/x/%c2%ad..%c2%ad/admin', false],
    ['GET /health/**', 'GET /health/x/..%ef%bb%bf/admin', false],
    ['GET /health/**', 'GET /health/x/.%e2%80%8d./admin', false],
    ['GET /health/**', 'GET /health/x/..%cd%8f/admin', false],
    ['GET /health/**', 'GET /health/x/..%ef%b8%8f/admin', false],
    ['GET /health/**', 'GET /health/x/a%e2%80%a8b', false],
    // Other non-ASCII text stays plain.
    ['GET /health/**', 'GET /health/caf%c3%a9', true],
  ])('%s against %s is %s', (rule, route, expected) => {
    expect(routeMatches(rule, route)).toBe(expected);
  });
});

describe('routeMatches on a path built to make a matcher backtrack', () => {
  it('answers a rule of several stars against thousands of dashes (a backtracking pattern took minutes)', () => {
    const long = `/reports/${'-'.repeat(20_000)}`;
    expect(routeMatches('GET /reports/*-*-*-*.csv', `GET ${long}`)).toBe(false);
    expect(routeMatches('GET /reports/*-*-*-*.csv', `GET ${long}.csv`)).toBe(true);
    expect(routeMatches('GET /reports/*a*a*a*a*b', `GET /reports/${'a'.repeat(20_000)}`)).toBe(false);
  });
});

describe('the index', () => {
  it('refuses bytes that are not an index, and a truncated one', () => {
    const bytes = buildIndex({
      entries: entries(),
      revocation: emptyRevocation(),
      serials: () => new Uint8Array(),
      revision: 1,
      truststoreSha256: 'a'.repeat(64),
      builtAt: NOW.toISOString(),
    });
    expect(() => RevocationIndex.load(new Uint8Array(Buffer.from('-----BEGIN CERTIFICATE-----')))).toThrow(
      /TRXIDX2/,
    );
    expect(() => RevocationIndex.load(bytes.subarray(0, 40))).toThrow(/truncated/);
    expect(RevocationIndex.load(bytes).header.cas.map((c) => c.partner)).toEqual([
      'acme',
      'acme',
      'beta',
      'beta',
    ]);
  });

  it('is the same bytes for the same input, and counts every revoked entry once', () => {
    const sets = new Map<string, Uint8Array>();
    const rev = {
      ...emptyRevocation(),
      crls: { x: held(sets, acmeCa, [{ serial: '0a11ce' }, { serial: '0b0b' }]) },
      manual: [
        { issuer: cert(acmeCa).fingerprint, serial: '0b0b', reason: 'r', by: 'me', at: NOW.toISOString() },
      ],
    };
    const build = () =>
      buildIndex({
        entries: entries(),
        revocation: rev,
        serials: (h) => sets.get(h)!,
        revision: 1,
        truststoreSha256: 'a'.repeat(64),
        builtAt: NOW.toISOString(),
      });
    expect(Buffer.from(build()).equals(Buffer.from(build()))).toBe(true);
    expect(RevocationIndex.load(build()).header.revoked).toBe(2);
  });
});
