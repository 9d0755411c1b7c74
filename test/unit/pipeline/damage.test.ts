import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VersionedFolderStore } from '../../../shared/adapters/local/folder-store.js';
import { DamagedStoreError } from '../../../shared/errors.js';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import {
  diffVersions,
  planPromotion,
  removeCas,
  rollbackTruststore,
} from '../../../shared/pipeline/lifecycle.js';
import type { PublishDeps } from '../../../shared/pipeline/publish.js';
import { repairStore } from '../../../shared/pipeline/repair.js';
import {
  indexProblem,
  loadIndex,
  revokeCertificate,
  setPartnerRules,
} from '../../../shared/pipeline/revocation.js';
import { assertIntact, findDamage, loadState } from '../../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import type { ObjectStore } from '../../../shared/ports.js';
import { REVOCATION_KEYS } from '../../../shared/revocation/state.js';
import { KEYS } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { crl, NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

type Chain = Awaited<ReturnType<typeof partnerChain>>;
const chains: Record<string, Chain> = {};
beforeAll(async () => {
  for (const p of ['acme', 'beta', 'gamma', 'delta']) chains[p] = await partnerChain(p);
});

let gateway: FakeGateway;
const depsFor = (store: ObjectStore): PublishDeps => ({
  store,
  gateway,
  notifier: new MemoryNotifier(),
  clock: new FakeClock(NOW.getTime()),
  log: memoryLog(),
  roll: { domains: ['api.example.com'], minUpdateIntervalMs: 0, pollIntervalMs: 1 },
});
beforeEach(() => {
  gateway = new FakeGateway('api.example.com');
});

/** One partner's root and issuing CA, uploaded and ingested. */
const ingest = async (store: ObjectStore, partner: string) => {
  const c = chains[partner]!;
  const key = `inbox/${partner}/ca.pem`;
  const { version } = await store.put(key, toBytes(pemOf(c.root, c.intermediate)));
  const deps = depsFor(store);
  return ingestUploads([{ key, version }], { ...deps, config: { roll: deps.roll } });
};
const request = { partner: 'acme', reason: 'test', requestedBy: 'ops' };
/** Where a folder store keeps a key's versions. */
const folderOf = (root: string, key: string) => join(root, `${key}.v`);

describe('a truststore version whose bytes are not what was published', () => {
  const truncated = async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-truncated-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    await ingest(store, 'beta');
    await ingest(store, 'gamma');
    return { root, store };
  };

  it('is named as damage when it is the latest: writers refuse, diff and rollback do not use it, repair republishes', async () => {
    const { root, store } = await truncated();
    truncateSync(join(folderOf(root, KEYS.truststore), '000003'), 900);
    const rolls = gateway.calls.length;

    const damage = await findDamage(store, (await loadState(store)).state);
    expect(damage).toEqual([
      expect.stringMatching(
        /^truststore version 000003 \(revision 3\) is not what was published: its content has SHA-256 [0-9a-f]{16}…, published as [0-9a-f]{16}… \(truncated or edited by hand\): run trustroll repair/,
      ),
    ]);
    await expect(ingest(store, 'delta')).rejects.toBeInstanceOf(DamagedStoreError);
    await expect(removeCas(request, depsFor(store))).rejects.toBeInstanceOf(DamagedStoreError);
    await expect(diffVersions(store, '2', '3')).rejects.toThrow(
      /^truststore version 000003 \(revision 3\) is not what was published.*It is not used/,
    );
    await expect(rollbackTruststore('3', depsFor(store))).rejects.toBeInstanceOf(DamagedStoreError);
    expect(gateway.calls).toHaveLength(rolls);

    const repair = await repairStore(depsFor(store));
    expect(repair.actions).toEqual([
      expect.stringMatching(
        /^revision 3: truststore version 000003 is not what was published: .*; marked as lost/,
      ),
      'the latest revision (3) is served as truststore version 000004',
    ]);
    expect(await findDamage(store, (await loadState(store)).state)).toEqual([]);
    expect((await diffVersions(store, '2', '000004')).added.map((l) => l.subject)).toEqual([
      'CN=gamma Issuing CA,O=gamma',
      'CN=gamma Root CA,O=gamma',
    ]);
    expect(gateway.domains.get('api.example.com')!.version).toBe('000004');
  });

  it('is refused when an older version is read for diff or rollback, and repair marks it lost', async () => {
    const { root, store } = await truncated();
    truncateSync(join(folderOf(root, KEYS.truststore), '000001'), 900);
    // Only the latest is checked on every write: an older one is checked when it is read.
    expect(await findDamage(store, (await loadState(store)).state)).toEqual([]);
    await expect(diffVersions(store, '1', '3')).rejects.toBeInstanceOf(DamagedStoreError);
    await expect(rollbackTruststore('1', depsFor(store))).rejects.toBeInstanceOf(DamagedStoreError);
    await expect(planPromotion(store, new MemoryStore(), '1')).rejects.toBeInstanceOf(DamagedStoreError);

    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(/^revision 1: truststore version 000001 is not what was published/);
    await expect(diffVersions(store, '1', '3')).rejects.toThrow(/marked lost by trustroll repair/);
  });
});

