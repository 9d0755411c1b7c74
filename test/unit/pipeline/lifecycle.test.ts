import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { historyLines } from '../../../shared/pipeline/history.js';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import {
  applyPromotion,
  diffVersions,
  handleRemovalRequests,
  parseRemovalRequest,
  planPromotion,
  removeCas,
  rollbackTruststore,
  truststoreHistory,
} from '../../../shared/pipeline/lifecycle.js';
import type { PublishDeps } from '../../../shared/pipeline/publish.js';
import {
  indexFor,
  loadIndex,
  retiredEntries,
  revokeCertificate,
  setPartnerRules,
  unrevokeCertificate,
} from '../../../shared/pipeline/revocation.js';
import { loadState } from '../../../shared/pipeline/state-store.js';
import { domainStatus } from '../../../shared/pipeline/status.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { readInput } from '../../../shared/pki/read.js';
import { authorize } from '../../../shared/revocation/authorize.js';
import { RevocationIndex } from '../../../shared/revocation/index.js';
import { indexDisagreement } from '../../../shared/revocation/state.js';
import { KEYS } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import {
  crl,
  type Issued,
  intermediate,
  leaf,
  NOW,
  partnerChain,
  pemBlock,
  pemOf,
  root,
  toBytes,
} from '../../fixtures/pki.js';

/** The same EC public key with its point compressed (SEC 1: 02/03 and x), as another SPKI. */
const compressedSpki = (spki: Uint8Array): Uint8Array => {
  const der = Buffer.from(spki);
  const jwk = createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  const point = Buffer.concat([Buffer.from([y.at(-1)! & 1 ? 3 : 2]), x]);
  const algorithm = der.subarray(2, 4 + der[3]!);
  const bits = Buffer.concat([Buffer.from([0x03, point.length + 1, 0x00]), point]);
  return new Uint8Array(
    Buffer.concat([Buffer.from([0x30, algorithm.length + bits.length]), algorithm, bits]),
  );
};

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
});

let store: MemoryStore;
let gateway: FakeGateway;
let notifier: MemoryNotifier;
let deps: PublishDeps;
const fp = (i: Issued) => readInput({ name: 'x', bytes: i.der }).certificates[0]!.cert.fingerprint;
/** The one report kept for the request `base` (its key carries a tag). */
const reportOf = (base: string) => {
  const [key, ...more] = store.keys(base).filter((k) => k.endsWith('.report.json'));
  expect(more).toEqual([]);
  return store.text(key!);
};
const subjects = () =>
  readInput({ name: 't', bytes: toBytes(store.text(KEYS.truststore)) })
    .certificates.map((c) => c.cert.subject.text)
    .sort();

beforeEach(async () => {
  store = new MemoryStore();
  gateway = new FakeGateway('api.example.com');
  notifier = new MemoryNotifier();
  deps = {
    store,
    gateway,
    notifier,
    clock: new FakeClock(NOW.getTime()),
    log: memoryLog(),
    roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0, pollIntervalMs: 1 },
  };
  await seed('acme');
  await seed('beta');
});

/** A partner's root and issuing CA, uploaded and ingested. */
const seed = async (partner: 'acme' | 'beta') => {
  const c = partner === 'acme' ? acme : beta;
  const { version } = await store.put(`inbox/${partner}/ca.pem`, toBytes(pemOf(c.root, c.intermediate)));
  await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version }], {
    ...deps,
    config: { roll: deps.roll },
  });
};

