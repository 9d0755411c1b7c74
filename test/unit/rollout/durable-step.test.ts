import { describe, expect, it } from 'vitest';
import { InputError } from '../../../shared/errors.js';
import { ingestUploads } from '../../../shared/pipeline/ingest.js';
import { loadState } from '../../../shared/pipeline/state-store.js';
import { ACTIVE_KEY, durableStep } from '../../../shared/rollout/durable-step.js';
import type { Rollout, RolloutConfig } from '../../../shared/rollout/model.js';
import { rolloutKey } from '../../../shared/rollout/records.js';
import { startRollout } from '../../../shared/rollout/step.js';
import { latestPublished } from '../../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { FakeTargetGateway } from '../../fakes/targets.js';
import { partnerChain, pemOf, toBytes } from '../../fixtures/pki.js';

const config: RolloutConfig = {
  waves: ['canary'],
  targets: [{ id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'canary' }],
  settings: { pollIntervalMs: 1_500, updateTimeoutMs: 300_000, minUpdateIntervalMs: 30_000, maxAttempts: 3 },
};

const setup = () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const gateway = new FakeTargetGateway(clock, { api: 'v1' });
  return {
    clock,
    store,
    gateway,
    deps: { store, gateway, clock, notifier: new MemoryNotifier(), log: memoryLog(), config },
  };
};

/** Ingests `pem` as `partner`'s upload into `store`; the release it publishes. */
const publishCas = async (store: MemoryStore, clock: FakeClock, partner: string, pem: string) => {
  const { version: upload } = await store.put(`inbox/${partner}/ca.pem`, toBytes(pem));
  await ingestUploads([{ key: `inbox/${partner}/ca.pem`, version: upload }], {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock,
    log: memoryLog(),
    config: { roll: { domains: [] } },
  });
  const { state } = await loadState(store);
  return { revision: state.revision, version: latestPublished(state)!.version! };
};

describe('durableStep (one Step Functions task of a rollout)', () => {
  it('refuses a step given neither a record nor a release (a retry cannot fix it)', async () => {
    await expect(durableStep({}, setup().deps)).rejects.toThrow(InputError);
  });

  it('writes the record of every step where trustroll status reads it, and asks for whole seconds of waiting, at least one', async () => {
    const { deps, store, clock, gateway } = setup();
    gateway.updatingReads = 5;
    const rollout: Rollout = startRollout(config, { revision: 2, version: 'v2' }, clock.now());
    // No published version in the store: nothing supersedes the rollout.
    let out = await durableStep({ rollout }, deps);
    const waits: number[] = [];
    for (let i = 0; !out.done && i < 100; i++) {
      waits.push(out.waitSeconds);
      clock.advance(out.waitSeconds * 1000);
      out = await durableStep({ rollout: JSON.parse(JSON.stringify(out.rollout)) }, deps);
    }
    expect(out).toMatchObject({ done: true, waitSeconds: 0, rollout: { status: 'succeeded' } });
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => Number.isInteger(w) && w >= 1)).toBe(true);
    // A poll interval of 1.5 s is waited as 2 whole seconds, never 1 (it would step too early).
    expect(waits).toContain(2);
    const saved = JSON.parse(new TextDecoder().decode((await store.get(rolloutKey(rollout.id))).body));
    expect(saved).toEqual(out.rollout);
  });

  it('returns an ended rollout as it is, done, and writes it again (a redriven step after the end)', async () => {
    const { deps, store, clock } = setup();
    const ended: Rollout = {
      ...startRollout(config, { revision: 2, version: 'v2' }, clock.now()),
      status: 'rolled-back',
    };
    expect(await durableStep({ rollout: ended }, deps)).toEqual({
      rollout: ended,
      waitSeconds: 0,
      done: true,
    });
    expect((await store.get(rolloutKey(ended.id))).body.length).toBeGreaterThan(0);
  });
});

