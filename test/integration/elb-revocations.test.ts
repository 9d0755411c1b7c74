import {
  AddTrustStoreRevocationsCommand,
  DescribeTrustStoreRevocationsCommand,
  DescribeTrustStoresCommand,
  ElasticLoadBalancingV2Client,
  InvalidRevocationContentException,
  ModifyTrustStoreCommand,
  RemoveTrustStoreRevocationsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rolloutStatus } from '../../cli/actions/rollout-status.js';
import { run as cli } from '../../cli/main.js';
import { ledgerKey } from '../../shared/adapters/aws/elb-trust-stores.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { AwsTargets } from '../../shared/adapters/aws/targets.js';
import { RevocationRefusedError } from '../../shared/errors.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { revokeCertificate } from '../../shared/pipeline/revocation.js';
import { loadState } from '../../shared/pipeline/state-store.js';
import { parseCertificate, pemToDer } from '../../shared/pki/certificate.js';
import { crlPemKey } from '../../shared/revocation/state.js';
import { durableStep } from '../../shared/rollout/durable-step.js';
import { elbRevocationPlan, trustStoresBehind } from '../../shared/rollout/elb-revocations.js';
import type { Rollout, RolloutConfig, Target } from '../../shared/rollout/model.js';
import { latestPublished } from '../../shared/truststore/state.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { crl, NOW, partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from './aws.js';

/**
 * ELB trust stores and revocation: the CRLs trustroll accepted are kept as PEM in the bucket (the
 * S3 emulator), and the ELB calls (aws-sdk-client-mock, answering with the API reference's shapes)
 * add them to a trust store with the version, take back the superseded ones, restore the earlier
 * set on a roll back, and refuse a rollout that ELB refuses a file of. What ELB cannot enforce is
 * said in the record, status and the alert.
 */
const aws = emulator();
const elb = mockClient(ElasticLoadBalancingV2Client);
const TRUST_STORE =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:truststore/partners/0123456789abcdef';
const target: Target = { id: 'alb', kind: 'elb-trust-store', resource: TRUST_STORE, wave: 'all' };

let acme: Awaited<ReturnType<typeof partnerChain>>;
let beta: Awaited<ReturnType<typeof partnerChain>>;
beforeAll(async () => {
  acme = await partnerChain('Acme');
  beta = await partnerChain('Beta', { key: 'p384' });
});

/** The trust store as ELB keeps it: the revocation files added, by id. */
let files: Map<number, { key: string; version: string }>;
let nextId: number;
beforeEach(() => {
  elb.reset();
  files = new Map();
  nextId = 7;
  elb
    .on(ModifyTrustStoreCommand)
    .resolves({ TrustStores: [{ TrustStoreArn: TRUST_STORE, Status: 'ACTIVE' }] });
  elb
    .on(DescribeTrustStoresCommand)
    .resolves({ TrustStores: [{ Name: 'partners', TrustStoreArn: TRUST_STORE, Status: 'ACTIVE' }] });
  elb.on(AddTrustStoreRevocationsCommand).callsFake((input) => {
    const content = input.RevocationContents[0];
    const id = nextId++;
    files.set(id, { key: content.S3Key, version: content.S3ObjectVersion });
    return {
      TrustStoreRevocations: [
        { TrustStoreArn: TRUST_STORE, RevocationId: id, RevocationType: 'CRL', NumberOfRevokedEntries: 1 },
      ],
    };
  });
  elb.on(RemoveTrustStoreRevocationsCommand).callsFake((input) => {
    for (const id of input.RevocationIds) files.delete(id);
    return {};
  });
  elb.on(DescribeTrustStoreRevocationsCommand).callsFake(() => ({
    TrustStoreRevocations: [...files.keys()].map((id) => ({
      TrustStoreArn: TRUST_STORE,
      RevocationId: id,
      RevocationType: 'CRL',
      NumberOfRevokedEntries: 1,
    })),
  }));
});

