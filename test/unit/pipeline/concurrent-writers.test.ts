import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../shared/errors.js';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { parseRemovalRequest, removeCas, rollbackTruststore } from '../../../shared/pipeline/lifecycle.js';
import type { PublishDeps } from '../../../shared/pipeline/publish.js';
import { nextRevision } from '../../../shared/pipeline/revision.js';
import { loadState, updateState } from '../../../shared/pipeline/state-store.js';
import type { PutOptions, StoredObject } from '../../../shared/ports.js';
import { KEYS } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

/**
 * Two writers on one store (issue 16): each reports the revision it committed, and a rollback to
 * "the one before the latest" never undoes a change it did not see.
 */
class HookedStore extends MemoryStore {
  /** Runs once, disarmed first, when the named operation happens. */
  onTruststorePut?: () => Promise<void>;
  onTruststoreVersionRead?: () => Promise<void>;

  override async put(key: string, body: Uint8Array, opts: PutOptions = {}) {
    const written = await super.put(key, body, opts);
    const hook = key === KEYS.truststore ? this.onTruststorePut : undefined;
    if (hook) {
      this.onTruststorePut = undefined;
      await hook();
    }
    return written;
  }

  override async get(key: string, opts: { version?: string } = {}): Promise<StoredObject> {
    const hook = key === KEYS.truststore && opts.version ? this.onTruststoreVersionRead : undefined;
    if (hook) {
      this.onTruststoreVersionRead = undefined;
      await hook();
    }
    return super.get(key, opts);
  }
}

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta');
});

let store: HookedStore;
let deps: PublishDeps;
beforeEach(async () => {
  store = new HookedStore();
  deps = {
    store,
    gateway: new FakeGateway('api.example.com'),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(NOW.getTime()),
    log: memoryLog(),
    roll: { domains: [] },
  };
  // Revision 1: acme; revision 2: acme and beta.
  for (const [partner, c] of [
    ['acme', acme],
    ['beta', beta],
  ] as const) {
    const { version } = await store.put(`inbox/${partner}/ca.pem`, toBytes(pemOf(c.root, c.intermediate)));
    await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version }], {
      ...deps,
      config: { roll: deps.roll },
    });
  }
});

/** Another writer's change committed (not published) right now: beta's CAs put back. */
const concurrentCommit = () =>
  updateState(store, (s) => {
    const back = (s.removedEntries ?? []).filter((e) => e.partner === 'beta');
    return nextRevision(s, {
      entries: [...s.entries, ...back],
      removed: [],
      added: back,
      reason: 'a concurrent writer',
      at: NOW,
    });
  });

describe('two writers', () => {
  it('reports the revision this removal committed and the version published for it, not a later one', async () => {
    store.onTruststorePut = async () => void (await concurrentCommit());
    const report = await removeCas(
      parseRemovalRequest({ partner: 'beta', reason: 'race', requestedBy: 'ops' }),
      deps,
    );
    const { state } = await loadState(store);
    expect(state.revision).toBe(4);
    const mine = state.history.find((r) => r.revision === 3)!;
    expect(mine.reason).toMatch(/race/);
    expect(report.revision).toBe(3);
    expect(report.version).toBe(mine.version);
  });

  it('refuses a plain rollback when another change was committed after the latest it saw', async () => {
    // While the rollback reads revision 1's version, another writer removes acme (revision 3).
    store.onTruststoreVersionRead = async () =>
      void (await removeCas(
        parseRemovalRequest({ partner: 'acme', reason: 'meanwhile', requestedBy: 'ops' }),
        deps,
      ));
    const refused = rollbackTruststore(undefined, deps);
    await expect(refused).rejects.toThrow(UpstreamError);
    await expect(refused).rejects.toThrow(/changed while rolling back/);
    const { state } = await loadState(store);
    // Nothing was rolled back: revision 3 (beta alone) stays the latest.
    expect(state.revision).toBe(3);
    expect(state.entries.map((e) => e.partner)).toEqual(['beta', 'beta']);
  });
});
