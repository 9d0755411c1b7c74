import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type IngestDeps, ingestUploads } from '../../../shared/pipeline/ingest.js';
import {
  INDEX_BUILD,
  loadIndex,
  normalSerial,
  publishIndex,
  revokeCertificate,
  setPartnerRules,
} from '../../../shared/pipeline/revocation.js';
import { scanExpiry } from '../../../shared/pipeline/scan.js';
import { type Certificate, parseCertificate } from '../../../shared/pki/certificate.js';
import { authorize } from '../../../shared/revocation/authorize.js';
import { REVOCATION_KEYS } from '../../../shared/revocation/state.js';
import { KEYS, parseState } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import {
  crl,
  days,
  type Issued,
  intermediate,
  issue,
  leaf,
  NOW,
  partnerChain,
  pemBlock,
  pemOf,
  privateKeyPem,
  toBytes,
} from '../../fixtures/pki.js';

/**
 * CRLs dropped into inbox/<partner>/crl/ go through the same ingest as CA uploads: judged,
 * reported, alerted, kept as what was understood (never their bytes), and published in the
 * revocation index that the authorizer reads.
 */
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
let bob: Issued;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta', { key: 'p384' });
  bob = await leaf('CN=bob.acme.example,O=Acme', acme.intermediate, { key: 'p256' });
});

let store: MemoryStore;
let notifier: MemoryNotifier;
let clock: FakeClock;
let deps: IngestDeps;
beforeEach(async () => {
  store = new MemoryStore();
  notifier = new MemoryNotifier();
  clock = new FakeClock(NOW.getTime());
  deps = {
    store,
    gateway: new FakeGateway('api.example.com'),
    notifier,
    clock,
    log: memoryLog(),
    config: { expiringDays: 30, roll: { domains: ['api.example.com'], pollIntervalMs: 1000 } },
  };
  await ingestUploads([await drop('inbox/acme/ca.pem', pemOf(acme.root, acme.intermediate))], deps);
  await ingestUploads([await drop('inbox/beta/ca.pem', pemOf(beta.root, beta.intermediate))], deps);
  notifier.sent.length = 0;
});

const drop = async (key: string, content: string | Uint8Array) => {
  const { version } = await store.put(key, typeof content === 'string' ? toBytes(content) : content);
  return { key, version };
};
const cert = (i: Issued): Certificate => parseCertificate(i.der);
const decide = async (client: Issued, now = clock.now()) => {
  const loaded = await loadIndex(store);
  if (!loaded) throw new Error('no index published');
  return authorize(loaded.index, cert(client), undefined, { now });
};
const state = async () => parseState((await store.get(KEYS.state)).body);

