import { describe, expect, it } from 'vitest';
import { RevocationRefusedError, ThrottledError, UpstreamError } from '../../../shared/errors.js';
import {
  crlSyncId,
  type RevocationSyncGateway,
  startCrlSync,
  stepCrlSync,
} from '../../../shared/rollout/crl-sync.js';
import { ACTIVE_KEY, ACTIVE_WAIT_SECONDS, durableStep } from '../../../shared/rollout/durable-step.js';
import {
  type ElbCrl,
  type ElbRevocationPlan,
  type LedgerCrl,
  ledgerKey,
  trustStoresBehind,
} from '../../../shared/rollout/elb-revocations.js';
import type { Rollout, RolloutConfig, Target } from '../../../shared/rollout/model.js';
import { latestCrlSync, latestRollout, rolloutKey } from '../../../shared/rollout/records.js';
import { startRollout } from '../../../shared/rollout/step.js';
import { FakeClock, MemoryNotifier, memoryLog } from '../../fakes/fakes.js';
import { MemoryStore } from '../../fakes/memory-store.js';
import { FakeTargetGateway } from '../../fakes/targets.js';

const ARN = (n: string) =>
  `arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/${n}/0123456789abcdef`;
const albA: Target = { id: 'alb-a', kind: 'elb-trust-store', resource: ARN('a'), wave: 'canary' };
const albB: Target = { id: 'alb-b', kind: 'elb-trust-store', resource: ARN('b'), wave: 'rest' };
const albNew: Target = { id: 'alb-new', kind: 'elb-trust-store', resource: ARN('new'), wave: 'rest' };
const api: Target = { id: 'api', kind: 'apigateway-rest', resource: 'api.example.com', wave: 'canary' };
const config: RolloutConfig = {
  waves: ['canary', 'rest'],
  targets: [api, albA, albB, albNew],
  settings: { pollIntervalMs: 1_000, updateTimeoutMs: 60_000, minUpdateIntervalMs: 30_000, maxAttempts: 3 },
};

const crl = (n: number, extra: Partial<ElbCrl> = {}): ElbCrl => ({
  name: `revocation/crls/${n}.pem (CRL of CN=CA ${n})`,
  key: `revocation/crls/${n}.pem`,
  objectVersion: `o${n}`,
  bytes: 1_000,
  entries: 2,
  sha256: `${n}`,
  issuer: `ca${n}`,
  scope: '',
  ...extra,
});
const ledgerCrl = ({ key, objectVersion, issuer, scope }: LedgerCrl): LedgerCrl => ({
  key,
  objectVersion,
  issuer,
  scope,
});

/** ELB as the sync sees it: each call recorded; `fail` makes the next call for a trust store throw. */
class FakeSync implements RevocationSyncGateway {
  readonly calls: { target: string; version: string; crls: string[] }[] = [];
  readonly fail = new Map<string, Error>();
  constructor(private readonly store: MemoryStore) {}
  async syncRevocations(target: Target, version: string, crls: readonly ElbCrl[]) {
    const error = this.fail.get(target.id);
    if (error) throw error;
    this.calls.push({ target: target.id, version, crls: crls.map((c) => c.key) });
    await ledger(this.store, target.resource, version, crls.map(ledgerCrl));
    return { added: crls.length, removed: 0 };
  }
}

const ledger = (store: MemoryStore, arn: string, version: string, crls: readonly LedgerCrl[]) =>
  store.put(
    ledgerKey(arn),
    new TextEncoder().encode(
      JSON.stringify({ trustStoreArn: arn, uri: 's3://b/truststore/truststore.pem', version, at: 'x', crls }),
    ),
  );

const setup = async (plan: (version: string) => ElbRevocationPlan) => {
  const clock = new FakeClock(Date.parse('2026-12-03T05:00:00Z'));
  const store = new MemoryStore();
  const sync = new FakeSync(store);
  const notifier = new MemoryNotifier();
  const log = memoryLog();
  const revocations = async (v: string) => plan(v);
  const deps = { store, gateway: sync, revocations, notifier, clock, log, config };
  return { clock, store, sync, notifier, deps, revocations };
};