describe('a state that went back behind its truststore', () => {
  /** Deletes the newest versions of the state, as `rm` in the folder or DeleteObject by version id on S3 do. */
  const dropStateVersionsFrom = (store: MemoryStore, revision: number) => {
    const versions = store.objects.get(KEYS.state)!;
    const first = versions.findIndex(
      (v) =>
        v.body &&
        (JSON.parse(Buffer.from(v.body).toString('utf8')) as { revision: number }).revision >= revision,
    );
    store.objects.set(KEYS.state, versions.slice(0, first));
  };

  it('is named as damage, nothing is written past it, and repair rebuilds the missing revisions from the truststore', async () => {
    const store = new MemoryStore();
    await ingest(store, 'acme');
    await ingest(store, 'beta');
    await ingest(store, 'gamma');
    const served = (await store.get(KEYS.truststore)).version;
    dropStateVersionsFrom(store, 2);
    expect((await loadState(store)).state.revision).toBe(1);

    const damage = await findDamage(store, (await loadState(store)).state);
    expect(damage).toEqual([
      `state/truststore.json went back to revision 1, but truststore version ${served} was published as revision 3 ` +
        '(newer versions of the state were deleted, or an older one put back, by hand): ' +
        'run trustroll repair (it rebuilds the missing revisions from the truststore versions that carry them)',
    ]);
    const truststoreVersions = store.objects.get(KEYS.truststore)!.length;
    await expect(ingest(store, 'delta')).rejects.toBeInstanceOf(DamagedStoreError);
    await expect(removeCas(request, depsFor(store))).rejects.toBeInstanceOf(DamagedStoreError);
    expect(store.objects.get(KEYS.truststore)!.length).toBe(truststoreVersions);

    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(
      /^state\/truststore\.json had gone back to revision 1 while the truststore carries revision 3: rebuilt revisions 2 \(version v\d+\), 3 \(version v\d+\) from the truststore versions; 4 CAs whose provenance went with the lost state versions are recorded as partner "unknown"$/,
    );
    const { state } = await loadState(store);
    expect(state.revision).toBe(3);
    expect(state.history.map((r) => [r.revision, r.version])).toEqual([
      [1, expect.any(String)],
      [2, expect.any(String)],
      [3, served],
    ]);
    expect(state.entries.map((e) => `${e.partner} ${e.subject}`).sort()).toEqual([
      'acme CN=acme Issuing CA,O=acme',
      'acme CN=acme Root CA,O=acme',
      'unknown CN=beta Issuing CA,O=beta',
      'unknown CN=beta Root CA,O=beta',
      'unknown CN=gamma Issuing CA,O=gamma',
      'unknown CN=gamma Root CA,O=gamma',
    ]);
    expect(await findDamage(store, state)).toEqual([]);

    // The next change is revision 4, a version of its own: no revision is published twice.
    const next = await ingest(store, 'delta');
    expect(next.revision).toBe(4);
    const revisions = store.objects.get(KEYS.truststore)!.map((v) => v.metadata.revision);
    expect(new Set(revisions).size).toBe(revisions.length);
  });

  it('is not mistaken for a run that committed and published after the state was read', async () => {
    const store = new MemoryStore();
    await ingest(store, 'acme');
    const stale = (await loadState(store)).state;
    await ingest(store, 'beta');
    expect(await findDamage(store, stale)).toEqual([]);
    await assertIntact(store, stale);
  });
});