describe('durableStep: one rollout after another', () => {
  it("paces the first update of a release's rollout by the last call of the rollout that held the targets before", async () => {
    const { deps, store, clock, gateway } = setup();
    const publish = async (partner: string) =>
      publishCas(store, clock, partner, pemOf((await partnerChain(partner)).root));
    const drive = async (release: { revision: number; version: string }) => {
      let out = await durableStep({ release }, deps);
      for (let i = 0; !out.done && i < 100; i++) {
        clock.advance(out.waitSeconds * 1000);
        out = await durableStep({ rollout: JSON.parse(JSON.stringify(out.rollout)) }, deps);
      }
      return out.rollout as Rollout;
    };
    const first = await drive(await publish('acme'));
    expect(first.status).toBe('succeeded');
    const lastCall = Date.parse(Object.values(first.lastUpdateByAccount)[0]!);
    const release = await publish('beta');
    // The next rollout's first step comes 5 s after the last call: it waits, calling nothing.
    clock.advance(lastCall + 5_000 - clock.now().getTime());
    const seen = gateway.events.length;
    const out = await durableStep({ release }, deps);
    expect((out.rollout as Rollout).lastUpdateByAccount).toEqual(first.lastUpdateByAccount);
    // The first step run again (Step Functions retries a task whose answer was lost): the same.
    expect(await drive(release)).toMatchObject({ status: 'succeeded' });
    const next = gateway.events.slice(seen).filter((e) => e.op === 'update');
    expect(next).toHaveLength(1);
    expect(next[0]!.at - lastCall).toBeGreaterThanOrEqual(30_000);
  });
});

describe('durableStep: a rollout re-driven after another took the targets over', () => {
  it('stops, touching nothing, when the targets are held by another rollout (it stood still, was taken over, then re-driven)', async () => {
    const { deps, store, clock, gateway } = setup();
    const started = startRollout(config, { revision: 2, version: 'v2' }, clock.now());
    // It had asked for the update of api (and then its execution stood still, and was taken over).
    const touched: Rollout = {
      ...started,
      targets: started.targets.map((t) => ({
        ...t,
        phase: 'updating' as const,
        from: 'v1',
        requestedAt: clock.now().toISOString(),
      })),
    };
    await store.put(
      ACTIVE_KEY,
      new TextEncoder().encode(`${JSON.stringify({ id: '3-v3', previous: touched.id })}\n`),
    );
    const out = await durableStep({ rollout: touched }, deps);
    expect(out).toMatchObject({ done: true, waitSeconds: 0, rollout: { status: 'superseded' } });
    expect((out.rollout as Rollout).reason).toMatch(
      /^rollout 3-v3 took the targets over while this one stood still/,
    );
    expect(gateway.events).toEqual([]);
    // The holder's own steps go on.
    expect(JSON.parse(new TextDecoder().decode((await store.get(ACTIVE_KEY)).body)).id).toBe('3-v3');
  });
});

describe('durableStep and the revocation files of ELB trust stores', () => {
  const alb: RolloutConfig = {
    ...config,
    targets: [
      {
        id: 'alb',
        kind: 'elb-trust-store',
        resource: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/partners/0123456789abcdef',
        wave: 'canary',
      },
    ],
  };

  it("refuses, before touching the trust store, a version whose CRLs break ELB's quotas (30 files)", async () => {
    const { store, clock, gateway } = setup();
    const chain = await partnerChain('Acme');
    const release = await publishCas(store, clock, 'acme', pemOf(chain.root, chain.intermediate));
    const crls = Array.from({ length: 31 }, (_, i) => ({
      name: `revocation/crls/${i}.pem`,
      key: `revocation/crls/${i}.pem`,
      objectVersion: 'v',
      bytes: 1_000,
      entries: 1,
      sha256: `${i}`,
      issuer: 'a',
      scope: `idp-${i}`,
    }));
    const notifier = new MemoryNotifier();
    const asked: string[] = [];
    const out = await durableStep(
      { release },
      {
        store,
        gateway,
        clock,
        notifier,
        log: memoryLog(),
        config: alb,
        revocations: async (v) => {
          asked.push(v);
          return { crls, notEnforced: [] };
        },
      },
    );
    expect(asked).toEqual([release.version]);
    expect(out).toMatchObject({ done: true, rollout: { status: 'failed' } });
    expect((out.rollout as Rollout).reason).toMatch(/refused by the limits of alb: elb\.too-many-crls/);
    expect(gateway.updates()).toEqual([]);
    expect(notifier.sent.map((n) => n.eventType)).toEqual(['truststore.roll-failed']);
  });
});