describe('a CRL sync (a CRL accepted without a new version, given to the ELB trust stores)', () => {
  it('is named for the revision and revocation generation, and holds the ELB trust stores only, never an API Gateway domain', () => {
    const sync = startCrlSync(config, { revision: 7, generation: 3 }, 'v2', new Date('2026-12-03T05:00:00Z'));
    expect(sync).toMatchObject({
      id: 'crl-7-3',
      kind: 'crl-sync',
      revision: 7,
      generation: 3,
      version: 'v2',
    });
    expect(crlSyncId({ revision: 7, generation: 3 })).toBe('crl-7-3');
    expect(sync.targets.map((t) => [t.id, t.wave, t.phase])).toEqual([
      ['alb-a', 'canary', 'pending'],
      ['alb-b', 'rest', 'pending'],
      ['alb-new', 'rest', 'pending'],
    ]);
  });

  it('gives each trust store the CRLs of the version it serves, leaves one already in step, and skips one trustroll never rolled', async () => {
    const { store, sync, notifier, deps, clock } = await setup((v) => ({
      crls: v === 'v1' ? [crl(2)] : [crl(2), crl(3)],
      notEnforced: [],
    }));
    await ledger(store, ARN('a'), 'v1', [ledgerCrl(crl(1))]);
    await ledger(store, ARN('b'), 'v1', [ledgerCrl(crl(2))]);
    clock.advance(5_000);
    const out = await stepCrlSync(
      startCrlSync(config, { revision: 7, generation: 3 }, 'v1', new Date(0)),
      deps,
    );
    expect(sync.calls).toEqual([{ target: 'alb-a', version: 'v1', crls: ['revocation/crls/2.pem'] }]);
    expect(out.targets.map((t) => [t.id, t.phase, t.from])).toEqual([
      ['alb-a', 'rolled', 'v1'],
      ['alb-b', 'unchanged', 'v1'],
      ['alb-new', 'skipped', undefined],
    ]);
    expect(out.targets[2]!.error).toContain('no ledger');
    expect(out).toMatchObject({ status: 'succeeded', updatedAt: '2026-12-03T05:00:05.000Z' });
    expect(notifier.sent).toEqual([]);
    // What status reads: nothing behind any more.
    expect(await trustStoresBehind(store, deps.revocations, out)).toEqual([]);
  });

  it("refuses, sending nothing, CRLs that break ELB's quotas (31 files), with an error alert naming the limit", async () => {
    const many = Array.from({ length: 31 }, (_, i) => crl(i + 1));
    const { store, sync, notifier, deps } = await setup(() => ({ crls: many, notEnforced: [] }));
    await ledger(store, ARN('a'), 'v1', []);
    const out = await stepCrlSync(
      startCrlSync(config, { revision: 7, generation: 3 }, 'v1', new Date(0)),
      deps,
    );
    expect(sync.calls).toEqual([]);
    expect(out.status).toBe('failed');
    expect(out.targets[0]).toMatchObject({ id: 'alb-a', phase: 'failed', from: 'v1' });
    expect(out.targets[0]!.error).toContain('elb.too-many-crls: 31 revocation files');
    expect(out.reason).toContain('alb-a: CRLs not given');
    expect(notifier.sent.map((n) => [n.eventType, n.severity])).toEqual([
      ['truststore.crls-not-synced', 'error'],
    ]);
    expect(notifier.sent[0]!.body).toContain(ARN('a'));
    expect(notifier.sent[0]!.body).toContain('elb.too-many-crls');
    // status says the sync failed for it, not that the next version's rollout brings the CRLs.
    const [behind] = await trustStoresBehind(store, deps.revocations, out);
    expect(behind).toContain(`lacks 31 CRL(s) the state holds for its CAs: the CRL sync crl-7-3`);
    expect(behind).toContain('failed for it: its CRLs break');
  });

  it('fails a trust store whose file ELB refuses, and goes on with the others', async () => {
    const { store, sync, notifier, deps } = await setup(() => ({ crls: [crl(2)], notEnforced: [] }));
    await ledger(store, ARN('a'), 'v1', []);
    await ledger(store, ARN('b'), 'v1', []);
    sync.fail.set('alb-a', new RevocationRefusedError('the trust store refused the revocation file'));
    const out = await stepCrlSync(
      startCrlSync(config, { revision: 7, generation: 3 }, 'v1', new Date(0)),
      deps,
    );
    expect(out.targets.map((t) => t.phase)).toEqual(['failed', 'rolled', 'skipped']);
    expect(sync.calls.map((c) => c.target)).toEqual(['alb-b']);
    expect(notifier.sent.map((n) => n.id)).toEqual(['truststore.crls-not-synced:alb-a:crl-7-3']);
  });

  it('throws what a retry may mend (throttled, a 5xx), for the state machine to run the step again', async () => {
    const { store, sync, deps } = await setup(() => ({ crls: [crl(2)], notEnforced: [] }));
    await ledger(store, ARN('a'), 'v1', []);
    const sync0 = startCrlSync(config, { revision: 7, generation: 3 }, 'v1', new Date(0));
    sync.fail.set('alb-a', new ThrottledError('Throttling'));
    await expect(stepCrlSync(sync0, deps)).rejects.toThrow(ThrottledError);
    sync.fail.set(
      'alb-a',
      new UpstreamError('InternalFailure', { cause: { $metadata: { httpStatusCode: 500 } } }),
    );
    await expect(stepCrlSync(sync0, deps)).rejects.toThrow(UpstreamError);
    // Access denied is no hiccup: the trust store fails, said, and the sync ends.
    sync.fail.set(
      'alb-a',
      new UpstreamError('AccessDenied', { cause: { $metadata: { httpStatusCode: 403 } } }),
    );
    expect((await stepCrlSync(sync0, deps)).targets[0]).toMatchObject({
      phase: 'failed',
      error: 'AccessDenied',
    });
  });
});