describe('version ids', () => {
  it('are never given again, even when the latest version and the high-water mark were deleted by hand', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-highest-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    await ingest(store, 'beta');
    await ingest(store, 'gamma');
    const { rmSync } = await import('node:fs');
    for (const f of ['000003', '000003.meta.json', '.highest'])
      rmSync(join(folderOf(root, KEYS.truststore), f));

    const repair = await repairStore(depsFor(store));
    expect(repair.actions).toEqual([
      'revision 3: truststore version 000003 is missing; marked as lost (it can no longer be rolled back to)',
      'the latest revision (3) is served as truststore version 000004',
    ]);
    const { state } = await loadState(store);
    expect(state.history.map((r) => r.version ?? `lost ${r.lostVersion}`)).toEqual([
      '000001',
      '000002',
      '000004',
    ]);
  });
});

describe('the revocation index', () => {
  it('is published again by repair when its bytes are not what was written, and left alone when they are', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-index-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    await ingest(store, 'beta');
    const before = await store.head(REVOCATION_KEYS.index);
    expect(await repairStore(depsFor(store))).toMatchObject({ actions: [] });
    expect((await store.head(REVOCATION_KEYS.index)).version).toBe(before.version);

    truncateSync(join(folderOf(root, REVOCATION_KEYS.index), before.version), 40);
    const repair = await repairStore(depsFor(store));
    const after = await store.head(REVOCATION_KEYS.index);
    expect(repair.actions).toEqual([
      `the revocation index (version ${before.version}) was damaged, behind the state or built by an older trustroll; published again as version ${after.version}`,
    ]);
    const loaded = await loadIndex(store);
    expect(loaded?.version).toBe(after.version);
    expect(loaded?.index.header.revision).toBe((await loadState(store)).state.revision);
  });

  it('is published by repair when it was deleted', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-index-gone-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    const { rmSync } = await import('node:fs');
    rmSync(folderOf(root, REVOCATION_KEYS.index), { recursive: true });
    const repair = await repairStore(depsFor(store));
    expect(repair.actions).toEqual([
      expect.stringMatching(/^the revocation index was missing; published as version \S+$/),
    ]);
    expect(await loadIndex(store)).toBeDefined();
  });
});

describe('the revoked serials of a CRL changed or deleted by hand', () => {
  it('are named by repair as what it cannot mend, with the CRL to upload again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-serials-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    const c = chains.acme!;
    const key = 'inbox/acme/crl/issuing.crl';
    const { version } = await store.put(key, await crl(c.intermediate, [c.client], { crlNumber: 1 }));
    const deps = depsFor(store);
    expect(
      (await ingestUploads([{ key, version }], { ...deps, config: { roll: deps.roll } })).errors,
    ).toEqual([]);
    const [held] = Object.values((await loadState(store)).state.revocation!.crls);
    const folder = folderOf(root, `${REVOCATION_KEYS.serials}${held!.serials}.bin`);
    const [first] = readdirSync(folder).filter((f) => /^\d+$/.test(f));
    writeFileSync(join(folder, first!), Buffer.alloc(22, 7));
    const changed = await repairStore(depsFor(store));
    expect(changed.unmended).toEqual([
      expect.stringMatching(
        /revoked serials of the CRL of CN=acme Issuing CA.*does not hold what it was written with.*upload that CRL again to inbox\/acme\/crl\//,
      ),
    ]);
    rmSync(folder, { recursive: true });
    expect((await repairStore(depsFor(store))).unmended).toEqual([
      expect.stringMatching(/is missing: .*upload that CRL again to inbox\/acme\/crl\//),
    ]);
  });
});

