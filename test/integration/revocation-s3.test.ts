import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/adapters/aws/s3-store.js';
import { ingestUploads } from '../../shared/pipeline/ingest.js';
import { FakeClock, FakeGateway, MemoryNotifier, memoryLog } from '../fakes/fakes.js';
import { runCli as cli } from '../fixtures/cli.js';
import { partnerChain, pemOf, toBytes } from '../fixtures/pki.js';
import { emulator, versionedBucket } from './aws.js';

/** revoke, unrevoke, rules and authorize on an s3:// store (the emulator), as on a folder. */
const aws = emulator();
let bucket: string;
let client: string;

beforeAll(async () => {
  bucket = await versionedBucket(aws.s3);
  process.env.TRUSTROLL_AWS_ENDPOINT = aws.endpoint;
  const store = new S3ObjectStore(aws.s3, bucket, 'env/rev/');
  const chain = await partnerChain('Gamma');
  const { version } = await store.put('inbox/gamma/ca.pem', toBytes(pemOf(chain.root, chain.intermediate)));
  await ingestUploads([{ key: 'inbox/gamma/ca.pem', version }], {
    store,
    gateway: new FakeGateway(),
    notifier: new MemoryNotifier(),
    clock: new FakeClock(Date.now()),
    log: memoryLog(),
    config: { roll: { domains: [] } },
  });
  client = join(mkdtempSync(join(tmpdir(), 'trustroll-rev-s3-')), 'client.pem');
  writeFileSync(client, chain.client.pem);
});

describe('revocation commands on an s3:// store', () => {
  const s3 = () => ['--store', `s3://${bucket}/env/rev`, '--region', 'us-east-1'];

  it('revokes, denies, takes back and allows again, through the index in the bucket', async () => {
    expect((await cli(['authorize', '--cert', client, ...s3()])).code).toBe(0);
    const revoked = await cli(['revoke', '--cert', client, '--reason', 'test', '--json', ...s3()]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({ outcome: 'revoked', issuer: { partner: 'gamma' } });
    const denied = await cli(['authorize', '--cert', client, '--json', ...s3()]);
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.out)).toMatchObject({ decision: 'deny', reasons: [{ code: 'cert.revoked' }] });
    expect((await cli(['unrevoke', '--cert', client, ...s3()])).code).toBe(0);
    expect((await cli(['authorize', '--cert', client, ...s3()])).code).toBe(0);
  }, 60_000);

  it('sets route rules that authorize then applies', async () => {
    const set = await cli(['rules', '--partner', 'gamma', '--route', 'GET /orders/*', ...s3()]);
    expect(set.code, set.err).toBe(0);
    expect((await cli(['authorize', '--cert', client, '--route', 'GET /orders/7', ...s3()])).code).toBe(0);
    const other = await cli(['authorize', '--cert', client, '--route', 'GET /admin', ...s3()]);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/\[route\.denied\]/);
  }, 60_000);

  it('says plainly that a prefix holds no store', async () => {
    const r = await cli([
      'revoke',
      '--cert',
      client,
      '--reason',
      'x',
      '--store',
      `s3://${bucket}/typo`,
      '--region',
      'us-east-1',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/typo holds no trustroll store/);
  });
});
