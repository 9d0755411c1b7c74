import { APIGatewayClient, GetDomainNameCommand, UpdateDomainNameCommand } from '@aws-sdk/client-api-gateway';
import {
  ApiGatewayV2Client,
  GetDomainNameCommand as GetHttpDomain,
  UpdateDomainNameCommand as UpdateHttpDomain,
} from '@aws-sdk/client-apigatewayv2';
import {
  AddTrustStoreRevocationsCommand,
  DescribeTrustStoreRevocationsCommand,
  DescribeTrustStoresCommand,
  ElasticLoadBalancingV2Client,
  ElasticLoadBalancingV2ServiceException,
  ModifyTrustStoreCommand,
  RemoveTrustStoreRevocationsCommand,
  TrustStoreNotFoundException,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AssumedRoleCredentials } from '../../../../shared/adapters/aws/assumed-role.js';
import { ledgerKey } from '../../../../shared/adapters/aws/elb-trust-stores.js';
import { AwsTargets, runProbe } from '../../../../shared/adapters/aws/targets.js';
import {
  ConflictError,
  InputError,
  NotFoundError,
  RevocationRefusedError,
  ThrottledError,
  UpstreamError,
} from '../../../../shared/errors.js';
import type { Target } from '../../../../shared/rollout/model.js';
import { MemoryStore } from '../../../fakes/memory-store.js';

const rest = mockClient(APIGatewayClient);
const http = mockClient(ApiGatewayV2Client);
const elb = mockClient(ElasticLoadBalancingV2Client);
const sts = mockClient(STSClient);

const URI = 's3://trustroll-bucket/truststore/truststore.pem';
const TRUST_STORE =
  'arn:aws:elasticloadbalancing:eu-west-1:210987654321:truststore/partners/0123456789abcdef';
const ROLE = 'arn:aws:iam::210987654321:role/trustroll-target';

const restTarget: Target = {
  id: 'api',
  kind: 'apigateway-rest',
  resource: 'api.example.com',
  wave: 'canary',
};
const httpTarget: Target = {
  id: 'mtls',
  kind: 'apigateway-http',
  resource: 'mtls.example.com',
  wave: 'rest',
  region: 'eu-central-1',
};
const elbTarget: Target = {
  id: 'alb',
  kind: 'elb-trust-store',
  resource: TRUST_STORE,
  wave: 'rest',
  region: 'eu-west-1',
  account: '210987654321',
  roleArn: ROLE,
  externalId: 'trustroll-3f9a',
};

let store: MemoryStore;
let now: Date;
const gateway = () => new AwsTargets({ truststoreUri: URI, region: 'us-east-1', store, now: () => now });

/** The region and the access key a mocked call's client signed with (its own config). */
const signedBy = async (call: { thisValue: unknown }) => {
  const config = (
    call.thisValue as {
      config: { region: () => Promise<string>; credentials: () => Promise<{ accessKeyId: string }> };
    }
  ).config;
  return { region: await config.region(), accessKeyId: (await config.credentials()).accessKeyId };
};

const assumed = (key: string, expiration: Date) => ({
  Credentials: { AccessKeyId: key, SecretAccessKey: 'secret', SessionToken: 'token', Expiration: expiration },
});

beforeEach(() => {
  for (const m of [rest, http, elb, sts]) m.reset();
  store = new MemoryStore();
  now = new Date('2026-12-03T05:00:00Z');
  process.env.AWS_ACCESS_KEY_ID = 'pipeline-key';
  process.env.AWS_SECRET_ACCESS_KEY = 'pipeline-secret';
});