describe('CRL uploads', () => {
  it('accepts a CRL of a held CA, denies the client it lists and allows another of the same CA', async () => {
    expect((await decide(acme.client)).decision).toBe('allow');
    const der = await crl(acme.intermediate, [{ cert: acme.client, reason: 'keyCompromise' }], {
      crlNumber: 4,
    });
    const report = await ingestUploads([await drop('inbox/acme/crl/issuing.crl', der)], deps);
    expect(report.uploads[0]).toMatchObject({
      outcome: 'accepted',
      crls: [{ issuer: 'CN=Acme Issuing CA,O=Acme', number: '4', revoked: 1 }],
    });
    expect(report.errors).toEqual([]);
    const denied = await decide(acme.client);
    expect(denied.decision).toBe('deny');
    expect(denied.reasons[0]!.code).toBe('cert.revoked');
    expect(denied.reasons[0]!.message).toContain('#4 (keyCompromise)');
    expect((await decide(bob)).decision).toBe('allow');
    expect(notifier.types()).toEqual(['crl.accepted']);
    expect(notifier.sent[0]!.partner).toBe('acme');
  });

  it('keeps what was understood of a CRL, not its bytes, and takes it out of the inbox', async () => {
    const der = await crl(acme.intermediate, [acme.client], { crlNumber: 1 });
    const report = await ingestUploads([await drop('inbox/acme/crl/issuing.crl', der)], deps);
    expect(report.uploads[0]!.movedTo).toMatch(/^archive\/acme\/crl\/issuing\.crl@[0-9a-f]+\.report\.json$/);
    await expect(store.get('inbox/acme/crl/issuing.crl')).rejects.toThrow();
    const needle = Buffer.from(der);
    for (const key of store.keys()) {
      const body = Buffer.from((await store.get(key)).body);
      expect(body.includes(needle), `${key} holds the CRL's bytes`).toBe(false);
    }
    const held = Object.values((await state()).revocation!.crls);
    expect(held).toHaveLength(1);
    expect((await store.get(`${REVOCATION_KEYS.serials}${held[0]!.serials}.bin`)).body.length).toBe(22);
  });

  it("refuses a CRL of another partner's CA from this partner's folder, without naming that partner to the uploader", async () => {
    const a = await crl(acme.intermediate, [acme.client], { crlNumber: 1 });
    const b = await crl(beta.intermediate, [beta.client], { crlNumber: 1 });
    const report = await ingestUploads(
      [await drop('inbox/acme/crl/both.pem', `${pemBlock('X509 CRL', a)}\n${pemBlock('X509 CRL', b)}`)],
      deps,
    );
    expect(report.uploads[0]!.outcome).toBe('rejected');
    const finding = report.uploads[0]!.findings.find((f) => f.code === 'crl.other-partner');
    expect(finding?.message).toContain("was signed by another partner's CA (sha256 ");
    expect(finding?.message).toContain("it belongs in that partner's own crl/ folder");
    // A CA claimed by the partner that uploaded it first: how the owner gets it back.
    expect(finding?.message).toContain(
      `If that CA is acme's and the other partner uploaded it first, an operator must remove it from that partner (trustroll remove --fingerprint ${cert(beta.intermediate).fingerprint}); then upload the CA to inbox/acme/ and this CRL again.`,
    );
    // The alert goes to acme: it must not learn who beta is.
    expect(finding?.message.replace(/CN=Beta [A-Za-z ]+,O=Beta/g, '')).not.toMatch(/beta/i);
    expect((await decide(acme.client)).decision).toBe('allow');
    expect((await decide(beta.client)).decision).toBe('allow');
    // Beta's newer CRL held, its older one from acme's folder: the wrong folder is the headline
    // (the alert's first reason, addressed to acme), not the replay.
    const newer = await crl(beta.intermediate, [], { crlNumber: 2 });
    const held = await ingestUploads([await drop('inbox/beta/crl/current.crl', newer)], deps);
    expect(held.uploads[0]!.outcome, JSON.stringify(held.uploads[0]!.findings)).toBe('accepted');
    const misplaced = await ingestUploads([await drop('inbox/acme/crl/old.crl', b)], deps);
    expect(misplaced.uploads[0]!.findings.map((f) => f.code)).toEqual(['crl.other-partner', 'crl.replayed']);
  });

  it('accepts a PEM file of two CRLs of one partner (its issuing CA and its root)', async () => {
    const a = await crl(acme.intermediate, [acme.client], { crlNumber: 1 });
    const r = await crl(acme.root, [], { crlNumber: 1 });
    const report = await ingestUploads(
      [await drop('inbox/acme/crl/both.pem', `${pemBlock('X509 CRL', a)}\n${pemBlock('X509 CRL', r)}`)],
      deps,
    );
    expect(report.uploads[0]!.outcome).toBe('accepted');
    expect((await decide(acme.client)).decision).toBe('deny');
    expect(Object.values((await state()).revocation!.crls)).toHaveLength(2);
  });

  it('refuses a file holding a newer and then an older CRL of one CA (a replay, not the last one wins)', async () => {
    const newer = await crl(acme.intermediate, [acme.client], { crlNumber: 2 });
    const older = await crl(acme.intermediate, [], { crlNumber: 1 });
    const report = await ingestUploads(
      [
        await drop(
          'inbox/acme/crl/two.pem',
          `${pemBlock('X509 CRL', newer)}\n${pemBlock('X509 CRL', older)}`,
        ),
      ],
      deps,
    );
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings.map((f) => f.code)).toContain('crl.replayed');
    // Named for what it is: nothing was held yet, the newer CRL came first in the same file.
    expect(report.uploads[0]!.findings.find((f) => f.code === 'crl.replayed')!.message).toMatch(
      /has cRLNumber 1, lower than the 2 of the CRL before it in the same upload: send the CA's latest CRL\.$/,
    );
    // In order, older then newer, the newer one is what is held.
    const ok = await ingestUploads(
      [
        await drop(
          'inbox/acme/crl/two.pem',
          `${pemBlock('X509 CRL', older)}\n${pemBlock('X509 CRL', newer)}`,
        ),
      ],
      deps,
    );
    expect(ok.uploads[0]!.outcome).toBe('accepted');
    expect((await decide(acme.client)).decision).toBe('deny');
  });

  it('rejects a replayed older CRL, keeps the newer one enforced, and alerts the partner', async () => {
    const newer = await crl(acme.intermediate, [acme.client], { crlNumber: 5 });
    const older = await crl(acme.intermediate, [], { crlNumber: 4 });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', newer)], deps);
    notifier.sent.length = 0;
    const report = await ingestUploads([await drop('inbox/acme/crl/b.crl', older)], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings.map((f) => f.code)).toEqual(['crl.replayed']);
    expect(report.uploads[0]!.findings[0]!.message).toMatch(/lower than the 5 of the CRL already held/);
    expect(report.uploads[0]!.movedTo).toMatch(/^rejected\/acme\/crl\//);
    expect(notifier.types()).toEqual(['crl.rejected']);
    expect(notifier.sent[0]!.subject).toContain('crl.replayed');
    expect((await decide(acme.client)).decision).toBe('deny');
  });

  it('rejects a CRL no truststore CA signed, and one signed by another key under a held name', async () => {
    const stranger = await partnerChain('Stranger');
    const r1 = await ingestUploads(
      [await drop('inbox/acme/crl/x.crl', await crl(stranger.intermediate, []))],
      deps,
    );
    expect(r1.uploads[0]!.findings.map((f) => f.code)).toEqual(['crl.issuer-unknown']);
    const forged = await crl(acme.intermediate, [bob], { signedBy: stranger.intermediate, aki: false });
    const r2 = await ingestUploads([await drop('inbox/acme/crl/y.crl', forged)], deps);
    expect(r2.uploads[0]!.outcome).toBe('rejected');
    expect((await decide(bob)).decision).toBe('allow');
  });

  it('takes a CA and its CRL in one batch', async () => {
    const gamma = await partnerChain('Gamma');
    const report = await ingestUploads(
      [
        await drop('inbox/gamma/ca.pem', pemOf(gamma.root, gamma.intermediate)),
        await drop(
          'inbox/gamma/crl/issuing.crl',
          await crl(gamma.intermediate, [gamma.client], { crlNumber: 1 }),
        ),
      ],
      deps,
    );
    expect(report.uploads.map((u) => u.outcome)).toEqual(['accepted', 'accepted']);
    expect((await decide(gamma.client)).decision).toBe('deny');
  });

  it('rejects what is not a CRL in the crl folder with a clear reason, and a private key sent there as a key', async () => {
    const r1 = await ingestUploads([await drop('inbox/acme/crl/ca.pem', pemOf(acme.root))], deps);
    expect(r1.uploads[0]!.outcome).toBe('rejected');
    expect(r1.uploads[0]!.findings[0]!.code).toBe('crl.unparseable');
    expect(r1.uploads[0]!.findings[0]!.message).toMatch(/certificate, not a CRL/i);
    const withKey = `${pemBlock('X509 CRL', await crl(acme.intermediate, []))}\n${privateKeyPem(acme.client)}`;
    const r2 = await ingestUploads([await drop('inbox/acme/crl/k.pem', withKey)], deps);
    expect(r2.uploads[0]!.outcome).toBe('private-key');
    expect(notifier.types()).toContain('upload.private-key');
  });

  it('destroys and alerts a CRL whose issuer name holds a private key, and keeps nothing of the name', async () => {
    // A CA of another key under a name that carries a PEM key (lines joined by |): its CRL names no held CA.
    const secret = privateKeyPem(acme.client).trim().replace(/\n/g, '|');
    const carrier = await issue({
      subject: [{ O: ['Acme'] }, { OU: [secret] }, { CN: ['Acme Issuing CA'] }],
      keySlot: 'crl-name-carrier',
    });
    const body = pemBlock('X509 CRL', await crl(carrier, [], { crlNumber: 99 }));
    const r = await ingestUploads([await drop('inbox/acme/crl/evil.pem', body)], deps);
    expect(r.uploads[0]!.outcome).toBe('private-key');
    expect(r.uploads[0]!.findings.map((f) => f.code)).toEqual(['input.private-key']);
    expect(notifier.types()).toEqual(['upload.private-key']);
    expect(store.keys('inbox/acme/crl/')).toEqual([]);
    const kept = `${store.allBytes().toString('latin1')}${JSON.stringify(r)}${JSON.stringify(notifier.sent)}`;
    expect(kept).not.toContain('PRIVATE KEY');
    expect(kept).not.toContain(secret.split('|')[1]!);
  });

  it('refuses a CRL whose issuer has a name attribute longer than a certificate may have, without repeating it', async () => {
    const payload = `PAYLOAD-${'x'.repeat(300)}`;
    const carrier = await issue({
      subject: [{ O: ['Acme'] }, { OU: [payload] }, { CN: ['Acme Issuing CA'] }],
      keySlot: 'crl-name-carrier',
    });
    const body = pemBlock('X509 CRL', await crl(carrier, [], { crlNumber: 99 }));
    const r = await ingestUploads([await drop('inbox/acme/crl/long.pem', body)], deps);
    expect(r.uploads[0]!.outcome).toBe('rejected');
    expect(r.uploads[0]!.findings).toEqual([
      expect.objectContaining({
        code: 'crl.opaque-payload',
        severity: 'error',
        message: expect.stringContaining('an attribute (2.5.4.11) of 308 characters, over the 256'),
      }),
    ]);
    expect(notifier.types()).toEqual(['crl.rejected']);
    const kept = `${store.allBytes().toString('latin1')}${JSON.stringify(r)}${JSON.stringify(notifier.sent)}`;
    expect(kept).not.toContain('PAYLOAD-');
  });

  it('records the same CRL again as unchanged, without a new index', async () => {
    const der = await crl(acme.intermediate, [acme.client], { crlNumber: 2 });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    const before = (await store.head(REVOCATION_KEYS.index)).version;
    const again = await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    expect(again.uploads[0]!.outcome).toBe('accepted');
    expect(again.uploads[0]!.findings.map((f) => f.code)).toEqual(['crl.unchanged']);
    expect((await store.head(REVOCATION_KEYS.index)).version).toBe(before);
  });

  it('records in the state the change of the CRLs a CRL sync is named after; the same CRL again leaves it', async () => {
    const first = await state();
    const der = await crl(acme.intermediate, [acme.client], { crlNumber: 3 });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    const after = (await state()).revocation!;
    expect(after.generation).toBe((first.revocation?.generation ?? 0) + 1);
    expect(after.crlChange).toEqual({ revision: first.revision, generation: after.generation });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    expect((await state()).revocation!.crlChange).toEqual(after.crlChange);
    // A newer CRL is a new change.
    const newer = await crl(acme.intermediate, [acme.client], { crlNumber: 4 });
    await ingestUploads([await drop('inbox/acme/crl/b.crl', newer)], deps);
    expect((await state()).revocation!.crlChange).toEqual({
      revision: first.revision,
      generation: after.generation + 1,
    });
  });
});