/** A bucket of its own, a pipeline that ingests into it, and the gateway that rolls from it. */
const world = async () => {
  const bucket = await versionedBucket(aws.s3);
  const store = new S3ObjectStore(aws.s3, bucket);
  const clock = new FakeClock(NOW.getTime());
  const notifier = new MemoryNotifier();
  const deps = {
    store,
    gateway: new FakeGateway(),
    notifier,
    clock,
    log: memoryLog(),
    config: { roll: { domains: [] } },
  };
  const drop = async (key: string, bytes: Uint8Array) => {
    const { version } = await store.put(key, bytes);
    const report = await ingestUploads([{ key, version }], deps);
    expect(report.uploads.map((u) => u.outcome)).toEqual(['accepted']);
  };
  const published = async () => latestPublished((await loadState(store)).state)!.version!;
  const revocations = (v: string) => elbRevocationPlan(store, v);
  const gateway = new AwsTargets({
    truststoreUri: `s3://${bucket}/truststore/truststore.pem`,
    region: 'eu-west-1',
    store,
    now: () => clock.now(),
    revocations,
  });
  const ledger = async () =>
    JSON.parse(new TextDecoder().decode((await store.get(ledgerKey(TRUST_STORE))).body));
  return { bucket, store, clock, notifier, drop, published, gateway, revocations, ledger };
};

const input = <T>(calls: { args: readonly [{ input: T }] }[]) => calls.map((c) => c.args[0].input);

describe('CRLs kept for ELB trust stores', () => {
  it('keeps an accepted CRL as the PEM of the DER the CA signed, once, under revocation/crls/<sha256>.pem', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    const der = await crl(acme.intermediate, [acme.client], { crlNumber: 1 });
    await w.drop('inbox/acme/crl/a.crl', der);
    const { state } = await loadState(w.store);
    const held = Object.values(state.revocation!.crls);
    expect(held).toHaveLength(1);
    const kept = await w.store.get(crlPemKey(held[0]!.sha256));
    const pem = new TextDecoder().decode(kept.body);
    expect(pem).toMatch(/^-----BEGIN X509 CRL-----\n[A-Za-z0-9+/=\n]+\n-----END X509 CRL-----\n$/);
    expect(Buffer.from(pemToDer(pem))).toEqual(Buffer.from(der));
    // The same CRL again leaves the object (and the version ELB may name) as it was.
    await w.drop('inbox/acme/crl/again.crl', der);
    expect((await w.store.head(crlPemKey(held[0]!.sha256))).version).toBe(kept.version);
  });
});

