import { APIGatewayClient, GetDomainNameCommand } from '@aws-sdk/client-api-gateway';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main.js';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { readInput } from '../../shared/pki/read.js';
import { KEYS } from '../../shared/truststore/state.js';
import { contract } from '../contracts/object-store.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from './aws.js';

/** The lifecycle commands against S3 (the emulator), with stores under key prefixes: dev and prod. */
const aws = emulator();
const apigw = mockClient(APIGatewayClient);
let bucket: string;
const cli = async (args: string[], stdin = '') => {
  let out = '';
  let err = '';
  const code = await run(args, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdin: async () => new Uint8Array(Buffer.from(stdin)),
  });
  return { code, out, err };
};
const subjects = async (prefix: string) => {
  const object = await new S3ObjectStore(aws.s3, bucket, prefix).get(KEYS.truststore);
  return readInput({ name: 't', bytes: object.body })
    .certificates.map((c) => c.cert.subject.text)
    .sort();
};

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  process.env.TRUSTROLL_AWS_ENDPOINT = aws.endpoint;
  const dev = new S3ObjectStore(aws.s3, bucket, 'env/dev/');
  for (const name of ['Alpha', 'Beta']) {
    const chain = await partnerChain(name);
    const key = `inbox/${name.toLowerCase()}/ca.pem`;
    const { version } = await dev.put(key, toBytes(pemOf(chain.root, chain.intermediate)));
    await ingestUploads([{ key, version }], {
      store: dev,
      gateway: new FakeGateway(),
      notifier: new MemoryNotifier(),
      clock: new FakeClock(Date.now()),
      log: memoryLog(),
      config: { roll: { domains: [] } },
    });
  }
});

contract('S3ObjectStore under a key prefix', () => new S3ObjectStore(aws.s3, bucket, 'contract/'));

