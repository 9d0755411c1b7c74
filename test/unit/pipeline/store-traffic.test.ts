import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleBatch } from '../../../shared/pipeline/batch.js';
import { type IngestDeps, ingestUploads } from '../../../shared/pipeline/ingest.js';
import { nextRevision } from '../../../shared/pipeline/revision.js';
import { loadState, updateState } from '../../../shared/pipeline/state-store.js';
import { KEYS, latestPublished } from '../../../shared/truststore/state.js';
import { CountingStore } from '../../fakes/counting-store.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

/**
 * What one ingest batch costs in requests to the store (on AWS: S3 requests and traffic),
 * counted through the port. The state is one JSON document that grows with the truststore
 * (1.2 MB at 1,000 CAs): it is read once per batch, and every later write is a compare-and-set
 * on the ETag of the one before, so it is read again only when another writer changed it.
 */
let chains: Awaited<ReturnType<typeof partnerChain>>[];
beforeAll(async () => {
  chains = [await partnerChain('Acme'), await partnerChain('Beta'), await partnerChain('Gamma')];
});

let inner: MemoryStore;
let store: CountingStore;
let gateway: FakeGateway;
let notifier: MemoryNotifier;
let deps: IngestDeps;
beforeEach(async () => {
  inner = new MemoryStore();
  store = new CountingStore(inner);
  gateway = new FakeGateway('api.example.com');
  notifier = new MemoryNotifier();
  deps = {
    store,
    gateway,
    notifier,
    clock: new FakeClock(NOW.getTime()),
    log: memoryLog(),
    config: { roll: { domains: ['api.example.com'], pollIntervalMs: 1, minUpdateIntervalMs: 0 } },
  };
  // A truststore that already holds one partner's CAs, published and rolled.
  await ingestUploads([await drop('acme', 0)], deps);
  store.reset();
});

const drop = async (partner: string, i: number) => {
  const c = chains[i]!;
  const key = `inbox/${partner}/ca.pem`;
  const { version } = await inner.put(key, toBytes(pemOf(c.root, c.intermediate)));
  return { key, version };
};
const stateBytes = () => inner.text(KEYS.state).length;

describe('store traffic of one ingest batch', () => {
  it('reads the state once for a batch that adds CAs, publishes and rolls one domain', async () => {
    const before = stateBytes();
    const report = await ingestUploads([await drop('beta', 1)], deps);
    expect(report.changed).toBe(true);
    expect(report.roll?.domains).toMatchObject([{ outcome: 'rolled' }]);
    const { state, truststore } = store.tally;
    expect(state.reads).toBe(1);
    expect(state.bytesRead).toBe(before);
    // The commit; the version id and the delivered alerts in one write; the time of the update
    // call (API Gateway's 30 s pacing), which can only be written once the call is made.
    expect(state.writes).toBe(3);
    // The truststore is read once (the damage check) and that read serves the publish.
    expect(truststore).toMatchObject({ reads: 1, writes: 1 });
    // The domain serves the new version, and the state records it.
    const after = (await loadState(inner)).state;
    expect(gateway.domains.get('api.example.com')!.version).toBe(latestPublished(after)?.version);
    expect(after.outbox ?? []).toEqual([]);
    expect(notifier.types()).toEqual([
      'upload.accepted',
      'truststore.rolled',
      'upload.accepted',
      'truststore.rolled',
    ]);
  });

  it('reads the state once through the batch handler (the Lambda path) too', async () => {
    const result = await handleBatch([{ kind: 'upload', ref: await drop('beta', 1) }], deps);
    expect(result.roll?.domains).toMatchObject([{ outcome: 'rolled' }]);
    expect(store.tally.state).toMatchObject({ reads: 1, writes: 3 });
    expect(store.tally.truststore).toMatchObject({ reads: 1, writes: 1 });
  });

  it('writes the state twice for a rejected upload (its alert committed, then delivered) and never the truststore', async () => {
    const c = chains[1]!;
    const { version } = await inner.put('inbox/beta/client.pem', toBytes(c.client.pem));
    const report = await ingestUploads([{ key: 'inbox/beta/client.pem', version }], deps);
    expect(report.uploads[0]!.outcome).toBe('rejected');
    expect(store.tally.state).toMatchObject({ reads: 1, writes: 2 });
    expect(store.tally.truststore).toMatchObject({ reads: 1, writes: 0 });
    expect((await loadState(inner)).state.outbox ?? []).toEqual([]);
  });

  it('reads the state once and writes nothing for a duplicate event', async () => {
    const ref = await drop('beta', 1);
    await ingestUploads([ref], deps);
    store.reset();
    await ingestUploads([ref], deps);
    expect(store.tally.state).toMatchObject({ reads: 1, writes: 0 });
    expect(store.tally.truststore.writes).toBe(0);
  });

  it('reads the state again only when another writer committed during the run, and rolls to its newer version', async () => {
    // While this run rolls the domain, another writer commits and publishes a newer revision
    // (Gamma's CAs added): the compare-and-set of the roll time fails, the state is read again,
    // and the domain is rolled on to the newer version rather than left on this run's one.
    const roll = gateway.roll.bind(gateway);
    let raced = false;
    gateway.roll = async (domain, version) => {
      await roll(domain, version);
      if (raced) return;
      raced = true;
      const g = chains[2]!;
      const { version: v } = await inner.put('inbox/gamma/ca.pem', toBytes(pemOf(g.root, g.intermediate)));
      await ingestUploads([{ key: 'inbox/gamma/ca.pem', version: v }], {
        ...deps,
        store: inner,
        config: { roll: { domains: [] } },
      });
    };
    await ingestUploads([await drop('beta', 1)], deps);
    expect(store.tally.state.reads).toBe(2);
    const latest = latestPublished((await loadState(inner)).state)!;
    expect(latest.revision).toBe(3);
    expect(gateway.domains.get('api.example.com')!.version).toBe(latest.version);
  });

  it('still judges again against the fresher state when its commit loses the compare-and-set', async () => {
    // Another writer commits between this run's read and its commit: the commit is refused, the
    // state read again, and both changes land.
    let raced = false;
    inner.beforeOp = async (op, key) => {
      if (op !== 'put' || key !== KEYS.state || raced) return;
      raced = true;
      await updateState(inner, (s) =>
        nextRevision(s, { entries: s.entries, removed: [], added: [], reason: 'another writer', at: NOW }),
      );
    };
    await ingestUploads([await drop('beta', 1)], deps);
    expect(store.tally.state.reads).toBe(2);
    const { state } = await loadState(inner);
    expect(state.history.map((r) => r.reason)).toContain('another writer');
    expect(state.entries.map((e) => e.partner).sort()).toEqual(['acme', 'acme', 'beta', 'beta']);
  });
});