describe('AwsTargets: API Gateway targets', () => {
  it('reads a REST target with GetDomainName in the pipeline region, with the function’s own credentials', async () => {
    rest.on(GetDomainNameCommand).resolves({
      domainName: 'api.example.com',
      domainNameStatus: 'UPDATING',
      mutualTlsAuthentication: { truststoreUri: URI, truststoreVersion: 'v1', truststoreWarnings: ['w'] },
    });
    expect(await gateway().describe(restTarget)).toEqual({
      name: 'api.example.com',
      status: 'UPDATING',
      truststoreUri: URI,
      truststoreVersion: 'v1',
      warnings: ['w'],
    });
    const call = rest.commandCalls(GetDomainNameCommand)[0]!;
    expect(call.args[0].input).toEqual({ domainName: 'api.example.com' });
    expect(await signedBy(call)).toEqual({ region: 'us-east-1', accessKeyId: 'pipeline-key' });
  });

  it('rolls an HTTP API target in its own region with apigatewayv2 UpdateDomainName, after checking its truststore is ours', async () => {
    http.on(GetHttpDomain).resolves({
      DomainName: 'mtls.example.com',
      DomainNameConfigurations: [{ DomainNameStatus: 'AVAILABLE' }],
      MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: 'v1' },
    });
    http.on(UpdateHttpDomain).resolves({});
    await gateway().update(httpTarget, 'v2');
    const update = http.commandCalls(UpdateHttpDomain);
    expect(update.map((c) => c.args[0].input)).toEqual([
      {
        DomainName: 'mtls.example.com',
        MutualTlsAuthentication: { TruststoreUri: URI, TruststoreVersion: 'v2' },
      },
    ]);
    expect((await signedBy(update[0]!)).region).toBe('eu-central-1');
  });

  it('refuses to roll a domain serving another truststore, and makes no update call', async () => {
    rest.on(GetDomainNameCommand).resolves({
      domainName: 'api.example.com',
      domainNameStatus: 'AVAILABLE',
      mutualTlsAuthentication: { truststoreUri: 's3://someone-else/ca.pem', truststoreVersion: 'x' },
    });
    await expect(gateway().update(restTarget, 'v2')).rejects.toThrow(InputError);
    expect(rest.commandCalls(UpdateDomainNameCommand)).toEqual([]);
  });

  it('maps API Gateway throttling to ThrottledError, to be retried at the next step', async () => {
    rest.on(GetDomainNameCommand).resolves({
      domainName: 'api.example.com',
      mutualTlsAuthentication: { truststoreUri: URI, truststoreVersion: 'v1' },
    });
    rest.on(UpdateDomainNameCommand).rejects(
      Object.assign(new Error('Too Many Requests'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
    );
    await expect(gateway().update(restTarget, 'v2')).rejects.toThrow(ThrottledError);
  });

  it('keeps one client per kind, region and role: a second call reuses it', async () => {
    rest.on(GetDomainNameCommand).resolves({ domainName: 'api.example.com' });
    const g = gateway();
    await g.describe(restTarget);
    await g.describe({ ...restTarget, id: 'api2', resource: 'api2.example.com' });
    await g.describe({ ...restTarget, id: 'api3', region: 'ap-southeast-2' });
    const clients = rest.commandCalls(GetDomainNameCommand).map((c) => c.thisValue);
    expect(clients[0]).toBe(clients[1]);
    expect(clients[2]).not.toBe(clients[0]);
  });
});

describe('AwsTargets: ELB trust stores', () => {
  const describeAs = (Status: 'ACTIVE' | 'CREATING') =>
    elb.on(DescribeTrustStoresCommand).resolves({
      TrustStores: [{ Name: 'partners', TrustStoreArn: TRUST_STORE, Status, NumberOfCaCertificates: 4 }],
    });

  beforeEach(() => {
    sts.on(AssumeRoleCommand).resolves(assumed('ASIA-TARGET', new Date('2026-12-03T05:15:00Z')));
  });

  it('updates with ModifyTrustStore (bucket, key, object version) under the assumed role, and records the version it gave', async () => {
    elb
      .on(ModifyTrustStoreCommand)
      .resolves({ TrustStores: [{ TrustStoreArn: TRUST_STORE, Status: 'ACTIVE' }] });
    // Built without a revocation plan: it sends no CRL, and says so rather than keep quiet.
    expect(await gateway().update(elbTarget, 'v2')).toEqual({
      notEnforced: [expect.stringContaining('without revocation files')],
    });
    const calls = elb.commandCalls(ModifyTrustStoreCommand);
    expect(calls.map((c) => c.args[0].input)).toEqual([
      {
        TrustStoreArn: TRUST_STORE,
        CaCertificatesBundleS3Bucket: 'trustroll-bucket',
        CaCertificatesBundleS3Key: 'truststore/truststore.pem',
        CaCertificatesBundleS3ObjectVersion: 'v2',
      },
    ]);
    expect(await signedBy(calls[0]!)).toEqual({ region: 'eu-west-1', accessKeyId: 'ASIA-TARGET' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleArn: ROLE,
        RoleSessionName: 'trustroll-rollout',
        DurationSeconds: 900,
        ExternalId: 'trustroll-3f9a',
      },
    ]);
    const ledger = JSON.parse(new TextDecoder().decode((await store.get(ledgerKey(TRUST_STORE))).body));
    expect(ledger).toEqual({
      trustStoreArn: TRUST_STORE,
      uri: URI,
      version: 'v2',
      at: now.toISOString(),
      revocations: [],
      crls: [],
    });
    // No revocation file to add or take back: no revocation call at all.
    expect(elb.calls().map((c) => c.args[0].constructor.name)).toEqual(['ModifyTrustStoreCommand']);
  });

  it('reads ACTIVE as AVAILABLE and CREATING as UPDATING, with the version trustroll last gave it', async () => {
    elb.on(ModifyTrustStoreCommand).resolves({});
    const g = gateway();
    describeAs('CREATING');
    expect(await g.describe(elbTarget)).toEqual({ name: TRUST_STORE, status: 'UPDATING', warnings: [] });
    await g.update(elbTarget, 'v2');
    describeAs('ACTIVE');
    expect(await g.describe(elbTarget)).toEqual({
      name: TRUST_STORE,
      status: 'AVAILABLE',
      truststoreUri: URI,
      truststoreVersion: 'v2',
      warnings: [],
    });
    expect(elb.commandCalls(DescribeTrustStoresCommand)[0]!.args[0].input).toEqual({
      TrustStoreArns: [TRUST_STORE],
    });
  });

  it('leaves the recorded version alone when ModifyTrustStore fails', async () => {
    elb.on(ModifyTrustStoreCommand).rejects(
      new ElasticLoadBalancingV2ServiceException({
        name: 'InvalidCaCertificatesBundleException',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'The specified ca certificate bundle is in an invalid format',
      }),
    );
    await expect(gateway().update(elbTarget, 'v2')).rejects.toThrow(UpstreamError);
    await expect(store.get(ledgerKey(TRUST_STORE))).rejects.toThrow(NotFoundError);
  });

  it('maps TrustStoreNotFound to NotFoundError and ELB throttling to ThrottledError', async () => {
    elb
      .on(DescribeTrustStoresCommand)
      .rejects(new TrustStoreNotFoundException({ $metadata: { httpStatusCode: 400 }, message: 'not found' }));
    await expect(gateway().describe(elbTarget)).rejects.toThrow(NotFoundError);
    elb
      .on(ModifyTrustStoreCommand)
      .rejects(
        Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } }),
      );
    await expect(gateway().update(elbTarget, 'v2')).rejects.toThrow(ThrottledError);
  });
});