describe('the index follows the truststore and manual revocations', () => {
  it('publishes an index with every truststore version, naming the new CA partner', async () => {
    const gamma = await partnerChain('Gamma');
    expect((await decide(gamma.client)).reasons.map((r) => r.code)).toEqual(['issuer.unknown']);
    await ingestUploads([await drop('inbox/gamma/ca.pem', pemOf(gamma.root, gamma.intermediate))], deps);
    const d = await decide(gamma.client);
    expect(d.decision).toBe('allow');
    expect(d.partner).toBe('gamma');
  });

  it('revokes by hand, and a serial revoked under one issuer does not deny it under another', async () => {
    const twin = await leaf('CN=twin,O=Beta', beta.intermediate, {
      key: 'p256',
      serial: cert(acme.client).serial,
    });
    const r = await revokeCertificate(
      { store, log: memoryLog(), clock },
      {
        issuer: cert(acme.intermediate).fingerprint.slice(0, 16),
        serial: cert(acme.client).serial,
        reason: 'device lost',
        by: 'ops',
      },
    );
    expect(r.changed).toBe(true);
    expect(r.version).toBeDefined();
    expect((await decide(acme.client)).reasons[0]!.message).toContain('by hand (device lost; ops');
    expect((await decide(twin)).decision).toBe('allow');
  });
});

