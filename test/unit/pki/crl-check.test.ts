import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { crlOf } from '../../../cli/actions/diagnose.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { verifyClient } from '../../../shared/pki/verify.js';
import { tlv } from '../../fixtures/der.js';
import {
  type CrlSpec,
  crl,
  days,
  type Issued,
  intermediate,
  leaf,
  NOW,
  pemBlock,
  type RevokedSpec,
  root,
} from '../../fixtures/pki.js';

/**
 * `diagnose --plain-tls --crl <file>` judges as a server that checks the CRLs of the whole chain
 * (OpenSSL's -crl_check_all, which nginx's ssl_crl sets). Every verdict here is also put to
 * `openssl verify -crl_check_all` with the same certificates, CRL file and time: an ACCEPTED that
 * such a server refuses would be a wrong answer with exit 0.
 */
const ASK_OPENSSL = process.env.TRUSTROLL_MUTATION_SCOPE === undefined;

/** OpenSSL's verify error numbers, as diagnose's reason codes. */
const OPENSSL_CODES: Record<string, string> = {
  '3': 'crl-missing', // unable to get certificate CRL
  '8': 'crl-signature', // CRL signature failure
  '11': 'crl-not-yet-valid',
  '12': 'crl-expired',
  '23': 'revoked',
  '36': 'crl-critical',
  '35': 'crl-signer', // key usage does not include CRL signing
  '44': 'crl-scope',
};

let r: Issued;
let i: Issued;
let client: Issued;
let forger: Issued;
beforeAll(async () => {
  r = await root('CN=Check Root,O=Check');
  i = await intermediate('CN=Check Issuing CA,O=Check', r);
  client = await leaf('CN=check client,O=Check', i);
  forger = await root('CN=Check Forger,O=Elsewhere');
});

const p = (x: Issued) => parseCertificate(x.der);

/** diagnose's verdict on the client with this CRL file, and openssl's, which must agree. */
const judged = async (...crls: Promise<Uint8Array>[]) => judgedFor(client, i, ...crls);

/** The same for another client and issuing CA (under the same root). */
const judgedFor = async (client: Issued, i: Issued, ...crls: Promise<Uint8Array>[]) => {
  const file = (await Promise.all(crls)).map((der) => pemBlock('X509 CRL', der)).join('');
  const read = crlOf('check.crl', new Uint8Array(Buffer.from(file)));
  expect(read.problem).toBeUndefined();
  const ours = verifyClient({
    leaf: p(client),
    sent: [p(i)],
    trusted: [p(r)],
    at: NOW,
    purpose: 'clientAuth',
    apiGateway: false,
    crls: read.crls ?? [],
    crlCheck: true,
  });
  const verdict = { verdict: ours.verdict, code: ours.reasons[0]?.code };
  if (ASK_OPENSSL) {
    const dir = mkdtempSync(join(tmpdir(), 'trustroll-crl-check-'));
    for (const [name, pem] of [
      ['root.pem', r.pem],
      ['int.pem', i.pem],
      ['client.pem', client.pem],
      ['check.crl', file],
    ])
      writeFileSync(join(dir, name!), pem!);
    const o = spawnSync(
      'openssl',
      [
        'verify',
        '-purpose',
        'sslclient',
        '-crl_check_all',
        '-attime',
        String(Math.floor(NOW.getTime() / 1000)),
        '-CRLfile',
        join(dir, 'check.crl'),
        '-CAfile',
        join(dir, 'root.pem'),
        '-untrusted',
        join(dir, 'int.pem'),
        join(dir, 'client.pem'),
      ],
      { encoding: 'utf8' },
    );
    rmSync(dir, { recursive: true, force: true });
    const output = `${o.stdout}${o.stderr}`;
    const first = /error (\d+) at \d+ depth/.exec(output)?.[1];
    expect(verdict, `openssl verify -crl_check_all says: ${output}`).toEqual(
      o.status === 0
        ? { verdict: 'accept', code: undefined }
        : { verdict: 'reject', code: OPENSSL_CODES[first ?? ''] ?? `openssl error ${first}` },
    );
  }
  return ours;
};