describe('AwsTargets: the CRL sync of an ELB trust store (no new version)', () => {
  const crl = (n: number) => ({
    name: `CRL ${n}`,
    key: `revocation/crls/${n}.pem`,
    objectVersion: `o${n}`,
    bytes: 900,
    entries: 1,
    sha256: `${n}`,
    issuer: 'ca',
    scope: '',
  });
  const ledgerCrl = (n: number) => ({
    key: `revocation/crls/${n}.pem`,
    objectVersion: `o${n}`,
    issuer: 'ca',
    scope: '',
  });
  const previous = { uri: URI, version: 'v1', crls: [] };
  const writeLedger = (version: string) =>
    store.put(
      ledgerKey(TRUST_STORE),
      new TextEncoder().encode(
        JSON.stringify({
          trustStoreArn: TRUST_STORE,
          uri: URI,
          version,
          at: '2026-12-01T00:00:00.000Z',
          // Revocation 41 trustroll added (CRL 1); 99 was added by someone else.
          revocations: [{ ...ledgerCrl(1), revocationId: 41 }],
          crls: [ledgerCrl(1)],
          previous,
        }),
      ),
    );
  const readLedger = async () =>
    JSON.parse(new TextDecoder().decode((await store.get(ledgerKey(TRUST_STORE))).body));

  beforeEach(() => {
    sts.on(AssumeRoleCommand).resolves(assumed('ASIA-TARGET', new Date('2026-12-03T05:15:00Z')));
    elb.on(DescribeTrustStoreRevocationsCommand).resolves({
      TrustStoreRevocations: [
        { TrustStoreArn: TRUST_STORE, RevocationId: 41, RevocationType: 'CRL', NumberOfRevokedEntries: 3 },
        { TrustStoreArn: TRUST_STORE, RevocationId: 99, RevocationType: 'CRL', NumberOfRevokedEntries: 8 },
      ],
    });
    elb.on(AddTrustStoreRevocationsCommand).resolves({
      TrustStoreRevocations: [
        { TrustStoreArn: TRUST_STORE, RevocationId: 42, RevocationType: 'CRL', NumberOfRevokedEntries: 4 },
      ],
    });
    elb.on(RemoveTrustStoreRevocationsCommand).resolves({});
  });

  it('adds the new CRL and removes the one it supersedes, as the assumed role, with no ModifyTrustStore and nothing of others touched', async () => {
    await writeLedger('v2');
    expect(await gateway().syncRevocations(elbTarget, 'v2', [crl(2)])).toEqual({ added: 1, removed: 1 });
    expect(elb.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])).toEqual([
      ['DescribeTrustStoreRevocationsCommand', { TrustStoreArn: TRUST_STORE }],
      [
        'AddTrustStoreRevocationsCommand',
        {
          TrustStoreArn: TRUST_STORE,
          RevocationContents: [
            {
              S3Bucket: 'trustroll-bucket',
              S3Key: 'revocation/crls/2.pem',
              S3ObjectVersion: 'o2',
              RevocationType: 'CRL',
            },
          ],
        },
      ],
      ['RemoveTrustStoreRevocationsCommand', { TrustStoreArn: TRUST_STORE, RevocationIds: [41] }],
    ]);
    for (const call of elb.calls())
      expect(await signedBy(call)).toEqual({ region: 'eu-west-1', accessKeyId: 'ASIA-TARGET' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      {
        RoleArn: ROLE,
        RoleSessionName: 'trustroll-rollout',
        DurationSeconds: 900,
        ExternalId: 'trustroll-3f9a',
      },
    ]);
    // The ledger keeps its version and the one before (what a roll back restores); the CRLs are new.
    expect(await readLedger()).toEqual({
      trustStoreArn: TRUST_STORE,
      uri: URI,
      version: 'v2',
      at: now.toISOString(),
      revocations: [{ ...ledgerCrl(2), revocationId: 42 }],
      crls: [ledgerCrl(2)],
      previous,
    });
  });

  it('keeps the CRLs the ledger had when ELB refuses a file part-way, with the files added so far recorded', async () => {
    await writeLedger('v2');
    elb
      .on(AddTrustStoreRevocationsCommand)
      .resolvesOnce({
        TrustStoreRevocations: [
          { TrustStoreArn: TRUST_STORE, RevocationId: 42, RevocationType: 'CRL', NumberOfRevokedEntries: 4 },
        ],
      })
      .rejectsOnce(
        Object.assign(new Error('The provided revocation file is not valid.'), {
          name: 'InvalidRevocationContentException',
          $metadata: { httpStatusCode: 400 },
        }),
      );
    await expect(gateway().syncRevocations(elbTarget, 'v2', [crl(2), crl(3)])).rejects.toThrow(
      RevocationRefusedError,
    );
    expect(elb.commandCalls(RemoveTrustStoreRevocationsCommand)).toEqual([]);
    const ledger = await readLedger();
    // Still behind as far as status reads it (its CRLs are the old set); file 42 is known, for the next sync.
    expect(ledger.crls).toEqual([ledgerCrl(1)]);
    expect(ledger.revocations).toEqual([
      { ...ledgerCrl(1), revocationId: 41 },
      { ...ledgerCrl(2), revocationId: 42 },
    ]);
  });

  it('refuses, with no ELB call, a trust store whose ledger names another version (a rollout changed it)', async () => {
    await writeLedger('v3');
    await expect(gateway().syncRevocations(elbTarget, 'v2', [crl(2)])).rejects.toThrow(ConflictError);
    expect(elb.calls()).toEqual([]);
  });

  it('never touches an API Gateway domain: a CRL sync of one is refused before any call', async () => {
    await expect(gateway().syncRevocations(restTarget, 'v2', [crl(2)])).rejects.toThrow(InputError);
    expect([...rest.calls(), ...http.calls(), ...elb.calls(), ...sts.calls()]).toEqual([]);
  });
});