describe('a state that went back behind its revocation index', () => {
  it('is named by status, and repair takes the revocations and rules back from the index, past its generation', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-went-back-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    const c = chains.acme!;
    const r = { store, log: memoryLog(), clock: new FakeClock(NOW.getTime()) };
    const issuer = parseCertificate(c.intermediate.der).fingerprint;
    await revokeCertificate(r, {
      issuer,
      serial: parseCertificate(c.client.der).serial,
      reason: 'lost',
      by: 'ops',
    });
    await setPartnerRules(r, 'acme', { routes: ['GET /orders/*'] });
    // The newest state version deleted by hand: the one before (the revocation, no rules) is current.
    const folder = folderOf(root, KEYS.state);
    const newest = readdirSync(folder)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    for (const f of [newest, `${newest}.meta.json`]) rmSync(join(folder, f));
    const before = (await loadState(store)).state;
    expect(before.revocation!.rules).toEqual({});
    expect((await indexProblem(store, before)).damaged).toMatch(
      /^the state went back behind the revocation index .*Run trustroll repair, which takes them back from the index$/,
    );

    // An ingest would commit over it and publish an index without what the state lost: refused.
    await expect(ingest(store, 'beta')).rejects.toThrow(
      /went back behind the revocation index .*Run trustroll repair/,
    );
    // A change now would never be published (the index looks newer): refused until repaired.
    await expect(setPartnerRules(r, 'beta', { routes: ['GET /x'] })).rejects.toThrow(
      /^nothing was changed \(it could not be put in force\): the state went back behind the revocation index/,
    );
    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(
      /^the state went back behind the revocation index \(\S+: revision 1, generation 2; the state: revision 1, generation 1\): 0 revocations by hand and the rules of 1 partner taken back from it$/,
    );
    const after = (await loadState(store)).state;
    expect(after.revocation!.rules).toEqual({ acme: { routes: ['GET /orders/*'] } });
    expect(after.revocation!.manual).toHaveLength(1);
    expect(after.revocation!.generation).toBe(3);
    const index = (await loadIndex(store))!.index.header;
    expect([index.generation, index.rules]).toEqual([3, { acme: { routes: ['GET /orders/*'] } }]);
    expect(await indexProblem(store, after)).toEqual({});
  });
});