describe('an ELB trust store rolled with the CRLs of its version', () => {
  it("adds the version's CRLs after ModifyTrustStore, and records ELB's RevocationIds in the ledger", async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    const v1 = await w.published();
    const [plan] = [(await w.revocations(v1)).crls];
    expect(plan).toHaveLength(1);
    const crlKey = plan![0]!.key;
    const crlVersion = (await w.store.head(crlKey)).version;

    expect(await w.gateway.update(target, v1)).toEqual({});
    expect(input(elb.commandCalls(ModifyTrustStoreCommand))).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        CaCertificatesBundleS3Bucket: w.bucket,
        CaCertificatesBundleS3Key: 'truststore/truststore.pem',
        CaCertificatesBundleS3ObjectVersion: v1,
      },
    ]);
    expect(input(elb.commandCalls(DescribeTrustStoreRevocationsCommand))).toEqual([
      { TrustStoreArn: TRUST_STORE },
    ]);
    expect(input(elb.commandCalls(AddTrustStoreRevocationsCommand))).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        RevocationContents: [
          { S3Bucket: w.bucket, S3Key: crlKey, S3ObjectVersion: crlVersion, RevocationType: 'CRL' },
        ],
      },
    ]);
    expect(elb.commandCalls(RemoveTrustStoreRevocationsCommand)).toEqual([]);
    expect((await w.ledger()).revocations).toEqual([
      expect.objectContaining({ key: crlKey, objectVersion: crlVersion, revocationId: 7 }),
    ]);

    // Rolled again (a retried step): the trust store has the file, nothing is added twice.
    elb.resetHistory();
    await w.gateway.update(target, v1);
    expect(elb.commandCalls(AddTrustStoreRevocationsCommand)).toEqual([]);
    expect([...files.keys()]).toEqual([7]);
  });

  it('replaces a superseded CRL: the newer one is added first, then the one trustroll added before is removed', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [], { crlNumber: 1 }));
    const v1 = await w.published();
    await w.gateway.update(target, v1);
    await w.drop(
      'inbox/acme/crl/b.crl',
      await crl(acme.intermediate, [acme.client], { crlNumber: 2, thisUpdate: NOW }),
    );
    const newer = (await w.revocations(v1)).crls[0]!;
    elb.resetHistory();
    await w.gateway.update(target, v1);
    expect(elb.commandCalls(ModifyTrustStoreCommand)).toHaveLength(1);
    expect(input(elb.commandCalls(AddTrustStoreRevocationsCommand))).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        RevocationContents: [
          {
            S3Bucket: w.bucket,
            S3Key: newer.key,
            S3ObjectVersion: newer.objectVersion,
            RevocationType: 'CRL',
          },
        ],
      },
    ]);
    expect(input(elb.commandCalls(RemoveTrustStoreRevocationsCommand))).toEqual([
      { TrustStoreArn: TRUST_STORE, RevocationIds: [7] },
    ]);
    expect([...files.values()]).toEqual([{ key: newer.key, version: newer.objectVersion }]);
    expect((await w.ledger()).revocations.map((r: { revocationId: number }) => r.revocationId)).toEqual([8]);
  });

  it('restores the earlier set on a roll back: the files of the refused version go, the earlier ones stay', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    const v1 = await w.published();
    await w.gateway.update(target, v1);
    await w.drop('inbox/beta/ca.pem', toBytes(pemOf(beta.root, beta.intermediate)));
    await w.drop('inbox/beta/crl/b.crl', await crl(beta.intermediate, [beta.client], { crlNumber: 1 }));
    const v2 = await w.published();
    expect(v2).not.toBe(v1);
    await w.gateway.update(target, v2);
    expect([...files.keys()]).toEqual([7, 8]);

    elb.resetHistory();
    await w.gateway.update(target, v1, { restore: true });
    expect(
      input(elb.commandCalls(ModifyTrustStoreCommand)).map((c) => c.CaCertificatesBundleS3ObjectVersion),
    ).toEqual([v1]);
    expect(elb.commandCalls(AddTrustStoreRevocationsCommand)).toEqual([]);
    expect(input(elb.commandCalls(RemoveTrustStoreRevocationsCommand))).toEqual([
      { TrustStoreArn: TRUST_STORE, RevocationIds: [8] },
    ]);
    expect([...files.keys()]).toEqual([7]);
    const ledger = await w.ledger();
    expect(ledger.version).toBe(v1);
    expect(ledger.revocations.map((r: { revocationId: number }) => r.revocationId)).toEqual([7]);
  });

  it('adds again, on a roll back, an earlier file that was removed since', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [], { crlNumber: 1 }));
    const v1 = await w.published();
    const first = (await w.revocations(v1)).crls[0]!;
    await w.gateway.update(target, v1);
    await w.drop('inbox/beta/ca.pem', toBytes(pemOf(beta.root, beta.intermediate)));
    await w.drop(
      'inbox/acme/crl/b.crl',
      await crl(acme.intermediate, [acme.client], { crlNumber: 2, thisUpdate: NOW }),
    );
    const v2 = await w.published();
    await w.gateway.update(target, v2);
    expect([...files.keys()]).toEqual([8]);
    elb.resetHistory();
    await w.gateway.update(target, v1, { restore: true });
    expect(input(elb.commandCalls(AddTrustStoreRevocationsCommand))).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        RevocationContents: [
          {
            S3Bucket: w.bucket,
            S3Key: first.key,
            S3ObjectVersion: first.objectVersion,
            RevocationType: 'CRL',
          },
        ],
      },
    ]);
    expect(input(elb.commandCalls(RemoveTrustStoreRevocationsCommand))).toEqual([
      { TrustStoreArn: TRUST_STORE, RevocationIds: [8] },
    ]);
  });

  it('names a file ELB refuses (InvalidRevocationContent) as a RevocationRefusedError, with the files added so far in the ledger', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    const v1 = await w.published();
    elb.on(AddTrustStoreRevocationsCommand).rejects(
      new InvalidRevocationContentException({
        $metadata: { httpStatusCode: 400 },
        message: 'The provided revocation file is an invalid format, or uses an incorrect algorithm.',
      }),
    );
    const refused = w.gateway.update(target, v1);
    await expect(refused).rejects.toThrow(RevocationRefusedError);
    await expect(refused).rejects.toThrow(
      /refused the revocation file s3:\/\/.*revocation\/crls\/.*InvalidRevocationContent/,
    );
    const ledger = await w.ledger();
    expect(ledger).toMatchObject({ version: v1, revocations: [] });
  });
});