describe('durableStep with { revocations } (the CRL sync execution of the rollout state machine)', () => {
  it('waits while a rollout holds the targets, then syncs in one step, touching no API Gateway domain', async () => {
    const { store, sync, clock, revocations } = await setup(() => ({ crls: [crl(2)], notEnforced: [] }));
    const targets = new FakeTargetGateway(clock, { api: 'v1' });
    const deps = {
      store,
      gateway: targets,
      revocationSync: sync,
      revocations,
      clock,
      notifier: new MemoryNotifier(),
      log: memoryLog(),
      config,
    };
    await ledger(store, ARN('a'), 'v1', []);
    // A rollout holds the targets, and has just stepped.
    const holder: Rollout = startRollout(config, { revision: 6, version: 'v1' }, clock.now());
    await store.put(rolloutKey(holder.id), new TextEncoder().encode(JSON.stringify(holder)));
    await store.put(ACTIVE_KEY, new TextEncoder().encode(JSON.stringify({ id: holder.id })));

    const first = await durableStep({ revocations: { revision: 7, generation: 3 } }, deps);
    expect(first).toMatchObject({
      done: false,
      waitSeconds: ACTIVE_WAIT_SECONDS,
      rollout: { id: 'crl-7-3' },
    });
    expect(sync.calls).toEqual([]);
    expect((await latestCrlSync(store))?.status).toBe('running');
    // A running sync is what status names for a trust store still behind.
    expect((await trustStoresBehind(store, revocations, await latestCrlSync(store)))[0]).toContain(
      'the CRL sync crl-7-3 (revision 7, revocation generation 3) is under way since 2026-12-03T05:00:00.000Z',
    );

    await store.put(
      rolloutKey(holder.id),
      new TextEncoder().encode(JSON.stringify({ ...holder, status: 'succeeded' })),
    );
    clock.advance(first.waitSeconds * 1000);
    const second = await durableStep(JSON.parse(JSON.stringify({ rollout: first.rollout })), deps);
    expect(second).toMatchObject({ done: true, waitSeconds: 0, rollout: { status: 'succeeded' } });
    expect(sync.calls).toEqual([{ target: 'alb-a', version: 'v1', crls: ['revocation/crls/2.pem'] }]);
    expect(targets.events).toEqual([]);
    expect(JSON.parse(new TextDecoder().decode((await store.get(ACTIVE_KEY)).body))).toEqual({
      id: 'crl-7-3',
      previous: '6-v1',
    });
    expect(await latestCrlSync(store)).toEqual(second.rollout);
    // A sync is no rollout: status's last rollout is still the version's.
    expect((await latestRollout(store))?.id).toBe(holder.id);
  });

  it('refuses a revocation change that is not two integers (a retry cannot mend it)', async () => {
    const { deps } = await setup(() => ({ crls: [], notEnforced: [] }));
    await expect(
      durableStep(
        { revocations: { revision: 7, generation: 'x' as never } },
        { ...deps, gateway: new FakeTargetGateway(new FakeClock(), {}) },
      ),
    ).rejects.toThrow('a CRL sync needs');
  });
});
