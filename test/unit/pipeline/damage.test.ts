import { mkdtempSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VersionedFolderStore } from '../../../shared/adapters/local/folder-store.js';
import { DamagedStoreError } from '../../../shared/errors.js';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { diffVersions, removeCas, rollbackTruststore } from '../../../shared/pipeline/lifecycle.js';
import type { PublishDeps } from '../../../shared/pipeline/publish.js';
import { repairStore } from '../../../shared/pipeline/repair.js';
import { findDamage, loadState } from '../../../shared/pipeline/state-store.js';
import type { ObjectStore } from '../../../shared/ports.js';
import { KEYS } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

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

    const repair = await repairStore(depsFor(store));
    expect(repair.actions[0]).toMatch(/^revision 1: truststore version 000001 is not what was published/);
    await expect(diffVersions(store, '1', '3')).rejects.toThrow(/marked lost by trustroll repair/);
  });
});