describe('removal', () => {
  it('offboards a partner: its CAs go in one new version, rolled and alerted', async () => {
    const report = await removeCas(
      parseRemovalRequest({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' }),
      deps,
    );
    expect(report.outcome).toBe('changed');
    expect(report.removed.map((e) => e.subject).sort()).toEqual([
      'CN=Beta Issuing CA,O=Beta',
      'CN=Beta Root CA,O=Beta',
    ]);
    expect(subjects()).toEqual(['CN=Acme Issuing CA,O=Acme', 'CN=Acme Root CA,O=Acme']);
    expect(gateway.domains.get('api.example.com')!.version).toBe(report.version);
    const alert = notifier.sent.find((n) => n.eventType === 'truststore.removed')!;
    expect(alert).toMatchObject({ partner: 'beta', severity: 'warning' });
    expect(alert.body).toMatch(/ops asked to remove partner beta: contract ended/);
  });

  it("keeps an offboarded partner's CAs in the revocation index as retired for 7 days: a target still on the older version decides as that version", async () => {
    const report = await removeCas(
      parseRemovalRequest({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' }),
      deps,
    );
    expect(report.outcome).toBe('changed');
    const loaded = (await loadIndex(store))!;
    const retired = loaded.index.header.cas
      .filter((c) => c.retired)
      .map((c) => c.subject)
      .sort();
    expect(retired).toEqual(['CN=Beta Issuing CA,O=Beta', 'CN=Beta Root CA,O=Beta']);
    const d = authorize(loaded.index, parseCertificate(beta.client.der), undefined, { now: NOW });
    expect(d.decision).toBe('allow');
    expect(d.reasons.map((r) => r.code)).toEqual(['ca.retired']);
    // Until when, and how to deny one before then; the removal's alert says so too.
    expect(d.reasons[0]!.message).toContain(
      `decided as before until ${new Date(NOW.getTime() + 7 * 86_400_000).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
    expect(d.reasons[0]!.message).toMatch(/To deny one before then: trustroll revoke\.$/);
    expect(notifier.sent.find((n) => n.eventType === 'truststore.removed')!.body).toMatch(
      /lets them in for 7 more days: the revocation index keeps these CAs as retired/,
    );
    expect(d.partner).toBe('beta');
    // Not damage: the index and the state agree on the CAs held.
    const { state } = await loadState(store);
    expect(indexDisagreement(loaded.index.header, state)).toEqual([]);
    // Eight days after the removal, an index built then no longer holds them.
    expect(
      retiredEntries(state, NOW)
        .map((e) => e.subject)
        .sort(),
    ).toEqual(retired);
    expect(retiredEntries(state, new Date(NOW.getTime() + 8 * 86_400_000))).toEqual([]);
  });

  it('takes rules for an offboarded partner while its CAs are retired (its clients still get in), and their clearing after', async () => {
    await removeCas(
      parseRemovalRequest({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' }),
      deps,
    );
    const clock = new FakeClock(NOW.getTime());
    const r = { store, log: memoryLog(), clock };
    await setPartnerRules(r, 'beta', { routes: ['GET /status'] });
    const index = (await loadIndex(store))!.index;
    const d = authorize(index, parseCertificate(beta.client.der), 'POST /orders', { now: NOW });
    expect([d.decision, d.reasons.map((x) => x.code)]).toEqual(['deny', ['route.denied']]);
    const ok = authorize(index, parseCertificate(beta.client.der), 'GET /status', { now: NOW });
    expect([ok.decision, ok.reasons.map((x) => x.code)]).toEqual(['allow', ['ca.retired']]);
    // A partner with no CA at all: refused, naming the partners there are.
    await expect(setPartnerRules(r, 'gamma', { routes: ['GET /x'] })).rejects.toThrow(
      /^no CA of the truststore belongs to partner gamma \(partners: acme, beta\)/,
    );
    // Once the retirement is over, beta's rules can still be cleared, not set.
    clock.advance(8 * 86_400_000);
    await expect(setPartnerRules(r, 'beta', { routes: ['GET /x'] })).rejects.toThrow(
      /^no CA of the truststore belongs to partner beta \(partners: acme\)/,
    );
    await setPartnerRules(r, 'beta', {});
    expect((await loadState(store)).state.revocation!.rules).toEqual({});
  });

  it('removes a root by fingerprint prefix together with the CAs left without a path to a root', async () => {
    const report = await removeCas(
      { fingerprints: [fp(acme.root).slice(0, 16)], reason: 'compromised', requestedBy: 'sec' },
      deps,
    );
    expect(report.removed.map((e) => e.fingerprint).sort()).toEqual(
      [fp(acme.root), fp(acme.intermediate)].sort(),
    );
    expect(notifier.sent.find((n) => n.eventType === 'truststore.removed')!.body).toMatch(
      /Acme Issuing CA.*no path to a root/,
    );
  });

  it('rejects a request that names nothing in the truststore, changing nothing', async () => {
    const before = store.text(KEYS.state);
    const report = await removeCas({ subject: 'CN=Nobody', reason: 'x', requestedBy: 'y' }, deps);
    expect(report).toMatchObject({ outcome: 'rejected', message: expect.stringMatching(/names no CA/) });
    expect(store.text(KEYS.state)).toBe(before);
  });

  it('refuses malformed requests with what to fix', () => {
    expect(() => parseRemovalRequest({ reason: 'x', requestedBy: 'y' })).toThrow(/name what to remove/);
    expect(() => parseRemovalRequest({ partner: 'beta' })).toThrow(
      /reason is required; requestedBy is required/,
    );
  });
});

describe('rollback, history and diff', () => {
  it('restores the previous CA set as a new version and rolls to it', async () => {
    const removal = await removeCas({ partner: 'beta', reason: 'offboarding', requestedBy: 'ops' }, deps);
    const back = await rollbackTruststore(undefined, deps);
    expect(back.outcome).toBe('changed');
    expect(back.added.map((e) => e.partner)).toEqual(['beta', 'beta']);
    expect(back.revision).toBe(removal.revision + 1);
    expect(back.version).not.toBe(removal.version);
    expect(subjects()).toHaveLength(4);
    expect(gateway.domains.get('api.example.com')!.version).toBe(back.version);
    await expect(rollbackTruststore('no-such-version', deps)).rejects.toThrow(/not a truststore version/);
  });

  it('lists every version with what changed, why and when; diff names the CAs with partner and expiry', async () => {
    await removeCas({ partner: 'beta', reason: 'offboarding', requestedBy: 'ops' }, deps);
    await rollbackTruststore('2', deps);
    const history = await truststoreHistory(store);
    expect(history.map((h) => [h.revision, h.reason])).toEqual([
      [4, expect.stringMatching(/^rollback to version .* \(revision 2\)$/)],
      [3, 'removal requested by ops: offboarding'],
      [2, 'uploads inbox/beta/ca.pem'],
      [1, 'uploads inbox/acme/ca.pem'],
    ]);
    expect(history[1]!.removed.map((r) => r.partner)).toEqual(['beta', 'beta']);
    const diff = await diffVersions(store, '2', '3');
    expect(diff.removed.map((d) => [d.subject, d.partner])).toEqual([
      ['CN=Beta Issuing CA,O=Beta', 'beta'],
      ['CN=Beta Root CA,O=Beta', 'beta'],
    ]);
    expect(diff.added).toEqual([]);
    expect(diff.removed[0]!.notAfter).toMatch(/^\d{4}-/);
  });

  it('explains an older version that expired (or was deleted), and keeps working: it is not damage', async () => {
    // Revision 1's version goes, as S3's noncurrent-version expiration would take it.
    const v1 = (await truststoreHistory(store)).find((h) => h.revision === 1)!.version!;
    const versions = store.objects.get(KEYS.truststore)!;
    versions.splice(
      versions.findIndex((v) => v.version === v1),
      1,
    );
    const gone = new RegExp(
      `version ${v1} \\(revision 1\\) is no longer in the store: .*noncurrent-version retention`,
    );
    await expect(rollbackTruststore('1', deps)).rejects.toThrow(gone);
    await expect(diffVersions(store, '1', '2')).rejects.toThrow(gone);
    // The store goes on: a change is made, published and rolled.
    const removal = await removeCas({ partner: 'beta', reason: 'offboarding', requestedBy: 'ops' }, deps);
    expect(removal.outcome).toBe('changed');
    expect(gateway.domains.get('api.example.com')!.version).toBe(removal.version);
  });
});

describe('status and drift', () => {
  it('says whether each domain is on the latest version, and flags a version trustroll never published', async () => {
    const [ok] = await domainStatus(deps);
    expect(ok).toMatchObject({ name: 'api.example.com', status: 'AVAILABLE', latest: true });
    expect(ok!.drift).toBeUndefined();
    gateway.domains.get('api.example.com')!.version = 'hand-edited-version';
    const [drifted] = await domainStatus(deps);
    expect(drifted).toMatchObject({ latest: false, drift: expect.stringMatching(/never published/) });
  });
});

describe('removal requests dropped into requests/', () => {
  it('carries out a valid request and archives it with a report; rejects invalid ones with the reason', async () => {
    await store.put(
      'requests/offboard-beta.json',
      toBytes(JSON.stringify({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' })),
    );
    await store.put('requests/broken.json', toBytes('{ partner: beta'));
    await store.put(
      'requests/nothing.json',
      toBytes(JSON.stringify({ subject: 'CN=Nobody', reason: 'x', requestedBy: 'y' })),
    );
    const outcomes = await handleRemovalRequests(
      [
        'requests/offboard-beta.json',
        'requests/broken.json',
        'requests/nothing.json',
        'requests/gone.json',
      ].map((key) => ({ key })),
      deps,
    );
    expect(outcomes.map((o) => [o.key, o.outcome])).toEqual([
      ['requests/offboard-beta.json', 'done'],
      ['requests/broken.json', 'rejected'],
      ['requests/nothing.json', 'rejected'],
      ['requests/gone.json', 'missing'],
    ]);
    expect(subjects()).toEqual(['CN=Acme Issuing CA,O=Acme', 'CN=Acme Root CA,O=Acme']);
    expect(store.keys('requests/')).toEqual([]);
    // Only the report (with the parsed request) is kept, never the request's raw bytes.
    expect(store.keys('archive/requests/')).toEqual([
      expect.stringMatching(/^archive\/requests\/offboard-beta\.json@[0-9a-f]{10}\.report\.json$/),
    ]);
    expect(JSON.parse(reportOf('archive/requests/offboard-beta.json'))).toMatchObject({
      key: 'requests/offboard-beta.json',
      outcome: 'done',
      report: { request: { partner: 'beta', reason: 'contract ended', requestedBy: 'ops' } },
    });
    expect(store.objects.has('requests/offboard-beta.json')).toBe(false);
    expect(JSON.parse(reportOf('rejected/requests/broken.json')).message).toMatch(/not valid JSON/);
    expect(JSON.parse(reportOf('rejected/requests/nothing.json')).message).toMatch(/names no CA/);
  });

  it('refuses a request carrying a private key: nothing removed, its text kept nowhere, alerted as a key', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    const keyDer = key.export({ type: 'pkcs8', format: 'der' }) as Buffer;
    const requests = {
      'requests/pem-reason.json': { partner: 'beta', reason: `offboarding\n${keyPem}`, requestedBy: 'ops' },
      'requests/hex-reason.json': {
        partner: 'beta',
        reason: keyDer.toString('hex').match(/../g)!.join(':'),
        requestedBy: 'ops',
      },
      'requests/unknown-field.json': { partner: 'beta', reason: 'x', requestedBy: 'y', note: keyPem },
    };
    for (const [k, body] of Object.entries(requests)) await store.put(k, toBytes(JSON.stringify(body)));
    const before = subjects();
    const outcomes = await handleRemovalRequests(
      Object.keys(requests).map((k) => ({ key: k })),
      deps,
    );
    expect(outcomes.map((o) => o.outcome)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(outcomes[0]!.message).toMatch(/holds a PEM private key; nothing was removed/);
    expect(subjects()).toEqual(before);
    expect(store.keys('requests/')).toEqual([]);
    const body64 = keyDer.toString('base64').slice(40, 72);
    const hexWindow = keyDer.toString('hex').slice(40, 72).match(/../g)!.join(':');
    const everything = [
      store.allBytes().toString('latin1'),
      JSON.stringify(notifier.sent),
      JSON.stringify((deps.log as ReturnType<typeof memoryLog>).lines),
    ].join('\n');
    expect(everything.includes(body64)).toBe(false);
    expect(everything.includes(hexWindow)).toBe(false);
    expect(everything).not.toMatch(/BEGIN PRIVATE KEY/);
    const alerts = notifier.sent.filter((n) => n.eventType === 'upload.private-key');
    expect(alerts.map((n) => n.severity)).toEqual(['critical', 'critical', 'critical']);
    expect(notifier.sent.filter((n) => n.eventType === 'truststore.removed')).toEqual([]);
  });

  it('refuses a key in the fields of trustroll remove as well, without echoing it', () => {
    const keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    }) as string;
    const parse = () => parseRemovalRequest({ partner: 'beta', reason: keyPem, requestedBy: 'ops' });
    expect(parse).toThrow(/holds a PEM private key; nothing was removed and its text was not kept/);
    expect(parse).not.toThrow(/BEGIN/);
  });

  it('keeps one report per request, also for two requests of the same file name', async () => {
    for (const partner of ['beta', 'nobody']) {
      await store.put(
        'requests/offboard.json',
        toBytes(JSON.stringify({ partner, reason: 'contract ended', requestedBy: 'ops' })),
      );
      await handleRemovalRequests([{ key: 'requests/offboard.json' }], deps);
    }
    await store.put(
      'requests/offboard.json',
      toBytes(JSON.stringify({ partner: 'acme', reason: 'contract ended', requestedBy: 'ops' })),
    );
    await handleRemovalRequests([{ key: 'requests/offboard.json' }], deps);
    const reports = [...store.keys('archive/requests/'), ...store.keys('rejected/requests/')];
    expect(reports).toHaveLength(3);
    expect(reports.map((k) => JSON.parse(store.text(k)).report.request?.partner).sort()).toEqual([
      'acme',
      'beta',
      'nobody',
    ]);
  });

  it('refuses a request over 64 KiB from its size alone, without reading it', async () => {
    await store.put(
      'requests/huge.json',
      toBytes(JSON.stringify({ partner: 'beta', reason: 'x'.repeat(70_000), requestedBy: 'ops' })),
    );
    store.beforeOp = (op, key) => {
      if (op === 'get' && key === 'requests/huge.json') throw new Error('read');
    };
    const [outcome] = await handleRemovalRequests([{ key: 'requests/huge.json' }], deps);
    expect(outcome).toMatchObject({ outcome: 'rejected' });
    expect(outcome!.message).toMatch(
      /is \d+ bytes; a removal request is a small JSON file of at most 65536 bytes/,
    );
    expect(subjects()).toHaveLength(4);
    expect(store.keys('requests/')).toEqual([]);
  });

  it('refuses a request that would leave the truststore empty, and changes nothing', async () => {
    await removeCas({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' }, deps);
    const revision = (await truststoreHistory(store)).at(-1)!.revision;
    await store.put(
      'requests/last.json',
      toBytes(JSON.stringify({ partner: 'acme', reason: 'contract ended', requestedBy: 'ops' })),
    );
    const [outcome] = await handleRemovalRequests([{ key: 'requests/last.json' }], deps);
    expect(outcome).toMatchObject({ outcome: 'rejected' });
    expect(outcome!.message).toMatch(
      /every CA in the truststore \(2\).*API Gateway refuses an empty truststore/,
    );
    expect(subjects()).toEqual(['CN=Acme Issuing CA,O=Acme', 'CN=Acme Root CA,O=Acme']);
    expect((await truststoreHistory(store)).at(-1)!.revision).toBe(revision);
    expect(notifier.sent.map((n) => n.eventType)).not.toContain('truststore.roll-failed');
  });

  it.each([
    [{ subject: 5, reason: 'x', requestedBy: 'y' }, /subject must be a non-empty string/],
    [
      { fingerprints: [123456789012], reason: 'x', requestedBy: 'y' },
      /fingerprints must be a non-empty list/,
    ],
    [{ fingerprints: ['::::::::::::'], reason: 'x', requestedBy: 'y' }, /12 to 64 hex digits/],
    [{ fingerprints: ['09:23:f6:3a:'], reason: 'x', requestedBy: 'y' }, /12 to 64 hex digits/],
    [{ partner: 'beta', reason: 'x', requestedBy: 'y', fingerprint: 'ab' }, /unknown field "fingerprint"/],
    [{ partner: 'beta' }, /reason is required; requestedBy is required/],
    [[1, 2], /a removal request is a JSON object/],
  ])('rejects %j with a message saying what is wrong, and removes nothing', async (request, message) => {
    await store.put('requests/bad.json', toBytes(JSON.stringify(request)));
    const before = subjects();
    const [outcome] = await handleRemovalRequests([{ key: 'requests/bad.json' }], deps);
    expect(outcome).toMatchObject({ outcome: 'rejected' });
    expect(outcome!.message).toMatch(message);
    expect(subjects()).toEqual(before);
  });

  it('carries out a request once, even when its event is delivered again after a crash', async () => {
    const { version } = await store.put(
      'requests/offboard-beta.json',
      toBytes(JSON.stringify({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' })),
    );
    // The commit happens, the archiving does not (the process dies): the request stays.
    let crash = true;
    store.beforeOp = (op, key) => {
      if (crash && op === 'put' && key.startsWith('archive/requests/')) throw new Error('killed');
    };
    await expect(
      handleRemovalRequests([{ key: 'requests/offboard-beta.json', version }], deps),
    ).rejects.toThrow('killed');
    crash = false;
    const afterFirst = subjects();
    expect(afterFirst.some((s) => s.includes('Beta'))).toBe(false);
    // Beta comes back before the redelivery: the old request must not take it out again.
    await seed('beta');
    const [again] = await handleRemovalRequests([{ key: 'requests/offboard-beta.json', version }], deps);
    expect(again).toMatchObject({ outcome: 'done' });
    expect(again!.message).toMatch(/carried out already/);
    expect(subjects().some((s) => s.includes('Beta'))).toBe(true);
    expect(store.objects.has('requests/offboard-beta.json')).toBe(false);
  });

  it('does not carry out a request withdrawn or replaced before it was handled, and keeps no version of it', async () => {
    const first = await store.put(
      'requests/offboard-beta.json',
      toBytes(JSON.stringify({ partner: 'beta', reason: 'contract ended', requestedBy: 'ops' })),
    );
    await store.delete('requests/offboard-beta.json');
    const [withdrawn] = await handleRemovalRequests(
      [{ key: 'requests/offboard-beta.json', version: first.version }],
      deps,
    );
    expect(withdrawn).toMatchObject({ outcome: 'missing' });
    expect(subjects().some((s) => s.includes('Beta'))).toBe(true);
    // Only the partner's own delete marker is left: no version holds the request's bytes.
    expect((store.objects.get('requests/offboard-beta.json') ?? []).filter((v) => v.body)).toEqual([]);
  });
});

describe('changes by hand are alerted (revocation.changed)', () => {
  it('says who revoked what and why, its taking back, and a change of rules, each to the partner concerned', async () => {
    const r = { store, log: memoryLog(), clock: deps.clock, notifier };
    const issuer = fp(acme.intermediate);
    await revokeCertificate(r, {
      issuer,
      serial: '0badc0de',
      reason: 'laptop stolen',
      by: 'sec',
      subject: 'CN=bob',
    });
    await revokeCertificate(r, { issuer, serial: '0badc0de', reason: 'again', by: 'sec' });
    // A fingerprint prefix in capitals, as openssl prints it: the alert still names the CA.
    await unrevokeCertificate(r, { issuer: issuer.slice(0, 16).toUpperCase(), serial: '0badc0de' });
    await setPartnerRules(r, 'beta', { routes: ['GET /status'] });
    const sent = notifier.sent.filter((n) => n.eventType === 'revocation.changed');
    expect(sent.map((n) => [n.partner, n.subject])).toEqual([
      ['acme', '[trustroll] revoked by hand: serial 0badc0de of CN=Acme Issuing CA,O=Acme'],
      ['acme', '[trustroll] revocation taken back: serial 0badc0de of CN=Acme Issuing CA,O=Acme'],
      ['beta', '[trustroll] identity rules of partner beta changed'],
    ]);
    expect(sent[0]!.body).toMatch(
      /^sec revoked CN=bob \(serial 0badc0de\) issued by CN=Acme Issuing CA,O=Acme \(partner acme\): laptop stolen\./,
    );
    expect(sent[2]!.body).toMatch(/must now match: the routes GET \/status\./);
    expect(new Set(sent.map((n) => n.id)).size).toBe(3);
  });
});

describe('promotion never moves a CA to another partner', () => {
  /** A second environment whose store got `chain` through `partner`'s inbox. */
  const sourceWith = async (partner: string, chain: Awaited<ReturnType<typeof partnerChain>>) => {
    const source = new MemoryStore();
    const { version } = await source.put(
      `inbox/${partner}/ca.pem`,
      toBytes(pemOf(chain.root, chain.intermediate)),
    );
    await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version }], {
      ...deps,
      store: source,
      config: { roll: { ...deps.roll, domains: [] } },
    });
    return source;
  };

  it("refuses CAs of acme's names held for beta in the source: acme's clients would become beta's at the door", async () => {
    // In the source, beta uploaded CAs with acme's names (another key): the source's own lint
    // has nothing against that, but in the target those names are acme's.
    const source = await sourceWith('beta', await partnerChain('Acme'));
    const before = store.text(KEYS.state);
    const plan = await planPromotion(source, store);
    expect(plan.refused).toHaveLength(2);
    expect(plan.refused[0]).toMatch(
      /of partner beta in the source \(partner acme in the target\): Another partner already has a CA named/,
    );
    const report = await applyPromotion(plan, 'dev', deps);
    expect(report.outcome).toBe('rejected');
    expect(report.message).toMatch(/never moves a CA to another partner/);
    expect(report.message).toMatch(/trustroll remove/);
    expect(store.text(KEYS.state)).toBe(before);
  });

  it("refuses a CA of beta's issued by a root the target holds for acme", async () => {
    // The source holds acme's very root for beta, and an intermediate under it: the root keeps
    // its target partner (acme), so the new intermediate would be beta's CA under acme's root.
    const source = new MemoryStore();
    const other = await intermediate('CN=Beta Issuing Under Acme', acme.root);
    const { version } = await source.put('inbox/beta/ca.pem', toBytes(pemOf(acme.root, other)));
    await ingestUploads([{ key: 'inbox/beta/ca.pem', version }], {
      ...deps,
      store: source,
      config: { roll: { ...deps.roll, domains: [] } },
    });
    const plan = await planPromotion(source, store);
    expect(plan.refused).toEqual([
      expect.stringMatching(
        /^CN=Beta Issuing Under Acme of partner beta in the source \(partner acme in the target\): Its issuer .* is in the truststore for another partner/,
      ),
    ]);
  });

  it("says which of the source's revocations and rules it does not carry, and a CA that stays the target's partner's", async () => {
    // The source: acme's very CAs held for beta, a CRL and a revocation by hand under them, rules.
    const source = new MemoryStore();
    const sourceDeps = { ...deps, store: source, config: { roll: { ...deps.roll, domains: [] } } };
    const put = async (key: string, body: string) => {
      const { version } = await source.put(key, toBytes(body));
      await ingestUploads([{ key, version }], sourceDeps);
    };
    await put('inbox/beta/ca.pem', pemOf(acme.root, acme.intermediate));
    const crlPem = pemBlock('X509 CRL', await crl(acme.intermediate, [], { crlNumber: 4 }));
    await put('inbox/beta/crl/i.crl', crlPem);
    const r = { store: source, log: memoryLog(), clock: deps.clock };
    await revokeCertificate(r, {
      issuer: fp(acme.intermediate),
      serial: '0badc0de',
      reason: 'lost',
      by: 'ops',
    });
    await setPartnerRules(r, 'beta', { routes: ['GET /x'] });
    const plan = await planPromotion(source, store, undefined, 'prod');
    expect([plan.added, plan.removed, plan.refused]).toEqual([[], expect.any(Array), []]);
    expect(plan.otherPartner.map((x) => [x.subject, x.partner, x.sourcePartner])).toEqual([
      ['CN=Acme Root CA,O=Acme', 'acme', 'beta'],
      ['CN=Acme Issuing CA,O=Acme', 'acme', 'beta'],
    ]);
    expect(plan.notCarried).toEqual([
      "the CRL of CN=Acme Issuing CA,O=Acme (CRL number 4, 0 revoked): upload it to the target's inbox/beta/crl/",
      `serial 0badc0de under CN=Acme Issuing CA,O=Acme, revoked by hand by ops (lost): trustroll revoke --store prod --serial 0badc0de --issuer ${fp(acme.intermediate)} --reason …`,
      'the identity rules of partner beta (routes GET /x), which differ in the target: trustroll rules --store prod --partner beta …',
    ]);
    // The same CRL (the same bytes) held by the target is not named.
    const { version } = await store.put('inbox/acme/crl/i.crl', toBytes(crlPem));
    await ingestUploads([{ key: 'inbox/acme/crl/i.crl', version }], { ...deps, config: { roll: deps.roll } });
    const again = await planPromotion(source, store, undefined, 'prod');
    expect(again.notCarried).toEqual(plan.notCarried.slice(1));
  });

  it("gives a CA the target once removed the partner its diff showed, not the removed one's", async () => {
    await removeCas(parseRemovalRequest({ partner: 'acme', reason: 'offboarded', requestedBy: 'ops' }), deps);
    const source = await sourceWith('gamma', acme);
    const plan = await planPromotion(source, store);
    expect(plan.refused).toEqual([]);
    expect(plan.added.map((x) => x.partner)).toEqual(['gamma', 'gamma']);
    expect((await applyPromotion(plan, 'dev', deps)).outcome).toBe('changed');
    const held = (await loadState(store)).state.entries.filter((e) => e.subject.startsWith('CN=Acme'));
    expect(held.map((e) => e.partner)).toEqual(['gamma', 'gamma']);
  });

  it('names the CAs the source denies the clients of (revoked, or of a revoked key), with the command for each', async () => {
    const renamed = await intermediate('CN=Acme Issuing 2027,O=Acme', acme.root, {
      spki: parseCertificate(acme.intermediate.der).publicKey.spki,
    });
    const source = new MemoryStore();
    const { version } = await source.put(
      'inbox/acme/ca.pem',
      toBytes(pemOf(acme.root, acme.intermediate, renamed)),
    );
    await ingestUploads([{ key: 'inbox/acme/ca.pem', version }], {
      ...deps,
      store: source,
      config: { roll: { ...deps.roll, domains: [] } },
    });
    await revokeCertificate(
      { store: source, log: memoryLog(), clock: deps.clock },
      {
        issuer: fp(acme.root),
        serial: parseCertificate(acme.intermediate.der).serial,
        reason: 'key lost',
        by: 'sec',
      },
    );
    const plan = await planPromotion(source, store, undefined, 'prod');
    const revoked = plan.notCarried
      .filter((x) => / is revoked in the source /.test(x))
      .sort()
      .reverse();
    expect(revoked).toEqual([
      expect.stringMatching(
        new RegExp(
          `^CN=Acme Issuing CA,O=Acme is revoked in the source .*: trustroll revoke --store prod --serial ${parseCertificate(acme.intermediate.der).serial} --issuer ${fp(acme.root)} --reason …$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^CN=Acme Issuing 2027,O=Acme is revoked in the source \\(its key is revoked: .*\\): trustroll revoke --store prod --serial ${parseCertificate(renamed.der).serial} --issuer ${fp(acme.root)} --reason …$`,
        ),
      ),
    ]);
  });

  it("promotes acme's renewed CAs kept for acme (same names, same partner)", async () => {
    const source = await sourceWith('acme', await partnerChain('Acme'));
    const plan = await planPromotion(source, store);
    expect(plan.refused).toEqual([]);
    expect(plan.added).toHaveLength(2);
    const report = await applyPromotion(plan, 'dev', deps);
    expect(report.outcome).toBe('changed');
  });
});

describe("a CA removed lately stays its partner's until its retirement ends", () => {
  const upload = async (key: string, body: string) => {
    const { version } = await store.put(key, toBytes(body));
    return (await ingestUploads([{ key, version }], { ...deps, config: { roll: deps.roll } })).uploads[0]!;
  };
  const decide = async (cert: ReturnType<typeof parseCertificate>, route?: string) => {
    const { state } = await loadState(store);
    const index = RevocationIndex.load(await indexFor(store, state, NOW));
    return authorize(index, cert, route, { now: NOW });
  };

  beforeEach(async () => {
    await setPartnerRules({ store, log: memoryLog(), clock: deps.clock }, 'acme', {
      routes: ['GET /acme/**'],
    });
    await removeCas(
      parseRemovalRequest({ fingerprints: [fp(acme.intermediate)], reason: 'withdrawn', requestedBy: 'ops' }),
      deps,
    );
    const d = await decide(parseCertificate(acme.client.der), 'GET /admin');
    expect([d.decision, d.partner, d.reasons.map((r) => r.code)]).toEqual(['deny', 'acme', ['route.denied']]);
  });

  it("refuses another partner's look-alike of it (its name and key, under the other partner's root), and its copy", async () => {
    const lookAlike = await intermediate('CN=Acme Issuing CA,O=Acme', beta.root, {
      spki: parseCertificate(acme.intermediate.der).publicKey.spki,
    });
    const r = await upload('inbox/beta/look.pem', lookAlike.pem);
    expect(r.outcome).toBe('rejected');
    expect(r.certificates[0]!.findings).toEqual([
      expect.objectContaining({
        code: 'ca.other-partner',
        message: expect.stringMatching(
          /^Another partner had a CA named "CN=Acme Issuing CA,O=Acme" \(CN=Acme Issuing CA,O=Acme \(sha256 [0-9a-f]{16}…\)\)\. It was removed from that partner lately, but the door still decides its clients as that partner's until \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
        ),
      }),
    ]);
    const copy = await upload('inbox/beta/copy.pem', acme.intermediate.pem);
    expect(copy.outcome).toBe('rejected');
    expect(copy.certificates[0]!.findings[0]!.message).toMatch(
      /^This CA is another partner's\. It was removed from that partner lately/,
    );
    // Acme's client is still acme's: its rules still apply.
    const d = await decide(parseCertificate(acme.client.der), 'GET /admin');
    expect([d.decision, d.partner]).toEqual(['deny', 'acme']);
    expect((await decide(parseCertificate(acme.client.der), 'GET /acme/x')).decision).toBe('allow');
  });

  it("refuses another partner's CA under a retired root, and lets the partner itself upload its CA again", async () => {
    await removeCas(parseRemovalRequest({ partner: 'acme', reason: 'offboarded', requestedBy: 'ops' }), deps);
    const under = await intermediate('CN=Beta Under Acme,O=Beta', acme.root);
    const r = await upload('inbox/beta/under.pem', under.pem);
    expect(r.outcome).toBe('rejected');
    expect(r.certificates[0]!.findings[0]!.message).toMatch(
      /^Its issuer CN=Acme Root CA,O=Acme .* is another partner's\. It was removed/,
    );
    expect((await upload('inbox/acme/again.pem', pemOf(acme.root, acme.intermediate))).outcome).toBe(
      'accepted',
    );
  });

  it('lets another partner take the CA once the retirement is over, and history gives each revision its partner then', async () => {
    await removeCas(parseRemovalRequest({ partner: 'acme', reason: 'offboarded', requestedBy: 'ops' }), deps);
    deps = { ...deps, clock: new FakeClock(NOW.getTime() + 8 * 86_400_000) };
    const taken = await upload('inbox/beta/taken.pem', pemOf(acme.root, acme.intermediate));
    expect(taken.outcome, JSON.stringify(taken)).toBe('accepted');
    const lines = historyLines((await loadState(store)).state);
    const of = (fingerprint: string) =>
      lines.flatMap((l) => [
        ...l.added.filter((a) => a.fingerprint === fingerprint).map((a) => `${l.revision} + ${a.partner}`),
        ...l.removed.filter((a) => a.fingerprint === fingerprint).map((a) => `${l.revision} - ${a.partner}`),
      ]);
    const moves = of(fp(acme.intermediate));
    expect(moves).toHaveLength(3);
    expect(moves.map((m) => m.replace(/^\d+ /, ''))).toEqual(['+ beta', '- acme', '+ acme']);
  });

  it('takes the name once the retirement is over', async () => {
    deps = { ...deps, clock: new FakeClock(NOW.getTime() + 8 * 86_400_000) };
    const lookAlike = await intermediate('CN=Acme Issuing CA,O=Acme', beta.root, { keySlot: 'beta-own' });
    expect((await upload('inbox/beta/own.pem', lookAlike.pem)).outcome).toBe('accepted');
  });
});

describe("a CA revoked on its root's CRL", () => {
  const ingestKey = async (key: string, body: string) => {
    const { version } = await store.put(key, toBytes(body));
    await ingestUploads([{ key, version }], { ...deps, config: { roll: deps.roll } });
  };
  const clientOf = async (ca: Issued) => parseCertificate((await leaf('CN=device-7', ca)).der);
  const decide = async (cert: ReturnType<typeof parseCertificate>, at: Date) => {
    const { state } = await loadState(store);
    const index = RevocationIndex.load(await indexFor(store, state, at));
    const d = authorize(index, cert, undefined, { now: at });
    return `${d.decision} ${d.reasons.map((r) => r.code).join(' ')}`.trim();
  };

  it.each([
    ['keyCompromise', 'deny ca.revoked'],
    ['superseded', 'allow'],
  ] as const)(
    'listed for %s after its renewal came in: the renewal is decided %s, also once the listed certificate has left the index',
    async (reason, code) => {
      // The same name and key, a new certificate, dropped into replace/: the old one is removed.
      const renewed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root);
      expect(parseCertificate(renewed.der).subjectKeyId).toBe(
        parseCertificate(acme.intermediate.der).subjectKeyId,
      );
      await ingestKey('inbox/acme/replace/renewed.pem', renewed.pem);
      await ingestKey(
        'inbox/acme/crl/root.crl',
        pemBlock('X509 CRL', await crl(acme.root, [{ cert: acme.intermediate, reason }], { crlNumber: 1 })),
      );
      const { state } = await loadState(store);
      expect(state.entries.map((e) => e.fingerprint)).toContain(fp(renewed));
      expect(state.entries.map((e) => e.fingerprint)).not.toContain(fp(acme.intermediate));
      const client = await clientOf(renewed);
      expect(await decide(client, NOW)).toBe(code);
      // Eight days on, the index no longer holds the listed certificate (its retirement ended).
      const later = new Date(NOW.getTime() + 8 * 86_400_000);
      expect(retiredEntries(state, later)).toEqual([]);
      expect(await decide(client, later)).toBe(code);
    },
  );

  it.each([
    ['keyCompromise', 'rejected'],
    ['superseded', 'accepted'],
  ] as const)(
    'listed for %s before a renewal of its key is uploaded: the renewal is %s',
    async (reason, outcome) => {
      await ingestKey(
        'inbox/acme/crl/root.crl',
        pemBlock('X509 CRL', await crl(acme.root, [{ cert: acme.intermediate, reason }], { crlNumber: 1 })),
      );
      const renewed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root);
      const { version } = await store.put('inbox/acme/replace/renewed.pem', toBytes(renewed.pem));
      const report = await ingestUploads([{ key: 'inbox/acme/replace/renewed.pem', version }], {
        ...deps,
        config: { roll: deps.roll },
      });
      expect(report.uploads[0]!.outcome).toBe(outcome);
      const codes = report.uploads[0]!.findings.map((f) => f.code);
      if (outcome === 'rejected') {
        expect(codes).toContain('ca.key-revoked');
        const finding = report.uploads[0]!.findings.find((f) => f.code === 'ca.key-revoked')!;
        expect(finding.message).toMatch(
          /^CN=Acme Issuing CA,O=Acme has a revoked key: the key of CN=Acme Issuing CA,O=Acme \(serial [0-9a-f]+\), listed on the CRL of CN=Acme Root CA,O=Acme \(keyCompromise\)\. .*Issue the CA with a new key; if the revocation was a mistake, the CA above must publish a CRL without it first\.$/,
        );
        // Nothing changed: the revoked certificate is still the one held.
        expect((await loadState(store)).state.entries.map((e) => e.fingerprint)).toContain(
          fp(acme.intermediate),
        );
      } else expect(codes).not.toContain('ca.key-revoked');
    },
  );

  it('revoked by hand after its renewal came in: the renewal is denied, also once the revoked certificate has left the index', async () => {
    const renewed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root);
    await ingestKey('inbox/acme/replace/renewed.pem', renewed.pem);
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      {
        issuer: fp(acme.root),
        serial: parseCertificate(acme.intermediate.der).serial,
        reason: 'key leaked',
        by: 'sec',
      },
    );
    const client = await clientOf(renewed);
    expect(await decide(client, NOW)).toBe('deny ca.revoked');
    expect(await decide(client, new Date(NOW.getTime() + 8 * 86_400_000))).toBe('deny ca.revoked');
  });

  it("keeps a partner's key revocation when another partner holds a copy of the revoked CA", async () => {
    // Acme's second CA of the same key, under a name of its own and a root of its own.
    const rootC = await root('CN=Acme Root C,O=Acme');
    const sameKey = await intermediate('CN=Acme Issuing CA C,O=Acme', rootC, {
      spki: parseCertificate(acme.intermediate.der).publicKey.spki,
    });
    await ingestKey('inbox/acme/second.pem', pemOf(rootC, sameKey));
    // Its client, signed with the key both CAs carry.
    const client = await clientOf({ ...sameKey, keys: acme.intermediate.keys });
    expect(await decide(client, NOW)).toBe('allow');
    await removeCas(
      parseRemovalRequest({
        fingerprints: [fp(acme.root), fp(acme.intermediate)],
        reason: 'retired',
        requestedBy: 'ops',
      }),
      deps,
    );
    // Once their retirement is over (until then they stay acme's), beta drops acme's old, public
    // certificates into its own inbox: accepted as beta's CAs.
    const later = NOW.getTime() + 8 * 86_400_000;
    deps = { ...deps, clock: new FakeClock(later) };
    await ingestKey('inbox/beta/copy.pem', pemOf(acme.root, acme.intermediate));
    const { state } = await loadState(store);
    expect(state.entries.find((e) => e.fingerprint === fp(acme.intermediate))?.partner).toBe('beta');
    // Then the key is found compromised: the certificate is revoked by hand.
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      {
        issuer: fp(acme.root),
        serial: parseCertificate(acme.intermediate.der).serial,
        reason: 'key leaked',
        by: 'sec',
      },
    );
    // Acme's CA of that key is denied as beta's copy is, now and once beta's copy's history is old.
    expect(await decide(client, new Date(later))).toBe('deny ca.revoked');
    expect(await decide(client, new Date(later + 8 * 86_400_000))).toBe('deny ca.revoked');
  });

  it.each(['by hand', 'on its CRL'] as const)(
    'refuses the revoked key re-issued under the root that replaced the one that revoked it %s',
    async (how) => {
      if (how === 'by hand')
        await revokeCertificate(
          { store, log: memoryLog(), clock: deps.clock },
          {
            issuer: fp(acme.root),
            serial: parseCertificate(acme.intermediate.der).serial,
            reason: 'key leaked',
            by: 'sec',
          },
        );
      else
        await ingestKey(
          'inbox/acme/crl/root.crl',
          pemBlock(
            'X509 CRL',
            await crl(acme.root, [{ cert: acme.intermediate, reason: 'keyCompromise' }], { crlNumber: 1 }),
          ),
        );
      await removeCas(
        parseRemovalRequest({ fingerprints: [fp(acme.intermediate)], reason: 'retired', requestedBy: 'ops' }),
        deps,
      );
      // The root re-keyed under the same name, through replace/: the old one (which revoked) leaves.
      const rekeyed = await root('CN=Acme Root CA,O=Acme', { keySlot: 'acme-root-2' });
      await ingestKey('inbox/acme/replace/root.pem', rekeyed.pem);
      const { state } = await loadState(store);
      expect(state.entries.map((e) => e.fingerprint)).not.toContain(fp(acme.root));
      // The revoked key, certified again under the new root with the same name.
      const again = await intermediate('CN=Acme Issuing CA,O=Acme', rekeyed, {
        spki: parseCertificate(acme.intermediate.der).publicKey.spki,
      });
      const { version } = await store.put('inbox/acme/again.pem', toBytes(again.pem));
      const r = await ingestUploads([{ key: 'inbox/acme/again.pem', version }], {
        ...deps,
        config: { roll: deps.roll },
      });
      expect(r.uploads[0]!.outcome).toBe('rejected');
      expect(r.uploads[0]!.findings.map((f) => f.code)).toEqual(['ca.key-revoked']);
      expect(r.uploads[0]!.findings[0]!.message).toContain(
        how === 'by hand'
          ? 'revoked by hand by sec'
          : 'listed on the CRL of CN=Acme Root CA,O=Acme (keyCompromise)',
      );
    },
  );

  it.each(['by hand', 'on the root CRL'] as const)(
    "refuses another partner's look-alike of a CA revoked %s and removed (its name and key, signed by its own root)",
    async (how) => {
      if (how === 'by hand')
        await revokeCertificate(
          { store, log: memoryLog(), clock: deps.clock },
          {
            issuer: fp(acme.root),
            serial: parseCertificate(acme.intermediate.der).serial,
            reason: 'key leaked',
            by: 'sec',
          },
        );
      else
        await ingestKey(
          'inbox/acme/crl/root.crl',
          pemBlock(
            'X509 CRL',
            await crl(acme.root, [{ cert: acme.intermediate, reason: 'keyCompromise' }], { crlNumber: 1 }),
          ),
        );
      await removeCas(
        parseRemovalRequest({ partner: 'acme', reason: 'offboarded', requestedBy: 'ops' }),
        deps,
      );
      // No private key of acme's needed: beta's root certifies acme's public key under acme's CA name.
      const lookAlike = await intermediate('CN=Acme Issuing CA,O=Acme', beta.root, {
        spki: parseCertificate(acme.intermediate.der).publicKey.spki,
      });
      const { version } = await store.put('inbox/beta/look.pem', toBytes(lookAlike.pem));
      const r = await ingestUploads([{ key: 'inbox/beta/look.pem', version }], {
        ...deps,
        config: { roll: deps.roll },
      });
      expect(r.uploads[0]!.outcome).toBe('rejected');
      expect(r.uploads[0]!.findings).toEqual([
        expect.objectContaining({
          code: 'ca.key-revoked',
          message:
            'CN=Acme Issuing CA,O=Acme has the name and key of a CA of another partner that was revoked (a reason against its key): admitted, it would let the clients of that key in as yours, so it is refused. Issue your CA with a name and a key of its own; if you believe this is a mistake, ask the platform team.',
        }),
      ]);
      // Acme's client signed with the compromised key finds no CA to get in through, past the retirement too.
      const later = new Date(NOW.getTime() + 8 * 86_400_000);
      expect(await decide(parseCertificate(acme.client.der), later)).toMatch(/^deny /);
    },
  );

  it("never lets one partner's CRL revoke another partner's key: a CA of acme's certifying beta's public key, then revoked", async () => {
    // A public key is public: acme certifies beta's issuing CA key under a name of its own.
    const evil = await intermediate('CN=Acme Evil,O=Acme', acme.root, {
      spki: parseCertificate(beta.intermediate.der).publicKey.spki,
    });
    const { version } = await store.put('inbox/acme/evil.pem', toBytes(evil.pem));
    const r = await ingestUploads([{ key: 'inbox/acme/evil.pem', version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(r.uploads[0]!.outcome, JSON.stringify(r.uploads[0])).toBe('accepted');
    expect((await loadState(store)).state.entries.map((e) => e.fingerprint)).toContain(fp(evil));
    const crlPut = await store.put(
      'inbox/acme/crl/root.crl',
      toBytes(
        pemBlock(
          'X509 CRL',
          await crl(acme.root, [{ cert: evil, reason: 'keyCompromise' }], { crlNumber: 1 }),
        ),
      ),
    );
    const c = await ingestUploads([{ key: 'inbox/acme/crl/root.crl', version: crlPut.version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(c.uploads[0]!.outcome, JSON.stringify(c.uploads[0])).toBe('accepted');
    expect(await decide(parseCertificate(beta.client.der), NOW)).toBe('allow');
    // Acme's own CA of that key is revoked, as a CA and as a client.
    const d = await decide(parseCertificate(evil.der), NOW);
    expect(d).toMatch(/^deny .*cert\.revoked/);
  });

  it('denies a CA certificate presented as a client when its key is revoked under another name of its partner', async () => {
    const { state } = await loadState(store);
    const issuer = state.entries.find((e) => e.subject === 'CN=Acme Root CA,O=Acme')!.fingerprint;
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      { issuer, serial: parseCertificate(acme.intermediate.der).serial, reason: 'key leaked', by: 'sec' },
    );
    // The same key under a new name: refused at the inbox (its clients could never get in), and
    // the door denies the certificate presented as a client all the same.
    const renamed = await intermediate('CN=Acme Issuing CA 2027,O=Acme', acme.root, {
      spki: parseCertificate(acme.intermediate.der).publicKey.spki,
    });
    const { version } = await store.put('inbox/acme/renamed.pem', toBytes(renamed.pem));
    const r = await ingestUploads([{ key: 'inbox/acme/renamed.pem', version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(r.uploads[0]!.outcome).toBe('rejected');
    expect(r.uploads[0]!.findings.map((f) => [f.code, f.message])).toEqual([
      [
        'ca.key-revoked',
        expect.stringMatching(
          /^CN=Acme Issuing CA 2027,O=Acme has a revoked key: the key of CN=Acme Issuing CA,O=Acme \(serial [0-9a-f]+\), revoked by hand by sec/,
        ),
      ],
    ]);
    expect(await decide(parseCertificate(renamed.der), NOW)).toMatch(/^deny cert\.revoked/);
  });

  it('denies, as clients, a renewal of a revoked CA that never entered the truststore and a leaf made for its key; and the clients of a root made with it', async () => {
    const { state } = await loadState(store);
    const issuer = state.entries.find((e) => e.subject === 'CN=Acme Root CA,O=Acme')!.fingerprint;
    // A self-signed root of that key under a new name, admitted before the key was revoked.
    const selfRoot = await root('CN=Acme SameKey Root,O=Acme', {
      keySlot: JSON.stringify('CN=Acme Issuing CA,O=Acme'),
    });
    await ingestKey('inbox/acme/self.pem', selfRoot.pem);
    expect((await loadState(store)).state.entries.map((e) => e.fingerprint)).toContain(fp(selfRoot));
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      { issuer, serial: parseCertificate(acme.intermediate.der).serial, reason: 'key leaked', by: 'sec' },
    );
    const spki = parseCertificate(acme.intermediate.der).publicKey.spki;
    const renewal = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root);
    expect(await decide(parseCertificate(renewal.der), NOW)).toMatch(/^deny cert\.revoked/);
    const asLeaf = await leaf('CN=device-9,O=Acme', acme.root, { spki });
    expect(await decide(parseCertificate(asLeaf.der), NOW)).toMatch(/^deny cert\.revoked/);
    // Another partner's client of the same public key is not concerned.
    const betaLeaf = await leaf('CN=device-9,O=Beta', beta.intermediate, { spki });
    expect(await decide(parseCertificate(betaLeaf.der), NOW)).toBe('allow');
    // The root made with that key: its clients are denied.
    expect(parseCertificate(selfRoot.der).publicKey.spki).toEqual(spki);
    const under = await leaf('CN=device-10,O=Acme', selfRoot);
    expect(await decide(parseCertificate(under.der), NOW)).toBe('deny ca.revoked');
  });

  it('knows a revoked key however its certificate encodes it (an EC point compressed)', async () => {
    const { state } = await loadState(store);
    const issuer = state.entries.find((e) => e.subject === 'CN=Acme Root CA,O=Acme')!.fingerprint;
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      { issuer, serial: parseCertificate(acme.intermediate.der).serial, reason: 'key leaked', by: 'sec' },
    );
    const compressed = compressedSpki(parseCertificate(acme.intermediate.der).publicKey.spki);
    const renewal = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { spki: compressed });
    expect(Buffer.from(parseCertificate(renewal.der).publicKey.spki)).toEqual(Buffer.from(compressed));
    const { version } = await store.put('inbox/acme/replace/compressed.pem', toBytes(renewal.pem));
    const report = await ingestUploads([{ key: 'inbox/acme/replace/compressed.pem', version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings.map((f) => f.code)).toContain('ca.key-revoked');
    expect(await decide(parseCertificate(renewal.der), NOW)).toMatch(/^deny cert\.revoked/);
    const asLeaf = await leaf('CN=device-11,O=Acme', acme.root, { spki: compressed });
    expect(await decide(parseCertificate(asLeaf.der), NOW)).toMatch(/^deny cert\.revoked/);
  });

  it('refuses the same revoked CA uploaded again after its removal, and its promotion', async () => {
    await ingestKey(
      'inbox/acme/crl/root.crl',
      pemBlock(
        'X509 CRL',
        await crl(acme.root, [{ cert: acme.intermediate, reason: 'keyCompromise' }], { crlNumber: 1 }),
      ),
    );
    await removeCas(
      { fingerprints: [fp(acme.intermediate)], reason: 'compromised', requestedBy: 'sec' },
      deps,
    );
    const { version } = await store.put('inbox/acme/again.pem', toBytes(acme.intermediate.pem));
    const report = await ingestUploads([{ key: 'inbox/acme/again.pem', version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings.map((f) => f.code)).toContain('ca.key-revoked');
    // From another store holding it, promote refuses it too.
    const source = new MemoryStore();
    const put = await source.put('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await ingestUploads([{ key: 'inbox/acme/ca.pem', version: put.version }], {
      ...deps,
      store: source,
      config: { roll: { ...deps.roll, domains: [] } },
    });
    const plan = await planPromotion(source, store);
    expect(plan.refused).toEqual([
      expect.stringMatching(/^CN=Acme Issuing CA,O=Acme: CN=Acme Issuing CA,O=Acme has a revoked key/),
    ]);
    expect((await applyPromotion(plan, 'dev', deps)).outcome).toBe('rejected');
  });

  it('refuses a renewal of a key revoked by hand, saying how to lift it', async () => {
    const { state } = await loadState(store);
    const issuer = state.entries.find((e) => e.subject === 'CN=Acme Root CA,O=Acme')!.fingerprint;
    await revokeCertificate(
      { store, log: memoryLog(), clock: deps.clock },
      { issuer, serial: parseCertificate(acme.intermediate.der).serial, reason: 'key leaked', by: 'sec' },
    );
    const renewed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root);
    const { version } = await store.put('inbox/acme/replace/renewed.pem', toBytes(renewed.pem));
    const report = await ingestUploads([{ key: 'inbox/acme/replace/renewed.pem', version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings.find((f) => f.code === 'ca.key-revoked')?.message).toMatch(
      /revoked by hand by sec on \d{4}-\d\d-\d\d: key leaked\. .*an operator lifts it first \(trustroll unrevoke\)\.$/,
    );
    // Sent by beta, it is acme's name (ca.other-partner): acme's revocation is not beta's to learn.
    const fromBeta = await store.put('inbox/beta/renewed.pem', toBytes(renewed.pem));
    const beta = await ingestUploads([{ key: 'inbox/beta/renewed.pem', version: fromBeta.version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(beta.uploads[0]!.certificates.flatMap((c) => c.findings.map((f) => f.code))).toEqual([
      'ca.other-partner',
    ]);
    expect(JSON.stringify(beta.uploads[0])).not.toMatch(/key leaked|revoked by hand/);
    // A CA of another key, same name, is not concerned.
    const rekeyed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { keySlot: 'acme-rekeyed' });
    const again = await store.put('inbox/acme/replace/rekeyed.pem', toBytes(rekeyed.pem));
    const ok = await ingestUploads([{ key: 'inbox/acme/replace/rekeyed.pem', version: again.version }], {
      ...deps,
      config: { roll: deps.roll },
    });
    expect(ok.uploads[0]!.outcome, JSON.stringify(ok.uploads[0]!.findings)).toBe('accepted');
  });
});