describe('a rollout to an ELB trust store', () => {
  const config: RolloutConfig = {
    waves: ['all'],
    targets: [target],
    settings: { pollIntervalMs: 1_000, updateTimeoutMs: 60_000, minUpdateIntervalMs: 0, maxAttempts: 2 },
  };
  const run = async (w: Awaited<ReturnType<typeof world>>, version: string, revision: number) => {
    const deps = {
      store: w.store,
      gateway: w.gateway,
      notifier: w.notifier,
      clock: w.clock,
      log: memoryLog(),
      config,
      revocations: w.revocations,
    };
    let out = await durableStep({ release: { revision, version } }, deps);
    for (let i = 0; i < 50 && !out.done; i++) {
      w.clock.advance(out.waitSeconds * 1000);
      out = await durableStep({ rollout: out.rollout }, deps);
    }
    expect(out.done).toBe(true);
    return out.rollout as Rollout;
  };

  it('says which revocations the trust store cannot enforce: a revocation by hand, in the record, status and the alert', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [], { crlNumber: 1 }));
    const issuer = parseCertificate(acme.intermediate.der).fingerprint;
    const serial = parseCertificate(acme.client.der).serial;
    await revokeCertificate(
      { store: w.store, log: memoryLog(), clock: w.clock },
      { issuer, serial, reason: 'laptop lost', by: 'ops' },
    );
    const { state } = await loadState(w.store);
    const rollout = await run(w, await w.published(), state.revision);
    expect(rollout.status).toBe('succeeded');
    const alb = rollout.targets[0]!;
    expect(alb.phase).toBe('rolled');
    expect(alb.notEnforced).toEqual([
      expect.stringContaining(`revocation(s) by hand (trustroll revoke) of certificates of`),
    ]);
    expect(alb.notEnforced![0]).toContain(`serial ${serial}`);
    // The CRL itself was given to the trust store.
    expect(elb.commandCalls(AddTrustStoreRevocationsCommand)).toHaveLength(1);

    const alert = w.notifier.sent.find((n) => n.eventType === 'truststore.revocations-not-enforced');
    expect(alert).toMatchObject({ severity: 'warning' });
    expect(alert!.body).toContain(TRUST_STORE);
    expect(alert!.body).toContain(`serial ${serial}`);

    let out = '';
    rolloutStatus(
      rollout,
      { storeLine: 'store', store: { latestVersion: rollout.version } },
      { out: (t) => (out += t), err: () => {}, stdin: async () => new Uint8Array() },
      () => {},
    );
    expect(out).toContain(`warning: alb does not enforce 1 revocation(s) by hand`);
  });

  it('rolls the trust store back, with its earlier files, when ELB refuses a file of the new version', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [acme.client], { crlNumber: 1 }));
    const v1 = await w.published();
    await w.gateway.update(target, v1);
    await w.drop('inbox/beta/ca.pem', toBytes(pemOf(beta.root, beta.intermediate)));
    await w.drop('inbox/beta/crl/b.crl', await crl(beta.intermediate, [beta.client], { crlNumber: 1 }));
    const betaCa = parseCertificate(beta.intermediate.der).fingerprint;
    const betaCrl = (await w.revocations(await w.published())).crls.find((c) => c.issuer === betaCa)!;
    elb.resetHistory();
    elb.on(AddTrustStoreRevocationsCommand).rejects(
      Object.assign(new Error('The specified trust store has too many revocation entries.'), {
        name: 'TooManyTrustStoreRevocationEntriesException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const { state } = await loadState(w.store);
    const rollout = await run(w, await w.published(), state.revision);
    expect(rollout.status).toBe('rolled-back');
    expect(rollout.targets[0]).toMatchObject({ phase: 'rolled-back', from: v1 });
    expect(rollout.targets[0]!.error).toMatch(
      /^revocation files refused: .*more revoked entries than ELB allows/,
    );
    expect(
      input(elb.commandCalls(ModifyTrustStoreCommand)).map((c) => c.CaCertificatesBundleS3ObjectVersion),
    ).toEqual([await w.published(), v1]);
    expect(input(elb.commandCalls(AddTrustStoreRevocationsCommand))).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        RevocationContents: [
          {
            S3Bucket: w.bucket,
            S3Key: betaCrl.key,
            S3ObjectVersion: betaCrl.objectVersion,
            RevocationType: 'CRL',
          },
        ],
      },
    ]);
    expect([...files.keys()]).toEqual([7]);
    expect((await w.ledger()).version).toBe(v1);
    const failed = w.notifier.sent.find((n) => n.eventType === 'truststore.roll-failed');
    expect(failed?.subject).toContain('alb rolled back: it refused the revocation files');
  });
  it('has trustroll status name a trust store that lacks a CRL accepted since its rollout, and exit 1, until the next roll', async () => {
    const w = await world();
    await w.drop('inbox/acme/ca.pem', toBytes(pemOf(acme.root, acme.intermediate)));
    await w.drop('inbox/acme/crl/a.crl', await crl(acme.intermediate, [], { crlNumber: 1 }));
    const { state } = await loadState(w.store);
    const v1 = await w.published();
    expect((await run(w, v1, state.revision)).status).toBe('succeeded');
    const status = async () => {
      let out = '';
      process.env.TRUSTROLL_AWS_ENDPOINT = aws.endpoint;
      const code = await cli(['status', '--store', `s3://${w.bucket}`, '--region', 'us-east-1'], {
        out: (t) => (out += t),
        err: (t) => (out += t),
        stdin: async () => new Uint8Array(),
      });
      return { code, out };
    };
    expect(await status()).toMatchObject({ code: 0 });
    expect(await trustStoresBehind(w.store, w.revocations)).toEqual([]);
    // A newer CRL: no new truststore version, so no rollout; the trust store still has the older one.
    await w.drop(
      'inbox/acme/crl/b.crl',
      await crl(acme.intermediate, [acme.client], { crlNumber: 2, thisUpdate: NOW }),
    );
    expect(await w.published()).toBe(v1);
    const behind = await status();
    expect(behind.code).toBe(1);
    expect(behind.out).toContain(
      `REVOCATIONS BEHIND: ELB trust store ${TRUST_STORE} (truststore version ${v1}) lacks 1 CRL(s) the state holds for its CAs and still holds 1 superseded`,
    );
    await w.gateway.update(target, v1);
    expect(await trustStoresBehind(w.store, w.revocations)).toEqual([]);
  });
});