const of = (issuer: Issued, revoked: (Issued | RevokedSpec)[] = [], spec: CrlSpec = {}) =>
  crl(issuer, revoked, { now: NOW, ...spec });
const expired = { thisUpdate: days(-10), nextUpdate: days(-1) };

describe('diagnose --plain-tls --crl: a server that checks the CRLs of the whole chain', () => {
  it('accepts a client when every CA of its path has a current CRL that does not list it', async () => {
    expect((await judged(of(i), of(r))).verdict).toBe('accept');
  });

  it("refuses when a CA's CRL is missing from the file, naming the CA whose CRL to add", async () => {
    const rootMissing = await judged(of(i));
    expect(rootMissing.reasons).toEqual([
      {
        code: 'crl-missing',
        message:
          'No CRL of CN=Check Root,O=Check that a server can use was given for CN=Check Issuing CA,O=Check ("unable to get certificate CRL"): a server that checks the CRLs of the whole chain (nginx\'s ssl_crl, openssl -crl_check_all) refuses it. Add the CRL of CN=Check Root,O=Check to the --crl file.',
      },
    ]);
    expect((await judged(of(r))).reasons[0]!.message).toContain(
      'No CRL of CN=Check Issuing CA,O=Check that a server can use was given for the client certificate CN=check client,O=Check',
    );
  });

  it('reads every CRL of the file: a client listed on the second is revoked', async () => {
    const res = await judged(of(r), of(i, [client]));
    expect(res.reasons.map((x) => x.code)).toEqual(['revoked']);
    expect(res.reasons[0]!.message).toContain('CN=check client,O=Check (serial ');
  });

  it('refuses an intermediate its root revoked, and the client first when both are listed', async () => {
    expect((await judged(of(i), of(r, [i]))).reasons[0]!.message).toMatch(
      /^CN=Check Issuing CA,O=Check \(serial/,
    );
    expect((await judged(of(i, [client]), of(r, [i]))).reasons[0]!.message).toMatch(
      /^CN=check client,O=Check/,
    );
  });

  it('refuses with an expired or a not yet valid CRL, saying until or from when', async () => {
    const old = await judged(of(i, [], expired), of(r));
    expect(old.reasons[0]!.code).toBe('crl-expired');
    expect(old.reasons[0]!.message).toContain(`expired on ${days(-1).toISOString()}`);
    const early = await judged(of(i, [], { thisUpdate: days(1), nextUpdate: days(10) }), of(r));
    expect(early.reasons[0]!.code).toBe('crl-not-yet-valid');
    expect(early.reasons[0]!.message).toContain(`not valid before ${days(1).toISOString()}`);
    // The root's CRL expired: the intermediate above the client is refused.
    expect((await judged(of(i), of(r, [], expired))).reasons[0]!.code).toBe('crl-expired');
    // An expired CRL listing the client: the expiry is what OpenSSL reports first.
    expect((await judged(of(i, [client], expired), of(r))).reasons[0]!.code).toBe('crl-expired');
  });

  it('takes a current CRL over an expired one of the same CA, and a CRL without nextUpdate as current', async () => {
    expect((await judged(of(i, [], expired), of(i), of(r))).verdict).toBe('accept');
    expect((await judged(of(i, [], { nextUpdate: null }), of(r))).verdict).toBe('accept');
  });

  it("refuses a CRL in the CA's name that another key signed: it is no CRL of that CA", async () => {
    // Its key identifier names the other key: no CRL of this CA.
    const withAki = await judged(of(i, [], { signedBy: forger }), of(r));
    expect(withAki.reasons[0]!.code).toBe('crl-missing');
    expect(withAki.reasons[0]!.message).toContain('names another key in its authorityKeyIdentifier');
    // Without one, it is taken as the CA's, and its signature fails.
    const noAki = await judged(of(i, [], { signedBy: forger, aki: false }), of(r));
    expect(noAki.reasons[0]!.code).toBe('crl-signature');
    expect(noAki.reasons[0]!.message).toContain('("CRL signature failure"');
    // The latest CRL is judged, signature and all: a forged newer one is not passed over.
    const older = of(i, [], { thisUpdate: days(-3) });
    const forgedNewer = of(i, [], { thisUpdate: days(-1), signedBy: forger, aki: false });
    expect((await judged(older, forgedNewer, of(r))).reasons[0]!.code).toBe('crl-signature');
  });

  it('refuses a client whose distribution points name CRLs for some reasons only', async () => {
    const uri = new Uint8Array(Buffer.from('http://crl.check.example/kc.crl', 'latin1'));
    // DistributionPoint { distributionPoint [0] { fullName [0] { URI } }, reasons [1] keyCompromise }
    const dp = tlv(0x30, tlv(0xa0, tlv(0xa0, tlv(0x86, uri))), new Uint8Array([0x81, 0x02, 0x06, 0x40]));
    const byReasons = await leaf('CN=check client reasons,O=Check', i, {
      extraExtensions: [{ oid: '2.5.29.31', value: tlv(0x30, dp) }],
    });
    const res = await judgedFor(byReasons, i, of(i), of(r));
    expect(res.reasons[0]!.code).toBe('crl-missing');
    expect(res.reasons[0]!.message).toContain('names its CRLs for some revocation reasons only');
  });

  it('takes a CRL with a key identifier from a CA whose certificate carries none (nothing to contradict it)', async () => {
    const noSki = await intermediate('CN=Check No SKI,O=Check', r, { ski: false });
    expect(p(noSki).subjectKeyId).toBeUndefined();
    const theirs = await leaf('CN=check client no ski,O=Check', noSki);
    expect((await judgedFor(theirs, noSki, of(noSki), of(r))).verdict).toBe('accept');
  });

  it('compares distribution point URIs byte for byte, as a server does', async () => {
    const cdp = await leaf('CN=check client cdp,O=Check', i, {
      crlDistributionPoints: ['http://crl.check.example/p1.crl'],
    });
    expect(
      (await judgedFor(cdp, i, of(i, [], { idp: { uris: ['http://crl.check.example/p1.crl'] } }), of(r)))
        .verdict,
    ).toBe('accept');
    for (const spelled of ['HTTP://CRL.CHECK.EXAMPLE/p1.crl', 'http://crl.check.example:80/p1.crl'])
      expect((await judgedFor(cdp, i, of(i, [], { idp: { uris: [spelled] } }), of(r))).reasons[0]!.code).toBe(
        'crl-scope',
      );
  });

  it('takes a critical reasonCode or invalidityDate of an entry as a critical extension a server cannot process', async () => {
    // Another serial than the client's, its reason (keyCompromise) marked critical.
    const criticalReason = {
      serial: '7777',
      extensions: [{ oid: '2.5.29.21', critical: true, value: new Uint8Array([0x0a, 0x01, 0x01]) }],
    };
    const res = await judged(of(i, [criticalReason]), of(r));
    expect(res.reasons[0]!.code).toBe('crl-critical');
    expect(res.reasons[0]!.message).toContain('(2.5.29.21 of an entry: "unhandled critical CRL extension")');
    // A critical issuing distribution point (as RFC 5280 requires) is one a server handles.
    expect((await judged(of(i, [], { idp: { onlyUser: true } }), of(r))).verdict).toBe('accept');
  });

  it('refuses a CRL whose distribution point scope leaves the certificate out, before its dates', async () => {
    const onlyCas = await judged(of(i, [], { idp: { onlyCA: true } }), of(r));
    expect(onlyCas.reasons[0]!.code).toBe('crl-scope');
    expect(onlyCas.reasons[0]!.message).toContain(
      'does not cover the client certificate CN=check client,O=Check',
    );
    expect(
      (await judged(of(i, [], { idp: { uris: ['http://crl.example/other.crl'] } }), of(r))).reasons[0]!.code,
    ).toBe('crl-scope');
    expect((await judged(of(i, [], { idp: { onlyCA: true }, ...expired }), of(r))).reasons[0]!.code).toBe(
      'crl-scope',
    );
    // The root's CRL for CAs only covers the intermediate; for end entities only, it does not.
    expect((await judged(of(i), of(r, [], { idp: { onlyCA: true } }))).verdict).toBe('accept');
    expect((await judged(of(i), of(r, [], { idp: { onlyUser: true } }))).reasons[0]!.code).toBe('crl-scope');
    expect((await judged(of(i, [], { idp: { onlyUser: true } }), of(r))).verdict).toBe('accept');
  });

  it('takes the latest of two current CRLs of one CA, whatever their order in the file', async () => {
    const older = of(i, [], { thisUpdate: days(-3), crlNumber: 11 });
    const newer = of(i, [client], { thisUpdate: days(-1), crlNumber: 12 });
    expect((await judged(older, newer, of(r))).reasons.map((x) => x.code)).toEqual(['revoked']);
    expect((await judged(newer, older, of(r))).reasons.map((x) => x.code)).toEqual(['revoked']);
    // The latest lists nothing: the client was taken off (an older CRL listing it does not count).
    const cleared = of(i, [], { thisUpdate: days(-1), crlNumber: 13 });
    expect((await judged(of(i, [client], { thisUpdate: days(-3) }), cleared, of(r))).verdict).toBe('accept');
  });

  it('takes a current CRL over a later one that expired or is not yet valid, and an in-scope one over a later out-of-scope one', async () => {
    const current = of(i, [], { thisUpdate: days(-10), nextUpdate: days(10) });
    // The later CRLs list the client: taking one of them would refuse it.
    const lapsed = of(i, [client], { thisUpdate: days(-2), nextUpdate: days(-1) });
    expect((await judged(lapsed, current, of(r))).verdict).toBe('accept');
    expect((await judged(current, lapsed, of(r))).verdict).toBe('accept');
    const early = of(i, [client], { thisUpdate: days(1), nextUpdate: days(10) });
    expect((await judged(early, current, of(r))).verdict).toBe('accept');
    expect((await judged(current, early, of(r))).verdict).toBe('accept');
    const forCas = of(i, [], { thisUpdate: days(-1), idp: { onlyCA: true } });
    expect((await judged(forCas, of(i, [], { thisUpdate: days(-3) }), of(r))).verdict).toBe('accept');
  });

  it('takes a CRL current from its thisUpdate instant and expired at its nextUpdate instant when choosing', async () => {
    // Issued at this instant, it is current and the latest: it lists the client.
    const now = of(i, [client], { thisUpdate: NOW, nextUpdate: days(2) });
    expect((await judged(of(i, [], { thisUpdate: days(-5) }), now, of(r))).reasons[0]!.code).toBe('revoked');
    // Expiring at this instant, it is not current: the older current one (listing the client) is taken.
    const ending = of(i, [], { thisUpdate: days(-1), nextUpdate: NOW });
    const older = of(i, [client], { thisUpdate: days(-5), nextUpdate: days(5) });
    expect((await judged(ending, older, of(r))).reasons[0]!.code).toBe('revoked');
  });

  it('keeps the first of two CRLs of one CA issued at the same instant', async () => {
    const listing = of(i, [client], { thisUpdate: days(-1), crlNumber: 21 });
    const clear = of(i, [], { thisUpdate: days(-1), crlNumber: 22 });
    expect((await judged(listing, clear, of(r))).reasons.map((x) => x.code)).toEqual(['revoked']);
    expect((await judged(clear, listing, of(r))).verdict).toBe('accept');
  });

  it('checks nothing when crlCheck is asked without CRLs', () => {
    const res = verifyClient({
      leaf: p(client),
      sent: [p(i)],
      trusted: [p(r)],
      at: NOW,
      purpose: 'clientAuth',
      apiGateway: false,
      crlCheck: true,
    });
    expect(res.verdict).toBe('accept');
  });

  it('counts a CRL as expired at its nextUpdate instant, and valid from its thisUpdate instant', async () => {
    expect((await judged(of(i, [], { thisUpdate: days(-2), nextUpdate: NOW }), of(r))).reasons[0]!.code).toBe(
      'crl-expired',
    );
    expect((await judged(of(i, [], { thisUpdate: NOW, nextUpdate: days(2) }), of(r))).verdict).toBe('accept');
  });

  it('has no use for a partition by reasons or an indirect CRL (no extended CRL support)', async () => {
    const byReasons = await judged(of(i, [client], { idp: { onlySomeReasons: true } }), of(r));
    expect(byReasons.reasons[0]!.code).toBe('crl-missing');
    expect(byReasons.reasons[0]!.message).toContain('is a partition by reasons (onlySomeReasons)');
    const indirect = await judged(of(i, [], { idp: { indirect: true } }), of(r));
    expect(indirect.reasons[0]!.code).toBe('crl-missing');
    expect(indirect.reasons[0]!.message).toContain('is an indirect CRL');
  });

  it('refuses the CRL of a CA whose keyUsage lacks cRLSign', async () => {
    const noCrlSign = await intermediate('CN=Check No CRL Sign,O=Check', r, { keyUsage: 32 });
    const theirs = await leaf('CN=check client 2,O=Check', noCrlSign);
    const res = await judgedFor(theirs, noCrlSign, of(noCrlSign), of(r));
    expect(res.reasons).toEqual([
      {
        code: 'crl-signer',
        message:
          'CN=Check No CRL Sign,O=Check may not sign CRLs (its keyUsage lacks cRLSign: "key usage does not include CRL signing"), so a server that checks CRLs cannot take its CRL and refuses the client certificate CN=check client 2,O=Check. Reissue the CA with cRLSign in its keyUsage.',
      },
    ]);
  });

  it('reads an entry with reason removeFromCRL as not revoked, as a server does', async () => {
    expect((await judged(of(i, [{ cert: client, reason: 'removeFromCRL' }]), of(r))).verdict).toBe('accept');
  });

  it('refuses a CRL with a critical extension a server does not handle, naming it', async () => {
    const res = await judged(
      of(i, [], {
        extraExtensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: new Uint8Array([5, 0]) }],
      }),
      of(r),
    );
    expect(res.reasons[0]!.code).toBe('crl-critical');
    expect(res.reasons[0]!.message).toContain('(1.3.6.1.4.1.55555.1: "unhandled critical CRL extension")');
    // Two of them are both named.
    const two = await judged(
      of(i, [], {
        extraExtensions: [
          { oid: '1.3.6.1.4.1.55555.1', critical: true, value: new Uint8Array([5, 0]) },
          { oid: '1.3.6.1.4.1.55555.2', critical: true, value: new Uint8Array([5, 0]) },
        ],
      }),
      of(r),
    );
    expect(two.reasons[0]!.message).toContain(
      '(1.3.6.1.4.1.55555.1, 1.3.6.1.4.1.55555.2: "unhandled critical CRL extension")',
    );
    // Beside a CRL without it, even an older one, that one is taken.
    const plain = of(i, [], { thisUpdate: days(-3) });
    const extended = of(i, [], {
      thisUpdate: days(-1),
      extraExtensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: new Uint8Array([5, 0]) }],
    });
    expect((await judged(extended, plain, of(r))).verdict).toBe('accept');
  });
});