describe('lifecycle commands on an s3:// store', () => {
  const dev = () => `s3://${bucket}/env/dev`;
  const prod = () => `s3://${bucket}/env/prod`;

  it('lists the history of the dev store', async () => {
    const r = await cli(['history', '--store', dev(), '--json', '--region', 'us-east-1']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).map((h: { reason: string }) => h.reason)).toEqual([
      'uploads inbox/beta/ca.pem',
      'uploads inbox/alpha/ca.pem',
    ]);
  });

  it('promotes dev into prod after showing the diff, and declines without a yes', async () => {
    // prod holds no store yet: a promotion starts one only when asked to (a typo in --to would).
    const typo = await cli(['promote', '--from', dev(), '--to', prod(), '--yes', '--region', 'us-east-1']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/env\/prod holds no trustroll store: check --to, or pass --create/);
    const declined = await cli(
      ['promote', '--from', dev(), '--to', prod(), '--create', '--region', 'us-east-1'],
      'n\n',
    );
    expect(declined.code).toBe(1);
    expect(declined.err).toMatch(/\+ CN=Alpha Root CA,O=Alpha \(partner alpha, expires/);
    expect(declined.err).toMatch(/Not promoted/);
    const r = await cli([
      'promote',
      '--from',
      dev(),
      '--to',
      prod(),
      '--create',
      '--yes',
      '--region',
      'us-east-1',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(await subjects('env/prod/')).toEqual(await subjects('env/dev/'));
    const prodHistory = JSON.parse(
      (await cli(['history', '--store', prod(), '--json', '--region', 'us-east-1'])).out,
    );
    expect(prodHistory[0].reason).toMatch(/^promotion of s3:\/\/.*\/env\/dev version .* \(revision 2\)$/);
    expect(prodHistory[0].added.map((a: { partner: string }) => a.partner).sort()).toEqual([
      'alpha',
      'alpha',
      'beta',
      'beta',
    ]);
    expect(
      (await cli(['promote', '--from', dev(), '--to', prod(), '--yes', '--region', 'us-east-1'])).err,
    ).toMatch(/already holds this CA set/);
  });

  it('removes a partner in prod, rolls back, and diffs the steps', async () => {
    const removed = await cli([
      'remove',
      '--store',
      prod(),
      '--partner',
      'beta',
      '--reason',
      'offboarded',
      '--requested-by',
      'ops',
      '--region',
      'us-east-1',
    ]);
    expect(removed.code, removed.err).toBe(0);
    expect(await subjects('env/prod/')).toEqual(['CN=Alpha Issuing CA,O=Alpha', 'CN=Alpha Root CA,O=Alpha']);
    const diff = await cli(['diff', '--store', prod(), '1', '2', '--json', '--region', 'us-east-1']);
    expect(JSON.parse(diff.out).removed.map((d: { partner: string }) => d.partner)).toEqual(['beta', 'beta']);
    const unknown = await cli([
      'rollback',
      '--store',
      prod(),
      '--to',
      'no-such-version',
      '--region',
      'us-east-1',
    ]);
    expect(unknown).toMatchObject({
      code: 2,
      err: expect.stringMatching(/no-such-version is not a truststore version/),
    });
    const back = await cli(['rollback', '--store', prod(), '--region', 'us-east-1']);
    expect(back.code, back.err).toBe(0);
    expect(await subjects('env/prod/')).toHaveLength(4);
  });
});

describe('status of API Gateway domains for an s3:// store', () => {
  it('says whether the domain serves the latest version and flags drift (API Gateway mocked: no emulator has it)', async () => {
    const prod = `s3://${bucket}/env/prod`;
    const history = JSON.parse(
      (await cli(['history', '--store', prod, '--json', '--region', 'us-east-1'])).out,
    );
    const latest = history[0].version as string;
    let served = 'changed-by-hand';
    apigw.on(GetDomainNameCommand).callsFake(() => ({
      domainName: 'api.example.com',
      domainNameStatus: 'AVAILABLE',
      mutualTlsAuthentication: {
        truststoreUri: `s3://${bucket}/env/prod/truststore/truststore.pem`,
        truststoreVersion: served,
        truststoreWarnings: [],
      },
    }));
    const drifted = await cli([
      'status',
      '--store',
      prod,
      '--domain',
      'api.example.com',
      '--region',
      'us-east-1',
    ]);
    expect(drifted.code).toBe(1);
    expect(drifted.out).toMatch(
      /api\.example\.com: AVAILABLE, truststore version changed-by-hand \(NOT the latest\)\n {2}DRIFT: serves truststore version changed-by-hand, which trustroll never published/,
    );
    served = latest;
    const fine = await cli([
      'status',
      '--store',
      prod,
      '--domain',
      'api.example.com',
      '--region',
      'us-east-1',
      '--json',
    ]);
    expect(fine.code).toBe(0);
    expect(JSON.parse(fine.out)).toMatchObject([
      { name: 'api.example.com', truststoreVersion: latest, latest: true },
    ]);
    apigw.restore();
  });

  it('refuses a --domain that is not name[:REST|HTTP], saying what is wrong', async () => {
    const bad = await cli([
      'status',
      '--store',
      `s3://${bucket}/env/prod`,
      '--domain',
      'api.example.com:SOAP',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--domain: "api\.example\.com:SOAP" must end in :REST or :HTTP/);
  });
});

describe('a damaged s3:// store', () => {
  it('names a state whose newest versions were deleted by version id as gone back, and repair rebuilds it', async () => {
    const prefix = 'env/damaged/';
    const store = new S3ObjectStore(aws.s3, bucket, prefix);
    for (const name of ['Alpha', 'Beta']) {
      const chain = await partnerChain(name);
      const key = `inbox/${name.toLowerCase()}/ca.pem`;
      const { version } = await store.put(key, toBytes(pemOf(chain.root, chain.intermediate)));
      await ingestUploads([{ key, version }], {
        store,
        gateway: new FakeGateway(),
        notifier: new MemoryNotifier(),
        clock: new FakeClock(Date.now()),
        log: memoryLog(),
        config: { roll: { domains: [] } },
      });
    }
    const served = (await store.get(KEYS.truststore)).version;
    // Every state version of revision 2, deleted for good (not a delete marker): S3 then
    // serves the newest one left, of revision 1.
    for (const { version } of await store.versions(KEYS.state)) {
      const { revision } = JSON.parse(
        Buffer.from((await store.get(KEYS.state, { version })).body).toString('utf8'),
      );
      if (revision >= 2)
        await aws.s3.send(
          new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}${KEYS.state}`, VersionId: version }),
        );
    }
    const damaged = `s3://${bucket}/env/damaged`;
    const status = await cli(['status', '--store', damaged, '--region', 'us-east-1']);
    expect(status.code).toBe(1);
    expect(status.out).toContain(
      `DAMAGED: state/truststore.json went back to revision 1, but truststore version ${served} was published as revision 2`,
    );
    const refused = await cli(['rollback', '--store', damaged, '--region', 'us-east-1']);
    expect(refused.code).toBe(4);
    expect(refused.err).toMatch(/the store is damaged: state\/truststore\.json went back to revision 1/);
    expect((await store.get(KEYS.truststore)).version).toBe(served);

    const repair = await cli(['repair', '--store', damaged, '--region', 'us-east-1']);
    expect(repair.code, repair.err).toBe(0);
    expect(repair.out).toContain(`rebuilt revision 2 (version ${served}) from the truststore versions`);
    const history = JSON.parse(
      (await cli(['history', '--store', damaged, '--json', '--region', 'us-east-1'])).out,
    );
    expect(history.map((h: { revision: number; version: string }) => [h.revision, h.version])).toEqual([
      [2, served],
      [1, expect.any(String)],
    ]);
    const diff = await cli(['diff', '--store', damaged, '1', '2', '--json', '--region', 'us-east-1']);
    expect(
      JSON.parse(diff.out)
        .added.map((d: { subject: string }) => d.subject)
        .sort(),
    ).toEqual(['CN=Beta Issuing CA,O=Beta', 'CN=Beta Root CA,O=Beta']);
  });
});