describe('a revocation whose index was never published', () => {
  it('is put in force by the next expiry scan (the writer stopped between its commit and the index)', async () => {
    // `revoke` killed as it came to write the index: its state commit stands, the index does not.
    const killed = {
      ...store,
      head: store.head.bind(store),
      get: store.get.bind(store),
      list: store.list.bind(store),
      put: (key: string, body: Uint8Array, opts?: Parameters<MemoryStore['put']>[2]) =>
        key === REVOCATION_KEYS.index ? Promise.reject(new Error('killed')) : store.put(key, body, opts),
    } as unknown as MemoryStore;
    await expect(
      revokeCertificate(
        { store: killed, log: memoryLog(), clock },
        {
          issuer: cert(acme.intermediate).fingerprint,
          serial: cert(acme.client).serial,
          reason: 'r',
          by: 'ops',
        },
      ),
    ).rejects.toThrow('killed');
    expect((await decide(acme.client)).decision).toBe('allow');
    const scanned = await scanExpiry({ store, clock, log: memoryLog(), notifier });
    expect(scanned.errors).toEqual([]);
    expect((await decide(acme.client)).decision).toBe('deny');
    // Current now: the next scan writes no index version.
    const before = (await store.head(REVOCATION_KEYS.index)).version;
    await scanExpiry({ store, clock, log: memoryLog(), notifier });
    expect((await store.head(REVOCATION_KEYS.index)).version).toBe(before);
  });
});