describe('a state or an index of the same stamp edited by hand', () => {
  /** The newest version of `key` in a folder store, edited in place (its recorded SHA-256 made to match for the index). */
  const editNewest = (root: string, key: string, edit: (bytes: Buffer) => Buffer) => {
    const folder = folderOf(root, key);
    const newest = readdirSync(folder)
      .filter((f) => /^\d+$/.test(f))
      .sort()
      .at(-1)!;
    const path = join(folder, newest);
    const edited = edit(readFileSync(path));
    writeFileSync(path, edited);
    const metaPath = `${path}.meta.json`;
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    if (meta.metadata?.sha256) {
      meta.metadata.sha256 = createHash('sha256').update(edited).digest('hex');
      writeFileSync(metaPath, JSON.stringify(meta));
    }
  };
  const revoked = async () => {
    const root = mkdtempSync(join(tmpdir(), 'trustroll-same-stamp-'));
    const store = new VersionedFolderStore(root);
    await ingest(store, 'acme');
    const c = chains.acme!;
    const r = { store, log: memoryLog(), clock: new FakeClock(NOW.getTime()) };
    const issuer = parseCertificate(c.intermediate.der).fingerprint;
    await revokeCertificate(r, {
      issuer,
      serial: parseCertificate(c.client.der).serial,
      reason: 'lost',
      by: 'ops',
    });
    return { root, store, r, issuer, c };
  };

  it('a revocation by hand removed from the latest state: named by status, writers refuse, repair takes it back', async () => {
    const { root, store, r, issuer, c } = await revoked();
    editNewest(root, KEYS.state, (bytes) => {
      const state = JSON.parse(bytes.toString('utf8'));
      state.revocation.manual = [];
      return Buffer.from(JSON.stringify(state));
    });
    const edited = (await loadState(store)).state;
    expect(edited.revocation!.manual).toEqual([]);
    const serial = parseCertificate(c.client.der).serial;
    expect((await indexProblem(store, edited)).damaged).toBe(
      `the revocation index (version ${(await store.head(REVOCATION_KEYS.index)).version}) and the state are both at revision 1, revocation generation 1 but disagree: ` +
        `the index holds 1 revocation(s) by hand the state lacks (serial ${serial} of CA ${issuer.slice(0, 16)}…). One of them was edited by hand. ` +
        'Run trustroll repair: it takes back the revocations by hand the index holds and publishes the index again from the state (check the partner rules and CAs it names afterwards)',
    );
    // The next unrelated change would publish an index without the revocation: refused, nothing written.
    const stateVersions = readdirSync(folderOf(root, KEYS.state)).length;
    await expect(revokeCertificate(r, { issuer, serial: '7f', reason: 'other', by: 'ops' })).rejects.toThrow(
      /^nothing was changed \(it could not be put in force\): state\/truststore\.json was changed by hand after the revocation index .*Run trustroll repair/,
    );
    await expect(ingest(store, 'beta')).rejects.toThrow(DamagedStoreError);
    expect(readdirSync(folderOf(root, KEYS.state))).toHaveLength(stateVersions);

    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(
      /^the state and the revocation index \(\S+\) of revision 1, generation 1 did not say the same \(the index holds 1 revocation\(s\) by hand the state lacks .*\): 1 revocation by hand taken back from the index; the index is published again from the state/,
    );
    const after = (await loadState(store)).state;
    expect(after.revocation!.manual.map((m) => m.serial)).toEqual([serial]);
    const index = (await loadIndex(store))!.index;
    expect([index.header.generation, index.header.manual.map((m) => m.serial)]).toEqual([2, [serial]]);
    expect(await indexProblem(store, after)).toEqual({});
    await revokeCertificate(r, { issuer, serial: '7f', reason: 'other', by: 'ops' });
    expect((await loadIndex(store))!.index.header.manual.map((m) => m.serial).sort()).toEqual(
      [serial, '7f'].sort(),
    );
  });

  it("a CA's partner changed in the index header, its SHA-256 made to match: named by status, repair publishes the state's", async () => {
    const { root, store, issuer } = await revoked();
    editNewest(root, REVOCATION_KEYS.index, (bytes) => {
      const n = bytes.readUInt32BE(8);
      const header = JSON.parse(bytes.subarray(12, 12 + n).toString('utf8'));
      for (const ca of header.cas) ca.partner = 'beta';
      const json = Buffer.from(JSON.stringify(header));
      const length = Buffer.alloc(4);
      length.writeUInt32BE(json.length);
      return Buffer.concat([bytes.subarray(0, 8), length, json, bytes.subarray(12 + n)]);
    });
    const state = (await loadState(store)).state;
    expect((await loadIndex(store))!.index.header.cas.map((ca) => ca.partner)).toEqual(['beta', 'beta']);
    expect((await indexProblem(store, state)).damaged).toMatch(
      new RegExp(
        `but disagree: the index gives CN=acme Root CA.* to partner beta, the state to acme; the index gives CN=acme Issuing CA,O=acme \\(sha256 ${issuer.slice(0, 16)}…\\) to partner beta, the state to acme\\. One of them was edited by hand\\. Run trustroll repair`,
        'i',
      ),
    );
    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(
      /did not say the same .*: 0 revocations by hand taken back from the index/,
    );
    expect((await loadIndex(store))!.index.header.cas.map((ca) => ca.partner)).toEqual(['acme', 'acme']);
    expect(await indexProblem(store, (await loadState(store)).state)).toEqual({});
  });
});
