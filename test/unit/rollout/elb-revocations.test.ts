import { beforeAll, describe, expect, it } from 'vitest';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { setPartnerRules } from '../../../shared/pipeline/revocation.js';
import { loadState } from '../../../shared/pipeline/state-store.js';
import { parseCertificate } from '../../../shared/pki/certificate.js';
import { crlPemKey } from '../../../shared/revocation/state.js';
import { elbRevocationPlan } from '../../../shared/rollout/elb-revocations.js';
import { latestPublished } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { crl, NOW, partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

/** What an ELB trust store is given with a version, and what it is said not to enforce. */
let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta', { key: 'p384' });
});

const setup = async () => {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW.getTime());
  const deps = {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock,
    log: memoryLog(),
    config: { roll: { domains: [] } },
  };
  const drop = async (key: string, bytes: Uint8Array) => {
    const { version } = await store.put(key, bytes);
    await ingestUploads([{ key, version }], deps);
  };
  const published = async () => latestPublished((await loadState(store)).state)!.version!;
  return { store, clock, drop, published };
};

describe('elbRevocationPlan', () => {
  it("gives a version only its own CAs' CRLs: the CRL of a CA added later is not in an earlier version's plan", async () => {
    const w = await setup();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    const v1 = await w.published();
    await w.drop('inbox/beta/ca.pem', toBytes(pemOf(beta.root, beta.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    await w.drop('inbox/beta/crl/b.crl', await crl(beta.intermediate, [beta.client], { crlNumber: 1 }));
    const v2 = await w.published();
    const issuer = (i: typeof acme.intermediate) => parseCertificate(i.der).fingerprint;
    const of = async (v: string) => (await elbRevocationPlan(w.store, v)).crls.map((c) => c.issuer).sort();
    expect(await of(v1)).toEqual([issuer(acme.intermediate)]);
    expect(await of(v2)).toEqual([issuer(acme.intermediate), issuer(beta.intermediate)].sort());
    const plan = await elbRevocationPlan(w.store, v2);
    expect(plan.notEnforced).toEqual([]);
    for (const c of plan.crls) {
      expect(c.key).toMatch(/^revocation\/crls\/[0-9a-f]{64}\.pem$/);
      expect(c).toMatchObject({ entries: 1, objectVersion: (await w.store.head(c.key)).version });
      expect(c.bytes).toBe((await w.store.head(c.key)).size);
    }
  });

  it('names a CRL without its PEM (accepted before trustroll kept CRLs) and the identity rules, and sends neither', async () => {
    const w = await setup();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    const { state } = await loadState(w.store);
    const held = Object.values(state.revocation!.crls)[0]!;
    await w.store.delete(crlPemKey(held.sha256));
    await setPartnerRules({ store: w.store, log: memoryLog(), clock: w.clock }, 'acme', {
      routes: ['GET /orders/*'],
    });
    const plan = await elbRevocationPlan(w.store, await w.published());
    expect(plan.crls).toEqual([]);
    expect(plan.notEnforced).toEqual([
      expect.stringMatching(
        /^the CRL of .*Acme.* \(thisUpdate .*, 1 revoked\) was accepted before trustroll kept CRLs for ELB.*upload it again to inbox\/acme\/crl\/$/,
      ),
      'the identity rules of partner acme (1 route(s)): an ELB trust store checks only the chain and CRLs',
    ]);
  });
});