describe('AssumedRoleCredentials', () => {
  it('assumes the role once while the credentials are fresh, and again two minutes before they expire', async () => {
    let clock = new Date('2026-12-03T05:00:00Z');
    sts
      .on(AssumeRoleCommand)
      .resolvesOnce(assumed('A1', new Date('2026-12-03T05:15:00Z')))
      .resolvesOnce(assumed('A2', new Date('2026-12-03T05:30:00Z')));
    const role = new AssumedRoleCredentials(new STSClient({ region: 'us-east-1' }), ROLE, 'ext', () => clock);
    const [a, b] = await Promise.all([role.get(), role.get()]);
    expect([a.accessKeyId, b.accessKeyId]).toEqual(['A1', 'A1']);
    clock = new Date('2026-12-03T05:12:59Z');
    expect((await role.get()).accessKeyId).toBe('A1');
    clock = new Date('2026-12-03T05:13:01Z');
    expect((await role.get()).accessKeyId).toBe('A2');
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
  });

  it('names the role it could not assume (a wrong external id is AccessDenied)', async () => {
    sts.on(AssumeRoleCommand).rejects(
      Object.assign(new Error('not authorized to perform: sts:AssumeRole'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const role = new AssumedRoleCredentials(new STSClient({ region: 'us-east-1' }), ROLE, 'wrong');
    await expect(role.get()).rejects.toThrow(`assuming role ${ROLE}: AccessDenied`);
  });
});

describe('runProbe', () => {
  const spec = {
    url: 'https://api.example.com/health',
    clientCert: 'probes/acme.crt',
    clientKey: 'probes/acme.key',
  };
  const withCert = async () => {
    const s = new MemoryStore();
    await s.put('probes/acme.crt', new TextEncoder().encode('CERT'));
    await s.put('probes/acme.key', new TextEncoder().encode('KEY'));
    return s;
  };

  it('passes when the request with the client certificate gets the expected status', async () => {
    const seen: string[] = [];
    const result = await runProbe(spec, await withCert(), async (url, cert, key) => {
      seen.push(url, cert, key);
      return 200;
    });
    expect(result).toEqual({ ok: true, detail: 'https://api.example.com/health answered 200' });
    expect(seen).toEqual(['https://api.example.com/health', 'CERT', 'KEY']);
  });

  it('fails with what was seen: another status, a refused handshake, a key outside probes/', async () => {
    expect(await runProbe(spec, await withCert(), async () => 403)).toEqual({
      ok: false,
      detail: 'https://api.example.com/health answered 403, not 200',
    });
    const refused = await runProbe(spec, await withCert(), async () => {
      throw new Error('socket hang up');
    });
    expect(refused).toEqual({ ok: false, detail: 'https://api.example.com/health: socket hang up' });
    const outside = await runProbe(
      { ...spec, clientKey: 'state/truststore.json' },
      await withCert(),
      async () => 200,
    );
    expect(outside.ok).toBe(false);
  });
});