describe('a CA renewed through replace/ keeps what is revoked under it', () => {
  it('still denies what its CRL and a manual revocation listed, and refuses its older CRL as a replay', async () => {
    await ingestUploads(
      [await drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 5 }))],
      deps,
    );
    await revokeCertificate(
      { store, log: memoryLog(), clock },
      { issuer: cert(acme.intermediate).fingerprint, serial: cert(bob).serial, reason: 'stolen', by: 'ops' },
    );
    // Same name, same key, a new certificate.
    const renewed = await intermediate('CN=Acme Issuing CA,O=Acme', acme.root, { serial: '7e57' });
    expect(cert(renewed).fingerprint).not.toBe(cert(acme.intermediate).fingerprint);
    expect(cert(renewed).publicKey.spki).toEqual(cert(acme.intermediate).publicKey.spki);
    const r = await ingestUploads([await drop('inbox/acme/replace/issuing.pem', renewed.pem)], deps);
    expect(r.uploads[0]!.outcome).toBe('accepted');
    // The index of the renewed set is published (its CRL found through the renewal), not left behind.
    expect(r.errors).toEqual([]);
    expect((await loadIndex(store))!.index.header.revision).toBe((await state()).revision);
    expect((await loadIndex(store))!.index.header.cas.map((c) => c.fingerprint)).toContain(
      cert(renewed).fingerprint,
    );
    expect((await decide(acme.client)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
    expect((await decide(bob)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
    // The revocation recorded under the certificate it renews still says why, by whom and when.
    const day = clock.now().toISOString().slice(0, 10);
    expect((await decide(bob)).reasons[0]!.message).toBe(
      `${cert(bob).subject.text} (serial ${cert(bob).serial}) is revoked by CN=Acme Issuing CA,O=Acme by hand (stolen; ops, ${day}).`,
    );
    // Revoking by hand goes on working under the renewed CA.
    const carol = await leaf('CN=carol.acme.example,O=Acme', renewed);
    await revokeCertificate(
      { store, log: memoryLog(), clock },
      { issuer: cert(renewed).fingerprint, serial: cert(carol).serial, reason: 'lost', by: 'ops' },
    );
    expect((await decide(carol)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
    const old = await ingestUploads(
      [await drop('inbox/acme/crl/b.crl', await crl(renewed, [], { crlNumber: 1 }))],
      deps,
    );
    expect(old.uploads[0]!.findings.map((f) => f.code)).toContain('crl.replayed');
    // A newer CRL of the renewed CA takes the place of the old one's.
    await ingestUploads([await drop('inbox/acme/crl/c.crl', await crl(renewed, [], { crlNumber: 6 }))], deps);
    expect((await decide(acme.client)).decision).toBe('allow');
    expect(Object.values((await state()).revocation!.crls)).toHaveLength(1);
  });
});

describe('a record set deleted by hand', () => {
  it('is named (no index without it), and uploading the same CRL again mends it', async () => {
    const der = await crl(acme.intermediate, [acme.client], { crlNumber: 3 });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    const [held] = Object.values((await state()).revocation!.crls);
    await store.destroy(`${REVOCATION_KEYS.serials}${held!.serials}.bin`);
    const r = { store, log: memoryLog(), clock };
    const request = {
      issuer: cert(acme.intermediate).fingerprint,
      serial: cert(bob).serial,
      reason: 'x',
      by: 'ops',
    };
    // Refused before it is recorded: a revocation the index cannot carry would be recorded but not in force.
    await expect(revokeCertificate(r, request)).rejects.toThrow(
      /^nothing was changed \(it could not be put in force\): .*is missing: .*upload that CRL again to inbox\/acme\/crl\//,
    );
    expect((await state()).revocation!.manual).toEqual([]);
    const again = await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    expect(again.errors).toEqual([]);
    await revokeCertificate(r, request);
    expect((await decide(bob)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
    expect((await decide(acme.client)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
  });
});

describe('an index an older trustroll built', () => {
  it('is built again by the next publish, though the state is the same; one a newer trustroll built is kept', async () => {
    await ingestUploads(
      [await drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 2 }))],
      deps,
    );
    const versions = store.objects.get(REVOCATION_KEYS.index)!;
    const last = versions.at(-1)!;
    expect(last.metadata.build).toBe(String(INDEX_BUILD));
    // Its stamp as an older build wrote it: no build number.
    const { build: _, ...older } = last.metadata;
    versions[versions.length - 1] = { ...last, metadata: older };
    const again = await publishIndex(store, await state(), memoryLog());
    expect(again).not.toBe(last.version);
    expect(store.objects.get(REVOCATION_KEYS.index)!.at(-1)!.metadata.build).toBe(String(INDEX_BUILD));
    // A newer build's index of the same state stays.
    const now = store.objects.get(REVOCATION_KEYS.index)!;
    now[now.length - 1] = {
      ...now.at(-1)!,
      metadata: { ...now.at(-1)!.metadata, build: String(INDEX_BUILD + 1) },
    };
    expect(await publishIndex(store, await state(), memoryLog(), { verify: true })).toBe(again);
    expect((await decide(acme.client)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
  });
});

describe('an index damaged by hand', () => {
  it('is refused when read, and published again by a verifying publish (as trustroll up starts)', async () => {
    await ingestUploads(
      [await drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 2 }))],
      deps,
    );
    const versions = store.objects.get(REVOCATION_KEYS.index)!;
    const last = versions.at(-1)!;
    versions[versions.length - 1] = { ...last, body: last.body!.subarray(0, 500) };
    await expect(loadIndex(store)).rejects.toThrow(/cannot be read: revocation index is truncated/);
    // A plain publish trusts the stamp; a verifying one reads the bytes.
    expect(await publishIndex(store, await state(), memoryLog())).toBe(last.version);
    const again = await publishIndex(store, await state(), memoryLog(), { verify: true });
    expect(again).not.toBe(last.version);
    expect((await decide(acme.client)).reasons.map((x) => x.code)).toEqual(['cert.revoked']);
  });
});

describe('serials and reasons given by hand', () => {
  it.each([
    ['0x00ff', '00ff'],
    ['FF', '00ff'],
    ['00:0a', '0a'],
    ['6', '06'],
  ])('reads %s as %s', (given, serial) => {
    expect(normalSerial(given)).toBe(serial);
  });

  it('refuses two serials in one, and one longer than 20 bytes', () => {
    expect(() => normalSerial('06 07')).toThrow(/one serial/);
    expect(() => normalSerial('ab'.repeat(32))).toThrow(/longer than a serial number can be/);
    expect(normalSerial(`7f${'ab'.repeat(19)}`)).toHaveLength(40);
  });

  it('refuses a reason over 500 characters', async () => {
    await expect(
      revokeCertificate(
        { store, log: memoryLog(), clock },
        { issuer: cert(acme.intermediate).fingerprint, serial: '06', reason: 'x'.repeat(501), by: 'ops' },
      ),
    ).rejects.toThrow(/keep it to 500/);
  });
});

describe('partner route rules are plain paths', () => {
  it.each([
    ['GET /a?b=1', /without query/],
    ['FOO /x', /FOO is not an HTTP method/],
    ['GET /a/**/b', /\*\* stands only as the last segment/],
    ['GET /a/../b', /no \. or \.\. segments/],
    ['GET /a%2fb', /%-escapes/],
  ])('refuses %s', async (route, message) => {
    await expect(
      setPartnerRules({ store, log: memoryLog(), clock }, 'acme', { routes: [route] }),
    ).rejects.toThrow(message);
  });
});

describe('a partitioned CRL', () => {
  it('is accepted with an alert naming the distribution point it speaks for (a URI spelled otherwise covers no client)', async () => {
    const der = await crl(acme.intermediate, [], {
      crlNumber: 3,
      idp: { uris: ['http://crl.acme.example/p1.crl'] },
    });
    const r = await ingestUploads([await drop('inbox/acme/crl/p1.crl', der)], deps);
    expect(r.uploads[0]!.outcome).toBe('accepted');
    const alert = notifier.sent.find((n) => n.eventType === 'crl.accepted')!;
    expect(alert.body).toContain(
      'a partition: it speaks only for certificates whose CRL distribution point is exactly http://crl.acme.example/p1.crl',
    );
  });
});

describe('a CRL of a CA still waiting for its root', () => {
  it('waits with that CA and is taken when the root arrives, instead of being destroyed while the CA gets in', async () => {
    const gamma = await partnerChain('Gamma');
    const first = await ingestUploads([await drop('inbox/gamma/int.pem', gamma.intermediate.pem)], deps);
    expect(first.uploads[0]!.outcome).toBe('pending');
    const der = await crl(gamma.intermediate, [gamma.client], { crlNumber: 1 });
    const second = await ingestUploads([await drop('inbox/gamma/crl/issuing.crl', der)], deps);
    expect(second.uploads.map((u) => [u.key, u.outcome])).toEqual([
      ['inbox/gamma/crl/issuing.crl', 'pending'],
      ['inbox/gamma/int.pem', 'pending'],
    ]);
    expect(store.keys('inbox/gamma/').sort()).toEqual(['inbox/gamma/crl/issuing.crl', 'inbox/gamma/int.pem']);
    expect(notifier.sent.map((n) => n.subject)).toContainEqual(
      expect.stringMatching(/CRL waiting for its CA: gamma\/crl\/issuing\.crl/),
    );
    // Another partner's waiting CA is no reason for a CRL to wait: refused at once.
    const other = await ingestUploads(
      [await drop('inbox/acme/crl/gamma.crl', await crl(gamma.intermediate, [], { crlNumber: 2 }))],
      deps,
    );
    expect(other.uploads.find((u) => u.key === 'inbox/acme/crl/gamma.crl')?.outcome).toBe('rejected');
    const third = await ingestUploads([await drop('inbox/gamma/root.pem', gamma.root.pem)], deps);
    expect(Object.fromEntries(third.uploads.map((u) => [u.key, u.outcome]))).toEqual({
      'inbox/gamma/root.pem': 'accepted',
      'inbox/gamma/int.pem': 'accepted',
      'inbox/gamma/crl/issuing.crl': 'accepted',
    });
    expect((await decide(gamma.client)).reasons.map((r) => r.code)).toEqual(['cert.revoked']);
    expect((await state()).pending).toEqual({});
  });
});

describe('the scan watches CRLs', () => {
  it('alerts once per threshold as nextUpdate nears and once more when it has passed, to the partner', async () => {
    const der = await crl(acme.intermediate, [], { crlNumber: 1, nextUpdate: days(7) });
    await ingestUploads([await drop('inbox/acme/crl/a.crl', der)], deps);
    notifier.sent.length = 0;
    const scan = () => scanExpiry({ store, clock, log: memoryLog(), notifier });
    expect((await scan()).alerts.filter((a) => a.eventType === 'crl.stale')).toEqual([]);
    clock.advance(4.5 * 86_400_000); // 2.5 days left
    const first = (await scan()).alerts.filter((a) => a.eventType === 'crl.stale');
    expect(first.map((a) => [a.severity, a.partner])).toEqual([['warning', 'acme']]);
    expect(first[0]!.body).toContain('inbox/acme/crl/');
    // 2.5 days said as 60 hours: a floor of days read "in 2 days" (and "in 0 days" a day out).
    expect(first[0]!.subject).toMatch(/CRL due in 60 hours: /);
    expect(first[0]!.body).toMatch(/is due to be replaced on \d{4}-\d\d-\d\d \d\d:\d\d UTC, in 60 hours\./);
    expect((await scan()).alerts.filter((a) => a.eventType === 'crl.stale')).toEqual([]);
    clock.advance(1.8 * 86_400_000); // 0.7 days left: the 1-day threshold
    const second = (await scan()).alerts.filter((a) => a.eventType === 'crl.stale');
    expect(second.map((a) => a.subject)).toEqual([expect.stringMatching(/CRL due in 17 hours: /)]);
    clock.advance(1.2 * 86_400_000); // past
    const past = (await scan()).alerts.filter((a) => a.eventType === 'crl.stale');
    expect(past.map((a) => a.severity)).toEqual(['error']);
    expect(past[0]!.subject).toContain('CRL overdue');
    // And the authorizer now denies the clients it covers (one day of grace has passed too).
    clock.advance(86_400_000);
    expect((await decide(bob)).reasons.map((r) => r.code)).toEqual(['crl.stale']);
  });
});

describe('a CRL dropped where CA certificates go', () => {
  it('is rejected with where CRLs belong, as DER and as PEM', async () => {
    const der = await crl(acme.intermediate, [acme.client]);
    for (const [name, body] of [
      ['x.crl', der],
      ['x.pem', pemBlock('X509 CRL', der)],
    ] as const) {
      const r = await ingestUploads([await drop(`inbox/acme/${name}`, body)], deps);
      expect(r.uploads[0]!.outcome).toBe('rejected');
      expect(r.uploads[0]!.findings[0]!.message).toMatch(/put CRLs into inbox\/<partner>\/crl\//);
    }
  });
});

describe('a crl folder holds CRLs only', () => {
  it('refuses a file with CA certificates besides its CRL, saying where they go, and admits nothing', async () => {
    const gamma = await partnerChain('Gamma');
    const mixed = `${pemOf(gamma.root, gamma.intermediate)}\n${pemBlock('X509 CRL', await crl(acme.intermediate, []))}`;
    const report = await ingestUploads([await drop('inbox/acme/crl/mixed.pem', mixed)], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(report.uploads[0]!.findings).toEqual([
      expect.objectContaining({
        code: 'crl.holds-certificates',
        message: expect.stringContaining('go to inbox/acme/'),
      }),
    ]);
    expect(report.certificates).toBe(4);
  });
});
